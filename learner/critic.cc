#include "learner/critic.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "base/atomic_file.h"
#include "base/error.h"
#include "learner/learner.h"
#include "learner/token_key.h"
#include "model/autocast.h"
#include "model/checkpoint.h"

namespace iranker {
namespace {

// Distinct prompts (by content) in first-seen order, and each sample's index into them.
struct Dedup {
  std::vector<const std::vector<int32_t>*> unique;
  std::vector<int64_t> of_sample;
};

Dedup Deduplicate(const std::vector<const std::vector<int32_t>*>& prompts) {
  std::unordered_map<const std::vector<int32_t>*, int64_t, TokenSeqHash, TokenSeqEq> index;
  Dedup d;
  for (const auto* p : prompts) {
    auto [it, fresh] = index.emplace(p, static_cast<int64_t>(d.unique.size()));
    if (fresh) d.unique.push_back(p);
    d.of_sample.push_back(it->second);
  }
  return d;
}

// Micro-batches of unique prompts: longest first, padded tokens within the budget.
std::vector<std::vector<int64_t>> Pack(const std::vector<const std::vector<int32_t>*>& prompts,
                                       int64_t budget) {
  std::vector<int64_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return prompts[a]->size() > prompts[b]->size(); });
  std::vector<std::vector<int64_t>> out;
  for (int64_t i : order) {
    if (out.empty() ||
        int64_t(out.back().size() + 1) * int64_t(prompts[out.back()[0]]->size()) > budget)
      out.emplace_back();
    out.back().push_back(i);
  }
  return out;
}

}  // namespace

Critic::Critic(const DecoderLM& policy, const LearnerOptions& options, DataParallel* dp)
    : options_(options) {
  trunk_ = CloneDecoder(policy);
  trunk_->set_activation_checkpointing(options.activation_checkpointing);
  const auto device = policy.parameters().front().device();
  head_ = torch::nn::Linear(torch::nn::LinearOptions(policy.config().hidden_size, 1));
  {
    torch::NoGradGuard ng;
    head_->weight.zero_();
    head_->bias.zero_();
  }
  head_->to(device);
  trunk_->eval();  // no dropout in these models; eval() only marks intent
  // Fully sharded, the trunk's own output head (untied models) takes no part: the values come
  // from head_. It is kept (checkpoints hold it) but not trained, so no gradient unit waits on it.
  if (options_.sharding == Sharding::kFull && !policy.config().tie_word_embeddings)
    trunk_->HeadWeight().set_requires_grad(false);
  sharded_ = MakeShardedOptimizer(parameters(), options_, dp, &own_collective_, trunk_.get());
  if (!sharded_) {
    torch::optim::AdamWOptions adam(options_.critic_lr);
    adam.betas({options_.beta1, options_.beta2})
        .eps(options_.adam_eps)
        .weight_decay(options_.weight_decay);
    optimizer_ = std::make_unique<torch::optim::AdamW>(parameters(), adam);
  }
}

std::vector<at::Tensor> Critic::parameters() const {
  std::vector<at::Tensor> p = trunk_->parameters();
  for (auto& t : head_->parameters()) p.push_back(t);
  return p;
}

at::Tensor Critic::Forward(const std::vector<const std::vector<int32_t>*>& prompts) {
  const int64_t B = prompts.size();
  int64_t T = 1;
  for (const auto* p : prompts) T = std::max<int64_t>(T, p->size());
  auto ids = torch::zeros({B, T}, torch::kInt64);
  auto last = torch::zeros({B}, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = *prompts[b];
    IR_CHECK(!p.empty());
    for (size_t t = 0; t < p.size(); ++t) ids_a[b][t] = p[t];
    last[b] = static_cast<int64_t>(p.size()) - 1;
  }
  const auto device = head_->weight.device();
  at::Tensor hidden;
  {
    AutocastGuard amp(options_.autocast == Autocast::kBf16, device.type());
    hidden = trunk_->ForwardHidden(ids.to(device));  // [B, T, H]
  }
  auto h = hidden.index(
      {torch::arange(B, torch::TensorOptions().device(device)), last.to(device)});  // [B, H]
  return head_(h.to(torch::kFloat32)).squeeze(-1);
}

std::vector<float> Critic::Values(const std::vector<const std::vector<int32_t>*>& prompts) {
  torch::NoGradGuard ng;
  const Dedup d = Deduplicate(prompts);
  std::vector<float> unique(d.unique.size());
  const auto batches = Pack(d.unique, options_.micro_batch_tokens);
  ShardedGate gate(*trunk_, sharded_.get());
  const int passes = sharded_ ? sharded_->PlanPasses(static_cast<int>(batches.size()),
                                                     /*backward=*/false)
                              : 0;
  for (const auto& mb : batches) {
    std::vector<const std::vector<int32_t>*> ps;
    for (int64_t i : mb) ps.push_back(d.unique[i]);
    auto v = Forward(ps).to(torch::kCPU).contiguous();
    for (size_t k = 0; k < mb.size(); ++k) unique[mb[k]] = v[k].item<float>();
  }
  PaddingPasses(static_cast<int>(batches.size()), passes, /*backward=*/false);
  std::vector<float> out;
  for (int64_t i : d.of_sample) out.push_back(unique[i]);
  return out;
}

std::map<std::string, double> Critic::Train(const std::vector<const std::vector<int32_t>*>& prompts,
                                            const std::vector<float>& returns,
                                            const std::vector<float>& old_values, double normaliser,
                                            DataParallel* dp, double lr) {
  IR_CHECK_EQ(prompts.size(), returns.size());
  IR_CHECK_EQ(prompts.size(), old_values.size());
  const Dedup d = Deduplicate(prompts);
  std::vector<std::vector<int64_t>> samples_of(d.unique.size());
  for (size_t i = 0; i < d.of_sample.size(); ++i) samples_of[d.of_sample[i]].push_back(i);
  if (optimizer_) optimizer_->zero_grad();
  if (sharded_) sharded_->ZeroGrad();
  double loss_sum = 0;
  const auto device = head_->weight.device();
  const auto batches = Pack(d.unique, options_.micro_batch_tokens);
  std::optional<ShardedGate> gate;
  gate.emplace(*trunk_, sharded_.get());
  const int passes = sharded_ ? sharded_->PlanPasses(static_cast<int>(batches.size()),
                                                     /*backward=*/true)
                              : 0;
  for (const auto& mb : batches) {
    std::vector<const std::vector<int32_t>*> ps;
    std::vector<int64_t> row;
    std::vector<float> r, old;
    for (size_t k = 0; k < mb.size(); ++k) {
      ps.push_back(d.unique[mb[k]]);
      for (int64_t i : samples_of[mb[k]])
        row.push_back(k), r.push_back(returns[i]), old.push_back(old_values[i]);
    }
    auto v = Forward(ps).index_select(0, torch::tensor(row, torch::kInt64).to(device));
    loss_sum += BackwardValueLoss(v, r, old, normaliser);
  }
  PaddingPasses(static_cast<int>(batches.size()), passes, /*backward=*/true);
  const double norm = Update(dp, lr);
  gate.reset();
  return {{"value_loss", prompts.empty() ? 0 : loss_sum / prompts.size()},
          {"critic_grad_norm", norm},
          {"critic_lr", lr}};
}

double Critic::BackwardValueLoss(const at::Tensor& v, const std::vector<float>& returns,
                                 const std::vector<float>& old_values, double normaliser) {
  const auto device = head_->weight.device();
  auto R = torch::tensor(returns).to(device), V_old = torch::tensor(old_values).to(device);
  auto err = (v - R).pow(2);
  if (options_.value_clip > 0) {
    auto clipped = V_old + torch::clamp(v - V_old, -options_.value_clip, options_.value_clip);
    err = torch::max(err, (clipped - R).pow(2));
  }
  auto loss = 0.5 * err.sum() / normaliser;
  if (sharded_) sharded_->BeginBackward();
  loss.backward();
  if (sharded_) sharded_->EndBackward();
  return 0.5 * err.sum().item<double>();
}

void Critic::PaddingPasses(int done, int passes, bool backward) {
  if (!sharded_ || sharded_->level() != Sharding::kFull) return;
  const std::vector<int32_t> padding = {0};
  for (int i = done; i < passes; ++i) {
    if (!backward) {
      Forward({&padding});
      continue;
    }
    auto loss = Forward({&padding}).sum() * 0.0;
    sharded_->BeginBackward();
    loss.backward();
    sharded_->EndBackward();
  }
}

double Critic::Update(DataParallel* dp, double lr) {
  auto params = parameters();
  if (sharded_) {
    if (sharded_->level() == Sharding::kOptimizer && dp) {
      for (auto& p : params)
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      dp->AverageGradients(params);
    }
    return sharded_->Step(lr, options_.max_grad_norm);
  }
  for (auto& p : params)
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  if (dp) dp->AverageGradients(params);
  const double norm = torch::nn::utils::clip_grad_norm_(
      params, options_.max_grad_norm > 0 ? options_.max_grad_norm : 1e30);
  for (auto& g : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  optimizer_->step();
  return norm;
}

at::Tensor Critic::ForwardAt(const std::vector<const std::vector<int32_t>*>& seqs,
                             const std::vector<std::vector<int64_t>>& positions) {
  const int64_t B = seqs.size();
  int64_t T = 1;
  for (const auto* p : seqs) T = std::max<int64_t>(T, p->size());
  auto ids = torch::zeros({B, T}, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  std::vector<int64_t> rows, cols;
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = *seqs[b];
    IR_CHECK(!p.empty());
    for (size_t t = 0; t < p.size(); ++t) ids_a[b][t] = p[t];
    for (int64_t pos : positions[b]) {
      IR_CHECK(pos >= 0 && pos < static_cast<int64_t>(p.size()));
      rows.push_back(b), cols.push_back(pos);
    }
  }
  const auto device = head_->weight.device();
  at::Tensor hidden;
  {
    AutocastGuard amp(options_.autocast == Autocast::kBf16, device.type());
    hidden = trunk_->ForwardHidden(ids.to(device));  // [B, T, H]
  }
  auto h = hidden.index({torch::tensor(rows, torch::kInt64).to(device),
                         torch::tensor(cols, torch::kInt64).to(device)});  // [R, H]
  return head_(h.to(torch::kFloat32)).squeeze(-1);
}

namespace {

// Token values' inputs: prompt + response without its last token; positions P - 1 .. P + L - 2.
struct TokenInputs {
  std::vector<std::vector<int32_t>> seqs;
  std::vector<std::vector<int64_t>> positions;
  std::vector<const std::vector<int32_t>*> ptrs;
};

TokenInputs MakeTokenInputs(const std::vector<const std::vector<int32_t>*>& prompts,
                            const std::vector<const std::vector<int32_t>*>& responses) {
  IR_CHECK_EQ(prompts.size(), responses.size());
  TokenInputs in;
  in.seqs.resize(prompts.size());
  in.positions.resize(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& p = *prompts[i];
    const auto& r = *responses[i];
    IR_CHECK(!p.empty() && !r.empty());
    in.seqs[i] = p;
    in.seqs[i].insert(in.seqs[i].end(), r.begin(), r.end() - 1);
    for (size_t k = 0; k < r.size(); ++k)
      in.positions[i].push_back(static_cast<int64_t>(p.size() + k) - 1);
  }
  for (const auto& s : in.seqs) in.ptrs.push_back(&s);
  return in;
}

}  // namespace

std::vector<std::vector<float>> Critic::TokenValues(
    const std::vector<const std::vector<int32_t>*>& prompts,
    const std::vector<const std::vector<int32_t>*>& responses) {
  torch::NoGradGuard ng;
  const TokenInputs in = MakeTokenInputs(prompts, responses);
  std::vector<std::vector<float>> out(prompts.size());
  const auto batches = Pack(in.ptrs, options_.micro_batch_tokens);
  ShardedGate gate(*trunk_, sharded_.get());
  const int passes = sharded_ ? sharded_->PlanPasses(static_cast<int>(batches.size()),
                                                     /*backward=*/false)
                              : 0;
  for (const auto& mb : batches) {
    std::vector<const std::vector<int32_t>*> ps;
    std::vector<std::vector<int64_t>> pos;
    for (int64_t i : mb) ps.push_back(in.ptrs[i]), pos.push_back(in.positions[i]);
    auto v = ForwardAt(ps, pos).to(torch::kCPU).contiguous();
    const float* vp = v.data_ptr<float>();
    for (int64_t i : mb) {
      out[i].assign(vp, vp + in.positions[i].size());
      vp += in.positions[i].size();
    }
  }
  PaddingPasses(static_cast<int>(batches.size()), passes, /*backward=*/false);
  return out;
}

std::map<std::string, double> Critic::TrainTokens(
    const std::vector<const std::vector<int32_t>*>& prompts,
    const std::vector<const std::vector<int32_t>*>& responses,
    const std::vector<std::vector<float>>& returns,
    const std::vector<std::vector<float>>& old_values, double normaliser, DataParallel* dp,
    double lr) {
  IR_CHECK_EQ(prompts.size(), returns.size());
  IR_CHECK_EQ(prompts.size(), old_values.size());
  const TokenInputs in = MakeTokenInputs(prompts, responses);
  if (optimizer_) optimizer_->zero_grad();
  if (sharded_) sharded_->ZeroGrad();
  double loss_sum = 0;
  int64_t tokens = 0;
  const auto batches = Pack(in.ptrs, options_.micro_batch_tokens);
  std::optional<ShardedGate> gate;
  gate.emplace(*trunk_, sharded_.get());
  const int passes = sharded_ ? sharded_->PlanPasses(static_cast<int>(batches.size()),
                                                     /*backward=*/true)
                              : 0;
  for (const auto& mb : batches) {
    std::vector<const std::vector<int32_t>*> ps;
    std::vector<std::vector<int64_t>> pos;
    std::vector<float> r, old;
    for (int64_t i : mb) {
      ps.push_back(in.ptrs[i]), pos.push_back(in.positions[i]);
      IR_CHECK_EQ(returns[i].size(), in.positions[i].size());
      IR_CHECK_EQ(old_values[i].size(), in.positions[i].size());
      r.insert(r.end(), returns[i].begin(), returns[i].end());
      old.insert(old.end(), old_values[i].begin(), old_values[i].end());
    }
    auto v = ForwardAt(ps, pos);
    loss_sum += BackwardValueLoss(v, r, old, normaliser);
    tokens += static_cast<int64_t>(r.size());
  }
  PaddingPasses(static_cast<int>(batches.size()), passes, /*backward=*/true);
  const double norm = Update(dp, lr);
  gate.reset();
  return {{"value_loss", tokens ? loss_sum / tokens : 0},
          {"critic_grad_norm", norm},
          {"critic_lr", lr}};
}

void Critic::Save(const std::string& dir) const {
  for (const auto& p : trunk_->parameters())
    if (p.storage().nbytes() == 0 && p.numel() > 0)
      Fail(ErrorCode::kFailedPrecondition,
           "critic parameters are sharded (learner.sharding=full): gather them on rank 0 first "
           "(Learner::GatherForCheckpoint)");
  torch::serialize::OutputArchive archive;
  for (const auto& p : trunk_->named_parameters()) archive.write("trunk." + p.key(), p.value());
  archive.write("head.weight", head_->weight);
  archive.write("head.bias", head_->bias);
  if (optimizer_) {
    torch::serialize::OutputArchive opt;
    optimizer_->save(opt);
    archive.write("optimizer", opt);
  }
  SaveArchiveAtomic(archive, dir + "/critic.pt");
}

void Critic::SaveShard(torch::serialize::OutputArchive& archive) const {
  if (sharded_) sharded_->Save(archive);
}

void Critic::LoadShard(int saved_ranks,
                       const std::function<void(int, torch::serialize::InputArchive&)>& shards) {
  if (sharded_) sharded_->Load(saved_ranks, shards);
}

void Critic::Load(const std::string& dir) {
  const std::string path = dir + "/critic.pt";
  if (!std::filesystem::exists(path))
    Fail(ErrorCode::kFailedPrecondition, path,
         ": missing (the checkpoint was not written with learner.algorithm=ppo)");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
    torch::NoGradGuard ng;
    for (auto& p : trunk_->named_parameters()) {
      at::Tensor t;
      archive.read("trunk." + p.key(), t);
      p.value().copy_(t);
    }
    at::Tensor w, b;
    archive.read("head.weight", w);
    archive.read("head.bias", b);
    head_->weight.copy_(w);
    head_->bias.copy_(b);
    if (optimizer_) {
      torch::serialize::InputArchive opt;
      archive.read("optimizer", opt);
      optimizer_->load(opt);
    }
  } catch (const c10::Error& e) {
    Fail(ErrorCode::kDataLoss, path, ": cannot be read: ", e.what_without_backtrace());
  }
}

void Critic::GatherOnRoot() {
  if (sharded_) sharded_->Materialize(/*root=*/0);
}

int64_t Critic::PeakGatheredBytes() const {
  return sharded_ && sharded_->level() == Sharding::kFull ? sharded_->stats().peak_gathered_bytes
                                                          : 0;
}

StateBytes Critic::HeldStateBytes() const {
  return CountStateBytes(parameters(), optimizer_.get(), sharded_.get());
}

}  // namespace iranker
