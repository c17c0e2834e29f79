// Sharded training state (collective/sharded_optimizer.h) under mpirun -np 2, 3 and 4: the sharded
// update equals the unsharded one (bit for bit for ZeRO-1, within float tolerance for ZeRO-2,
// whose gradients are reduce-scattered), for GRPO and for PPO with its critic, with parameters
// that get no gradient and shards of unequal size; a resumed run continues exactly, and a state
// saved by 3 or 4 ranks continues on 2.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "../model/test_util.h"
#include "base/error.h"
#include "collective/collective.h"
#include "collective/sharded_optimizer.h"
#include "learner/data_parallel.h"
#include "learner/learner.h"

namespace iranker {
namespace {

using collective::Collective;

std::unique_ptr<Collective> World(int color = -1) {
  collective::AllreduceOptions o;
  o.backend = collective::AllreduceBackend::kMpi;
  o.timeout_ms = 60000;
  return color < 0 ? collective::MakeMpiCollective(o) : collective::MakeMpiCollective(o, color);
}

// A global batch of 24 GRPO/PPO samples: 12 groups (GRPO) and 12 two-step episodes (PPO) of two
// samples each. Rank r of n takes the r-th of n contiguous blocks of whole pairs, so that no
// group or episode is split across ranks (advantages are computed where the samples are, as in
// training, where one actor's batch goes to one rank); n = 2, 3 and 4 see the same global batch.
// The blocks grow with r (6+18, 2+8+14, 2+4+8+10 samples): the ranks make different numbers of
// backward passes, which sharding=gradients has to match.
std::vector<TrainSample> Shard(int rank, int ranks, uint64_t version) {
  auto begin = [&](int r) {
    return 2 * static_cast<int>(std::lround(12.0 * r * r / (double(ranks) * ranks)));
  };
  std::vector<TrainSample> out;
  for (int i = begin(rank); i < begin(rank + 1); ++i) {
    TrainSample s;
    for (int t = 0; t < 5 + (i * 7) % 9; ++t) s.prompt.push_back((t * 13 + i) % 97);
    for (int t = 0; t < 1 + i % 4; ++t) {
      s.response.push_back((t * 5 + i) % 97);
      s.behaviour_logprobs.push_back(-4.5f - 0.1f * t);
    }
    s.reward = float((i * 37) % 5);
    s.group = i / 2;
    s.episode = i / 2;
    s.step_index = i % 2;
    s.policy_version = version;
    out.push_back(s);
  }
  return out;
}

// Every parameter of the model, flattened into one vector.
at::Tensor Flat(DecoderLM& m) {
  std::vector<at::Tensor> parts;
  for (const auto& p : m.parameters()) parts.push_back(p.detach().reshape({-1}).clone());
  return torch::cat(parts);
}

// Rank 0's parameters on every rank (under sharding=full only rank 0 holds them whole).
at::Tensor RootFlat(DecoderLM& m, Collective& c) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  at::Tensor t = c.rank() == 0 ? Flat(m) : torch::zeros({n});
  c.Broadcast(t, 0, "test weights");
  return t;
}

LearnerOptions Options(Algorithm algorithm, Sharding sharding) {
  LearnerOptions o;
  o.algorithm = algorithm;
  o.sharding = sharding;
  o.lr = 1e-3;
  o.critic_lr = 1e-3;
  o.max_grad_norm = 0.5;      // clipping is on: the global norm has to be right
  o.shard_unit_mb = 0.004;    // many units of unequal sizes, padded differently per rank count
  o.micro_batch_tokens = 40;  // several micro-batches: gradient accumulation across them
  return o;
}

// `steps` steps of a fresh TinyModel(seed) on this rank's samples.
std::shared_ptr<DecoderLM> Train(Collective& c, const LearnerOptions& o, int steps,
                                 const std::function<void(Learner&)>& before = {}) {
  auto model = testing::TinyModel(51);
  CollectiveDataParallel dp(c, collective::AllreduceOptions());
  Learner learner(model, o, 10, c.size() > 1 ? &dp : nullptr);
  if (before) before(learner);
  for (int s = 0; s < steps; ++s) learner.Step(Shard(c.rank(), c.size(), learner.version()));
  return model;
}

class ShardingTest : public ::testing::Test {
 protected:
  void SetUp() override { world = World(); }
  std::unique_ptr<Collective> world;
};

TEST_F(ShardingTest, OptimizerShardingIsBitIdenticalAndGradientShardingClose) {
  for (Algorithm algorithm : {Algorithm::kGrpo, Algorithm::kPpo}) {
    const at::Tensor none = Flat(*Train(*world, Options(algorithm, Sharding::kNone), 4));
    const at::Tensor opt = Flat(*Train(*world, Options(algorithm, Sharding::kOptimizer), 4));
    const at::Tensor grad = Flat(*Train(*world, Options(algorithm, Sharding::kGradients), 4));
    EXPECT_TRUE(torch::equal(none, opt)) << NameOf(algorithm);
    const double diff = (none - grad).abs().max().item<double>();
    EXPECT_LT(diff, 2e-5) << NameOf(algorithm);
    // The updates are not trivially small.
    EXPECT_GT((none - Flat(*testing::TinyModel(51))).abs().max().item<double>(), 1e-3);
  }
  world->Barrier("equivalence done");
}

// PPO with verl's per-token critic (learner.critic_values: token) under each sharding level: the
// critic's longer forward passes (prompt + response) go through the same gathers, reduce-scatters
// and padding passes; with learner.mini_batches the policy and the critic update once per part.
TEST_F(ShardingTest, TokenCriticMatchesTheReplicatedRunAtEveryLevel) {
  // And with two mini-batches per step (configs/paper: both).
  for (int mini_batches : {1, 2}) {
    LearnerOptions plain = Options(Algorithm::kPpo, Sharding::kNone);
    plain.critic_values = CriticValues::kToken;
    plain.mini_batches = mini_batches;
    // Several micro-batches per mini-batch: the last one starts the overlapped all-reduce.
    if (mini_batches > 1) plain.micro_batch_tokens = 16;
    const at::Tensor none = Flat(*Train(*world, plain, 4));
    EXPECT_GT((none - Flat(*testing::TinyModel(51))).abs().max().item<double>(), 1e-3);
    for (Sharding level : {Sharding::kOptimizer, Sharding::kGradients, Sharding::kFull}) {
      LearnerOptions o = plain;
      o.sharding = level;
      auto model = Train(*world, o, 4);
      const at::Tensor got = level == Sharding::kFull ? RootFlat(*model, *world) : Flat(*model);
      EXPECT_LT((none - got).abs().max().item<double>(), 2e-5)
          << NameOf(level) << " mini_batches " << mini_batches;
    }
  }
  world->Barrier("token critic done");
}

// learner.sharding=full (ZeRO-3): each rank keeps a slice of the parameters and gathers them part
// by part in forward and backward; the ranks make different numbers of micro-batches (the others'
// passes are matched by passes on padding). After 4 steps rank 0, which holds the parameters
// whole between steps, has the replicated run's weights within float tolerance; the others hold
// only their slices and the parts of one step gathered at once.
TEST_F(ShardingTest, FullShardingMatchesTheReplicatedRun) {
  struct Case {
    Algorithm algorithm;
    bool share_prefix, checkpointing, entropy;
  };
  for (const Case& c :
       {Case{Algorithm::kGrpo, true, false, true}, Case{Algorithm::kPpo, false, true, false},
        Case{Algorithm::kPpo, true, false, true}, Case{Algorithm::kGrpo, false, false, false}}) {
    LearnerOptions plain = Options(c.algorithm, Sharding::kNone);
    plain.share_prefix = c.share_prefix;
    plain.activation_checkpointing = c.checkpointing;
    plain.entropy_coef = c.entropy ? 0.01 : 0.0;
    LearnerOptions full = plain;
    full.sharding = Sharding::kFull;
    const at::Tensor none = Flat(*Train(*world, plain, 4));
    auto model = testing::TinyModel(51);
    CollectiveDataParallel dp(*world, collective::AllreduceOptions());
    Learner learner(model, full, 10, world->size() > 1 ? &dp : nullptr);
    for (int s = 0; s < 4; ++s)
      learner.Step(Shard(world->rank(), world->size(), learner.version()));
    const StateBytes held = learner.HeldStateBytes();
    if (world->rank() == 0) {
      const at::Tensor got = Flat(*model);
      EXPECT_LT((none - got).abs().max().item<double>(), 2e-5)
          << NameOf(c.algorithm) << c.share_prefix << c.checkpointing << c.entropy;
      EXPECT_GT((none - Flat(*testing::TinyModel(51))).abs().max().item<double>(), 1e-3);
    }
    // Between steps the ranks other than 0 hold no whole parameters, only their slices (and
    // rank 0 all of them, for publication); during a step, their slices and whole parts.
    for (const auto& p : model->parameters()) {
      if (world->rank() == 0)
        EXPECT_GT(p.storage().nbytes(), 0u);
      else
        EXPECT_EQ(p.storage().nbytes(), 0u);
    }
    EXPECT_GT(held.weights, 0);
    world->Barrier("full case done");
  }
}

// Activation checkpointing recomputes each layer in a nested backward, where the layer's
// parameters receive their gradients: the hooks still see one gradient per parameter per pass.
TEST_F(ShardingTest, GradientShardingWithActivationCheckpointing) {
  LearnerOptions plain = Options(Algorithm::kPpo, Sharding::kNone);
  LearnerOptions sharded = Options(Algorithm::kPpo, Sharding::kGradients);
  sharded.activation_checkpointing = true;
  const at::Tensor none = Flat(*Train(*world, plain, 3));
  const at::Tensor grad = Flat(*Train(*world, sharded, 3));
  EXPECT_LT((none - grad).abs().max().item<double>(), 2e-5);
  world->Barrier("checkpointing done");
}

// The optimizer alone on toy parameters: one gets no gradient (it counts as zero), sizes are odd;
// the result is the average of the ranks' gradients put through torch's AdamW on one process.
TEST_F(ShardingTest, UnusedParametersAndOddSizesMatchAnUnshardedAdamW) {
  const int n = world->size(), me = world->rank();
  for (Sharding level : {Sharding::kOptimizer, Sharding::kGradients}) {
    torch::manual_seed(3);
    std::vector<at::Tensor> params = {
        torch::randn({7}).requires_grad_(), torch::randn({5, 3}).requires_grad_(),
        torch::randn({1}).requires_grad_(), torch::randn({11}).requires_grad_()};
    std::vector<at::Tensor> ref;
    for (const auto& p : params) ref.push_back(p.detach().clone().requires_grad_());
    collective::ShardedAdamW adam;
    adam.weight_decay = 0.05;
    collective::ShardedOptimizer sharded(*world, params, level, adam, /*unit_mb=*/0.00005);
    torch::optim::AdamW reference(ref, torch::optim::AdamWOptions(0.01).weight_decay(0.05));
    for (int step = 0; step < 3; ++step) {
      // Rank r's loss; parameter 2 gets no gradient.
      auto loss = [&](const std::vector<at::Tensor>& ps, int r) {
        return (ps[0] * (r + 1)).pow(2).sum() + (ps[1] * ps[1].sin()).sum() * (step + 1) +
               ps[3].sum() * (r - 1);
      };
      sharded.ZeroGrad();
      sharded.PlanBackwardPasses(1);
      sharded.BeginBackward();
      loss(params, me).backward();
      sharded.EndBackward();
      if (level == Sharding::kOptimizer)
        for (auto& p : params) {
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          world->AllreduceMean(p.mutable_grad(), "test gradients");
        }
      sharded.Step(0.01, /*max_grad_norm=*/0);
      reference.zero_grad();
      for (int r = 0; r < n; ++r) (loss(ref, r) / n).backward();
      // The learner's convention (data parallel or not): a parameter without a gradient has a
      // zero one, so weight decay and the moments still apply to it.
      for (auto& p : ref)
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      reference.step();
      for (size_t i = 0; i < params.size(); ++i)
        EXPECT_LT((params[i] - ref[i]).abs().max().item<double>(), 1e-6)
            << NameOf(level) << " step " << step << " parameter " << i;
    }
  }
  world->Barrier("toy done");
}

// Save after 2 steps, then 2 more: a learner that loads the saved state continues to the same
// parameters bit for bit (same rank count), under sharding=gradients and =full. With a 3-rank
// state, 2 ranks continue within float tolerance of the 3 or 4 ranks' continuation (the same global
// batch, re-sharded moments).
TEST_F(ShardingTest, ResumeIsExactAndReshardsToFewerRanks) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("iranker_sharding_" + std::to_string(::getppid())))
          .string();
  for (auto [algorithm, level] : {std::pair{Algorithm::kGrpo, Sharding::kGradients},
                                  std::pair{Algorithm::kPpo, Sharding::kGradients},
                                  std::pair{Algorithm::kPpo, Sharding::kFull}}) {
    const LearnerOptions o = Options(algorithm, level);
    if (world->rank() == 0) {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
    }
    world->Barrier("dir ready");
    at::Tensor saved_weights;
    auto save_after_two = [&](Learner& l) {
      for (int s = 0; s < 2; ++s) l.Step(Shard(world->rank(), world->size(), l.version()));
      l.GatherForCheckpoint();
      if (world->rank() != 0) l.SaveShard(dir);
      world->Barrier("shards written");
      if (world->rank() == 0) l.SaveState(dir);
      world->Barrier("state written");
      saved_weights = RootFlat(l.policy(), *world);
    };
    const at::Tensor straight = RootFlat(*Train(*world, o, 2, save_after_two), *world);
    // Resume on the same ranks.
    auto resumed = Train(*world, o, 2, [&](Learner& l) {
      torch::NoGradGuard ng;
      int64_t off = 0;
      for (auto& p : l.policy().parameters()) {
        p.copy_(saved_weights.narrow(0, off, p.numel()).view(p.sizes()));
        off += p.numel();
      }
      l.LoadState(dir);
    });
    EXPECT_TRUE(torch::equal(straight, RootFlat(*resumed, *world))) << NameOf(algorithm);
    // Two of the ranks continue from the state of all of them (the moments re-sharded), on the
    // same global batch: the same parameters up to the order of float sums.
    if (world->size() >= 3) {
      auto sub = World(world->rank() < 2 ? 0 : 1);  // collective: every rank makes one
      if (world->rank() < 2) {
        auto model = testing::TinyModel(51);
        {
          torch::NoGradGuard ng;
          int64_t off = 0;
          for (auto& p : model->parameters()) {
            p.copy_(saved_weights.narrow(0, off, p.numel()).view(p.sizes()));
            off += p.numel();
          }
        }
        CollectiveDataParallel dp(*sub, collective::AllreduceOptions());
        Learner l(model, o, 10, &dp);
        l.LoadState(dir);
        EXPECT_EQ(l.version(), 2u);
        for (int s = 0; s < 2; ++s) l.Step(Shard(sub->rank(), sub->size(), l.version()));
        EXPECT_LT((RootFlat(*model, *sub) - straight).abs().max().item<double>(), 2e-5)
            << NameOf(algorithm) << " " << NameOf(level);
      }
    }
    world->Barrier("resume done");
  }
}

}  // namespace
}  // namespace iranker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  iranker::collective::MpiSession mpi(&argc, &argv);
  if (mpi.rank() != 0) ::testing::GTEST_FLAG(brief) = true;
  return RUN_ALL_TESTS();
}
