// Gradient all-reduce under mpirun (-np 2 and -np 3, see CMakeLists.txt): the bucketed result on
// every rank equals the mean of all ranks' gradients computed in one process; helpers agree
// across ranks; a collective that a peer never joins times out with a message naming it; one
// whose peer is busy on its own waits while the peer's progress lease moves, and no longer.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "base/error.h"
#include "cluster/progress_lease.h"
#include "collective/bucketer.h"
#include "collective/collective.h"

namespace iranker::collective {
namespace {

struct Net : torch::nn::Module {
  Net() {
    // Registered first so that its gradients land in the last bucket; only rank 0's loss uses it,
    // so the other ranks join its collective without a gradient of their own.
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
  auto loss = torch::mse_loss(net.forward(x), y);
  if (r == 0) loss = loss + 0.1 * net.unused->forward(x.narrow(1, 0, 4)).pow(2).mean();
  loss.backward();
}

// Several gradient layouts: all in flat buckets; most reduced in place on their own (the 4x4
// `unused` weight too, which only rank 0 produces); and a mix.
constexpr double kInplaceMb[] = {0.0, 0.00005, 0.001};

std::vector<torch::Tensor> Grads(Net& net) {
  std::vector<torch::Tensor> g;
  for (auto& p : net.parameters())
    g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

// The mean over ranks r of the gradients `backward(net, r)` leaves, computed in this process.
std::vector<torch::Tensor> MeanOverRanks(Net& net, int n,
                                         const std::function<void(Net&, int)>& backward) {
  std::vector<torch::Tensor> mean;
  for (int r = 0; r < n; ++r) {
    net.zero_grad();
    backward(net, r);
    auto g = Grads(net);
    if (mean.empty())
      mean = g;
    else
      for (size_t i = 0; i < g.size(); ++i) mean[i] += g[i];
  }
  for (auto& m : mean) m /= n;
  return mean;
}

class AllreduceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AllreduceOptions o;
    o.backend = AllreduceBackend::kMpi;
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
  const std::vector<torch::Tensor> mean = MeanOverRanks(net, n, Backward);
  // Bucketed, overlapped with backward; tiny buckets so there are several.
  for (double inplace : kInplaceMb) {
    for (double mb : {0.002, 0.01, 100.0}) {
      AllreduceOptions o;
      o.bucket_mb = mb;
      o.inplace_mb = inplace;
      o.timeout_ms = 20000;
      GradientBucketer bucketer(*coll, net.parameters(), o);
      for (bool set_to_none : {true, false}) {
        // .grad() undefined (autograd's fresh gradient is reduced where it lies), or zeroed
        // in place (what the last FinishBackward left is accumulated into).
        if (set_to_none)
          for (auto& p : net.parameters()) p.mutable_grad() = torch::Tensor();
        else
          net.zero_grad();
        bucketer.BeginBackward();
        Backward(net, me);
        bucketer.FinishBackward();
        auto got = Grads(net);
        for (size_t i = 0; i < got.size(); ++i)
          EXPECT_TRUE(torch::allclose(got[i], mean[i], 1e-5, 1e-6))
              << "param " << i << " bucket_mb " << mb << " inplace_mb " << inplace;
        auto st = bucketer.stats();
        if (mb == 0.002) {  // 500 floats a bucket
          if (inplace == 0.0) {
            EXPECT_GT(st.buckets, 3);
          } else if (inplace == 0.00005) {
            EXPECT_EQ(st.buckets, 7);  // 6 direct, the 4-wide biases flat
          } else {
            EXPECT_EQ(st.buckets, 3);  // inplace_mb 0.001: a's and b's weights direct
          }
          EXPECT_GE(st.buckets_started_in_backward, 1);  // overlap: started before backward ended
        }
        if (inplace == 0.0) {
          EXPECT_EQ(st.inplace_gradients, 0);
        } else if (inplace == 0.00005) {
          // Every weight and the 32-wide biases are direct (6 tensors), reduced where autograd
          // left them. Only rank 0 produces `unused`'s gradient when .grad() starts undefined;
          // the others reduce a buffer of zeros of their own then, which is .grad() next time.
          EXPECT_EQ(st.inplace_gradients, me == 0 || !set_to_none ? 6 : 5);
        }
        EXPECT_EQ(st.bytes, 4 * (16 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4 + 4 * 4 + 4));
      }
    }
  }
}

// A gradient whose memory another tensor shares cannot be reduced where it lies: it is copied,
// and the tensor sharing it is left alone.
TEST_F(AllreduceTest, GradientsSharingMemoryAreCopiedNotReducedInPlace) {
  const int n = coll->size(), me = coll->rank();
  torch::manual_seed(7);
  Net net;
  const std::vector<torch::Tensor> mean = MeanOverRanks(net, n, Backward);
  AllreduceOptions o;
  o.inplace_mb = 0.00005;
  GradientBucketer bucketer(*coll, net.parameters(), o);
  // One step first, so that the bucketer has handed out memory of its own, then set to none
  // (the new buffer may well reuse its addresses).
  bucketer.BeginBackward();
  Backward(net, me);
  bucketer.FinishBackward();
  for (auto& p : net.parameters()) p.mutable_grad() = torch::Tensor();
  // a's and b's weight gradients are two halves of one buffer the test also holds.
  auto& wa = net.a->weight;
  auto& wb = net.b->weight;
  auto shared = torch::zeros({wa.numel() + wb.numel()});
  wa.mutable_grad() = shared.narrow(0, 0, wa.numel()).view(wa.sizes());
  wb.mutable_grad() = shared.narrow(0, wa.numel(), wb.numel()).view(wb.sizes());
  auto before = shared.clone();
  bucketer.BeginBackward();
  Backward(net, me);
  auto local = shared.clone();  // this rank's own gradients, accumulated into the shared buffer
  bucketer.FinishBackward();
  EXPECT_TRUE(torch::equal(shared, local)) << "the shared buffer was reduced in place";
  EXPECT_FALSE(torch::equal(local, before));
  auto got = Grads(net);
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(torch::allclose(got[i], mean[i], 1e-5, 1e-6)) << i;
  EXPECT_EQ(bucketer.stats().inplace_gradients, me == 0 ? 4 : 3);
}

// p's gradient is a view of a gradient that another node still has to read: p.view() is taken
// after w * c, so backward runs p's view node, and then p's accumulator, before the product's
// node reads the shared gradient. Reducing p's gradient in place there would corrupt w's.
TEST_F(AllreduceTest, AGradientSharedWithAPendingNodeIsNotReducedInPlace) {
  const int n = coll->size(), me = coll->rank();
  auto w = torch::randn({64}, torch::requires_grad());
  auto p = torch::randn({8, 8}, torch::requires_grad());
  auto loss = [&](int r) {
    torch::manual_seed(300 + r);
    auto c = torch::randn({64});
    auto weight = torch::randn({64});
    auto wc = w * c;
    auto pv = p.view({64});  // recorded after the product: its backward node runs first
    return ((wc + pv) * weight).sum();
  };
  std::vector<torch::Tensor> mean = {torch::zeros({64}), torch::zeros({8, 8})};
  for (int r = 0; r < n; ++r) {
    w.mutable_grad() = torch::Tensor();
    p.mutable_grad() = torch::Tensor();
    loss(r).backward();
    mean[0] += w.grad() / n;
    mean[1] += p.grad() / n;
  }
  for (double inplace : kInplaceMb) {
    AllreduceOptions o;
    o.inplace_mb = inplace;
    o.bucket_mb = 0.0002;  // each its own bucket
    GradientBucketer bucketer(*coll, {w, p}, o);
    w.mutable_grad() = torch::Tensor();
    p.mutable_grad() = torch::Tensor();
    bucketer.BeginBackward();
    loss(me).backward();
    bucketer.FinishBackward();
    EXPECT_TRUE(torch::allclose(w.grad(), mean[0], 1e-5, 1e-6)) << "inplace_mb " << inplace;
    EXPECT_TRUE(torch::allclose(p.grad(), mean[1], 1e-5, 1e-6)) << "inplace_mb " << inplace;
  }
}

// A tensor hook on p returns a detached alias of its gradient, which AccumulateGrad can steal
// while the same gradient is still on its way to q's accumulator (p + q sends one tensor to
// both). Reducing it in place would corrupt q's gradient. Both orders of the sum.
TEST_F(AllreduceTest, AGradientAliasedByAHookIsNotReducedInPlace) {
  const int n = coll->size(), me = coll->rank();
  for (bool p_first : {true, false}) {
    auto p = torch::randn({64}, torch::requires_grad());
    auto q = torch::randn({64}, torch::requires_grad());
    p.register_hook([](const torch::Tensor& g) { return g.detach(); });
    auto loss = [&](int r) {
      torch::manual_seed(400 + r);
      auto weight = torch::randn({64});
      auto sum = p_first ? p + q : q + p;
      return (sum * weight).sum();
    };
    std::vector<torch::Tensor> mean = {torch::zeros({64}), torch::zeros({64})};
    for (int r = 0; r < n; ++r) {
      p.mutable_grad() = torch::Tensor();
      q.mutable_grad() = torch::Tensor();
      loss(r).backward();
      mean[0] += p.grad() / n;
      mean[1] += q.grad() / n;
    }
    AllreduceOptions o;
    o.inplace_mb = 0.00005;  // both direct
    GradientBucketer bucketer(*coll, {p, q}, o);
    p.mutable_grad() = torch::Tensor();
    q.mutable_grad() = torch::Tensor();
    bucketer.BeginBackward();
    loss(me).backward();
    bucketer.FinishBackward();
    EXPECT_TRUE(torch::allclose(p.grad(), mean[0], 1e-5, 1e-6)) << p_first;
    EXPECT_TRUE(torch::allclose(q.grad(), mean[1], 1e-5, 1e-6)) << p_first;
  }
}

TEST_F(AllreduceTest, ParametersListedTwiceOrMovedAreClearErrors) {
  auto w = torch::randn({64}, torch::requires_grad());
  try {
    GradientBucketer twice(*coll, {w, w}, AllreduceOptions());
    FAIL() << "a parameter listed twice was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("listed again"), std::string::npos) << e.what();
  }
  GradientBucketer bucketer(*coll, {w}, AllreduceOptions());
  {
    torch::NoGradGuard no_grad;
    w.set_data(w.to(torch::kDouble));  // a new dtype: autograd makes w a new accumulator
  }
  try {
    bucketer.BeginBackward();
    FAIL() << "a parameter moved to another dtype was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("changed dtype or device"), std::string::npos) << e.what();
  }
}

// y = x * w without recording the product; backward computes it again with gradients on and
// back-propagates through that (reentrant backward, as activation checkpointing does), so w's
// accumulator runs inside this node's backward.
struct ReentrantScale : torch::autograd::Function<ReentrantScale> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               torch::Tensor w) {
    ctx->saved_data["w"] = w;
    ctx->save_for_backward({x});
    torch::NoGradGuard no_grad;
    return x * w;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto w = ctx->saved_data["w"].toTensor();
    torch::AutoGradMode on(true);
    torch::autograd::backward({x * w}, {grad[0]});
    return {x.grad(), torch::Tensor()};
  }
};

TEST_F(AllreduceTest, ASecondGradientForAParameterInOnePassIsAClearError) {
  auto w = torch::randn({64}, torch::requires_grad());
  auto x = torch::randn({64}, torch::requires_grad());
  // w reaches the loss directly and through the reentrant node: two accumulations.
  auto loss = [&] { return (ReentrantScale::apply(x, w) + w * 3).sum(); };
  loss().backward();  // unarmed: plain autograd accumulates both
  EXPECT_TRUE(torch::allclose(w.grad(), x.detach() + 3));
  AllreduceOptions o;
  o.timeout_ms = 20000;
  GradientBucketer bucketer(*coll, {w, x}, o);
  w.mutable_grad() = torch::Tensor();
  bucketer.BeginBackward();
  try {
    loss().backward();
    FAIL() << "a parameter's second gradient was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("received a second gradient in one backward pass"),
              std::string::npos)
        << e.what();
  }
  coll->Barrier("after the second-gradient test");
}

TEST_F(AllreduceTest, AccumulatedMicroBatchesAreIncluded) {
  const int n = coll->size(), me = coll->rank();
  torch::manual_seed(7);
  Net net;
  const std::vector<torch::Tensor> mean = MeanOverRanks(net, n, [](Net& m, int r) {
    Backward(m, r);
    Backward(m, r + 50);  // two micro-batches
  });
  for (double inplace : kInplaceMb) {
    AllreduceOptions o;
    o.bucket_mb = 0.003;
    o.inplace_mb = inplace;
    GradientBucketer bucketer(*coll, net.parameters(), o);
    for (int pass = 0; pass < 2; ++pass) {  // .grad() autograd's, then the bucketer's
      net.zero_grad();
      Backward(net, me);  // first micro-batch: plain accumulation
      bucketer.BeginBackward();
      Backward(net, me + 50);
      bucketer.FinishBackward();
      auto got = Grads(net);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(torch::allclose(got[i], mean[i], 1e-5, 1e-6)) << i << " inplace_mb " << inplace;
    }
  }
}

// Several optimizer steps, each with two micro-batches: after FinishBackward the gradients are
// slots of the buckets (no copy out), which zero_grad, the accumulation of the next step's first
// micro-batch and clipping then work on in place. Same weights as averaging one flat copy of the
// gradients per step.
TEST_F(AllreduceTest, StepsWithGradientsAsBucketSlotsMatchFlatAveraging) {
  const int me = coll->rank();
  auto train = [&](bool bucketed, double inplace, bool set_to_none) {
    torch::manual_seed(7);
    Net net;
    torch::optim::AdamW opt(net.parameters(), torch::optim::AdamWOptions(1e-2));
    AllreduceOptions o;
    o.bucket_mb = 0.003;
    o.inplace_mb = inplace;
    GradientBucketer bucketer(*coll, net.parameters(), o);
    for (int step = 0; step < 3; ++step) {
      if (set_to_none)
        for (auto& p : net.parameters()) p.mutable_grad() = torch::Tensor();
      else
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
  for (bool set_to_none : {false, true}) {
    auto b = train(false, 0, set_to_none);
    for (double inplace : kInplaceMb) {
      auto a = train(true, inplace, set_to_none);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i)
        EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << i << " inplace_mb " << inplace;
    }
  }
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

// The sharded collectives (ZeRO): each rank gets its shard of the sum, and all shards come back
// together in rank order; odd shard sizes, float and double.
TEST_F(AllreduceTest, ReduceScatterAndAllGatherMatchTheirDefinitions) {
  const int n = coll->size(), me = coll->rank();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    const int64_t shard = 5;
    auto in = torch::arange(n * shard, dtype) * (me + 1);
    auto out = torch::empty({shard}, dtype);
    coll->ReduceScatterSum(in, out, "reduce-scatter test");
    auto expect = torch::arange(me * shard, (me + 1) * shard, dtype) * (n * (n + 1) / 2);
    EXPECT_TRUE(torch::equal(out, expect)) << out;
    auto mine = torch::full({shard}, static_cast<double>(me), dtype);
    auto all = torch::empty({n * shard}, dtype);
    coll->AllGather(mine, all, "all-gather test");
    for (int r = 0; r < n; ++r)
      EXPECT_TRUE(torch::equal(all.narrow(0, r * shard, shard),
                               torch::full({shard}, static_cast<double>(r), dtype)));
  }
  coll->Barrier("sharded collectives done");
}

TEST_F(AllreduceTest, ShardedCollectivesWhosePeerNeverJoinsTimeOut) {
  AllreduceOptions o;
  o.timeout_ms = coll->rank() == 0 ? 400 : 20000;
  auto late = MakeMpiCollective(o);
  const int n = coll->size();
  auto in = torch::ones({n * 3});
  auto out = torch::empty({3});
  auto all = torch::empty({n * 3});
  if (coll->rank() == 0) {
    try {
      late->ReduceScatterSum(in, out, "gradient shard test");
      FAIL() << "the reduce-scatter completed without its peers";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
      EXPECT_NE(std::string(e.what()).find("reduce-scatter 'gradient shard test'"),
                std::string::npos)
          << e.what();
    }
    try {
      late->AllGather(out, all, "parameter shard test");
      FAIL() << "the all-gather completed without its peers";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("all-gather 'parameter shard test'"), std::string::npos)
          << e.what();
    }
  }
  coll->Barrier("after sharded time-outs");
  if (coll->rank() != 0) {
    late->ReduceScatterSum(in, out, "gradient shard test");
    late->AllGather(out, all, "parameter shard test");
  }
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

TEST_F(AllreduceTest, APeerBusyOnItsOwnIsWaitedForWhileItsLeaseMoves) {
  // One lease directory for all ranks (rank 0 names it).
  std::string dir;
  if (coll->rank() == 0) {
    char tmpl[] = "/tmp/iranker-lease-mpi-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  coll->BroadcastBytes(&dir, 0, "lease directory");
  // The waiting ranks time out after 1 s without a sign of rank 0's progress. Rank 0 itself
  // never waits on a busy peer: a long time-out, so that its late join below cannot fail.
  AllreduceOptions o;
  const int timeout_ms = 1000;
  o.timeout_ms = coll->rank() == 0 ? 20000 : timeout_ms;
  auto c = MakeMpiCollective(o);  // its own communicator
  ProgressLease lease(dir, c->rank());
  ProgressWatch watch(dir, c->rank());
  c->SetPeerProgressProbe([&watch] { return watch.Progress(); });

  // 1. Rank 0 works on its own for 3 time-outs, beating as it goes: the others wait it out.
  const auto t0 = std::chrono::steady_clock::now();
  if (c->rank() == 0) lease.Begin("solo work");
  coll->Barrier("solo work begins");
  if (c->rank() == 0) {
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(3 * timeout_ms)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lease.Beat();
    }
    lease.End();
  }
  auto t = torch::ones({4});
  EXPECT_NO_THROW(c->AllreduceSum(t, "after solo work"));
  EXPECT_EQ(t[0].item<float>(), static_cast<float>(c->size()));
  if (c->rank() != 0) {  // well past the time-out (the ranks' clocks start a barrier apart)
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2 * timeout_ms));
  }

  // 2. Rank 0 opens a phase and stops beating (hung mid-work): the others time out, saying that
  // they had waited on its progress. Rank 0 joins afterwards, so their abandoned requests
  // complete before MPI shuts down.
  if (c->rank() == 0) lease.Begin("stuck work");
  coll->Barrier("stuck work begins");
  if (c->rank() == 0) {
    coll->Barrier("the others timed out");
    lease.End();
    c->Barrier("late join");
  } else {
    try {
      c->Barrier("late join");
      ADD_FAILURE() << "the barrier completed although rank 0 never joined";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDeadlineExceeded);
      const std::string m = e.what();
      EXPECT_NE(m.find("barrier 'late join' did not complete within 1000 ms"), std::string::npos)
          << m;
      EXPECT_NE(m.find("a peer reported progress"), std::string::npos) << m;
    }
    coll->Barrier("the others timed out");
  }
  coll->Barrier("lease test done");
  if (c->rank() == 0) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace iranker::collective

int main(int argc, char** argv) {
  iranker::collective::MpiSession mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (mpi.rank() != 0) ::testing::GTEST_FLAG(brief) = true;
  return RUN_ALL_TESTS();
}
