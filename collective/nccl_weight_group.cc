// The NCCL transport of the weight broadcast's group path (comm/weight_group.h). Like
// nccl_collective.cc it is compiled with IRANKER_WITH_NCCL only where CMake found NCCL and the
// CUDA runtime; without them MakeNcclGroupTransport fails with a message saying so.
#include "collective/nccl_weight_group.h"

#include "base/error.h"
#include "base/host.h"

#ifndef IRANKER_WITH_NCCL

namespace iranker::collective {
std::unique_ptr<comm::GroupTransport> MakeNcclGroupTransport(int) {
  Fail(ErrorCode::kFailedPrecondition,
       "comm.weights.group=nccl: this iranker was built without NCCL (configure with "
       "NCCL_HOME/CUDA_HOME set and -DIRANKER_NCCL=ON); use comm.weights.group=none");
}
}  // namespace iranker::collective

#else  // IRANKER_WITH_NCCL

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "collective/check.h"

namespace iranker::collective {

namespace {

class NcclGroupTransport : public comm::GroupTransport {
 public:
  explicit NcclGroupTransport(int device) : device_(device) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || device < 0 || device >= n)
      Fail(ErrorCode::kFailedPrecondition, "comm.weights.group=nccl needs a CUDA device: device ",
           device, " is not visible on host ", HostName(), " (", n, " visible)");
    IR_CUDA_CHECK(cudaSetDevice(device_), ErrorCode::kUnavailable, "weight group: ");
    IR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                  ErrorCode::kUnavailable, "weight group: ");
    IR_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), ErrorCode::kUnavailable,
                  "weight group: ");
  }
  ~NcclGroupTransport() override {
    Leave();
    cudaSetDevice(device_);
    if (buffer_) cudaFree(buffer_);
    cudaEventDestroy(done_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "nccl"; }

  std::string NewGroupId() override {
    ncclUniqueId id;
    Check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    return std::string(reinterpret_cast<const char*>(&id), sizeof id);
  }

  void Join(const std::string& id, int size, int rank, int timeout_ms) override {
    Leave();
    ncclUniqueId uid;
    if (id.size() != sizeof uid)
      Fail(ErrorCode::kInvalidArgument, "weight group: an NCCL group id has ", sizeof uid,
           " bytes, not ", id.size());
    std::memcpy(&uid, id.data(), sizeof uid);
    IR_CUDA_CHECK(cudaSetDevice(device_), ErrorCode::kUnavailable, "weight group: ");
    // Non-blocking: the join is polled below and aborted at the time-out instead of blocking until
    // every member arrived (a member that died would block it for ever).
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    size_ = size;
    rank_ = rank;
    ncclComm_t comm = nullptr;
    ncclResult_t r = ncclCommInitRankConfig(&comm, size, uid, rank, &config);
    comm_ = comm;
    if (r != ncclSuccess && r != ncclInProgress) Failed(r, "joining");
    WaitReady(timeout_ms, "joining");
  }

  void Broadcast(char* data, size_t n, int timeout_ms) override {
    if (!comm_) Fail(ErrorCode::kFailedPrecondition, "weight group: broadcast without a group");
    try {
      BroadcastInGroup(data, n, timeout_ms);
    } catch (...) {
      Leave();  // whatever failed, nothing is left waiting
      throw;
    }
  }

  // Through one device buffer of at most kPiece bytes, piece by piece: on learner rank 0 the
  // GPU is the training one, and a blob-sized allocation outside torch's caching allocator could
  // take gigabytes from it. Each piece must complete within the time-out.
  static constexpr size_t kPiece = 64ull << 20;

  void BroadcastInGroup(char* data, size_t n, int timeout_ms) {
    IR_CUDA_CHECK(cudaSetDevice(device_), ErrorCode::kUnavailable, "weight group: ");
    const size_t want = std::min(n, kPiece);
    if (want > capacity_) {
      if (buffer_) cudaFree(buffer_);
      buffer_ = nullptr;
      capacity_ = 0;
      IR_CUDA_CHECK(cudaMalloc(&buffer_, want), ErrorCode::kUnavailable, "weight group: ");
      capacity_ = want;
    }
    for (size_t off = 0; off < n; off += kPiece)
      BroadcastPiece(data + off, std::min(kPiece, n - off), n, timeout_ms);
  }

  void BroadcastPiece(char* data, size_t m, size_t total, int timeout_ms) {
    // One stream: copy in (root; from pageable memory the call returns once the bytes are
    // staged, which depends on no peer), broadcast, then the event. The copy out waits until the
    // event says the broadcast is complete: from pageable memory that copy would block this
    // thread until the kernel ends, past any time-out, if a peer died mid-broadcast.
    const auto start = std::chrono::steady_clock::now();
    if (rank_ == 0)
      IR_CUDA_CHECK(cudaMemcpyAsync(buffer_, data, m, cudaMemcpyHostToDevice, stream_),
                    ErrorCode::kUnavailable, "weight group: ");
    ncclResult_t r = ncclBroadcast(buffer_, buffer_, m, ncclUint8, 0, comm_, stream_);
    if (r != ncclSuccess && r != ncclInProgress) Failed(r, "broadcasting");
    WaitReady(timeout_ms, "broadcasting");  // the call itself may still be enqueueing
    IR_CUDA_CHECK(cudaEventRecord(done_, stream_), ErrorCode::kUnavailable, "weight group: ");
    while (true) {
      cudaError_t e = cudaEventQuery(done_);
      if (e == cudaSuccess) break;
      if (e != cudaErrorNotReady) IR_CUDA_CHECK(e, ErrorCode::kUnavailable, "weight group: ");
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) Failed(async, "broadcasting");
      if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(timeout_ms)) {
        Leave();
        Fail(ErrorCode::kDeadlineExceeded, "weight group (NCCL): a ", m, "-byte piece of a ", total,
             "-byte broadcast did not complete within ", timeout_ms, " ms as rank ", rank_, " of ",
             size_, " on host ", HostName(), ": a member is gone or stuck; the group was aborted");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (rank_ !=
        0) {  // on this stream (not the legacy default one, which waits for the model's work)
      IR_CUDA_CHECK(cudaMemcpyAsync(data, buffer_, m, cudaMemcpyDeviceToHost, stream_),
                    ErrorCode::kUnavailable, "weight group: ");
      IR_CUDA_CHECK(cudaStreamSynchronize(stream_), ErrorCode::kUnavailable, "weight group: ");
    }
  }

  void Leave() override {
    if (!comm_) return;
    cudaSetDevice(device_);
    ncclCommAbort(comm_);  // also right for a healthy communicator: nothing is outstanding
    comm_ = nullptr;
  }

 private:
  void Check(ncclResult_t r, const char* what) {
    if (r != ncclSuccess)
      Fail(ErrorCode::kUnavailable, "weight group: ", what, " failed on host ", HostName(), ": ",
           ncclGetErrorString(r));
  }
  [[noreturn]] void Failed(ncclResult_t r, const char* doing) {
    Leave();
    Fail(ErrorCode::kUnavailable, "weight group (NCCL): ", doing, " as rank ", rank_, " of ", size_,
         " failed on host ", HostName(), ": ", ncclGetErrorString(r), "; the group was aborted");
  }
  // Polls the communicator's state until no call is in progress, aborting at the time-out.
  void WaitReady(int timeout_ms, const char* doing) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      ncclResult_t state = ncclInProgress;
      ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
      if (r != ncclSuccess) Failed(r, doing);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) Failed(state, doing);
      if (std::chrono::steady_clock::now() > deadline) {
        Leave();
        Fail(ErrorCode::kDeadlineExceeded, "weight group (NCCL): ", doing, " as rank ", rank_,
             " of ", size_, " did not complete within ", timeout_ms, " ms on host ", HostName(),
             ": a member is gone or stuck; the group was aborted");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  int device_;
  int size_ = 0, rank_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_ = nullptr;
  void* buffer_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace

std::unique_ptr<comm::GroupTransport> MakeNcclGroupTransport(int device) {
  return std::make_unique<NcclGroupTransport>(device);
}

}  // namespace iranker::collective

#endif  // IRANKER_WITH_NCCL
