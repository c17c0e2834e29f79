// Gradient all-reduce under mpirun (-np 2 and -np 3, see CMakeLists.txt): the bucketed result on
// every rank equals the mean of all ranks' gradients computed in one process; helpers agree
// across ranks; a collective that a peer never joins times out with a message naming it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "base/error.h"
#include "comm/allreduce.h"

namespace iranker::comm {
namespace {

struct Net : torch::nn::Module {
  Net() {
    // Registered first so that its (never produced) gradients land in the last bucket.
    unused = register_module("unused", torch::nn::Linear(4, 4));
    a = register_module("a", torch::nn::Linear(16, 32));
    b = register_module("b", torch::nn::Linear(32, 32));
    c = register_module("c", torch::nn::Linear(32, 4));
  }
  torch::Tensor forward(torch::Tensor x) {
    return c->forward(torch::tanh(b->forward(torch::relu(a->forward(x)))));
  }
  torch::nn::Linear a{nullptr}, b{nullptr}, c{nullptr}, unused{nullptr};
};

// Rank r's loss on its own data; the same on every process for a given r.
void Backward(Net& net, int r) {
  torch::manual_seed(100 + r);
  auto x = torch::randn({8, 16});
  auto y = torch::randn({8, 4});
  torch::mse_loss(net.forward(x), y).backward();
}

std::vector<torch::Tensor> Grads(Net& net) {
  std::vector<torch::Tensor> g;
  for (auto& p : net.parameters())
    g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

class AllreduceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AllreduceOptions o;
    o.backend = "mpi";
    o.timeout_ms = 20000;
    coll = MakeMpiCollective(o);
  }
  std::unique_ptr<Collective> coll;
};

TEST_F(AllreduceTest, BucketedEqualsMeanComputedInOneProcess) {
  const int n = coll->size(), me = coll->rank();
  ASSERT_GE(n, 2);
  torch::manual_seed(7);  // identical initial weights on every rank
  Net net;
  // Reference: every rank's gradients, computed here, averaged.
  std::vector<torch::Tensor> mean;
  for (int r = 0; r < n; ++r) {
    net.zero_grad();
    Backward(net, r);
    auto g = Grads(net);
    if (mean.empty())
      mean = g;
    else
      for (size_t i = 0; i < g.size(); ++i) mean[i] += g[i];
  }
  for (auto& m : mean) m /= n;
  // Bucketed, overlapped with backward; tiny buckets so there are several.
  for (double mb : {0.002, 0.01, 100.0}) {
    AllreduceOptions o;
    o.bucket_mb = mb;
    o.timeout_ms = 20000;
    GradientBucketer bucketer(*coll, net.parameters(), o);
    net.zero_grad();
    bucketer.BeginBackward();
    Backward(net, me);
    bucketer.FinishBackward();
    auto got = Grads(net);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(torch::allclose(got[i], mean[i], 1e-5, 1e-6)) << "param " << i << " mb " << mb;
    auto st = bucketer.stats();
    if (mb == 0.002) {
      EXPECT_GT(st.buckets, 3);
      EXPECT_GE(st.buckets_started_in_backward, 1);  // overlap: started before backward ended
    }
    EXPECT_EQ(st.bytes, 4 * (16 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4 + 4 * 4 + 4));
  }
}

TEST_F(AllreduceTest, AccumulatedMicroBatchesAreIncluded) {
  const int n = coll->size(), me = coll->rank();
  torch::manual_seed(7);
  Net net;
  std::vector<torch::Tensor> mean;
  for (int r = 0; r < n; ++r) {
    net.zero_grad();
    Backward(net, r);
    Backward(net, r + 50);
    auto g = Grads(net);
    if (mean.empty())
      mean = g;
    else
      for (size_t i = 0; i < g.size(); ++i) mean[i] += g[i];
  }
  for (auto& m : mean) m /= n;
  AllreduceOptions o;
  o.bucket_mb = 0.003;
  GradientBucketer bucketer(*coll, net.parameters(), o);
  net.zero_grad();
  Backward(net, me);  // first micro-batch: plain accumulation
  bucketer.BeginBackward();
  Backward(net, me + 50);
  bucketer.FinishBackward();
  auto got = Grads(net);
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(torch::allclose(got[i], mean[i], 1e-5, 1e-6)) << i;
}

// Several optimizer steps, each with two micro-batches: after FinishBackward the gradients are
// slots of the buckets (no copy out), which zero_grad, the accumulation of the next step's first
// micro-batch and clipping then work on in place. Same weights as averaging one flat copy of the
// gradients per step.
TEST_F(AllreduceTest, StepsWithGradientsAsBucketSlotsMatchFlatAveraging) {
  const int me = coll->rank();
  auto train = [&](bool bucketed) {
    torch::manual_seed(7);
    Net net;
    torch::optim::AdamW opt(net.parameters(), torch::optim::AdamWOptions(1e-2));
    AllreduceOptions o;
    o.bucket_mb = 0.003;
    GradientBucketer bucketer(*coll, net.parameters(), o);
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      Backward(net, me + 10 * step);
      if (bucketed) bucketer.BeginBackward();
      Backward(net, me + 10 * step + 5);
      if (bucketed) {
        bucketer.FinishBackward();
      } else {
        std::vector<torch::Tensor> flat;
        for (auto& p : net.parameters())
          flat.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}));
        auto all = torch::cat(flat);
        coll->AllreduceMean(all, "flat reference");
        int64_t off = 0;
        for (auto& p : net.parameters()) {
          p.mutable_grad() = all.slice(0, off, off + p.numel()).view(p.sizes()).clone();
          off += p.numel();
        }
      }
      torch::nn::utils::clip_grad_norm_(net.parameters(), 0.5);
      opt.step();
    }
    std::vector<torch::Tensor> w;
    for (auto& p : net.parameters()) w.push_back(p.detach().clone());
    return w;
  };
  auto a = train(true), b = train(false);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << i;
}

TEST_F(AllreduceTest, HelpersAgreeAcrossRanks) {
  const int n = coll->size(), me = coll->rank();
  auto t = torch::full({5}, static_cast<float>(me + 1));
  coll->AllreduceMean(t, "mean test");
  EXPECT_TRUE(torch::allclose(t, torch::full({5}, (n + 1) / 2.0f)));
  auto b = me == 1 ? torch::arange(6, torch::kFloat) : torch::zeros({6});
  coll->Broadcast(b, /*root=*/1, "bcast test");
  EXPECT_TRUE(torch::equal(b, torch::arange(6, torch::kFloat)));
  std::string bytes = me == 0 ? std::string(100000, 'w') + "end" : "stale";
  coll->BroadcastBytes(&bytes, 0, "bytes test");
  EXPECT_EQ(bytes, std::string(100000, 'w') + "end");
  std::vector<double> v{1.0, static_cast<double>(me)};
  coll->AllreduceSumDoubles(&v, "doubles test");
  EXPECT_DOUBLE_EQ(v[0], n);
  EXPECT_DOUBLE_EQ(v[1], n * (n - 1) / 2.0);
  // Each rank holds a shard with squared norm (me+1): the global norm is sqrt(sum).
  auto shard = torch::full({1}, std::sqrt(static_cast<double>(me + 1)), torch::kDouble);
  EXPECT_NEAR(GlobalL2Norm(*coll, {shard}), std::sqrt(n * (n + 1) / 2.0), 1e-9);
  coll->Barrier("helpers done");
}

TEST_F(AllreduceTest, CollectiveWhosePeerNeverJoinsTimesOut) {
  AllreduceOptions o;
  // Rank 0 gives up quickly; the others, which join late on purpose, wait long enough for rank 0
  // to complete its abandoned requests at MPI shutdown.
  o.timeout_ms = coll->rank() == 0 ? 400 : 20000;
  auto late = MakeMpiCollective(o);  // its own communicator
  if (coll->rank() == 0) {
    auto t = torch::ones({4});
    try {
      late->AllreduceSum(t, "stuck test");
      FAIL() << "the all-reduce completed without its peers";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
      std::string m = e.what();
      EXPECT_NE(m.find("all-reduce 'stuck test'"), std::string::npos) << m;
      EXPECT_NE(m.find("rank 0 of " + std::to_string(coll->size())), std::string::npos) << m;
      EXPECT_NE(m.find("host "), std::string::npos) << m;
      EXPECT_NE(m.find("400 ms"), std::string::npos) << m;
    }
    try {
      late->Barrier("lonely barrier");
      FAIL() << "the barrier completed without its peers";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("barrier 'lonely barrier'"), std::string::npos);
    }
  }
  // The others join only after rank 0 gave up, so that the abandoned requests complete and MPI
  // can finalise cleanly.
  coll->Barrier("after time-out");
  if (coll->rank() != 0) {
    auto t = torch::ones({4});
    late->AllreduceSum(t, "stuck test");
    late->Barrier("lonely barrier");
  }
}

}  // namespace
}  // namespace iranker::comm

int main(int argc, char** argv) {
  iranker::comm::MpiSession mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (mpi.rank() != 0) ::testing::GTEST_FLAG(brief) = true;
  return RUN_ALL_TESTS();
}
