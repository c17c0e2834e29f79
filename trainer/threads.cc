#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "trainer/commands.h"

namespace iranker {

int ConfigureThreads(int threads) {
  if (threads <= 0) {
    int cores = static_cast<int>(std::thread::hardware_concurrency());
    int local = 1;
    for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE", "MPI_LOCALNRANKS"}) {
      if (const char* v = std::getenv(var)) {
        local = std::max(1, std::atoi(v));
        break;
      }
    }
    threads = std::max(1, cores / local);
  }
  torch::set_num_threads(threads);
  return threads;
}

}  // namespace iranker
