#include "learner/learner.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "base/atomic_file.h"
#include "base/error.h"
#include "collective/collective.h"
#include "learner/advantages.h"
#include "learner/losses.h"
#include "learner/token_key.h"
#include "model/autocast.h"
#include "model/checkpoint.h"
#include "model/scoring.h"

namespace iranker {

Learner::Learner(std::shared_ptr<DecoderLM> policy, const LearnerOptions& options,
                 int64_t total_steps, DataParallel* dp)
    : policy_(std::move(policy)),
      options_(options),
      total_steps_(std::max<int64_t>(1, total_steps)),
      dp_(dp) {
  sharded_ =
      MakeShardedOptimizer(policy_->parameters(), options_, dp_, &own_collective_, policy_.get());
  if (!sharded_) {
    torch::optim::AdamWOptions adam(options_.lr);
    adam.betas({options_.beta1, options_.beta2})
        .eps(options_.adam_eps)
        .weight_decay(options_.weight_decay);
    optimizer_ = std::make_unique<torch::optim::AdamW>(policy_->parameters(), adam);
  }
  policy_->set_activation_checkpointing(options_.activation_checkpointing);
  if (options_.kl_coef > 0) {
    reference_ = CloneDecoder(*policy_);
    for (auto& p : reference_->parameters()) p.set_requires_grad(false);
    if (options_.reference_dtype != ReferenceDtype::kSame)
      reference_->to(options_.reference_dtype == ReferenceDtype::kBFloat16 ? torch::kBFloat16
                                                                           : torch::kFloat32);
    if (options_.reference_device == ReferenceDevice::kCpu) reference_->to(torch::kCPU);
    reference_->eval();
  }
  if (options_.algorithm == Algorithm::kPpo)
    critic_ = std::make_unique<Critic>(*policy_, options_, dp_);
}

std::unique_ptr<collective::ShardedOptimizer> MakeShardedOptimizer(
    const std::vector<at::Tensor>& params, const LearnerOptions& options, DataParallel* dp,
    std::unique_ptr<collective::Collective>* own, const DecoderLM* model) {
  if (options.sharding == Sharding::kNone) return nullptr;
  collective::Collective* c = dp ? dp->collective() : nullptr;
  if (!c) {
    if (dp)
      Fail(ErrorCode::kInvalidArgument,
           "learner.sharding needs the learner ranks' collective; this data-parallel setup has "
           "none");
    *own = collective::MakeLocalCollective();
    c = own->get();
  }
  collective::ShardedAdamW adam;
  adam.beta1 = options.beta1;
  adam.beta2 = options.beta2;
  adam.eps = options.adam_eps;
  adam.weight_decay = options.weight_decay;
  std::vector<std::vector<at::Tensor>> parts;
  if (options.sharding == Sharding::kFull) {
    IR_CHECK(model != nullptr);
    for (int p = 0; p < model->parts(); ++p) parts.push_back(model->PartParameters(p));
  }
  return std::make_unique<collective::ShardedOptimizer>(*c, params, options.sharding, adam,
                                                        options.shard_unit_mb, parts);
}

ShardedGate::ShardedGate(DecoderLM& model, collective::ShardedOptimizer* sharded)
    : model_(model), sharded_(sharded && sharded->level() == Sharding::kFull ? sharded : nullptr) {
  if (sharded_) model_.set_parameter_gate(this);
}

ShardedGate::~ShardedGate() {
  if (sharded_) model_.set_parameter_gate(nullptr);
}

StateBytes Learner::HeldStateBytes() const {
  StateBytes b = CountStateBytes(policy_->parameters(), optimizer_.get(), sharded_.get());
  if (critic_) {
    b += critic_->HeldStateBytes();
    // learner.sharding=full: the critic's parts and the policy's are gathered at different
    // times (the critic's update ends, freeing them, before the policy's first forward).
    if (sharded_ && sharded_->level() == Sharding::kFull)
      b.weights -= std::min(sharded_->stats().peak_gathered_bytes, critic_->PeakGatheredBytes());
  }
  return b;
}

void Learner::GatherForCheckpoint() {
  if (critic_ && sharded_ && sharded_->level() == Sharding::kFull) critic_->GatherOnRoot();
}

std::string Learner::ShardFile(int rank, int ranks) {
  return "optimizer.rank-" + std::to_string(rank) + "-of-" + std::to_string(ranks) + ".pt";
}

double Learner::LearningRate(int64_t step) const {
  const double lr = options_.lr;
  if (step < options_.warmup_steps) return lr * double(step + 1) / options_.warmup_steps;
  if (options_.schedule == LrSchedule::kConstant) return lr;
  const double span = std::max<int64_t>(1, total_steps_ - options_.warmup_steps);
  const double progress = std::min(1.0, double(step - options_.warmup_steps) / span);
  const double floor = options_.min_lr_ratio;
  return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

// The samples a step trains on, with what the step computes about them first.
struct Learner::StepData {
  std::vector<TrainSample> kept;  // not dropped as stale, with a non-empty response
  std::vector<bool> stale;        // per kept sample: older than max_staleness
  std::vector<float> adv;         // per kept sample
  // learner.critic_values=token: per kept sample, one advantage per response token (adv unused).
  std::vector<std::vector<float>> token_adv;
  double normaliser = 1;         // of the loss (learner/losses.h), over the whole step
  at::Device device = at::kCPU;  // the policy's
  bool bf16 = false;             // forward passes under autocast (fp32 master weights)
  int64_t Length(size_t i) const {
    return int64_t(kept[i].prompt.size() + kept[i].response.size());
  }
};

// What the step's micro-batches add up, for its metrics.
struct Learner::Totals {
  double pg = 0, kl = 0, ent = 0, clipped = 0, ratio = 0, tokens = 0;
  double mismatch = 0, mismatch_n = 0;  // |logp - behaviour logp| over fresh tokens
  double choices = 0, choice_nll = 0, choice_right = 0;  // learner.sft_loss=choice
  double padded = 0, computed = 0;  // tokens in the padded batches / actually computed
  int64_t micro_batches = 0;
};

Metrics Learner::Step(std::vector<TrainSample> samples) {
  Metrics m;
  StepData d;
  KeepFresh(std::move(samples), &d, &m);
  ComputeAdvantages(&d, &m);
  // Normaliser over the whole update (all ranks); gradients are then averaged over ranks, so each
  // rank scales by world / global count.
  // learner.sft_loss=choice: one decision per sample, so the mean is over samples.
  const bool choice_loss =
      options_.algorithm == Algorithm::kSft && options_.sft_loss == SftLoss::kChoice;
  auto normaliser = [&](const StepData& part) {
    double local_units = 0;
    for (const auto& s : part.kept)
      local_units +=
          options_.loss_agg == LossAggregation::kTokenMean && !choice_loss ? s.response.size() : 1;
    double global_units = dp_ ? dp_->SumScalar(local_units) : local_units;
    const int world = dp_ ? dp_->world_size() : 1;
    return std::max(1.0, global_units) / world;
  };

  policy_->train();
  // learner.sharding=full: the policy's training forwards gather their parameters part by part;
  // after the update, rank 0 holds them whole again (publication, evaluation, checkpoints).
  std::optional<ShardedGate> gate;
  gate.emplace(*policy_, sharded_.get());
  d.device = policy_->parameters().front().device();
  d.bf16 = options_.autocast == Autocast::kBf16;
  Totals t;
  double grad_norm = 0;
  const int parts = std::max(1, options_.mini_batches);
  for (int p = 0; p < parts; ++p) {
    // learner.mini_batches: the p-th consecutive part of this rank's samples.
    StepData part;
    StepData* use = &d;
    if (parts > 1) {
      const size_t n = d.kept.size(), begin = n * p / parts, end = n * (p + 1) / parts;
      part.kept.assign(d.kept.begin() + begin, d.kept.begin() + end);
      part.stale.assign(d.stale.begin() + begin, d.stale.begin() + end);
      part.adv.assign(d.adv.begin() + begin, d.adv.begin() + end);
      if (!d.token_adv.empty())
        part.token_adv.assign(d.token_adv.begin() + begin, d.token_adv.begin() + end);
      part.device = d.device;
      part.bf16 = d.bf16;
      use = &part;
    }
    use->normaliser = normaliser(*use);
    // A part empty on every rank (fewer samples than mini-batches) makes no update: AdamW on zero
    // gradients would still move the weights (momentum, weight decay). All ranks agree on it.
    if (parts > 1 && PartIsEmptyEverywhere(use->kept.size())) {
      if (p + 1 == parts) ++step_, ++version_;
      continue;
    }
    if (optimizer_) optimizer_->zero_grad();
    if (sharded_) sharded_->ZeroGrad();
    if (choice_loss)
      BackwardChoices(*use, &t);
    else if (options_.share_prefix)
      BackwardSharedPrefixes(*use, &t);
    else
      BackwardPadded(*use, &t);
    grad_norm += AverageClipAndUpdate(&m, /*final_update=*/p + 1 == parts) / parts;
  }
  gate.reset();
  if (sharded_) sharded_->Materialize(/*root=*/0);
  const double lr = m["lr"];
  policy_->eval();
  const double tok = std::max(1.0, t.tokens);
  m["pg_loss"] = t.pg / tok;
  if (options_.algorithm == Algorithm::kSft) m["sft_nll"] = t.pg / tok;  // per target token
  if (choice_loss) {
    // Per decision: the target's NLL under the constrained decoder, and how often greedy
    // constrained decoding would already write the target.
    m["sft_nll"] = t.choices > 0 ? t.choice_nll / t.choices : 0;
    m["sft_choice_accuracy"] = t.choices > 0 ? t.choice_right / t.choices : 0;
  }
  m["kl"] = t.kl / tok;
  m["entropy"] = t.ent / tok;
  m["clip_fraction"] = t.clipped / tok;
  m["ratio_mean"] = t.ratio / tok;
  m["response_tokens"] = t.tokens;
  double real = 0;
  for (size_t i = 0; i < d.kept.size(); ++i) real += d.Length(i);
  m["padding_fraction"] = t.padded > 0 ? 1.0 - t.computed / t.padded : 0;
  m["prefix_sharing"] =
      t.computed > 0 ? real / t.computed : 1.0;  // tokens represented per token computed
  m["micro_batches"] = t.micro_batches;
  m["grad_norm"] = grad_norm;
  m["lr"] = lr;
  m["logprob_mismatch"] = t.mismatch_n > 0 ? t.mismatch / t.mismatch_n : 0;
  return m;
}

namespace {
// StepRecord::alternatives' encoding (each answer as its token count, then its ids) decoded.
std::vector<std::vector<int32_t>> DecodeAlternatives(const std::vector<int32_t>& flat) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < flat.size();) {
    const int64_t n = flat[i++];
    if (n <= 0 || i + n > flat.size())
      Fail(ErrorCode::kDataLoss, "a sample's alternatives are malformed (an answer of ", n,
           " tokens at offset ", i - 1, " of ", flat.size(), ")");
    out.emplace_back(flat.begin() + i, flat.begin() + i + n);
    i += n;
  }
  return out;
}
}  // namespace

// learner.sft_loss=choice: per sample, the target and its alternatives share the prompt's forward;
// the loss is the target's negative log-likelihood under the constrained decoder: at each target
// token, the cross-entropy among the tokens the allowed answers could continue with there (the
// decoder's renormalised distribution; positions with one allowed token cost nothing). A sample
// without alternatives: the target's sequence NLL.
void Learner::BackwardChoices(const StepData& d, Totals* t) {
  const auto& kept = d.kept;
  // One forward and one backward per sample; under sharding=full every rank runs as many of them
  // as the busiest rank (padding passes), since each gathers parameters with all ranks.
  const int passes =
      sharded_ ? sharded_->PlanPasses(static_cast<int>(kept.size()), /*backward=*/true) : 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto& s = kept[i];
    const auto alternatives = DecodeAlternatives(s.alternatives);
    std::vector<const std::vector<int32_t>*> responses = {&s.response};
    for (const auto& a : alternatives) responses.push_back(&a);
    const auto sc = [&] {
      AutocastGuard amp(d.bf16, d.device.type());
      return ScoreSharedPrefix(*policy_, s.prompt, responses, options_.temperature,
                               options_.entropy_coef > 0, options_.logprob_chunk_tokens);
    }();
    const at::Tensor mask = sc.mask.to(torch::kFloat32);
    // At each target position, the tokens the constraint allowed: those the answers that share
    // the target's prefix so far continue with (one row per distinct token; the row's
    // log-probability there is the policy's, after that same prefix).
    at::Tensor nll = torch::zeros({}, sc.logprobs.options());
    bool right = true;
    const int64_t len = static_cast<int64_t>(s.response.size());
    std::vector<bool> same(responses.size(), true);  // shares the target's prefix [0, k)
    for (int64_t k = 0; k < len; ++k) {
      std::vector<int64_t> rows = {0};
      std::vector<int32_t> tokens = {s.response[k]};
      for (size_t r = 1; r < responses.size(); ++r) {
        if (!same[r] || static_cast<int64_t>(responses[r]->size()) <= k) continue;
        const int32_t tok = (*responses[r])[k];
        if (std::find(tokens.begin(), tokens.end(), tok) == tokens.end())
          tokens.push_back(tok), rows.push_back(static_cast<int64_t>(r));
      }
      if (alternatives.empty()) {
        nll = nll - sc.logprobs[0][k];  // no alternatives: the target's own likelihood
      } else if (rows.size() > 1) {
        const at::Tensor lp =
            sc.logprobs.index({torch::tensor(rows, torch::kInt64).to(d.device), k});
        nll = nll + torch::logsumexp(lp, 0) - lp[0];
        right = right && lp.argmax().item<int64_t>() == 0;
      }
      for (size_t r = 1; r < responses.size(); ++r)
        same[r] = same[r] && static_cast<int64_t>(responses[r]->size()) > k &&
                  (*responses[r])[k] == s.response[k];
    }
    at::Tensor loss = nll;
    // The KL and entropy terms over the target's tokens, a token mean per sample.
    const double n = std::max<double>(1.0, s.response.size());
    if (reference_) {
      const at::Tensor ref = [&] {
        torch::NoGradGuard ng;
        return ScoreSharedPrefix(*reference_, s.prompt, {&s.response}, options_.temperature,
                                 /*with_entropy=*/false, options_.logprob_chunk_tokens)
            .logprobs.to(d.device);
      }();
      // The target's row, cut to the target's length: the rows are padded to the longest of
      // the target and its alternatives, the reference scored the target alone.
      const int64_t w = ref.size(1);
      const at::Tensor m = mask.narrow(0, 0, 1).narrow(1, 0, w);
      const at::Tensor kl =
          KlEstimate(sc.logprobs.narrow(0, 0, 1).narrow(1, 0, w), ref, options_.kl_estimator);
      loss = loss + options_.kl_coef * (kl * m).sum() / n;
      t->kl += (kl.detach() * m).sum().item<double>();
    }
    if (sc.entropy.defined()) {
      const at::Tensor ent = (sc.entropy.narrow(0, 0, 1) * mask.narrow(0, 0, 1)).sum();
      loss = loss - options_.entropy_coef * ent / n;
      t->ent += ent.item<double>();
    }
    BackwardLoss(loss / d.normaliser, /*last=*/i + 1 == kept.size());
    torch::NoGradGuard ng;
    const double nll_value = nll.item<double>();
    t->pg += nll_value;
    t->tokens += s.response.size();
    t->choices += 1;
    t->choice_nll += nll_value;
    t->choice_right += right;
    t->ratio += s.response.size();  // ratio 1: the targets are not importance-weighted
    if (s.policy_version == version_) {
      const at::Tensor behaviour =
          torch::tensor(s.behaviour_logprobs, torch::kFloat32).to(d.device);
      t->mismatch +=
          (sc.logprobs[0].narrow(0, 0, len).detach() - behaviour).abs().sum().item<double>();
      t->mismatch_n += len;
    }
    t->padded += s.prompt.size() + responses.size() * sc.logprobs.size(1);
    t->computed += s.prompt.size();
    for (const auto* r : responses) t->computed += r->size();
    ++t->micro_batches;
  }
  if (sharded_ && sharded_->level() == Sharding::kFull)
    for (int i = static_cast<int>(kept.size()); i < passes; ++i) PaddingPass(d);
}

void Learner::BackwardLoss(const at::Tensor& loss, bool last) {
  // The step's last backward: gradient buckets are reduced across ranks while it runs (under
  // sharding=gradients every backward reduce-scatters its units instead).
  const bool rs = sharded_ && sharded_->level() != Sharding::kOptimizer;
  if (last && dp_ && !rs) dp_->BeforeLastBackward(policy_->parameters());
  if (sharded_) sharded_->BeginBackward();
  loss.backward();
  if (sharded_) sharded_->EndBackward();
}

bool Learner::PartIsEmptyEverywhere(size_t local_samples) const {
  const double n = static_cast<double>(local_samples);
  return (dp_ ? dp_->SumScalar(n) : n) == 0;
}

void Learner::KeepFresh(std::vector<TrainSample> samples, StepData* d, Metrics* m) const {
  double dropped = 0, stale = 0, lag_sum = 0;
  for (auto& s : samples) {
    IR_CHECK_EQ(s.response.size(), s.behaviour_logprobs.size());
    const int64_t lag = int64_t(version_) - int64_t(s.policy_version);
    lag_sum += std::max<int64_t>(0, lag);
    // A teacher's target is the same whichever policy decoded it: SFT samples are never stale.
    const bool is_stale = options_.algorithm != Algorithm::kSft && lag > options_.max_staleness;
    stale += is_stale;
    if (is_stale && options_.stale_policy == StalePolicy::kDrop) {
      ++dropped;
      continue;
    }
    if (s.response.empty()) continue;
    d->stale.push_back(is_stale);
    d->kept.push_back(std::move(s));
  }
  (*m)["samples"] = samples.size();
  (*m)["stale_fraction"] = samples.empty() ? 0 : stale / samples.size();
  (*m)["dropped_stale"] = dropped;
  (*m)["policy_lag"] = samples.empty() ? 0 : lag_sum / samples.size();
}

void Learner::ComputeAdvantages(StepData* d, Metrics* m) {
  std::vector<float> rewards;
  std::vector<uint64_t> groups;
  for (const auto& s : d->kept) rewards.push_back(s.reward), groups.push_back(s.group);
  if (critic_ && options_.critic_values == CriticValues::kToken) {
    d->adv.assign(d->kept.size(), 0.0f);
    PpoTokenAdvantages(d->kept, &d->token_adv, m);
  } else if (critic_) {
    PpoAdvantages(d->kept, &d->adv, m);
  } else if (options_.algorithm == Algorithm::kSft) {
    d->adv.assign(d->kept.size(), 1.0f);  // unused by the loss
  } else {
    d->adv = options_.algorithm == Algorithm::kRloo
                 ? RlooAdvantages(rewards, groups)
                 : GrpoAdvantages(rewards, groups, options_.normalize_std);
  }
  double reward_sum = std::accumulate(rewards.begin(), rewards.end(), 0.0);
  (*m)["reward_mean"] = d->kept.empty() ? 0 : reward_sum / d->kept.size();
}

void Learner::BackwardMicroBatch(const StepData& d, const std::vector<size_t>& rows,
                                 const std::vector<int64_t>& offset, const at::Tensor& lp,
                                 const at::Tensor& entropy, const at::Tensor& ref_lp,
                                 const at::Tensor& mask, bool last, Totals* t) {
  const at::Device device = d.device;
  const int64_t N = rows.size(), S = lp.size(1);
  auto old_lp = torch::zeros({N, S}, torch::kFloat32);
  auto advt = torch::zeros({N, S}, torch::kFloat32);
  auto fresh = torch::zeros({N, S}, torch::kFloat32);
  auto stale_rows = torch::zeros({N, 1}, torch::kFloat32);
  auto old_a = old_lp.accessor<float, 2>(), adv_a = advt.accessor<float, 2>(),
       fresh_a = fresh.accessor<float, 2>();
  for (int64_t r = 0; r < N; ++r) {
    const auto& s = d.kept[rows[r]];
    for (size_t k = 0; k < s.response.size(); ++k) {
      old_a[r][offset[r] + k] = s.behaviour_logprobs[k];
      adv_a[r][offset[r] + k] = d.token_adv.empty() ? d.adv[rows[r]] : d.token_adv[rows[r]][k];
      fresh_a[r][offset[r] + k] = s.policy_version == version_;
    }
    stale_rows[r][0] = d.stale[rows[r]] ? 1.0f : 0.0f;
  }
  PolicyLossInputs in;
  in.logprobs = lp;
  in.old_logprobs = old_lp.to(device);
  in.advantages = advt.to(device);
  in.mask = mask.to(torch::kFloat32);
  in.entropy = entropy;
  in.ref_logprobs = ref_lp;
  if (options_.stale_policy == StalePolicy::kTruncateIs && stale_rows.sum().item<float>() > 0) {
    auto w = torch::clamp_max(torch::exp(lp.detach() - in.old_logprobs), options_.is_cap);
    auto st = stale_rows.to(device);
    in.is_weights = st * w + (1 - st);
  }
  auto loss = ComputePolicyLoss(in, options_, d.normaliser);
  BackwardLoss(loss.loss, last);
  t->pg += loss.pg_sum, t->kl += loss.kl_sum, t->ent += loss.entropy_sum;
  t->clipped += loss.clipped_tokens;
  t->ratio += loss.ratio_sum, t->tokens += loss.tokens;
  torch::NoGradGuard ng;
  auto f = fresh.to(device);
  t->mismatch += ((lp.detach() - in.old_logprobs).abs() * f).sum().item<double>();
  t->mismatch_n += f.sum().item<double>();
}

// Samples with the same prompt (the G samples of a state) are scored together; the prompt's
// forward and backward run once. A prompt whose responses exceed the token budget is split.
void Learner::BackwardSharedPrefixes(const StepData& d, Totals* t) {
  const auto& kept = d.kept;
  const int64_t done_before = t->micro_batches;  // earlier mini-batches' (learner.mini_batches)
  std::unordered_map<const std::vector<int32_t>*, size_t, TokenSeqHash, TokenSeqEq> index;
  std::vector<std::vector<size_t>> units;
  for (size_t i = 0; i < kept.size(); ++i) {
    auto it = index.find(&kept[i].prompt);
    if (it == index.end()) {
      index.emplace(&kept[i].prompt, units.size());
      units.push_back({i});
    } else {
      units[it->second].push_back(i);
    }
  }
  std::vector<std::pair<std::vector<size_t>, int64_t>> plan;  // rows, longest response
  for (const auto& unit : units) {
    const int64_t P = kept[unit[0]].prompt.size();
    for (size_t b = 0; b < unit.size();) {
      std::vector<size_t> rows;
      int64_t S = 0;
      while (b < unit.size()) {
        int64_t s = std::max<int64_t>(S, kept[unit[b]].response.size());
        if (!rows.empty() && P + int64_t(rows.size() + 1) * s > options_.micro_batch_tokens) break;
        S = s;
        rows.push_back(unit[b++]);
      }
      plan.emplace_back(std::move(rows), S);
    }
  }
  const int passes =
      sharded_ ? sharded_->PlanPasses(static_cast<int>(plan.size()), /*backward=*/true) : 0;
  for (const auto& [rows, S] : plan) {
    const auto& prompt = kept[rows[0]].prompt;
    std::vector<const std::vector<int32_t>*> responses;
    for (size_t r : rows) responses.push_back(&kept[r].response);
    const auto sc = [&] {
      AutocastGuard amp(d.bf16, d.device.type());
      return ScoreSharedPrefix(*policy_, prompt, responses, options_.temperature,
                               options_.entropy_coef > 0, options_.logprob_chunk_tokens);
    }();
    at::Tensor ref;
    if (reference_) {
      torch::NoGradGuard ng;
      ref = ScoreSharedPrefix(*reference_, prompt, responses, options_.temperature,
                              /*with_entropy=*/false, options_.logprob_chunk_tokens)
                .logprobs.to(d.device);
    }
    BackwardMicroBatch(d, rows, std::vector<int64_t>(rows.size(), 0), sc.logprobs, sc.entropy, ref,
                       sc.mask, t->micro_batches - done_before + 1 == int64_t(plan.size()), t);
    t->padded += prompt.size() + rows.size() * S;
    for (size_t r : rows) t->computed += kept[r].response.size();
    t->computed += prompt.size();
    ++t->micro_batches;
  }
  if (sharded_ && sharded_->level() == Sharding::kFull)
    for (int i = static_cast<int>(plan.size()); i < passes; ++i) PaddingPass(d);
}

// Padded rows: longest first, packed while padded tokens fit the budget.
void Learner::BackwardPadded(const StepData& d, Totals* t) {
  const auto& kept = d.kept;
  const int64_t done_before = t->micro_batches;  // earlier mini-batches' (learner.mini_batches)
  const auto ref_device = reference_ ? reference_->parameters().front().device() : d.device;
  std::vector<size_t> order(kept.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return d.Length(a) > d.Length(b); });
  std::vector<std::vector<size_t>> batches;
  for (size_t i : order) {
    if (batches.empty() || int64_t(batches.back().size() + 1) * d.Length(batches.back()[0]) >
                               options_.micro_batch_tokens)
      batches.emplace_back();
    batches.back().push_back(i);
  }
  const int passes =
      sharded_ ? sharded_->PlanPasses(static_cast<int>(batches.size()), /*backward=*/true) : 0;
  for (const auto& mb : batches) {
    const int64_t B = mb.size(), T = d.Length(mb[0]);
    t->padded += B * T;
    auto ids = torch::zeros({B, T}, torch::kInt64);
    auto mask = torch::zeros({B, T}, torch::kBool);
    auto ids_a = ids.accessor<int64_t, 2>();
    auto mask_a = mask.accessor<bool, 2>();
    std::vector<int64_t> offset;
    for (int64_t b = 0; b < B; ++b) {
      const auto& s = kept[mb[b]];
      int64_t pos = 0;
      for (int32_t x : s.prompt) ids_a[b][pos++] = x;
      offset.push_back(pos);
      for (int32_t x : s.response) mask_a[b][pos] = true, ids_a[b][pos++] = x;
      t->computed += d.Length(mb[b]);
    }
    ids = ids.to(d.device);
    mask = mask.to(d.device);
    const auto sc = [&] {
      AutocastGuard amp(d.bf16, d.device.type());
      return ScoreTokens(*policy_, ids, mask, options_.temperature, options_.entropy_coef > 0,
                         options_.logprob_chunk_tokens);
    }();
    at::Tensor ref;
    if (reference_) {
      torch::NoGradGuard ng;
      ref = ScoreTokens(*reference_, ids.to(ref_device), mask.to(ref_device), options_.temperature,
                        /*with_entropy=*/false, options_.logprob_chunk_tokens)
                .logprobs.to(d.device);
    }
    BackwardMicroBatch(d, mb, offset, sc.logprobs, sc.entropy, ref, mask,
                       t->micro_batches - done_before + 1 == int64_t(batches.size()), t);
    ++t->micro_batches;
  }
  if (sharded_ && sharded_->level() == Sharding::kFull)
    for (int i = static_cast<int>(batches.size()); i < passes; ++i) PaddingPass(d);
}

void Learner::PaddingPass(const StepData& d) {
  const bool entropy = options_.entropy_coef > 0;
  RowScores sc;
  {
    AutocastGuard amp(d.bf16, d.device.type());
    if (options_.share_prefix) {
      const std::vector<int32_t> prompt = {0}, response = {0};
      const auto s = ScoreSharedPrefix(*policy_, prompt, {&response}, options_.temperature, entropy,
                                       options_.logprob_chunk_tokens);
      sc.logprobs = s.logprobs;
      sc.entropy = s.entropy;
    } else {
      auto ids = torch::zeros({1, 2}, torch::kInt64).to(d.device);
      auto mask = torch::zeros({1, 2}, torch::kBool);
      mask[0][1] = true;
      const auto s = ScoreTokens(*policy_, ids, mask.to(d.device), options_.temperature, entropy,
                                 options_.logprob_chunk_tokens);
      sc.logprobs = s.logprobs;
      sc.entropy = s.entropy;
    }
  }
  at::Tensor loss = sc.logprobs.sum() * 0.0;
  if (sc.entropy.defined()) loss = loss + sc.entropy.sum() * 0.0;
  sharded_->BeginBackward();
  loss.backward();
  sharded_->EndBackward();
}

double Learner::AverageClipAndUpdate(Metrics* m, bool final_update) {
  auto params = policy_->parameters();
  if (sharded_) {
    if (sharded_->level() == Sharding::kOptimizer && dp_) {
      for (auto& p : params)
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      dp_->AverageGradients(params);
      for (const auto& [k, v] : dp_->LastStats()) (*m)[k] = v;
    }
    const double lr = LearningRate(step_);
    const double grad_norm = sharded_->Step(lr, options_.max_grad_norm);
    const collective::ShardedStats st = sharded_->stats();
    (*m)["shard_moment_mb"] = st.moment_bytes / 1e6;
    if (sharded_->level() == Sharding::kFull) {
      (*m)["shard_param_mb"] = st.param_shard_bytes / 1e6;
      (*m)["shard_gathered_peak_mb"] = st.peak_gathered_bytes / 1e6;
    }
    (*m)["shard_reduce_wait_s"] = st.reduce_wait_seconds;
    (*m)["shard_gather_s"] = st.gather_seconds;
    if (final_update) ++step_, ++version_;
    (*m)["lr"] = lr;
    return grad_norm;
  }
  for (auto& p : params)
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  if (dp_) {
    dp_->AverageGradients(params);
    for (const auto& [k, v] : dp_->LastStats()) (*m)[k] = v;
  }
  double grad_norm = options_.max_grad_norm > 0
                         ? torch::nn::utils::clip_grad_norm_(params, options_.max_grad_norm)
                         : torch::nn::utils::clip_grad_norm_(params, 1e30);
  const double lr = LearningRate(step_);
  for (auto& g : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  optimizer_->step();
  if (final_update) ++step_, ++version_;
  (*m)["lr"] = lr;
  return grad_norm;
}

void Learner::PpoAdvantages(const std::vector<TrainSample>& kept, std::vector<float>* adv,
                            Metrics* m) {
  const size_t n = kept.size();
  std::vector<const std::vector<int32_t>*> prompts;
  for (const auto& s : kept) prompts.push_back(&s.prompt);
  const std::vector<float> values = critic_->Values(prompts);
  // GAE over each episode's steps, in step order (an ordered map: the same order on every run).
  std::map<uint64_t, std::vector<size_t>> episodes;
  for (size_t i = 0; i < n; ++i) episodes[kept[i].episode].push_back(i);
  std::vector<float> returns(n);
  adv->assign(n, 0.0f);
  for (auto& [id, idx] : episodes) {
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t a, size_t b) { return kept[a].step_index < kept[b].step_index; });
    std::vector<float> r, v;
    for (size_t i : idx) r.push_back(kept[i].reward), v.push_back(values[i]);
    const GaeResult g = Gae(r, v, options_.gamma, options_.lam);
    for (size_t k = 0; k < idx.size(); ++k)
      (*adv)[idx[k]] = g.advantages[k], returns[idx[k]] = g.returns[k];
  }
  // Figures before the update: explained variance of the returns by the values.
  double sr = 0, srr = 0, se = 0, see = 0, sv = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = returns[i] - values[i];
    sr += returns[i], srr += double(returns[i]) * returns[i], se += e, see += e * e,
        sv += values[i];
  }
  const double var_r = n ? srr / n - (sr / n) * (sr / n) : 0,
               var_e = n ? see / n - (se / n) * (se / n) : 0;
  (*m)["value_mean"] = n ? sv / n : 0;
  (*m)["return_mean"] = n ? sr / n : 0;
  (*m)["explained_variance"] = var_r > 1e-12 ? 1.0 - var_e / var_r : 0;
  // The critic's update: the value loss averaged over the step's samples on all ranks (one update
  // per mini-batch, on the same consecutive parts as the policy's).
  const int world = dp_ ? dp_->world_size() : 1;
  const double count = dp_ ? dp_->SumScalar(static_cast<double>(n)) : static_cast<double>(n);
  const double scale = options_.lr > 0 ? LearningRate(step_) / options_.lr : 1.0;
  const int parts = std::max(1, options_.mini_batches);
  if (parts == 1) {
    for (const auto& [k, v] : critic_->Train(prompts, returns, values, std::max(1.0, count) / world,
                                             dp_, options_.critic_lr * scale))
      (*m)[k] = v;
  } else {
    double loss = 0;
    for (int p = 0; p < parts; ++p) {
      const size_t begin = n * p / parts, end = n * (p + 1) / parts;
      const double part_count = dp_ ? dp_->SumScalar(double(end - begin)) : double(end - begin);
      if (part_count == 0) continue;  // empty on every rank: no update (see Step)
      auto r = critic_->Train({prompts.begin() + begin, prompts.begin() + end},
                              {returns.begin() + begin, returns.begin() + end},
                              {values.begin() + begin, values.begin() + end},
                              std::max(1.0, part_count) / world, dp_, options_.critic_lr * scale);
      loss += r["value_loss"] * (end - begin) / std::max<size_t>(1, n);
      (*m)["critic_grad_norm"] = r["critic_grad_norm"];
      (*m)["critic_lr"] = r["critic_lr"];
    }
    (*m)["value_loss"] = loss;
  }
  if (options_.whiten_advantages) {
    double s1 = 0, s2 = 0;
    for (float a : *adv) s1 += a, s2 += double(a) * a;
    if (dp_) s1 = dp_->SumScalar(s1), s2 = dp_->SumScalar(s2);
    const double mean = s1 / std::max(1.0, count),
                 var = std::max(0.0, s2 / std::max(1.0, count) - mean * mean);
    const double inv = 1.0 / (std::sqrt(var) + 1e-8);
    for (float& a : *adv) a = static_cast<float>((a - mean) * inv);
  }
}

void Learner::PpoTokenAdvantages(const std::vector<TrainSample>& kept,
                                 std::vector<std::vector<float>>* adv, Metrics* m) {
  const size_t n = kept.size();
  std::vector<const std::vector<int32_t>*> prompts, responses;
  for (const auto& s : kept) prompts.push_back(&s.prompt), responses.push_back(&s.response);
  const std::vector<std::vector<float>> values = critic_->TokenValues(prompts, responses);
  // GAE over the tokens of each episode's responses in step order: each step's reward on its last
  // token, the next step's first value bootstrapping the last token of a step.
  std::map<uint64_t, std::vector<size_t>> episodes;
  for (size_t i = 0; i < n; ++i) episodes[kept[i].episode].push_back(i);
  std::vector<std::vector<float>> returns(n);
  adv->assign(n, {});
  for (auto& [id, idx] : episodes) {
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t a, size_t b) { return kept[a].step_index < kept[b].step_index; });
    std::vector<float> r, v;
    for (size_t i : idx) {
      for (size_t k = 0; k < values[i].size(); ++k)
        r.push_back(k + 1 == values[i].size() ? kept[i].reward : 0.0f), v.push_back(values[i][k]);
    }
    const GaeResult g = Gae(r, v, options_.gamma, options_.lam);
    size_t at = 0;
    for (size_t i : idx) {
      const size_t len = values[i].size();
      (*adv)[i].assign(g.advantages.begin() + at, g.advantages.begin() + at + len);
      returns[i].assign(g.returns.begin() + at, g.returns.begin() + at + len);
      at += len;
    }
  }
  // Figures before the update, over tokens: explained variance of the returns by the values.
  double sr = 0, srr = 0, se = 0, see = 0, sv = 0, count_here = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < values[i].size(); ++k) {
      const double e = returns[i][k] - values[i][k];
      sr += returns[i][k], srr += double(returns[i][k]) * returns[i][k], se += e, see += e * e,
          sv += values[i][k], ++count_here;
    }
  const double c = count_here;
  const double var_r = c ? srr / c - (sr / c) * (sr / c) : 0,
               var_e = c ? see / c - (se / c) * (se / c) : 0;
  (*m)["value_mean"] = c ? sv / c : 0;
  (*m)["return_mean"] = c ? sr / c : 0;
  (*m)["explained_variance"] = var_r > 1e-12 ? 1.0 - var_e / var_r : 0;
  // The critic's update: the value loss averaged over the step's tokens on all ranks (one update
  // per mini-batch, on the same consecutive parts as the policy's).
  const int world = dp_ ? dp_->world_size() : 1;
  const double count = dp_ ? dp_->SumScalar(count_here) : count_here;
  const double scale = options_.lr > 0 ? LearningRate(step_) / options_.lr : 1.0;
  const int parts = std::max(1, options_.mini_batches);
  if (parts == 1) {
    for (const auto& [k, v] :
         critic_->TrainTokens(prompts, responses, returns, values, std::max(1.0, count) / world,
                              dp_, options_.critic_lr * scale))
      (*m)[k] = v;
  } else {
    double loss = 0;
    for (int p = 0; p < parts; ++p) {
      const size_t begin = n * p / parts, end = n * (p + 1) / parts;
      double tokens = 0;
      for (size_t i = begin; i < end; ++i) tokens += values[i].size();
      const double part_count = dp_ ? dp_->SumScalar(tokens) : tokens;
      if (part_count == 0) continue;  // empty on every rank: no update (see Step)
      auto r =
          critic_->TrainTokens({prompts.begin() + begin, prompts.begin() + end},
                               {responses.begin() + begin, responses.begin() + end},
                               {returns.begin() + begin, returns.begin() + end},
                               {values.begin() + begin, values.begin() + end},
                               std::max(1.0, part_count) / world, dp_, options_.critic_lr * scale);
      loss += r["value_loss"] * tokens / std::max(1.0, count_here);
      (*m)["critic_grad_norm"] = r["critic_grad_norm"];
      (*m)["critic_lr"] = r["critic_lr"];
    }
    (*m)["value_loss"] = loss;
  }
  if (options_.whiten_advantages) {  // over every token of the step (verl's masked whitening)
    double s1 = 0, s2 = 0;
    for (const auto& a : *adv)
      for (float x : a) s1 += x, s2 += double(x) * x;
    if (dp_) s1 = dp_->SumScalar(s1), s2 = dp_->SumScalar(s2);
    const double mean = s1 / std::max(1.0, count),
                 var = std::max(0.0, s2 / std::max(1.0, count) - mean * mean);
    const double inv = 1.0 / (std::sqrt(var) + 1e-8);
    for (auto& a : *adv)
      for (float& x : a) x = static_cast<float>((x - mean) * inv);
  }
}

void Learner::SaveState(const std::string& dir) const {
  nlohmann::json j = {{"step", step_}, {"policy_version", version_}};
  if (sharded_) {
    // The other ranks' shares are there already (their SaveShard, moved in by the caller): with
    // this rank's, the checkpoint is complete.
    SaveShard(dir);
    for (int r = 0; r < sharded_->ranks(); ++r)
      if (!std::filesystem::exists(dir + "/" + ShardFile(r, sharded_->ranks())))
        Fail(ErrorCode::kInternal, dir, ": the optimizer shard of rank ", r, " is missing");
    j["sharding"] = NameOf(options_.sharding);
    j["sharding_ranks"] = sharded_->ranks();
  } else {
    torch::serialize::OutputArchive archive;
    optimizer_->save(archive);
    SaveArchiveAtomic(archive, dir + "/optimizer.pt");
  }
  if (critic_) critic_->Save(dir);
  WriteFileAtomic(dir + "/learner_state.json", j.dump(2) + "\n");
}

void Learner::SaveShard(const std::string& dir) const {
  if (!sharded_) return;
  torch::serialize::OutputArchive archive, policy;
  sharded_->Save(policy);
  archive.write("policy", policy);
  if (critic_) {
    torch::serialize::OutputArchive critic;
    critic_->SaveShard(critic);
    archive.write("critic", critic);
  }
  SaveArchiveAtomic(archive, dir + "/" + ShardFile(sharded_->rank(), sharded_->ranks()));
}

void Learner::LoadState(const std::string& dir) {
  std::string saved_sharding = "none";
  int saved_ranks = 1;
  try {
    auto j = nlohmann::json::parse(ReadFile(dir + "/learner_state.json"));
    step_ = j.at("step").get<int64_t>();
    version_ = j.at("policy_version").get<uint64_t>();
    saved_sharding = j.value("sharding", std::string("none"));
    saved_ranks = j.value("sharding_ranks", 1);
  } catch (const nlohmann::json::exception& e) {
    Fail(ErrorCode::kDataLoss, dir, "/learner_state.json: ", e.what());
  }
  const bool was_sharded = saved_sharding != "none";
  if (was_sharded != (sharded_ != nullptr))
    Fail(ErrorCode::kFailedPrecondition, dir, " was written with learner.sharding=", saved_sharding,
         "; this run has learner.sharding=", NameOf(options_.sharding), ": resume with ",
         was_sharded ? "a sharded setting (optimizer or gradients)" : "none",
         " (the optimizer state is not converted between the two)");
  if (sharded_) {
    // Each rank's file holds the policy's and the critic's shares; another rank count reads all.
    auto open = [&](int r, const std::string& part, torch::serialize::InputArchive& out) {
      const std::string path = dir + "/" + ShardFile(r, saved_ranks);
      torch::serialize::InputArchive file;
      try {
        file.load_from(path);
        file.read(part, out);
      } catch (const c10::Error& e) {
        Fail(ErrorCode::kDataLoss, path, ": cannot be read: ", e.what_without_backtrace());
      }
    };
    sharded_->Load(saved_ranks,
                   [&](int r, torch::serialize::InputArchive& a) { open(r, "policy", a); });
    if (critic_) {
      critic_->Load(dir);
      critic_->LoadShard(saved_ranks,
                         [&](int r, torch::serialize::InputArchive& a) { open(r, "critic", a); });
    }
    return;
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(dir + "/optimizer.pt");
  } catch (const c10::Error& e) {
    Fail(ErrorCode::kDataLoss, dir, "/optimizer.pt: cannot be read: ", e.what_without_backtrace());
  }
  optimizer_->load(archive);
  if (critic_) critic_->Load(dir);
}

}  // namespace iranker
