// The NCCL back-end for CUDA tensors. This is the only file that sees NCCL and the CUDA runtime;
// it is compiled with IRANKER_WITH_NCCL only where CMake found them (IRANKER_HAVE_NCCL).
#include "base/error.h"
#include "base/host.h"
#include "base/mutex.h"
#include "collective/collective.h"

#ifndef IRANKER_WITH_NCCL

namespace iranker::collective {
bool NcclAvailable() { return false; }
std::unique_ptr<Collective> MakeNcclCollective(const AllreduceOptions&, int) {
  Fail(ErrorCode::kFailedPrecondition,
       "this iranker was built without NCCL (configure with NCCL_HOME/CUDA_HOME set and "
       "-DIRANKER_NCCL=ON); use comm allreduce backend 'mpi' with CPU tensors");
}
}  // namespace iranker::collective

#else  // IRANKER_WITH_NCCL

#include <cuda_runtime_api.h>
#define OMPI_SKIP_MPICXX 1  // the C API only (no MPI C++ bindings to link)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <nccl.h>
#include <torch/torch.h>

#include <chrono>
#include <thread>

#include "collective/check.h"
#include "collective/collective_util.h"

namespace iranker::collective {

namespace {

ncclDataType_t NcclType(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kHalf:
      return ncclFloat16;
#if NCCL_VERSION_CODE >= 21000
    case at::kBFloat16:
      return ncclBfloat16;
#endif
    case at::kInt:
      return ncclInt32;
    case at::kLong:
      return ncclInt64;
    case at::kByte:
      return ncclUint8;
    default:
      Fail(ErrorCode::kInvalidArgument, "NCCL all-reduce does not support dtype ", t.scalar_type());
  }
}

// RAII handles: one-line deleters.
struct StreamDeleter {
  void operator()(CUstream_st* s) const { cudaStreamDestroy(s); }
};
struct EventDeleter {
  void operator()(CUevent_st* e) const { cudaEventDestroy(e); }
};
struct CommDeleter {
  void operator()(ncclComm* c) const { ncclCommDestroy(c); }
};
using StreamPtr = std::unique_ptr<CUstream_st, StreamDeleter>;
using EventPtr = std::unique_ptr<CUevent_st, EventDeleter>;
using CommPtr = std::unique_ptr<ncclComm, CommDeleter>;

EventPtr MakeEvent() {
  cudaEvent_t e;
  IR_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), ErrorCode::kInternal, "");
  return EventPtr(e);
}

class NcclCollective;

class NcclPending : public PendingCollective {
 public:
  NcclPending(NcclCollective* c, EventPtr done, std::vector<at::Tensor> keep, std::string what);
  bool Test() override;
  void Wait() override;

 private:
  NcclCollective* c_;
  EventPtr done_;
  std::vector<at::Tensor> keep_;  // the buffers the collective reads and writes
  std::string what_;
  CollectiveClock clock_;
};

class NcclCollective : public Collective {
 public:
  NcclCollective(const AllreduceOptions& o, int device) : opt_(o), device_(device) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init)
      Fail(ErrorCode::kFailedPrecondition, "NCCL bootstrap needs MPI: create an MpiSession first");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    const MPI_Comm world = MPI_COMM_WORLD;
    peers_note_ = PeerHostsNote(GatherHostNames(&world), rank_);
    IR_CUDA_CHECK(cudaSetDevice(device_), ErrorCode::kInternal, "");
    ncclUniqueId id;
    if (rank_ == 0) IR_NCCL_CHECK(ncclGetUniqueId(&id), ErrorCode::kInternal, "");
    if (MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
      Fail(ErrorCode::kUnavailable, "broadcast of the ncclUniqueId failed on ",
           DescribeRank(rank_, size_));
    ncclComm_t comm;
    IR_NCCL_CHECK(ncclCommInitRank(&comm, size_, id, rank_), ErrorCode::kInternal, "");
    comm_.reset(comm);
    cudaStream_t s;
    IR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), ErrorCode::kInternal, "");
    stream_.reset(s);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  int timeout_ms() const { return opt_.timeout_ms; }
  // Names the peers' hosts in a time-out's message.
  const std::string& peers_note() const { return peers_note_; }
  ncclComm_t comm() const { return comm_.get(); }

  std::unique_ptr<PendingCollective> StartAllreduceSum(const at::Tensor& t,
                                                       const std::string& what) override {
    IR_CHECK(t.is_cuda() && t.is_contiguous());
    MutexLock lock(mu_);
    // The communication stream waits for work already queued on the default stream.
    EventPtr ready = MakeEvent();
    IR_CUDA_CHECK(cudaEventRecord(ready.get(), nullptr), ErrorCode::kInternal, "");
    IR_CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), ready.get(), 0), ErrorCode::kInternal, "");
    IR_NCCL_CHECK(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), NcclType(t), ncclSum,
                                comm_.get(), stream_.get()),
                  ErrorCode::kInternal, "");
    EventPtr done = MakeEvent();
    IR_CUDA_CHECK(cudaEventRecord(done.get(), stream_.get()), ErrorCode::kInternal, "");
    return std::make_unique<NcclPending>(this, std::move(done), std::vector<at::Tensor>{t},
                                         "all-reduce '" + what + "'");
  }

  std::unique_ptr<PendingCollective> StartReduceScatterSum(const at::Tensor& in,
                                                           const at::Tensor& out,
                                                           const std::string& what) override {
    IR_CHECK(in.is_cuda() && in.is_contiguous() && out.is_cuda() && out.is_contiguous());
    IR_CHECK_EQ(in.numel(), out.numel() * size_);
    MutexLock lock(mu_);
    EventPtr ready = MakeEvent();
    IR_CUDA_CHECK(cudaEventRecord(ready.get(), nullptr), ErrorCode::kInternal, "");
    IR_CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), ready.get(), 0), ErrorCode::kInternal, "");
    IR_NCCL_CHECK(ncclReduceScatter(in.data_ptr(), out.data_ptr(), out.numel(), NcclType(out),
                                    ncclSum, comm_.get(), stream_.get()),
                  ErrorCode::kInternal, "");
    EventPtr done = MakeEvent();
    IR_CUDA_CHECK(cudaEventRecord(done.get(), stream_.get()), ErrorCode::kInternal, "");
    return std::make_unique<NcclPending>(this, std::move(done), std::vector<at::Tensor>{in, out},
                                         "reduce-scatter '" + what + "'");
  }

  std::unique_ptr<PendingCollective> StartAllGather(const at::Tensor& in, const at::Tensor& out,
                                                    const std::string& what) override {
    IR_CHECK(in.is_cuda() && in.is_contiguous() && out.is_cuda() && out.is_contiguous());
    IR_CHECK_EQ(out.numel(), in.numel() * size_);
    MutexLock lock(mu_);
    EventPtr ready = MakeEvent();
    IR_CUDA_CHECK(cudaEventRecord(ready.get(), nullptr), ErrorCode::kInternal, "");
    IR_CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), ready.get(), 0), ErrorCode::kInternal, "");
    IR_NCCL_CHECK(ncclAllGather(in.data_ptr(), out.data_ptr(), in.numel(), NcclType(in),
                                comm_.get(), stream_.get()),
                  ErrorCode::kInternal, "");
    EventPtr done = MakeEvent();
    IR_CUDA_CHECK(cudaEventRecord(done.get(), stream_.get()), ErrorCode::kInternal, "");
    return std::make_unique<NcclPending>(this, std::move(done), std::vector<at::Tensor>{in, out},
                                         "all-gather '" + what + "'");
  }

  void Broadcast(const at::Tensor& t, int root, const std::string& what) override {
    IR_CHECK(t.is_cuda() && t.is_contiguous());
    EventPtr done = MakeEvent();
    {
      MutexLock lock(mu_);
      IR_NCCL_CHECK(ncclBroadcast(t.data_ptr(), t.data_ptr(), t.nbytes(), ncclUint8, root,
                                  comm_.get(), stream_.get()),
                    ErrorCode::kInternal, "");
      IR_CUDA_CHECK(cudaEventRecord(done.get(), stream_.get()), ErrorCode::kInternal, "");
    }
    NcclPending(this, std::move(done), {t}, "broadcast '" + what + "'").Wait();
  }

  void BroadcastBytes(std::string* bytes, int root, const std::string& what) override {
    int64_t n = rank_ == root ? static_cast<int64_t>(bytes->size()) : 0;
    auto len = torch::tensor({n}, torch::kLong).to(torch::Device(torch::kCUDA, device_));
    Broadcast(len, root, what + " (length)");
    n = len.cpu().item<int64_t>();
    auto buf = torch::empty({n}, torch::kUInt8);
    if (rank_ == root) std::memcpy(buf.data_ptr(), bytes->data(), n);
    auto dev = buf.to(torch::Device(torch::kCUDA, device_));
    Broadcast(dev, root, what);
    buf = dev.cpu();
    bytes->assign(static_cast<const char*>(buf.data_ptr()), n);
  }

  void Barrier(const std::string& what) override {
    auto one = torch::ones({1}, torch::Device(torch::kCUDA, device_));
    AllreduceSum(one, "barrier '" + what + "'");
  }

  void AllreduceSumDoubles(std::vector<double>* v, const std::string& what) override {
    auto t = torch::from_blob(v->data(), {static_cast<int64_t>(v->size())}, torch::kDouble)
                 .to(torch::Device(torch::kCUDA, device_));
    AllreduceSum(t, what);
    t = t.cpu();
    std::memcpy(v->data(), t.data_ptr(), v->size() * sizeof(double));
  }

  // After a time-out the communicator is unusable: abort it so that no kernel waits forever.
  void Abort() {
    MutexLock lock(mu_);
    if (comm_) ncclCommAbort(comm_.release());
  }

 private:
  AllreduceOptions opt_;
  int device_;
  int rank_ = 0, size_ = 1;
  std::string peers_note_;
  CommPtr comm_;
  StreamPtr stream_;
  Mutex mu_;
};

NcclPending::NcclPending(NcclCollective* c, EventPtr done, std::vector<at::Tensor> keep,
                         std::string what)
    : c_(c),
      done_(std::move(done)),
      keep_(std::move(keep)),
      what_(std::move(what)),
      clock_(*c, c->timeout_ms()) {}

bool NcclPending::Test() {
  cudaError_t e = cudaEventQuery(done_.get());
  if (e == cudaSuccess) return true;
  if (e != cudaErrorNotReady) IR_CUDA_CHECK(e, ErrorCode::kInternal, "");
  ncclResult_t async = ncclSuccess;
  if (c_->comm()) ncclCommGetAsyncError(c_->comm(), &async);
  if (async != ncclSuccess && async != ncclInProgress)
    Fail(ErrorCode::kUnavailable, "NCCL ", what_, " failed on ",
         DescribeRank(c_->rank(), c_->size()), ": ", ncclGetErrorString(async));
  return false;
}

void NcclPending::Wait() {
  while (!Test()) {
    if (clock_.Expired(what_)) {
      c_->Abort();
      CollectiveTimedOut("NCCL", what_, c_->timeout_ms(), c_->rank(), c_->size(),
                         clock_.Note() + c_->peers_note());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

}  // namespace

bool NcclAvailable() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

std::unique_ptr<Collective> MakeNcclCollective(const AllreduceOptions& options, int device) {
  return std::make_unique<NcclCollective>(options, device);
}

}  // namespace iranker::collective

#endif  // IRANKER_WITH_NCCL
