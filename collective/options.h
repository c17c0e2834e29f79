// collective/options.h — the gradient all-reduce's options (`comm.allreduce` in a run's config):
// back-end, bucketing and the collective time-out. Times are milliseconds.
#pragma once

#include <string>

#include "base/fields.h"

namespace iranker::collective {

// The all-reduce's back-end (comm.allreduce.backend).
enum class AllreduceBackend { kAuto, kMpi, kNccl };
inline const EnumNames<AllreduceBackend>& NamesOf(AllreduceBackend) {
  static const EnumNames<AllreduceBackend> names = {{AllreduceBackend::kAuto, "auto"},
                                                    {AllreduceBackend::kMpi, "mpi"},
                                                    {AllreduceBackend::kNccl, "nccl"}};
  return names;
}

// Training state sharded across the learner ranks (learner.sharding;
// collective/sharded_optimizer.h).
enum class Sharding { kNone, kOptimizer, kGradients, kFull };
inline const EnumNames<Sharding>& NamesOf(Sharding) {
  static const EnumNames<Sharding> names = {{Sharding::kNone, "none"},
                                            {Sharding::kOptimizer, "optimizer"},
                                            {Sharding::kGradients, "gradients"},
                                            {Sharding::kFull, "full"}};
  return names;
}

// Gradient all-reduce (collective/collective.h, collective/bucketer.h).
struct AllreduceOptions {
  // "mpi" (CPU tensors), "nccl" (CUDA tensors) or "auto" (by the parameters' device).
  AllreduceBackend backend = AllreduceBackend::kAuto;
  // Gradient bucket size: smaller starts communication earlier, larger has fewer messages.
  double bucket_mb = 25.0;
  // A gradient of at least this size is all-reduced on its own, in place in .grad(), instead of
  // being copied into a bucket: above ~1 MB a collective is bandwidth-bound, so a bucket saves
  // little latency and its copy costs a pass over the bytes. 0: every gradient goes in a bucket.
  double inplace_mb = 1.0;
  // A collective not complete after this long fails naming the collective, rank and host,
  // unless a peer busy on its own reports progress meanwhile (Collective::SetPeerProgressProbe):
  // then the wait goes on, and fails once no progress came for one to two time-outs.
  int timeout_ms = 300000;

  template <class V>
  void Visit(V& v) {
    v.Field("backend", backend, "All-reduce back-end.");
    v.Field("bucket_mb", bucket_mb, "Gradient bucket size (MB).", Range(0.001, 4096));
    v.Field("inplace_mb", inplace_mb,
            "Gradients this large (MB) are reduced in place, unbucketed; 0 = never.",
            Range(0, 1e6));
    v.Field("timeout_ms", timeout_ms,
            "Collective time-out (ms); restarts while a busy peer reports progress.",
            Range(1, 86400000));
  }
};

}  // namespace iranker::collective
