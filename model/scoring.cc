#include "model/scoring.h"

#include <torch/torch.h>

#include <algorithm>

#include "base/error.h"
#include "model/autocast.h"

namespace iranker {
namespace {

// One chunk's scores: rows h [C, H] under weight w [V, H], as DecoderLM::Logits computes them.
std::vector<at::Tensor> ChunkScores(const at::Tensor& h, const at::Tensor& w,
                                    const at::Tensor& targets, double temperature,
                                    bool with_entropy) {
  auto logits = torch::linear(h, w).to(torch::kFloat32) / temperature;  // [C, V] fp32
  auto logp_all = torch::log_softmax(logits, -1);
  std::vector<at::Tensor> out = {logp_all.gather(1, targets.unsqueeze(1)).squeeze(1)};
  if (with_entropy) out.push_back(-(logp_all.exp() * logp_all).sum(-1));
  return out;
}

// The head over rows in chunks. Forward: each chunk scored and dropped. Backward: each chunk
// scored again with gradients on local leaves (copies of h's rows and of the weight), so the
// weight's gradient is summed here and reaches the parameter once, as one input gradient.
struct ChunkedHead : torch::autograd::Function<ChunkedHead> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& h, const at::Tensor& w,
                                                const at::Tensor& targets, double temperature,
                                                bool with_entropy, int64_t chunk) {
    ctx->save_for_backward({h, w, targets});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["with_entropy"] = with_entropy;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["autocast"] = AutocastState::Current().Pack();
    const int64_t n = h.size(0);
    std::vector<at::Tensor> lp, ent;
    for (int64_t a = 0; a < n; a += chunk) {
      const int64_t c = std::min(chunk, n - a);
      auto s =
          ChunkScores(h.narrow(0, a, c), w, targets.narrow(0, a, c), temperature, with_entropy);
      lp.push_back(s[0]);
      if (with_entropy) ent.push_back(s[1]);
    }
    auto lps = lp.size() == 1 ? lp[0] : torch::cat(lp);
    if (!with_entropy) return {lps};  // an output must be a defined tensor
    return {lps, ent.size() == 1 ? ent[0] : torch::cat(ent)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& h = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor& targets = saved[2];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const bool with_entropy = ctx->saved_data["with_entropy"].toBool();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const at::Tensor& g_lp = grad_out[0];
    const at::Tensor g_ent = with_entropy && grad_out.size() > 1 ? grad_out[1] : at::Tensor();
    const bool need_h = h.requires_grad(), need_w = w.requires_grad();
    torch::AutoGradMode grad_mode(true);
    AutocastReplay amp(AutocastState::Unpack(ctx->saved_data["autocast"].toInt()));
    const at::Tensor wl = w.detach().requires_grad_(need_w);
    at::Tensor dw;
    std::vector<at::Tensor> dh;
    const int64_t n = h.size(0);
    for (int64_t a = 0; a < n; a += chunk) {
      const int64_t c = std::min(chunk, n - a);
      const at::Tensor hl = h.narrow(0, a, c).detach().requires_grad_(need_h);
      auto s = ChunkScores(hl, wl, targets.narrow(0, a, c), temperature,
                           with_entropy && g_ent.defined());
      std::vector<at::Tensor> roots, grads, leaves;
      if (g_lp.defined()) roots.push_back(s[0]), grads.push_back(g_lp.narrow(0, a, c));
      if (s.size() > 1) roots.push_back(s[1]), grads.push_back(g_ent.narrow(0, a, c));
      if (need_h) leaves.push_back(hl);
      if (need_w) leaves.push_back(wl);
      if (roots.empty() || leaves.empty()) {
        if (need_h) dh.push_back(torch::zeros_like(hl));
        continue;
      }
      auto g = torch::autograd::grad(roots, leaves, grads, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
      if (need_h) dh.push_back(g[0].defined() ? g[0] : torch::zeros_like(hl));
      if (need_w) {
        const at::Tensor& gw = g.back();
        if (gw.defined()) dw = dw.defined() ? dw + gw : gw;
      }
    }
    at::Tensor dh_all;
    if (need_h) dh_all = dh.size() == 1 ? dh[0] : torch::cat(dh);
    return {dh_all, dw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

RowScores ScoreRows(DecoderLM& model, const at::Tensor& h, const at::Tensor& targets,
                    float temperature, bool with_entropy, int64_t chunk_tokens) {
  IR_CHECK_EQ(h.dim(), 2);
  IR_CHECK_GT(chunk_tokens, 0);
  RowScores out;
  if (h.size(0) == 0) {
    out.logprobs = torch::zeros({0}, h.options().dtype(torch::kFloat32));
    if (with_entropy) out.entropy = out.logprobs;
    return out;
  }
  const int head = model.head_part();
  model.AcquirePart(head, -1);
  auto r = ChunkedHead::apply(h, model.HeadWeight(), targets, static_cast<double>(temperature),
                              with_entropy, chunk_tokens);
  model.ReleasePart(head, r);
  out.logprobs = r[0];
  if (with_entropy) out.entropy = r[1];
  return out;
}

TokenScores ScoreTokens(DecoderLM& model, const at::Tensor& ids, const at::Tensor& score_mask,
                        float temperature, bool with_entropy, int64_t chunk_tokens) {
  IR_CHECK_EQ(ids.dim(), 2);
  IR_CHECK(ids.sizes() == score_mask.sizes());
  IR_CHECK_GT(temperature, 0.0f);
  const int64_t B = ids.size(0), T = ids.size(1);
  auto mask = score_mask.to(torch::kBool);
  IR_CHECK(!mask.index({torch::indexing::Slice(), 0}).any().item<bool>());
  auto hidden = model.ForwardHidden(ids);  // [B, T, H]
  // Token t is predicted from the hidden state at t - 1.
  auto flat = mask.reshape({-1}).nonzero().squeeze(1);  // flat indices b*T + t
  auto prev = flat - 1;
  auto h = hidden.reshape({B * T, -1}).index_select(0, prev);
  auto targets = ids.reshape({-1}).index_select(0, flat);
  const RowScores rows = ScoreRows(model, h, targets, temperature, with_entropy, chunk_tokens);
  TokenScores out;
  out.logprobs =
      torch::zeros({B * T}, rows.logprobs.options()).index_put({flat}, rows.logprobs).view({B, T});
  if (with_entropy)
    out.entropy =
        torch::zeros({B * T}, rows.entropy.options()).index_put({flat}, rows.entropy).view({B, T});
  return out;
}

SharedPrefixScores ScoreSharedPrefix(DecoderLM& model, const std::vector<int32_t>& prompt,
                                     const std::vector<const std::vector<int32_t>*>& responses,
                                     float temperature, bool with_entropy, int64_t chunk_tokens) {
  IR_CHECK(!prompt.empty());
  IR_CHECK(!responses.empty());
  IR_CHECK_GT(temperature, 0.0f);
  const int64_t G = responses.size();
  int64_t S = 0;
  for (const auto* r : responses) S = std::max<int64_t>(S, r->size());
  IR_CHECK_GT(S, 0);
  auto suffix = torch::zeros({G, S}, torch::kInt64);
  auto mask = torch::zeros({G, S}, torch::kBool);
  auto sa = suffix.accessor<int64_t, 2>();
  auto ma = mask.accessor<bool, 2>();
  for (int64_t g = 0; g < G; ++g)
    for (size_t j = 0; j < responses[g]->size(); ++j)
      sa[g][j] = (*responses[g])[j], ma[g][j] = true;
  const auto device = model.parameters().front().device();
  auto p =
      torch::from_blob(const_cast<int32_t*>(prompt.data()), {int64_t(prompt.size())}, torch::kInt32)
          .to(torch::kInt64)
          .to(device);
  suffix = suffix.to(device);
  mask = mask.to(device);
  auto [last, hs] = model.ForwardSharedPrefix(p, suffix);
  // Response token j is predicted from the previous position: the prompt's last token for j = 0.
  auto pred = torch::cat({last.view({1, 1, -1}).expand({G, 1, -1}), hs.narrow(1, 0, S - 1)},
                         1);  // [G, S, H]
  auto flat = mask.reshape({-1}).nonzero().squeeze(1);
  const RowScores rows = ScoreRows(model, pred.reshape({G * S, -1}).index_select(0, flat),
                                   suffix.reshape({-1}).index_select(0, flat), temperature,
                                   with_entropy, chunk_tokens);
  SharedPrefixScores out;
  out.mask = mask;
  out.logprobs =
      torch::zeros({G * S}, rows.logprobs.options()).index_put({flat}, rows.logprobs).view({G, S});
  if (with_entropy)
    out.entropy =
        torch::zeros({G * S}, rows.entropy.options()).index_put({flat}, rows.entropy).view({G, S});
  return out;
}

}  // namespace iranker
