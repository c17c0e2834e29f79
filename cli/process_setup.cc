#include "cli/process_setup.h"

#include <torch/torch.h>

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

}  // namespace iranker
