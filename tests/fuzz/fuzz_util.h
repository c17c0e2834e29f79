// tests/fuzz/fuzz_util.h — shared by the fuzz targets: the input as a file (the readers under
// test take paths), and the one property every target checks: bad input raises iranker::Error,
// anything else escaping (std::out_of_range, YAML::Exception, a json exception...) is a bug.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "base/error.h"

namespace iranker::fuzz {

[[noreturn]] inline void Violation(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: property violated: %s\n", target, what.c_str());
  std::abort();
}

// The bytes as an anonymous in-memory file, reachable by path (/proc/self/fd/N).
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) : fd_(::memfd_create("fuzz", 0)) {
    for (size_t done = 0; fd_ >= 0 && done < size;) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
  ~MemFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// Runs fn; iranker::Error is the expected outcome of bad input, every other exception a bug.
template <class Fn>
void ExpectOnlyErrors(const char* target, Fn fn) {
  try {
    fn();
  } catch (const iranker::Error&) {
  } catch (const std::exception& e) {
    Violation(target, std::string("an exception other than iranker::Error escaped: ") + e.what());
  }
}

}  // namespace iranker::fuzz
