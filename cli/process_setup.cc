#include "cli/process_setup.h"

#include <malloc.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "cluster/roles.h"

namespace iranker {

int ConfigureThreads(int threads) {
  // run.threads = 0: this host's cores shared by the processes the launcher started on it.
  threads = ThreadsPerProcess(threads, static_cast<int>(std::thread::hardware_concurrency()),
                              DetectLocalPlace().size);
  torch::set_num_threads(threads);
  return threads;
}

void RetainFreedMemory() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
  ::mallopt(M_MMAP_THRESHOLD, 1 << 30);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace iranker
