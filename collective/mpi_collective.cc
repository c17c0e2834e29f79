// The MPI back-end: non-blocking collectives polled against a deadline, RAII for the duplicated
// communicator and for requests (a request abandoned after a time-out is parked, not freed, so
// its buffer outlives it).
#define OMPI_SKIP_MPICXX 1  // the C API only (no MPI C++ bindings to link)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "base/clock.h"
#include "base/error.h"
#include "base/host.h"
#include "base/log.h"
#include "base/mutex.h"
#include "collective/check.h"
#include "collective/collective.h"
#include "collective/collective_util.h"

namespace iranker::collective {

namespace {

// Requests given up on after a time-out, with the buffers they write into.
struct Parked {
  MPI_Comm comm;
  MPI_Request request;
  std::vector<at::Tensor> keep;
  std::string what;
};
Mutex g_parked_mu;
std::vector<Parked> g_parked IR_GUARDED_BY(g_parked_mu);
bool g_session_owns_mpi = false;

MPI_Datatype MpiType(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kInt:
      return MPI_INT32_T;
    case at::kLong:
      return MPI_INT64_T;
    default:
      Fail(ErrorCode::kInvalidArgument, "MPI all-reduce supports float32/float64/int32/int64, not ",
           t.scalar_type());
  }
}

// RAII for a duplicated communicator.
class OwnedComm {
 public:
  // color < 0: a duplicate of MPI_COMM_WORLD; else the world ranks that passed the same color.
  explicit OwnedComm(int color = -1) {
    if (color < 0) {
      IR_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    } else {
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      IR_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, color, rank, &comm_));
    }
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  }
  ~OwnedComm() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized || comm_ == MPI_COMM_NULL) return;
    // A communicator with abandoned requests stays allocated until MPI_Finalize.
    MutexLock lock(g_parked_mu);
    for (const auto& p : g_parked)
      if (p.comm == comm_) return;
    MPI_Comm_free(&comm_);
  }
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

class MpiCollective;

class MpiPending : public PendingCollective {
 public:
  MpiPending(MpiCollective* c, MPI_Request r, std::vector<at::Tensor> keep, std::string what);
  MpiPending(const MpiPending&) = delete;
  MpiPending& operator=(const MpiPending&) = delete;
  ~MpiPending() override;
  bool Test() override;
  void Wait() override;

 private:
  MpiCollective* c_;
  MPI_Request req_;
  std::vector<at::Tensor> keep_;  // the buffers MPI reads and writes until it completes
  std::string what_;
  CollectiveClock clock_;
};

class MpiCollective : public Collective {
 public:
  MpiCollective(const AllreduceOptions& o, int color) : opt_(o), comm_(color) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init)
      Fail(ErrorCode::kFailedPrecondition,
           "MPI is not initialised: create an iranker::comm::MpiSession in main() first");
    MPI_Comm_rank(comm_.get(), &rank_);
    MPI_Comm_size(comm_.get(), &size_);
    const MPI_Comm c = comm_.get();
    peers_note_ = PeerHostsNote(GatherHostNames(&c), rank_);
  }
  // Names the peers' hosts in a time-out's message.
  const std::string& peers_note() const { return peers_note_; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  int timeout_ms() const { return opt_.timeout_ms; }
  Mutex& mu() IR_RETURN_CAPABILITY(mu_) { return mu_; }
  MPI_Comm comm() const { return comm_.get(); }

  std::unique_ptr<PendingCollective> StartAllreduceSum(const at::Tensor& t,
                                                       const std::string& what) override {
    IR_CHECK(t.is_contiguous());
    IR_CHECK(!t.is_cuda());
    MPI_Request r;
    {
      MutexLock lock(mu_);
      IR_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(t.numel()),
                                  MpiType(t), MPI_SUM, comm_.get(), &r));
    }
    return std::make_unique<MpiPending>(this, r, std::vector<at::Tensor>{t},
                                        "all-reduce '" + what + "'");
  }

  std::unique_ptr<PendingCollective> StartReduceScatterSum(const at::Tensor& in,
                                                           const at::Tensor& out,
                                                           const std::string& what) override {
    IR_CHECK(in.is_contiguous() && out.is_contiguous());
    IR_CHECK(!in.is_cuda() && !out.is_cuda());
    IR_CHECK_EQ(in.scalar_type(), out.scalar_type());
    IR_CHECK_EQ(in.numel(), out.numel() * size_);
    IR_CHECK_LT(out.numel(), static_cast<int64_t>(INT_MAX));
    MPI_Request r;
    {
      MutexLock lock(mu_);
      IR_MPI_CHECK(MPI_Ireduce_scatter_block(in.data_ptr(), out.data_ptr(),
                                             static_cast<int>(out.numel()), MpiType(out), MPI_SUM,
                                             comm_.get(), &r));
    }
    FreezeHereIfAsked("reduce-scatter", rank_);
    return std::make_unique<MpiPending>(this, r, std::vector<at::Tensor>{in, out},
                                        "reduce-scatter '" + what + "'");
  }

  std::unique_ptr<PendingCollective> StartAllGather(const at::Tensor& in, const at::Tensor& out,
                                                    const std::string& what) override {
    IR_CHECK(in.is_contiguous() && out.is_contiguous());
    IR_CHECK(!in.is_cuda() && !out.is_cuda());
    IR_CHECK_EQ(in.scalar_type(), out.scalar_type());
    IR_CHECK_EQ(out.numel(), in.numel() * size_);
    IR_CHECK_LT(in.numel(), static_cast<int64_t>(INT_MAX));
    MPI_Request r;
    {
      MutexLock lock(mu_);
      IR_MPI_CHECK(MPI_Iallgather(in.data_ptr(), static_cast<int>(in.numel()), MpiType(in),
                                  out.data_ptr(), static_cast<int>(in.numel()), MpiType(out),
                                  comm_.get(), &r));
    }
    FreezeHereIfAsked("all-gather", rank_);
    return std::make_unique<MpiPending>(this, r, std::vector<at::Tensor>{in, out},
                                        "all-gather '" + what + "'");
  }

  void Broadcast(const at::Tensor& t, int root, const std::string& what) override {
    IR_CHECK(t.is_contiguous());
    BcastRaw(t.data_ptr(), static_cast<int64_t>(t.nbytes()), root, "broadcast '" + what + "'", t);
  }

  void BroadcastBytes(std::string* bytes, int root, const std::string& what) override {
    int64_t n = rank_ == root ? static_cast<int64_t>(bytes->size()) : 0;
    auto len = torch::tensor({n}, torch::kLong);
    Broadcast(len, root, what + " (length)");
    n = len.item<int64_t>();
    if (rank_ != root) bytes->resize(n);
    BcastRaw(bytes->data(), n, root, "broadcast '" + what + "'", at::Tensor());
  }

  void Barrier(const std::string& what) override {
    MPI_Request r;
    {
      MutexLock lock(mu_);
      IR_MPI_CHECK(MPI_Ibarrier(comm_.get(), &r));
    }
    MpiPending(this, r, {}, "barrier '" + what + "'").Wait();
  }

  void AllreduceSumDoubles(std::vector<double>* v, const std::string& what) override {
    auto t = torch::from_blob(v->data(), {static_cast<int64_t>(v->size())}, torch::kDouble).clone();
    AllreduceSum(t, what);
    std::memcpy(v->data(), t.data_ptr(), v->size() * sizeof(double));
  }

 private:
  void BcastRaw(void* data, int64_t n, int root, const std::string& what, const at::Tensor& keep) {
    // MPI counts are int: large buffers go in 1 GiB pieces.
    constexpr int64_t kPiece = 1ll << 30;
    for (int64_t off = 0; off < n || (n == 0 && off == 0); off += kPiece) {
      int count = static_cast<int>(std::min(kPiece, n - off));
      MPI_Request r;
      {
        MutexLock lock(mu_);
        IR_MPI_CHECK(
            MPI_Ibcast(static_cast<char*>(data) + off, count, MPI_BYTE, root, comm_.get(), &r));
      }
      MpiPending(this, r, {keep}, what).Wait();
      if (n == 0) break;
    }
  }

  AllreduceOptions opt_;
  OwnedComm comm_;
  int rank_ = 0, size_ = 1;
  std::string peers_note_;
  Mutex mu_;
};

MpiPending::MpiPending(MpiCollective* c, MPI_Request r, std::vector<at::Tensor> keep,
                       std::string what)
    : c_(c), req_(r), keep_(std::move(keep)), what_(std::move(what)), clock_(*c, c->timeout_ms()) {}

MpiPending::~MpiPending() {
  if (req_ == MPI_REQUEST_NULL) return;
  if (Test()) return;
  MutexLock lock(g_parked_mu);
  g_parked.push_back({c_->comm(), req_, keep_, what_});
}

bool MpiPending::Test() {
  if (req_ == MPI_REQUEST_NULL) return true;
  int done = 0;
  MutexLock lock(c_->mu());
  IR_MPI_CHECK(MPI_Test(&req_, &done, MPI_STATUS_IGNORE));
  return done != 0;
}

void MpiPending::Wait() {
  int spins = 0;
  while (!Test()) {
    if (clock_.Expired(what_))
      CollectiveTimedOut("MPI", what_, c_->timeout_ms(), c_->rank(), c_->size(),
                         clock_.Note() + c_->peers_note());
    // Spin briefly for latency, then back off so a waiting rank does not burn a core.
    if (++spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int init = 0;
  MPI_Initialized(&init);
  if (init) return;
  // Gradients are reduced with MPI_Iallreduce (pollable against a deadline). Open MPI's libnbc
  // picks a binomial tree for it by default, which on large buckets runs 2-3x slower than the
  // blocking MPI_Allreduce; Rabenseifner's reduce-scatter + all-gather is bandwidth-optimal and
  // brings it level (`iranker bench allreduce`). A value the user set (mpirun --mca, environment)
  // wins. Other MPI implementations ignore the variable.
  ::setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", /*overwrite=*/0);
  int provided = 0;
  IR_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided));
  g_session_owns_mpi = true;
  if (provided < MPI_THREAD_SERIALIZED)
    IR_LOG_WARN("comm: MPI provides thread level {} < MPI_THREAD_SERIALIZED", provided);
}

MpiSession::~MpiSession() {
  if (!g_session_owns_mpi) return;
  std::vector<Parked> parked;
  {
    MutexLock lock(g_parked_mu);
    parked.swap(g_parked);
  }
  // Give abandoned collectives a moment to finish (a late peer); otherwise MPI_Finalize would hang.
  int64_t deadline = SteadyMs() + 3000;
  bool all_done = true;
  for (auto& p : parked) {
    int done = 0;
    while (!done && SteadyMs() < deadline) {
      MPI_Test(&p.request, &done, MPI_STATUS_IGNORE);
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!done) {
      all_done = false;
      IR_LOG_ERROR("comm: {} never completed; skipping MPI_Finalize", p.what);
    }
  }
  if (all_done) MPI_Finalize();
  g_session_owns_mpi = false;
}

int MpiSession::rank() const {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int MpiSession::size() const {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

std::unique_ptr<Collective> MakeMpiCollective(const AllreduceOptions& options) {
  return std::make_unique<MpiCollective>(options, -1);
}

std::unique_ptr<Collective> MakeMpiCollective(const AllreduceOptions& options, int color) {
  IR_CHECK_GE(color, 0);
  return std::make_unique<MpiCollective>(options, color);
}

void AbortWorld(int code) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return;
  // MPI_Abort asks the launcher to end every rank; where it waits on a host that is gone, this
  // process leaves anyway after kAbortGrace (its message is out; the launcher does the rest).
  std::thread([code] {
    std::this_thread::sleep_for(kAbortGrace);
    std::cerr << "iranker: MPI_Abort did not end this process within "
              << std::chrono::duration_cast<std::chrono::seconds>(kAbortGrace).count()
              << " s; exiting" << std::endl;
    std::_Exit(code);
  }).detach();
  MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace iranker::collective
