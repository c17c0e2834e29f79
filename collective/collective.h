// collective/collective.h — collectives across the data-parallel learner ranks.
//
// One interface, two back-ends: MPI for CPU tensors (MakeMpiCollective) and NCCL for CUDA tensors
// (MakeNcclCollective; its communicator is bootstrapped by broadcasting the ncclUniqueId over MPI;
// compiled only where NCCL was found, see collective/CMakeLists.txt). GradientBucketer
// (collective/bucketer.h) flattens the
// parameters' gradients into buckets of AllreduceOptions::bucket_mb and starts each bucket's
// non-blocking all-reduce as soon as autograd has accumulated all of its gradients (a post-hook
// on each parameter's AccumulateGrad), so communication overlaps the rest of backward;
// FinishBackward leaves every rank's .grad() equal to the average over ranks. A gradient of at
// least AllreduceOptions::inplace_mb is a bucket of its own, reduced where it lies: what autograd
// made this pass, or what the last FinishBackward left in .grad() (no copy). Either way .grad()
// ends as the bucketer's memory (a slot of a flat bucket, or the reduced gradient), which the
// next armed backward reduces in place: keep no other handle to it across steps.
//
// Time-outs: every wait polls the collective until AllreduceOptions::timeout_ms and then throws
// Error(kDeadlineExceeded) naming the collective, this rank, the world size and the host, instead
// of hanging. A timed-out MPI request cannot be cancelled: it is parked and completed (or given up
// on) when MpiSession ends; the process is expected to exit after such an error.
//
// Threading: a Collective serialises its own MPI calls (MPI initialised with at least
// MPI_THREAD_SERIALIZED). All ranks must issue collectives in the same order; the bucketer starts
// buckets strictly in bucket order for that reason.
//
// Torch types appear only by forward declaration: include <torch/torch.h> to use these.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "collective/options.h"

namespace at {
class Tensor;
}

namespace iranker::collective {

// Initialises MPI (MPI_THREAD_SERIALIZED or better) unless already initialised, and finalises it
// on destruction if it initialised it. One per process, in main().
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const;
  int size() const;
};

// A started collective. Wait() blocks until it completes or the deadline passes (then throws).
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual bool Test() = 0;  // non-blocking progress; true once complete
  virtual void Wait() = 0;
};

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  // In-place sum over ranks of a contiguous float32/float64 tensor (CPU for MPI, CUDA for NCCL).
  // `what` names the collective in time-out messages.
  virtual std::unique_ptr<PendingCollective> StartAllreduceSum(const at::Tensor& t,
                                                               const std::string& what) = 0;
  void AllreduceSum(const at::Tensor& t, const std::string& what);
  void AllreduceMean(const at::Tensor& t, const std::string& what);
  // Sharded sums (ZeRO): `in` holds size() equal shards in rank order (numel = size() * n); `out`
  // (numel n) receives this rank's shard of the sum over ranks. Contiguous float32/float64, on
  // the back-end's device, `in` and `out` distinct.
  virtual std::unique_ptr<PendingCollective> StartReduceScatterSum(const at::Tensor& in,
                                                                   const at::Tensor& out,
                                                                   const std::string& what) = 0;
  // Every rank's `in` (numel n) concatenated in rank order into `out` (numel size() * n).
  virtual std::unique_ptr<PendingCollective> StartAllGather(const at::Tensor& in,
                                                            const at::Tensor& out,
                                                            const std::string& what) = 0;
  void ReduceScatterSum(const at::Tensor& in, const at::Tensor& out, const std::string& what);
  void AllGather(const at::Tensor& in, const at::Tensor& out, const std::string& what);
  // In-place broadcast of a contiguous tensor from `root`.
  virtual void Broadcast(const at::Tensor& t, int root, const std::string& what) = 0;
  // Broadcast of a byte string of any length from `root` (receivers' strings are resized).
  virtual void BroadcastBytes(std::string* bytes, int root, const std::string& what) = 0;
  virtual void Barrier(const std::string& what) = 0;
  // Sum over ranks of a few doubles (metrics, losses, norms), in place.
  virtual void AllreduceSumDoubles(std::vector<double>* values, const std::string& what) = 0;

  // Peers that work on their own for a while (rank 0 evaluating, writing a checkpoint) are not
  // hung: a collective that reaches timeout_ms asks this probe, and a non-empty answer ("rank 0
  // is busy with 'evaluation' and making progress", cluster/progress_lease.h) restarts the
  // time-out instead of failing. Without a probe the time-out is final. Set it before use; it is
  // called from the thread that waits.
  void SetPeerProgressProbe(std::function<std::string()> probe) {
    peer_progress_ = std::move(probe);
  }
  std::string PeerProgress() const { return peer_progress_ ? peer_progress_() : std::string(); }

 private:
  std::function<std::string()> peer_progress_;
};

// MPI back-end over a duplicate of MPI_COMM_WORLD (MPI must be initialised).
std::unique_ptr<Collective> MakeMpiCollective(const AllreduceOptions& options);
// MPI back-end over the world ranks that pass the same `color` (>= 0); collective over the whole
// world: every rank must call it, in the same order as its other communicator creations.
std::unique_ptr<Collective> MakeMpiCollective(const AllreduceOptions& options, int color);
// A world of one process without MPI (rank 0 of 1): every collective is the identity. For
// `iranker train --local`, which runs the learner code of the distributed run in one process.
std::unique_ptr<Collective> MakeLocalCollective();
// MPI_Abort on the world (when MPI is up): one rank's fatal error ends the whole job at once
// instead of leaving the other ranks waiting. Where MPI_Abort itself waits (on a lost host's
// daemon), this process exits with `code` after kAbortGrace anyway.
inline constexpr std::chrono::seconds kAbortGrace{10};
void AbortWorld(int code);
// NCCL back-end for CUDA tensors on `device`; throws Error(kFailedPrecondition) when this build
// has no NCCL. Bootstraps over MPI (MPI must be initialised).
std::unique_ptr<Collective> MakeNcclCollective(const AllreduceOptions& options, int device);
// "mpi", "nccl" or "auto" (nccl for CUDA parameters when available, else mpi).
std::unique_ptr<Collective> MakeCollective(const AllreduceOptions& options, bool cuda_params,
                                           int device = 0);
bool NcclAvailable();

// sqrt(sum over ranks of the squared L2 norms of `local`): the global norm of a gradient that is
// split across ranks. (After GradientBucketer, gradients are replicated: use the local norm.)
double GlobalL2Norm(Collective& c, const std::vector<at::Tensor>& local);

}  // namespace iranker::collective
