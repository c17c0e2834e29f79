#include "learner/learner.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <condition_variable>
#include <functional>
#include <thread>

#include "../model/test_util.h"
#include "base/error.h"
#include "learner/advantages.h"
#include "learner/critic.h"
#include "learner/losses.h"
#include "model/checkpoint.h"
#include "model/generate.h"

namespace iranker {
namespace {

TEST(Advantages, GrpoNormalisesWithinGroups) {
  auto a = GrpoAdvantages({1, 3, 5, 10}, {7, 7, 7, 9}, /*normalize_std=*/true, 0.0f);
  const double sd = std::sqrt(8.0 / 3.0);  // population std of {1,3,5}
  EXPECT_NEAR(a[0], -2 / sd, 1e-5);
  EXPECT_NEAR(a[1], 0, 1e-6);
  EXPECT_NEAR(a[2], 2 / sd, 1e-5);
  EXPECT_EQ(a[3], 0);  // a group of one has no baseline
  auto b = GrpoAdvantages({1, 3}, {1, 1}, false);
  EXPECT_FLOAT_EQ(b[0], -1);
  auto same = GrpoAdvantages({2, 2, 2}, {1, 1, 1}, true);
  for (float x : same) EXPECT_EQ(x, 0);  // all equal: no signal, no NaN
}

TEST(Advantages, RlooLeavesOneOut) {
  auto a = RlooAdvantages({1, 2, 6}, {0, 0, 0});
  EXPECT_FLOAT_EQ(a[0], 1 - 4.0f);
  EXPECT_FLOAT_EQ(a[1], 2 - 3.5f);
  EXPECT_FLOAT_EQ(a[2], 6 - 1.5f);
}

TEST(Advantages, GaeOnKnownSequence) {
  // gamma = lambda = 1: advantage = return-to-go - value.
  auto r = Gae({1, 0, 2}, {0.5, 1.0, 1.5}, 1.0, 1.0);
  EXPECT_FLOAT_EQ(r.returns[0], 3);
  EXPECT_FLOAT_EQ(r.returns[1], 2);
  EXPECT_FLOAT_EQ(r.returns[2], 2);
  EXPECT_FLOAT_EQ(r.advantages[0], 2.5);
  EXPECT_FLOAT_EQ(r.advantages[2], 0.5);
  // gamma = 0.5, lambda = 0: one-step TD errors.
  auto td = Gae({1, 0, 2}, {0.5, 1.0, 1.5}, 0.5, 0.0);
  EXPECT_FLOAT_EQ(td.advantages[0], 1 + 0.5f * 1.0f - 0.5f);
  EXPECT_FLOAT_EQ(td.advantages[1], 0 + 0.5f * 1.5f - 1.0f);
  EXPECT_FLOAT_EQ(td.advantages[2], 2 - 1.5f);
}

TEST(Losses, PpoClippedSurrogateHandComputed) {
  LearnerOptions o;
  o.clip_eps = 0.2;
  PolicyLossInputs in;
  // ratios: e^0.1 (inside), e^0.5 (clipped at 1.2 for A>0), e^-0.5 (clipped at 0.8 for A<0: min
  // picks clipped)
  in.logprobs = torch::tensor({{0.1f, 0.5f, -0.5f}});
  in.old_logprobs = torch::zeros({1, 3});
  in.advantages = torch::tensor({{1.0f, 1.0f, -1.0f}});
  in.mask = torch::ones({1, 3});
  auto l = ComputePolicyLoss(in, o, 3.0);
  double expected = (-std::exp(0.1) - 1.2 + 0.8) / 3.0;  // third: -min(e^-0.5*-1, 0.8*-1) = 0.8
  EXPECT_NEAR(l.loss.item<double>(), expected, 1e-6);
  EXPECT_EQ(l.clipped_tokens, 2);
  // seq_mean divides each row by its length.
  o.loss_agg = LossAggregation::kSeqMean;
  in.mask = torch::tensor({{1.0f, 1.0f, 0.0f}});
  auto s = ComputePolicyLoss(in, o, 1.0);
  EXPECT_NEAR(s.loss.item<double>(), (-std::exp(0.1) - 1.2) / 2.0, 1e-6);
}

TEST(Losses, KlEstimators) {
  auto lp = torch::tensor({-1.0}), ref = torch::tensor({-1.5});
  EXPECT_NEAR(KlEstimate(lp, ref, KlEstimator::kK1).item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(KlEstimate(lp, ref, KlEstimator::kK3).item<double>(), std::exp(-0.5) + 0.5 - 1, 1e-6);
  EXPECT_NEAR(KlEstimate(lp, lp, KlEstimator::kK3).item<double>(), 0.0, 1e-9);
}

TEST(Losses, GradientMatchesFiniteDifferences) {
  LearnerOptions o;
  o.kl_coef = 0.1;
  o.entropy_coef = 0.01;
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto base = torch::tensor({{-0.3, -1.2, 0.05, -0.7}}, opts);
  PolicyLossInputs in;
  in.old_logprobs = torch::tensor({{-0.4, -1.0, 0.0, -0.2}}, opts);
  in.advantages = torch::tensor({{0.7, -1.3, 2.0, 0.4}}, opts);
  in.mask = torch::tensor({{1.0, 1.0, 1.0, 0.0}}, opts);
  in.ref_logprobs = torch::tensor({{-0.5, -0.9, -0.1, -0.3}}, opts);
  in.entropy = torch::tensor({{1.0, 2.0, 0.5, 0.1}}, opts);
  auto x = base.clone().requires_grad_(true);
  in.logprobs = x;
  ComputePolicyLoss(in, o, 2.0).loss.backward();
  for (int i = 0; i < 4; ++i) {
    const double h = 1e-6;
    auto plus = base.clone(), minus = base.clone();
    plus[0][i] += h;
    minus[0][i] -= h;
    in.logprobs = plus;
    double fp = ComputePolicyLoss(in, o, 2.0).loss.item<double>();
    in.logprobs = minus;
    double fm = ComputePolicyLoss(in, o, 2.0).loss.item<double>();
    EXPECT_NEAR(x.grad()[0][i].item<double>(), (fp - fm) / (2 * h), 1e-6) << "token " << i;
  }
}

// A contextual bandit the tiny model must learn: from a fixed prompt, emit token 7.
std::vector<TrainSample> Rollout(DecoderLM& m, uint64_t version, int group, uint64_t seed_base) {
  EngineOptions eo;
  eo.slots = group;
  GenerationEngine e(m, eo);
  for (int g = 0; g < group; ++g) {
    GenerationRequest r;
    r.id = g;
    r.prompt = {1, 2, 3, 4, 5};
    r.params.max_new_tokens = 1;
    r.params.seed = seed_base * 1000 + g;
    e.Submit(r);
  }
  std::vector<TrainSample> out;
  for (auto& res : e.RunAll()) {
    TrainSample s;
    s.prompt = {1, 2, 3, 4, 5};
    s.response = res.tokens;
    s.behaviour_logprobs = res.logprobs;
    s.reward = res.tokens[0] == 7 ? 1.0f : 0.0f;
    s.group = 1;
    s.policy_version = version;
    out.push_back(s);
  }
  return out;
}

double ProbOf7(DecoderLM& m) {
  torch::NoGradGuard ng;
  auto h = m.ForwardHidden(torch::tensor({{1, 2, 3, 4, 5}}, torch::kInt64));
  return torch::softmax(m.Logits(h)[0][4], -1)[7].item<double>();
}

TEST(Learner, GrpoLearnsABandit) {
  auto m = testing::TinyModel(31);
  LearnerOptions o;
  o.lr = 3e-3;
  Learner learner(m, o, 40);
  const double before = ProbOf7(*m);
  double mismatch = 0;
  for (int step = 0; step < 40; ++step) {
    auto metrics = learner.Step(Rollout(*m, learner.version(), 16, step));
    mismatch = std::max(mismatch, metrics["logprob_mismatch"]);
  }
  const double after = ProbOf7(*m);
  EXPECT_GT(after, 0.5) << "before " << before;
  EXPECT_LT(before, 0.05);
  EXPECT_LT(mismatch, 1e-5) << "actor and learner disagree on log-probabilities";
  EXPECT_EQ(learner.version(), 40u);
}

TEST(Learner, StaleSamplesAreDroppedOrReweighted) {
  auto m = testing::TinyModel(32);
  LearnerOptions o;
  o.max_staleness = 0;
  Learner drop(m, o, 10);
  auto samples = Rollout(*m, 0, 4, 1);
  drop.Step(samples);  // version becomes 1; these are now one version old
  auto metrics = drop.Step(samples);
  EXPECT_EQ(metrics["dropped_stale"], 4);
  EXPECT_EQ(metrics["stale_fraction"], 1);
  o.stale_policy = StalePolicy::kTruncateIs;
  Learner keep(testing::TinyModel(32), o, 10);
  keep.Step(samples);
  auto m2 = keep.Step(samples);
  EXPECT_EQ(m2["dropped_stale"], 0);
  EXPECT_EQ(m2["stale_fraction"], 1);
  EXPECT_GT(m2["response_tokens"], 0);
}

std::vector<TrainSample> FixedBatch(int n, uint64_t seed) {
  std::vector<TrainSample> out;
  for (int i = 0; i < n; ++i) {
    TrainSample s;
    for (int t = 0; t < static_cast<int>(5 + (i * 7 + seed) % 9); ++t)
      s.prompt.push_back((t * 13 + i + seed) % 97);
    for (int t = 0; t < 1 + i % 4; ++t) {
      s.response.push_back((t * 5 + i) % 97);
      s.behaviour_logprobs.push_back(-4.5f - 0.1f * t);
    }
    s.reward = float((i * 37 + seed) % 5);
    s.group = i % 3;
    out.push_back(s);
  }
  return out;
}

// Adam's first step moves every weight by about lr * sign(gradient), which turns rounding noise in
// near-zero gradients into full-size differences. With a huge epsilon the step is lr/eps *
// gradient, so comparing weights compares gradients.
LearnerOptions LinearUpdate() {
  LearnerOptions o;
  o.adam_eps = 1.0;
  o.lr = 1.0;
  o.max_grad_norm = 0;
  return o;
}

void ExpectClose(DecoderLM& a, DecoderLM& b, double tol) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  for (const auto& p : pa)
    EXPECT_LE((p.value() - pb[p.key()]).abs().max().item<double>(), tol) << p.key();
}

TEST(Learner, MicroBatchingDoesNotChangeTheUpdate) {
  LearnerOptions big = LinearUpdate(), small = LinearUpdate();
  big.share_prefix = small.share_prefix = false;  // padded micro-batches
  big.micro_batch_tokens = 1 << 20;
  small.micro_batch_tokens = 20;  // many micro-batches
  auto a = testing::TinyModel(33), b = testing::TinyModel(33);
  Learner la(a, big, 5), lb(b, small, 5);
  auto batch = FixedBatch(12, 3);
  auto ma = la.Step(batch), mb = lb.Step(batch);
  EXPECT_EQ(ma["micro_batches"], 1);
  EXPECT_GT(mb["micro_batches"], 4);
  ExpectClose(*a, *b, 1e-7);
}

// A reusable barrier (C++17 has none).
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> l(mu_);
    const uint64_t gen = gen_;
    if (++count_ == n_) {
      count_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(l, [&] { return gen != gen_; });
    }
  }

 private:
  int n_, count_ = 0;
  uint64_t gen_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

// N ranks as N threads: sums through a shared buffer and a barrier.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), barrier_(n) {}
  class Rank : public DataParallel {
   public:
    Rank(ThreadGroup* g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int world_size() const override { return g_->n_; }
    void AverageGradients(const std::vector<at::Tensor>& params) override {
      std::vector<at::Tensor> grads;
      for (const auto& p : params) grads.push_back(p.grad().flatten());
      auto flat = torch::cat(grads);
      auto sum = Reduce(flat) / double(g_->n_);
      int64_t off = 0;
      for (const auto& p : params) {
        p.grad().copy_(sum.narrow(0, off, p.numel()).view_as(p));
        off += p.numel();
      }
    }
    double SumScalar(double x) override {
      return Reduce(torch::tensor({x}, torch::kFloat64)).item<double>();
    }

   private:
    at::Tensor Reduce(const at::Tensor& t) {
      {
        std::lock_guard<std::mutex> l(g_->mu_);
        g_->sum_ = g_->sum_.defined() ? g_->sum_ + t : t.clone();
      }
      g_->barrier_.arrive_and_wait();
      auto out = g_->sum_.clone();
      g_->barrier_.arrive_and_wait();
      if (r_ == 0) g_->sum_ = at::Tensor();
      g_->barrier_.arrive_and_wait();
      return out;
    }
    ThreadGroup* g_;
    int r_;
  };

 private:
  int n_;
  Barrier barrier_;
  std::mutex mu_;
  at::Tensor sum_;
};

// Two data-parallel learner ranks as threads: each steps a fresh TinyModel(seed) once on the
// samples `take(rank, index, sample)` selects. Returns their models.
std::vector<std::shared_ptr<DecoderLM>> StepTwoRanks(
    const LearnerOptions& o, const std::vector<TrainSample>& batch, uint64_t seed,
    const std::function<bool(int, size_t, const TrainSample&)>& take) {
  ThreadGroup group(2);
  std::vector<std::shared_ptr<DecoderLM>> models = {testing::TinyModel(seed),
                                                    testing::TinyModel(seed)};
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      at::set_num_threads(1);
      ThreadGroup::Rank dp(&group, r);
      std::vector<TrainSample> shard;
      for (size_t i = 0; i < batch.size(); ++i)
        if (take(r, i, batch[i])) shard.push_back(batch[i]);
      Learner(models[r], o, 5, &dp).Step(shard);
    });
  for (auto& t : threads) t.join();
  return models;
}

TEST(Learner, DataParallelRanksStayIdentical) {
  LearnerOptions o = LinearUpdate();
  auto batch = FixedBatch(12, 5);
  // Groups split across ranks.
  auto models = StepTwoRanks(o, batch, 34,
                             [](int r, size_t i, const TrainSample&) { return int(i % 2) == r; });
  ExpectClose(*models[0], *models[1], 0);  // every rank applies the same averaged update
}

TEST(Learner, DataParallelGroupAlignedShardsMatchSingleRank) {
  LearnerOptions o = LinearUpdate();
  auto batch = FixedBatch(12, 6);  // groups 0,1,2
  auto single = testing::TinyModel(35);
  Learner(single, o, 5).Step(batch);
  // Rank 0: group 0; rank 1: groups 1, 2.
  auto models = StepTwoRanks(
      o, batch, 35, [](int r, size_t, const TrainSample& s) { return (s.group == 0) == (r == 0); });
  ExpectClose(*models[0], *single, 1e-7);
  ExpectClose(*models[1], *single, 1e-7);
}

TEST(Learner, SaveAndResumeIsBitExact) {
  LearnerOptions o;
  o.lr = 1e-3;
  o.warmup_steps = 2;
  o.schedule = LrSchedule::kCosine;
  o.kl_coef = 0.01;
  auto straight = testing::TinyModel(36);
  Learner ls(straight, o, 4);
  for (int s = 0; s < 3; ++s) ls.Step(FixedBatch(8, s));

  auto first = testing::TinyModel(36);
  Learner l1(first, o, 4);
  l1.Step(FixedBatch(8, 0));
  auto dir = testing::TempDir("learner_resume");
  SaveModel(*first, dir);
  l1.SaveState(dir);
  auto resumed = LoadModel(dir).model;
  // The reference policy is the *initial* policy: rebuild it from the initial weights.
  Learner l2(testing::TinyModel(36), o, 4);
  {
    torch::NoGradGuard ng;
    auto src = resumed->named_parameters();
    for (auto& p : l2.policy().named_parameters()) p.value().copy_(src[p.key()]);
  }
  l2.LoadState(dir);
  EXPECT_EQ(l2.step(), 1);
  for (int s = 1; s < 3; ++s) l2.Step(FixedBatch(8, s));
  auto pa = straight->named_parameters(), pb = l2.policy().named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
}

// learner.algorithm=sft: the loss is the negative log-likelihood of the targets, token mean.
TEST(LearnerSft, LossIsTheNegativeLogLikelihood) {
  LearnerOptions o;
  o.algorithm = Algorithm::kSft;
  PolicyLossInputs in;
  in.logprobs = torch::tensor({{-0.5f, -2.0f, -9.0f}, {-1.0f, -3.0f, -4.0f}});
  in.old_logprobs = torch::full({2, 3}, -7.0f);  // far away: a ratio would be clipped
  in.advantages = torch::full({2, 3}, -1.0f);    // and a sign would flip the update
  in.mask = torch::tensor({{1.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}});
  in.is_weights = torch::full({2, 3}, 0.25f);
  auto loss = ComputePolicyLoss(in, o, 4.0);
  EXPECT_NEAR(loss.loss.item<double>(), (0.5 + 2.0 + 1.0) / 4.0, 1e-6);
  EXPECT_NEAR(loss.pg_sum, 3.5, 1e-6);
  o.loss_agg = LossAggregation::kSeqMean;
  EXPECT_NEAR(ComputePolicyLoss(in, o, 2.0).loss.item<double>(), (1.25 + 1.0) / 2.0, 1e-6);
}

TEST(LearnerSft, LossDecreasesOnAFixedBatchAndTargetsNeverGoStale) {
  LearnerOptions o;
  o.algorithm = Algorithm::kSft;
  o.lr = 3e-3;
  o.max_staleness = 0;
  Learner l(testing::TinyModel(41), o, 20);
  const auto batch = FixedBatch(8, 3);  // every sample claims policy version 0
  std::vector<double> nll;
  for (int s = 0; s < 20; ++s) {
    auto m = l.Step(batch);
    EXPECT_EQ(m["dropped_stale"], 0) << "step " << s;
    nll.push_back(m["sft_nll"]);
  }
  for (size_t s = 1; s < nll.size(); ++s) EXPECT_LT(nll[s], nll[s - 1]) << "step " << s;
  EXPECT_LT(nll.back(), 0.5 * nll.front());
}

// Greedy answers of `m` to a few prompts, as SFT targets (with the greedy log-probabilities).
std::vector<TrainSample> GreedyAnswers(DecoderLM& m) {
  EngineOptions eo;
  eo.slots = 4;
  GenerationEngine e(m, eo);
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 2, 3, 4, 5}, {9, 8, 7}, {11, 12, 13, 14, 15, 16}, {40, 2, 40}};
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest r;
    r.id = i;
    r.prompt = prompts[i];
    r.params.max_new_tokens = 4;
    r.params.greedy = true;
    e.Submit(r);
  }
  std::vector<TrainSample> out;
  for (auto& res : e.RunAll()) {
    TrainSample s;
    s.prompt = prompts[res.id];
    s.response = res.tokens;
    s.behaviour_logprobs = res.logprobs;
    s.group = res.id;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.group < b.group; });
  return out;
}

TEST(LearnerSft, TrainingOnTheOwnGreedyAnswersKeepsThem) {
  auto m = testing::TinyModel(42);
  const auto before = GreedyAnswers(*m);
  LearnerOptions o;
  o.algorithm = Algorithm::kSft;
  o.lr = 1e-3;
  Learner l(m, o, 5);
  double first = 0, last = 0;
  for (int s = 0; s < 5; ++s) {
    auto metrics = l.Step(before);
    (s == 0 ? first : last) = metrics["sft_nll"];
  }
  const auto after = GreedyAnswers(*m);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(after[i].response, before[i].response) << "prompt " << i;
  EXPECT_LT(last, first) << "the answers became more likely";
}

// learner.sft_loss=choice: the target's NLL under the constrained decoder of the allowed answers,
// hand-checked against the model's own next-token log-probabilities. Answers {11 12}, {13},
// {11 14}: first token 11 among {11, 13}; after 11, token 12 among {12, 14}.
TEST(LearnerSft, ChoiceLossIsTheTargetsLikelihoodUnderTheConstraint) {
  auto m = testing::TinyModel(43);
  const std::vector<int32_t> prompt = {5, 6, 7, 8}, target = {11, 12};
  auto lp = [&](const std::vector<int32_t>& prefix, int32_t token) {
    torch::NoGradGuard ng;
    std::vector<int64_t> ids(prompt.begin(), prompt.end());
    ids.insert(ids.end(), prefix.begin(), prefix.end());
    auto h = m->ForwardHidden(torch::tensor(ids, torch::kInt64).unsqueeze(0));
    return torch::log_softmax(m->Logits(h)[0][ids.size() - 1], -1)[token].item<double>();
  };
  auto ce = [](double t, double o) { return std::log(std::exp(t) + std::exp(o)) - t; };
  const double first = ce(lp({}, 11), lp({}, 13)), second = ce(lp({11}, 12), lp({11}, 14));
  const double expected = first + second;
  const bool greedy_right = lp({}, 11) > lp({}, 13) && lp({11}, 12) > lp({11}, 14);
  TrainSample s;
  s.prompt = prompt;
  s.response = target;
  s.behaviour_logprobs = {-1.0f, -1.0f};
  s.alternatives = {1, 13, 2, 11, 14};
  LearnerOptions o;
  o.algorithm = Algorithm::kSft;
  o.sft_loss = SftLoss::kChoice;
  o.lr = 1e-3;
  Learner l(m, o, 10);
  auto metrics = l.Step({s});
  EXPECT_NEAR(metrics["sft_nll"], expected, 1e-4);
  EXPECT_EQ(metrics["sft_choice_accuracy"], greedy_right ? 1.0 : 0.0);
  for (int k = 0; k < 30; ++k) metrics = l.Step({s});
  EXPECT_LT(metrics["sft_nll"], 0.1 * expected) << "the constrained decoder writes the target";
  EXPECT_EQ(metrics["sft_choice_accuracy"], 1.0);
  // Malformed alternatives are an error, not a crash or a silent truncation.
  s.alternatives = {3, 13};
  EXPECT_THROW(l.Step({s}), Error);
}

TEST(Learner, SharedPrefixGivesTheSameUpdate) {
  // G responses per prompt, as the actor produces them.
  std::vector<TrainSample> batch;
  for (int p = 0; p < 3; ++p)
    for (int g = 0; g < 4; ++g) {
      TrainSample s;
      for (int t = 0; t < 20 + 5 * p; ++t) s.prompt.push_back((t * 11 + p) % 97);
      for (int t = 0; t < 1 + (g + p) % 3; ++t)
        s.response.push_back((t * 3 + g) % 97), s.behaviour_logprobs.push_back(-4.6f);
      s.reward = float((g * 7 + p) % 3);
      s.group = p;
      batch.push_back(s);
    }
  LearnerOptions shared = LinearUpdate(), padded = LinearUpdate();
  shared.kl_coef = padded.kl_coef = 0.05;
  shared.entropy_coef = padded.entropy_coef = 0.01;
  padded.share_prefix = false;
  auto a = testing::TinyModel(37), b = testing::TinyModel(37);
  auto ma = Learner(a, shared, 5).Step(batch);
  auto mb = Learner(b, padded, 5).Step(batch);
  EXPECT_EQ(ma["micro_batches"], 3);
  EXPECT_GT(ma["prefix_sharing"], 3.0);  // ~4 samples per computed prompt
  EXPECT_NEAR(ma["pg_loss"], mb["pg_loss"], 1e-6);
  EXPECT_NEAR(ma["entropy"], mb["entropy"], 1e-5);
  ExpectClose(*a, *b, 1e-6);  // norm weights are ~1: one float ulp is 1.2e-7
}

// bf16 autocast: the forward passes' products run in bf16 (the log-probabilities differ from the
// actor's fp32 ones by more than fp32 rounding), the parameters stay fp32 and it still learns.
TEST(Learner, Bf16AutocastKeepsFp32MasterWeightsAndLearns) {
  auto m = testing::TinyModel(31);
  LearnerOptions o;
  o.lr = 3e-3;
  o.autocast = Autocast::kBf16;
  Learner learner(m, o, 40);
  double mismatch = 0;
  for (int step = 0; step < 40; ++step) {
    auto metrics = learner.Step(Rollout(*m, learner.version(), 16, step));
    mismatch = std::max(mismatch, metrics["logprob_mismatch"]);
  }
  EXPECT_GT(ProbOf7(*m), 0.5);
  EXPECT_GT(mismatch, 1e-5) << "autocast did not reach the forward pass";
  EXPECT_LT(mismatch, 0.1);
  for (const auto& p : m->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  // The padded path (and the activation-checkpointed recomputation) runs under autocast too.
  LearnerOptions padded = o;
  padded.share_prefix = false;
  padded.activation_checkpointing = true;
  auto m2 = testing::TinyModel(31);
  auto metrics = Learner(m2, padded, 5).Step(Rollout(*m2, 0, 16, 1));
  EXPECT_GT(metrics["logprob_mismatch"], 1e-5);
  EXPECT_TRUE(std::isfinite(metrics["grad_norm"]));
}

TEST(Learner, ActivationCheckpointingGivesTheSameUpdate) {
  for (bool share : {true, false}) {
    LearnerOptions plain = LinearUpdate(), ckpt = LinearUpdate();
    plain.share_prefix = ckpt.share_prefix = share;
    ckpt.activation_checkpointing = true;
    auto a = testing::TinyModel(35), b = testing::TinyModel(35);
    auto batch = FixedBatch(12, 3);
    auto ma = Learner(a, plain, 5).Step(batch);
    auto mb = Learner(b, ckpt, 5).Step(batch);
    EXPECT_NEAR(ma["pg_loss"], mb["pg_loss"], 1e-7) << share;
    ExpectClose(*a, *b, 1e-6);
  }
}

// The KL reference policy in another dtype: at step 0 the policy equals the reference, so the KL
// is 0 exactly with a reference of the same dtype and small but not 0 with a bf16 one.
TEST(Learner, ReferencePolicyDtypeAndDevice) {
  auto batch = FixedBatch(8, 3);
  LearnerOptions same = LinearUpdate();
  same.kl_coef = 0.1;
  LearnerOptions bf16 = same;
  bf16.reference_dtype = ReferenceDtype::kBFloat16;
  bf16.reference_device = ReferenceDevice::kCpu;
  auto a = testing::TinyModel(36), b = testing::TinyModel(36);
  auto ma = Learner(a, same, 5).Step(batch);
  auto mb = Learner(b, bf16, 5).Step(batch);
  EXPECT_EQ(ma["kl"], 0.0);
  EXPECT_GT(std::abs(mb["kl"]), 0.0);
  EXPECT_LT(std::abs(mb["kl"]), 0.05);
}

TEST(Learner, LearningRateSchedule) {
  LearnerOptions o;
  o.lr = 1.0;
  o.warmup_steps = 4;
  o.schedule = LrSchedule::kCosine;
  o.min_lr_ratio = 0.1;
  Learner l(testing::TinyModel(), o, 14);
  EXPECT_DOUBLE_EQ(l.LearningRate(0), 0.25);
  EXPECT_DOUBLE_EQ(l.LearningRate(3), 1.0);
  EXPECT_DOUBLE_EQ(l.LearningRate(4), 1.0);
  EXPECT_NEAR(l.LearningRate(9), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(l.LearningRate(14), 0.1, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// PPO with a critic.

LearnerOptions Ppo() {
  LearnerOptions o;
  o.algorithm = Algorithm::kPpo;
  return o;
}

TEST(LearnerPpo, ReturnsFollowEachEpisodesStepsInOrder) {
  // Two episodes, rows shuffled. With lambda = 1 the GAE return is the discounted sum of the
  // episode's later rewards whatever the values: episode 10 rewards (1, 0, 2) -> returns
  // (1.5, 1, 2) at gamma 0.5; episode 20 rewards (0, 4) -> (2, 4). Mean 10.5 / 5.
  LearnerOptions o = Ppo();
  o.gamma = 0.5;
  o.lam = 1.0;
  auto batch = FixedBatch(5, 3);
  const int ep[] = {20, 10, 10, 20, 10}, step[] = {1, 2, 0, 0, 1};
  const float reward[] = {4, 2, 1, 0, 0};
  for (int i = 0; i < 5; ++i)
    batch[i].episode = ep[i], batch[i].step_index = step[i], batch[i].reward = reward[i];
  Learner l(testing::TinyModel(40), o, 5);
  auto m = l.Step(batch);
  EXPECT_NEAR(m["return_mean"], 10.5 / 5, 1e-6);
  EXPECT_EQ(m["value_mean"], 0.0);  // the value head starts at zero
  EXPECT_GT(m["value_loss"], 0.0);
  EXPECT_NEAR(m["value_loss"], 0.5 * (1.5 * 1.5 + 1 + 4 + 4 + 16) / 5, 1e-5);
}

TEST(LearnerPpo, CriticFitsTheReturns) {
  LearnerOptions o = Ppo();
  o.lr = 0;  // the policy stays put; only the critic learns
  o.critic_lr = 1e-2;
  auto batch = FixedBatch(8, 4);
  for (int i = 0; i < 8; ++i) batch[i].episode = i;  // one-step episodes: return = reward
  Learner l(testing::TinyModel(41), o, 60);
  double first = 0, last = 0, ev = 0;
  for (int s = 0; s < 60; ++s) {
    for (auto& x : batch) x.policy_version = l.version();
    auto m = l.Step(batch);
    if (s == 0) first = m["value_loss"];
    last = m["value_loss"];
    ev = m["explained_variance"];
  }
  EXPECT_LT(last, 0.05 * first) << "value loss " << first << " -> " << last;
  EXPECT_GT(ev, 0.9);
}

TEST(LearnerPpo, LearnsABandit) {
  auto m = testing::TinyModel(31);
  LearnerOptions o = Ppo();
  o.lr = 3e-3;
  o.critic_lr = 3e-3;
  Learner learner(m, o, 40);
  for (int step = 0; step < 40; ++step) {
    auto batch = Rollout(*m, learner.version(), 16, step);
    for (size_t g = 0; g < batch.size(); ++g) batch[g].episode = step * 100 + g;
    learner.Step(std::move(batch));
  }
  EXPECT_GT(ProbOf7(*m), 0.5);
}

TEST(LearnerPpo, DataParallelEpisodeShardsMatchSingleRank) {
  LearnerOptions o = LinearUpdate();
  o.algorithm = Algorithm::kPpo;
  o.critic_lr = 1.0;
  auto batch = FixedBatch(12, 7);
  for (int i = 0; i < 12; ++i) batch[i].episode = i / 3, batch[i].step_index = i % 3;
  auto single = testing::TinyModel(42);
  Learner(single, o, 5).Step(batch);
  // Whole episodes per rank.
  auto models = StepTwoRanks(
      o, batch, 42, [](int r, size_t, const TrainSample& s) { return int(s.episode % 2) == r; });
  ExpectClose(*models[0], *single, 1e-6);
  ExpectClose(*models[1], *single, 1e-6);
}

TEST(LearnerPpo, SaveAndResumeIsBitExact) {
  LearnerOptions o = Ppo();
  o.lr = 1e-3;
  o.critic_lr = 1e-3;
  auto batch = [](int s) {
    auto b = FixedBatch(8, s);
    for (int i = 0; i < 8; ++i) b[i].episode = i / 2, b[i].step_index = i % 2;
    return b;
  };
  auto straight = testing::TinyModel(43);
  Learner ls(straight, o, 4);
  for (int s = 0; s < 3; ++s) ls.Step(batch(s));

  auto first = testing::TinyModel(43);
  Learner l1(first, o, 4);
  l1.Step(batch(0));
  auto dir = testing::TempDir("learner_ppo_resume");
  SaveModel(*first, dir);
  l1.SaveState(dir);
  Learner l2(LoadModel(dir).model, o, 4);
  l2.LoadState(dir);  // the critic comes back from critic.pt, not from the loaded policy
  for (int s = 1; s < 3; ++s) l2.Step(batch(s));
  auto pa = straight->named_parameters(), pb = l2.policy().named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();

  // A checkpoint without a critic cannot resume a PPO run.
  auto grpo_dir = testing::TempDir("learner_grpo_state");
  Learner g(testing::TinyModel(43), LearnerOptions(), 4);
  g.SaveState(grpo_dir);
  Learner l3(testing::TinyModel(43), o, 4);
  EXPECT_THROW(l3.LoadState(grpo_dir), Error);
}

// learner.mini_batches: one update per consecutive part of the step's samples. With GRPO and
// parts made of whole groups the advantages do not depend on the cut, so two mini-batches of one
// step are the same updates as two steps on the halves.
TEST(Learner, MiniBatchesAreUpdatesOnConsecutiveParts) {
  LearnerOptions two;
  two.lr = 1e-2;
  two.mini_batches = 2;
  LearnerOptions one = two;
  one.mini_batches = 1;
  auto batch = FixedBatch(12, 8);
  for (int i = 0; i < 12; ++i) batch[i].group = i / 3;  // groups 0,1 | 2,3
  auto a = testing::TinyModel(48), b = testing::TinyModel(48);
  Learner la(a, two, 5), lb(b, one, 5);
  auto m = la.Step(batch);
  EXPECT_EQ(la.version(), 1u);  // one step, one new version, two updates
  EXPECT_EQ(la.step(), 1);
  lb.Step({batch.begin(), batch.begin() + 6});
  lb.Step({batch.begin() + 6, batch.end()});
  ExpectClose(*a, *b, 1e-6);
  // One update on the whole batch is a different result.
  auto c = testing::TinyModel(48);
  Learner(c, one, 5).Step(batch);
  double diff = 0;
  auto pa = a->named_parameters(), pc = c->named_parameters();
  for (const auto& p : pa) diff += (p.value() - pc[p.key()]).abs().sum().item<double>();
  EXPECT_GT(diff, 1e-4);
  EXPECT_GT(m["grad_norm"], 0.0);
}

// Two data-parallel ranks, several micro-batches per mini-batch: the same updates as one rank
// (rank r holds samples 0-2 and 6-8 or 3-5 and 9-11, so global part p is the one rank's part p).
TEST(Learner, MiniBatchesAcrossRanksWithSeveralMicroBatches) {
  for (bool share_prefix : {false, true}) {
    LearnerOptions o = LinearUpdate();
    o.lr = 1e-2;
    o.mini_batches = 2;
    o.micro_batch_tokens = 16;  // several micro-batches per part
    o.share_prefix = share_prefix;
    auto batch = FixedBatch(12, 6);
    for (int i = 0; i < 12; ++i) batch[i].group = i / 3;
    auto single = testing::TinyModel(50);
    auto m = Learner(single, o, 5).Step(batch);
    EXPECT_GT(m["micro_batches"], 4);
    auto models = StepTwoRanks(
        o, batch, 50, [](int r, size_t i, const TrainSample&) { return int((i / 3) % 2) == r; });
    ExpectClose(*models[0], *single, 1e-6);
    ExpectClose(*models[1], *single, 1e-6);
  }
}

// More mini-batches than samples: the empty parts make no update (AdamW on zero gradients would
// still move the weights), so the result is the one-update step's.
TEST(Learner, EmptyMiniBatchesMakeNoUpdate) {
  LearnerOptions o;
  o.lr = 1e-2;
  o.weight_decay = 0.1;
  LearnerOptions three = o;
  three.mini_batches = 3;
  auto batch = FixedBatch(1, 2);
  auto a = testing::TinyModel(52), b = testing::TinyModel(52);
  Learner la(a, o, 5), lb(b, three, 5);
  la.Step(batch);
  lb.Step(batch);
  EXPECT_EQ(lb.version(), 1u);
  ExpectClose(*a, *b, 0.0);
}

// PPO: the critic makes one update per mini-batch too, on values computed before the first.
TEST(LearnerPpo, MiniBatchesUpdateTheCriticPerPart) {
  for (CriticValues cv : {CriticValues::kStep, CriticValues::kToken}) {
    LearnerOptions o = Ppo();
    o.critic_values = cv;
    o.lr = 0;
    o.critic_lr = 1e-2;
    LearnerOptions two = o;
    two.mini_batches = 2;
    auto batch = FixedBatch(8, 4);
    for (int i = 0; i < 8; ++i) batch[i].episode = i;
    Learner l1(testing::TinyModel(49), o, 30), l2(testing::TinyModel(49), two, 30);
    double first2 = 0, last1 = 0, last2 = 0;
    for (int s = 0; s < 30; ++s) {
      for (auto& x : batch) x.policy_version = l1.version();
      auto m1 = l1.Step(batch), m2 = l2.Step(batch);
      if (s == 0) first2 = m2["value_loss"];
      last1 = m1["value_loss"], last2 = m2["value_loss"];
    }
    // Twice the critic updates: it fits faster.
    EXPECT_LT(last2, last1) << NameOf(cv);
    EXPECT_LT(last2, 0.5 * first2) << NameOf(cv);
  }
}

// ---------------------------------------------------------------------------------------------
// PPO with verl's per-token critic (learner.critic_values: token).

LearnerOptions TokenPpo() {
  LearnerOptions o = Ppo();
  o.critic_values = CriticValues::kToken;
  return o;
}

// The value before response token k is the state value of prompt + response[0..k): the same
// number Values() gives for that longer prompt (so k = 0 is the step value).
TEST(CriticTokens, ValueBeforeEachTokenIsTheStateValueOfThePrefix) {
  auto policy = testing::TinyModel(44);
  LearnerOptions o = TokenPpo();
  o.critic_lr = 1e-2;
  Critic critic(*policy, o);
  auto batch = FixedBatch(4, 5);
  std::vector<const std::vector<int32_t>*> prompts, responses;
  for (const auto& s : batch) prompts.push_back(&s.prompt), responses.push_back(&s.response);
  std::vector<std::vector<float>> targets, zeros;
  for (const auto& s : batch) {
    targets.emplace_back();
    for (size_t k = 0; k < s.response.size(); ++k) targets.back().push_back(0.5f + k);
    zeros.emplace_back(s.response.size(), 0.0f);
  }
  auto m = critic.TrainTokens(prompts, responses, targets, zeros, 1.0, nullptr, 1e-2);
  EXPECT_GT(m["value_loss"], 0.0);
  const auto values = critic.TokenValues(prompts, responses);
  bool any_nonzero = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(values[i].size(), batch[i].response.size());
    for (size_t k = 0; k < values[i].size(); ++k) {
      std::vector<int32_t> prefix = batch[i].prompt;
      prefix.insert(prefix.end(), batch[i].response.begin(), batch[i].response.begin() + k);
      const float state = critic.Values({&prefix})[0];
      EXPECT_NEAR(values[i][k], state, 1e-5) << "sample " << i << " token " << k;
      any_nonzero |= std::abs(state) > 1e-4;
    }
  }
  EXPECT_TRUE(any_nonzero);  // the head has moved off zero
}

TEST(LearnerPpoTokens, ReturnsRunOverTheEpisodesTokens) {
  // One episode: step 0 with a 2-token response and reward 1, step 1 with 3 tokens and reward 2
  // (rows given in reverse). Token rewards (0, 1 | 0, 0, 2); gamma 0.5, lambda 1: returns
  // (0.625, 1.25 | 0.5, 1, 2) whatever the values. The value head starts at zero.
  LearnerOptions o = TokenPpo();
  o.gamma = 0.5;
  o.lam = 1.0;
  auto all = FixedBatch(3, 3);
  std::vector<TrainSample> batch = {all[2], all[1]};  // responses of 3 and 2 tokens
  ASSERT_EQ(batch[0].response.size(), 3u);
  ASSERT_EQ(batch[1].response.size(), 2u);
  batch[0].episode = batch[1].episode = 7;
  batch[0].step_index = 1, batch[0].reward = 2;
  batch[1].step_index = 0, batch[1].reward = 1;
  Learner l(testing::TinyModel(45), o, 5);
  auto m = l.Step(batch);
  EXPECT_NEAR(m["return_mean"], (0.625 + 1.25 + 0.5 + 1 + 2) / 5, 1e-6);
  EXPECT_EQ(m["value_mean"], 0.0);
  EXPECT_NEAR(m["value_loss"], 0.5 * (0.390625 + 1.5625 + 0.25 + 1 + 4) / 5, 1e-5);
}

TEST(LearnerPpoTokens, CriticFitsTheReturns) {
  LearnerOptions o = TokenPpo();
  o.lr = 0;
  o.critic_lr = 1e-2;
  auto batch = FixedBatch(8, 4);
  for (int i = 0; i < 8; ++i) batch[i].episode = i;
  Learner l(testing::TinyModel(46), o, 60);
  double first = 0, last = 0;
  for (int s = 0; s < 60; ++s) {
    for (auto& x : batch) x.policy_version = l.version();
    auto m = l.Step(batch);
    if (s == 0) first = m["value_loss"];
    last = m["value_loss"];
  }
  EXPECT_LT(last, 0.05 * first) << "value loss " << first << " -> " << last;
}

TEST(LearnerPpoTokens, LearnsABandit) {
  auto m = testing::TinyModel(31);
  LearnerOptions o = TokenPpo();
  o.lr = 3e-3;
  o.critic_lr = 3e-3;
  Learner learner(m, o, 40);
  for (int step = 0; step < 40; ++step) {
    auto batch = Rollout(*m, learner.version(), 16, step);
    for (size_t g = 0; g < batch.size(); ++g) batch[g].episode = step * 100 + g;
    learner.Step(std::move(batch));
  }
  EXPECT_GT(ProbOf7(*m), 0.5);
}

TEST(LearnerPpoTokens, DataParallelEpisodeShardsMatchSingleRank) {
  LearnerOptions o = LinearUpdate();
  o.algorithm = Algorithm::kPpo;
  o.critic_values = CriticValues::kToken;
  o.critic_lr = 1.0;
  auto batch = FixedBatch(12, 7);
  for (int i = 0; i < 12; ++i) batch[i].episode = i / 3, batch[i].step_index = i % 3;
  auto single = testing::TinyModel(42);
  Learner(single, o, 5).Step(batch);
  auto models = StepTwoRanks(
      o, batch, 42, [](int r, size_t, const TrainSample& s) { return int(s.episode % 2) == r; });
  ExpectClose(*models[0], *single, 1e-6);
  ExpectClose(*models[1], *single, 1e-6);
}

// Per-token values differ from the step value on multi-token responses, so the two critics give
// different updates; with one-token responses they are the same computation.
TEST(LearnerPpoTokens, OneTokenResponsesMatchTheStepCritic) {
  LearnerOptions step = LinearUpdate();
  step.algorithm = Algorithm::kPpo;
  step.critic_lr = 1e-2;
  LearnerOptions token = step;
  token.critic_values = CriticValues::kToken;
  auto batch = FixedBatch(8, 9);
  for (int i = 0; i < 8; ++i) {
    batch[i].episode = i / 2, batch[i].step_index = i % 2;
    batch[i].response.resize(1);
    batch[i].behaviour_logprobs.resize(1);
  }
  auto a = testing::TinyModel(47), b = testing::TinyModel(47);
  Learner la(a, step, 5), lb(b, token, 5);
  for (int s = 0; s < 3; ++s) {
    for (auto& x : batch) x.policy_version = la.version();
    auto ma = la.Step(batch), mb = lb.Step(batch);
    EXPECT_NEAR(ma["value_loss"], mb["value_loss"], 1e-5) << s;
  }
  ExpectClose(*a, *b, 1e-5);
  for (auto& x : batch) x.response = {3, 4, 5}, x.behaviour_logprobs = {-4, -4, -4};
  auto c = testing::TinyModel(47), d = testing::TinyModel(47);
  Learner lc(c, step, 5), ld(d, token, 5);
  lc.Step(batch), ld.Step(batch);
  lc.Step(batch);  // the critics differ after one update, so do the second step's advantages
  auto md = ld.Step(batch);
  EXPECT_GT(md["value_loss"], 0.0);
  double diff = 0;
  auto pc = c->named_parameters(), pd = d->named_parameters();
  for (const auto& p : pc) diff += (p.value() - pd[p.key()]).abs().sum().item<double>();
  EXPECT_GT(diff, 1e-6);
}

}  // namespace
}  // namespace iranker
