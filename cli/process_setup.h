// cli/process_setup.h — settings every `iranker` process makes before it works: torch's
// thread count and the allocator's policy.
#pragma once

namespace iranker {

// Sets torch's intra-op thread count: `threads` if > 0, else the host's cores divided by the
// processes of this job that share the host (from the MPI/Slurm local size). Returns it.
int ConfigureThreads(int threads);

// Keeps memory that libtorch frees for reuse instead of handing it back to the kernel: glibc
// serves blocks over 128 KiB (activations, gradients, logits) with mmap and returns them with
// munmap, so every training step page-faults its whole working set in again (measured: a third of
// a CPU learner step's time; `iranker bench learner`). Blocks under 1 GiB then come from the heap
// and stay mapped. Skipped when GLIBC_TUNABLES sets malloc tunables, so users keep control.
void RetainFreedMemory();

}  // namespace iranker
