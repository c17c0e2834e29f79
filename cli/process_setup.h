// cli/process_setup.h — settings every `iranker` process makes before it works: torch's
// thread count and (base/malloc_policy.h) the allocator's policy.
#pragma once

#include "base/malloc_policy.h"

namespace iranker {

// Sets torch's intra-op thread count: `threads` if > 0, else the host's cores divided by the
// processes of this job that share the host (from the MPI/Slurm local size). Returns it.
int ConfigureThreads(int threads);

// RetainFreedMemory(): base/malloc_policy.h.

}  // namespace iranker
