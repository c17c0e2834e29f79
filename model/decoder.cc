#include "model/decoder.h"

#include <torch/torch.h>

#include <cmath>
#include <tuple>

#include "base/error.h"
#include "model/recompute.h"

namespace iranker {
using torch::indexing::Slice;

namespace {
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  auto xf = x.to(torch::kFloat32);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return w * y.to(x.scalar_type());
}

at::Tensor RotateHalf(const at::Tensor& x) {
  auto half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

struct Norm : torch::nn::Module {
  explicit Norm(int64_t n) { weight = register_parameter("weight", torch::ones({n})); }
  at::Tensor weight;
};

struct Attention : torch::nn::Module {
  Attention(const ModelConfig& c) {
    const int64_t hd = c.HeadDim();
    auto lin = [&](const char* name, int64_t in, int64_t out, bool bias) {
      return register_module(name, torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias)));
    };
    q = lin("q_proj", c.hidden_size, c.num_attention_heads * hd, c.attention_bias);
    k = lin("k_proj", c.hidden_size, c.num_key_value_heads * hd, c.attention_bias);
    v = lin("v_proj", c.hidden_size, c.num_key_value_heads * hd, c.attention_bias);
    o = lin("o_proj", c.num_attention_heads * hd, c.hidden_size, false);
  }
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
};

struct Mlp : torch::nn::Module {
  Mlp(const ModelConfig& c) {
    auto lin = [&](const char* name, int64_t in, int64_t out) {
      return register_module(name,
                             torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(c.mlp_bias)));
    };
    gate = lin("gate_proj", c.hidden_size, c.intermediate_size);
    up = lin("up_proj", c.hidden_size, c.intermediate_size);
    down = lin("down_proj", c.intermediate_size, c.hidden_size);
  }
  at::Tensor forward(const at::Tensor& x) { return down(torch::silu(gate(x)) * up(x)); }
  torch::nn::Linear gate{nullptr}, up{nullptr}, down{nullptr};
};
}  // namespace

struct DecoderLM::Layer : torch::nn::Module {
  explicit Layer(const ModelConfig& c) {
    attn = register_module("self_attn", std::make_shared<Attention>(c));
    mlp = register_module("mlp", std::make_shared<Mlp>(c));
    in_norm = register_module("input_layernorm", std::make_shared<Norm>(c.hidden_size));
    post_norm = register_module("post_attention_layernorm", std::make_shared<Norm>(c.hidden_size));
  }
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
  std::shared_ptr<Norm> in_norm, post_norm;
};

KVCache::KVCache(const ModelConfig& cfg, int64_t slots, int64_t capacity, c10::ScalarType dtype,
                 c10::Device device)
    : length(slots, 0), capacity_(capacity) {
  IR_CHECK_GT(slots, 0);
  IR_CHECK_GT(capacity, 0);
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
    k.push_back(torch::zeros({slots, cfg.num_key_value_heads, capacity, cfg.HeadDim()}, opts));
    v.push_back(torch::zeros({slots, cfg.num_key_value_heads, capacity, cfg.HeadDim()}, opts));
  }
}

void KVCache::CopyPrefix(int64_t src, int64_t dst, int64_t len) {
  IR_CHECK_LE(len, length[src]);
  if (src != dst && len > 0) {
    for (size_t l = 0; l < k.size(); ++l) {
      k[l][dst].narrow(1, 0, len).copy_(k[l][src].narrow(1, 0, len));
      v[l][dst].narrow(1, 0, len).copy_(v[l][src].narrow(1, 0, len));
    }
  }
  length[dst] = len;
}

int64_t KVCache::Bytes() const {
  int64_t b = 0;
  for (size_t l = 0; l < k.size(); ++l) b += 2 * k[l].numel() * k[l].element_size();
  return b;
}

DecoderLM::DecoderLM(const ModelConfig& cfg) : cfg_(cfg) {
  cfg_.Validate("model config");
  auto body = register_module("model", std::make_shared<torch::nn::Module>());
  body_ = body.get();
  embed_ =
      body->register_module("embed_tokens", torch::nn::Embedding(cfg.vocab_size, cfg.hidden_size));
  layers_ = body->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    auto layer = std::make_shared<Layer>(cfg);
    layers_->push_back(layer);
    layer_ptrs_.push_back(layer);
  }
  final_norm_ = body->register_module("norm", std::make_shared<Norm>(cfg.hidden_size))->weight;
  if (!cfg.tie_word_embeddings)
    lm_head_ = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(cfg.hidden_size, cfg.vocab_size).bias(false)));
  const int64_t hd = cfg.HeadDim();
  // inv_freq in float64 then rounded, as transformers computes it in float32 from an int64 arange.
  inv_freq_ = 1.0 / torch::pow(cfg.rope_theta,
                               torch::arange(0, hd, 2, torch::kInt64).to(torch::kFloat32) / hd);
  InitializeWeights();
}

void DecoderLM::InitializeWeights() {
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const std::string& n = p.key();
    if (n.find("norm") != std::string::npos)
      p.value().fill_(1.0);
    else if (n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0)
      p.value().zero_();
    else
      p.value().normal_(0.0, cfg_.initializer_range);
  }
}

std::vector<std::pair<std::string, at::Tensor>> DecoderLM::NamedWeights() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

std::pair<at::Tensor, at::Tensor> DecoderLM::Rotary(const at::Tensor& pos, c10::ScalarType dtype) {
  auto inv = inv_freq_.to(pos.device());
  auto freqs = pos.to(torch::kFloat32).unsqueeze(-1) * inv;  // [B, T, hd/2]
  auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype).unsqueeze(2), emb.sin().to(dtype).unsqueeze(2)};
}

template <class KV>
at::Tensor DecoderLM::LayerForward(size_t l, const at::Tensor& x, const at::Tensor& cos,
                                   const at::Tensor& sin, const at::Tensor& mask, KV&& kv) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t h = cfg_.num_attention_heads, kvh = cfg_.num_key_value_heads, g = h / kvh;
  const int64_t hd = cfg_.HeadDim();
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  Layer& layer = *layer_ptrs_[l];
  auto hn = RmsNorm(x, layer.in_norm->weight, cfg_.rms_norm_eps);
  auto q = layer.attn->q(hn).view({B, T, h, hd});
  auto k = layer.attn->k(hn).view({B, T, kvh, hd});
  auto v = layer.attn->v(hn).view({B, T, kvh, hd});
  q = q * cos + RotateHalf(q) * sin;
  k = k * cos + RotateHalf(k) * sin;
  // [B, kvh, g*T, hd]: query heads of one group side by side, sharing that group's keys.
  auto qg = q.view({B, T, kvh, g, hd}).permute({0, 2, 3, 1, 4}).reshape({B, kvh, g * T, hd});
  auto [keys, values] = kv(l, k.permute({0, 2, 1, 3}), v.permute({0, 2, 1, 3}));
  const int64_t L = keys.size(2);
  auto scores = torch::matmul(qg, keys.transpose(-1, -2)).view({B, kvh, g, T, L});
  // bf16 parameters, or bf16 products under autocast: the softmax runs in fp32.
  if (scores.scalar_type() != torch::kFloat32 && scores.scalar_type() != torch::kFloat64)
    scores = scores.to(torch::kFloat32);
  scores =
      (scores * scale).masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  auto probs = torch::softmax(scores, -1).to(values.scalar_type()).view({B, kvh, g * T, L});
  auto ctx = torch::matmul(probs, values)
                 .view({B, kvh, g, T, hd})
                 .permute({0, 3, 1, 2, 4})
                 .reshape({B, T, h * hd});
  auto y = x + layer.attn->o(ctx);
  return y + layer.mlp->forward(RmsNorm(y, layer.post_norm->weight, cfg_.rms_norm_eps));
}

at::Tensor DecoderLM::FinalNorm(const at::Tensor& x) {
  return RmsNorm(x, final_norm_, cfg_.rms_norm_eps);
}

template <class KV>
at::Tensor DecoderLM::RunLayers(at::Tensor x, const at::Tensor& pos, const at::Tensor& mask,
                                KV&& kv) {
  auto [cos, sin] = Rotary(pos, x.scalar_type());
  for (size_t l = 0; l < layer_ptrs_.size(); ++l) x = LayerForward(l, x, cos, sin, mask, kv);
  return FinalNorm(x);
}

std::vector<at::Tensor> DecoderLM::TrainingLayer(const LayerFn& layer, size_t l,
                                                 const std::vector<at::Tensor>& in) {
  const int part = static_cast<int>(l) + 1;
  AcquirePart(part, part + 1);
  std::vector<at::Tensor> out;
  if ((!activation_checkpointing_ && !gate_) || !torch::GradMode::is_enabled())
    out = layer(l, in);
  else
    out = Recompute([layer, l](const std::vector<at::Tensor>& x) { return layer(l, x); }, in);
  ReleasePart(part, out);
  return out;
}

std::vector<at::Tensor> DecoderLM::PartParameters(int part) const {
  const int L = static_cast<int>(cfg_.num_hidden_layers);
  IR_CHECK(part >= 0 && part <= L + 2);
  if (part == 0) return {embed_->weight};
  if (part <= L) return layer_ptrs_[part - 1]->parameters();
  if (part == L + 1) return {final_norm_};
  return {HeadWeight()};
}

void DecoderLM::ReleasePart(int part, const std::vector<at::Tensor>& outputs) const {
  if (!gate_) return;
  gate_->Release(part);
  // Backward reaches the part through its outputs: the parameters must be back by then. The
  // embedding's backward needs only the token ids.
  if (part == 0 || !torch::GradMode::is_enabled()) return;
  ParameterGate* gate = gate_;
  const int next = part - 1 >= 1 ? part - 1 : -1;
  for (const auto& t : outputs)
    if (t.defined() && t.requires_grad())
      t.register_hook([gate, part, next](const at::Tensor&) { gate->Acquire(part, next); });
}

at::Tensor DecoderLM::GatedEmbed(const at::Tensor& ids) {
  AcquirePart(0, 1);
  auto x = embed_(ids);
  ReleasePart(0, {x});
  return x;
}

at::Tensor DecoderLM::GatedFinalNorm(const at::Tensor& x) {
  const int part = static_cast<int>(cfg_.num_hidden_layers) + 1;
  AcquirePart(part, -1);
  auto y = FinalNorm(x);
  ReleasePart(part, {y});
  return y;
}

std::pair<at::Tensor, at::Tensor> DecoderLM::ForwardSharedPrefix(const at::Tensor& prefix,
                                                                 const at::Tensor& suffix) {
  IR_CHECK_EQ(prefix.dim(), 1);
  IR_CHECK_EQ(suffix.dim(), 2);
  const int64_t P = prefix.size(0), G = suffix.size(0), S = suffix.size(1);
  IR_CHECK_GT(P, 0);
  auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(prefix.device());
  auto bopt = torch::TensorOptions().dtype(torch::kBool).device(prefix.device());
  AcquirePart(0, 1);
  auto xp = embed_(prefix.unsqueeze(0));
  auto xs = embed_(suffix);
  ReleasePart(0, {});
  at::Tensor cp, sp, cs,
      ss;  // named tensors, not structured bindings: the layer lambda copies them
  std::tie(cp, sp) = Rotary(torch::arange(P, i64).unsqueeze(0), xp.scalar_type());
  std::tie(cs, ss) = Rotary(torch::arange(P, P + S, i64).unsqueeze(0), xp.scalar_type());
  auto prefix_mask = torch::ones({P, P}, bopt).tril().view({1, 1, 1, P, P});
  // Suffix token t sees the whole prefix and suffix tokens 0..t.
  auto suffix_mask = torch::cat({torch::ones({S, P}, bopt), torch::ones({S, S}, bopt).tril()}, 1)
                         .view({1, 1, 1, S, P + S});
  // One layer over both streams: (prefix, suffixes) -> (prefix, suffixes). Tensors by value: with
  // activation checkpointing it runs again during backward.
  auto layer = [this, cp, sp, cs, ss, prefix_mask, suffix_mask, G](
                   size_t l, const std::vector<at::Tensor>& in) {
    at::Tensor kp, vp;
    auto next_p = LayerForward(l, in[0], cp, sp, prefix_mask,
                               [&](size_t, const at::Tensor& k, const at::Tensor& v) {
                                 kp = k, vp = v;
                                 return std::make_pair(k, v);
                               });
    auto next_s = LayerForward(
        l, in[1], cs, ss, suffix_mask, [&](size_t, const at::Tensor& k, const at::Tensor& v) {
          return std::make_pair(torch::cat({kp.expand({G, -1, -1, -1}), k}, 2),
                                torch::cat({vp.expand({G, -1, -1, -1}), v}, 2));
        });
    return std::vector<at::Tensor>{next_p, next_s};
  };
  for (size_t l = 0; l < layer_ptrs_.size(); ++l) {
    auto out = TrainingLayer(layer, l, {xp, xs});
    xp = out[0], xs = out[1];
  }
  return {GatedFinalNorm(xp[0][P - 1]), GatedFinalNorm(xs)};
}

at::Tensor DecoderLM::ForwardHidden(const at::Tensor& ids) {
  IR_CHECK_EQ(ids.dim(), 2);
  const int64_t B = ids.size(0), T = ids.size(1);
  auto pos = torch::arange(T, torch::TensorOptions().dtype(torch::kInt64).device(ids.device()))
                 .unsqueeze(0)
                 .expand({B, T});
  auto causal = torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(ids.device()))
                    .tril()
                    .view({1, 1, 1, T, T});
  auto x = GatedEmbed(ids);
  at::Tensor cos, sin;  // named tensors, not structured bindings: the layer lambda copies them
  std::tie(cos, sin) = Rotary(pos, x.scalar_type());
  auto layer = [this, cos, sin, causal](size_t l, const std::vector<at::Tensor>& in) {
    auto attend_to_own = [](size_t, const at::Tensor& k, const at::Tensor& v) {
      return std::make_pair(k, v);
    };
    return std::vector<at::Tensor>{LayerForward(l, in[0], cos, sin, causal, attend_to_own)};
  };
  for (size_t l = 0; l < layer_ptrs_.size(); ++l) x = TrainingLayer(layer, l, {x})[0];
  return GatedFinalNorm(x);
}

at::Tensor DecoderLM::Logits(const at::Tensor& hidden) {
  return torch::linear(hidden, HeadWeight()).to(torch::kFloat32);
}

const at::Tensor& DecoderLM::HeadWeight() const {
  return lm_head_ ? lm_head_->weight : embed_->weight;
}

at::Tensor DecoderLM::Prefill(KVCache& cache, int64_t slot, const at::Tensor& ids) {
  IR_CHECK_EQ(ids.dim(), 1);
  IR_CHECK(slot >= 0 && slot < cache.slots());
  const int64_t T = ids.size(0), p0 = cache.length[slot], L = p0 + T;
  IR_CHECK_GT(T, 0);
  if (L > cache.capacity())
    Fail(ErrorCode::kResourceExhausted, "sequence of ", L,
         " tokens exceeds the KV cache capacity of ", cache.capacity(),
         " (raise the maximum sequence length)");
  auto dev = ids.device();
  auto pos =
      torch::arange(p0, L, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(0);
  // Query t (absolute position p0 + t) may see keys 0..p0+t.
  auto qpos =
      torch::arange(p0, L, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(1);
  auto kpos =
      torch::arange(L, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(0);
  auto mask = (kpos <= qpos).view({1, 1, 1, T, L});
  auto out = RunLayers(
      embed_(ids.unsqueeze(0)), pos, mask, [&](size_t l, const at::Tensor& k, const at::Tensor& v) {
        auto ks = cache.k[l][slot], vs = cache.v[l][slot];  // [kvh, cap, hd]
        ks.narrow(1, p0, T).copy_(k[0]);
        vs.narrow(1, p0, T).copy_(v[0]);
        return std::make_pair(ks.narrow(1, 0, L).unsqueeze(0), vs.narrow(1, 0, L).unsqueeze(0));
      });
  cache.length[slot] = L;
  return out[0];
}

at::Tensor DecoderLM::Decode(KVCache& cache, const std::vector<int64_t>& slots,
                             const at::Tensor& ids) {
  const int64_t S = static_cast<int64_t>(slots.size());
  IR_CHECK_GT(S, 0);
  IR_CHECK_EQ(ids.numel(), S);
  auto dev = ids.device();
  std::vector<int64_t> positions(S);
  int64_t lmax = 0;
  bool contiguous = true;
  for (int64_t i = 0; i < S; ++i) {
    const int64_t s = slots[i];
    IR_CHECK(s >= 0 && s < cache.slots());
    positions[i] = cache.length[s];
    if (positions[i] + 1 > cache.capacity())
      Fail(ErrorCode::kResourceExhausted, "sequence in slot ", s,
           " exceeds the KV cache capacity of ", cache.capacity(),
           " (raise the maximum sequence length)");
    lmax = std::max(lmax, positions[i] + 1);
    if (slots[i] != slots[0] + i) contiguous = false;
  }
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  auto pos_t = torch::from_blob(positions.data(), {S}, i64).clone().to(dev);
  auto slot_t = torch::from_blob(const_cast<int64_t*>(slots.data()), {S}, i64).clone().to(dev);
  auto mask = (torch::arange(lmax, i64.device(dev)).unsqueeze(0) <= pos_t.unsqueeze(1))
                  .view({S, 1, 1, 1, lmax});
  auto out =
      RunLayers(embed_(ids.view({S, 1})), pos_t.view({S, 1}), mask,
                [&](size_t l, const at::Tensor& k, const at::Tensor& v) {
                  using torch::indexing::Slice;
                  cache.k[l].index_put_({slot_t, Slice(), pos_t}, k.squeeze(2));
                  cache.v[l].index_put_({slot_t, Slice(), pos_t}, v.squeeze(2));
                  if (contiguous)
                    return std::make_pair(cache.k[l].narrow(0, slots[0], S).narrow(2, 0, lmax),
                                          cache.v[l].narrow(0, slots[0], S).narrow(2, 0, lmax));
                  return std::make_pair(cache.k[l].index_select(0, slot_t).narrow(2, 0, lmax),
                                        cache.v[l].index_select(0, slot_t).narrow(2, 0, lmax));
                });
  for (int64_t i = 0; i < S; ++i) cache.length[slots[i]] = positions[i] + 1;
  return out.view({S, -1});
}

std::shared_ptr<DecoderLM> CloneDecoder(const DecoderLM& model) {
  auto copy = std::make_shared<DecoderLM>(model.config());
  const auto src = model.named_parameters();
  torch::NoGradGuard ng;
  copy->to(src.front().value().device());
  for (auto& p : copy->named_parameters()) p.value().set_data(src[p.key()].detach().clone());
  copy->train(model.is_training());
  return copy;
}

}  // namespace iranker
