// base/malloc_policy.h — the allocator policy of an iranker process, and the same policy for the
// reference processes a benchmark compares it with.
//
// glibc serves blocks over 128 KiB (activations, gradients, logits) with mmap and returns them with
// munmap, so a process that frees and re-allocates its working set every step page-faults it in
// again each time (measured: a third of a CPU learner step; `iranker bench learner`). iranker keeps
// such memory: blocks under 1 GiB come from the heap and the heap is not trimmed below 1 GiB. A
// benchmark's reference process (Python, node) gets the same policy through GLIBC_TUNABLES, so a
// ratio compares engines, not allocators.
#pragma once

#include <string>

namespace iranker {

// The policy as GLIBC_TUNABLES text: mmap and trim thresholds of 1 GiB.
std::string RetainTunables();

// Applies the policy to this process (mallopt), unless GLIBC_TUNABLES already sets malloc
// tunables: then the environment's settings stand (users keep control).
void RetainFreedMemory();

// What this process runs under: "GLIBC_TUNABLES=... (environment)" or
// "mallopt mmap_threshold=1073741824 trim_threshold=1073741824 (as GLIBC_TUNABLES=...)".
std::string AllocatorPolicyDescription();

// The GLIBC_TUNABLES value for a child that must run under this process's policy: the
// environment's when it sets malloc tunables, else its other tunables (if any) plus
// RetainTunables().
std::string GlibcTunablesForChildren();

}  // namespace iranker
