#include "base/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace iranker {

void NameThisThread(const char* name) {
  // Linux refuses names over 15 characters (ERANGE): cut instead of leaving the thread unnamed.
  const std::string cut(name, std::min<size_t>(std::strlen(name), 15));
  ::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace iranker
