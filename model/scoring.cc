#include "model/scoring.h"

#include <torch/torch.h>

#include "base/error.h"

namespace iranker {

TokenScores ScoreTokens(DecoderLM& model, const at::Tensor& ids, const at::Tensor& score_mask,
                        float temperature, bool with_entropy) {
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
  auto logits = model.Logits(h) / temperature;  // [N, V] fp32
  auto logp_all = torch::log_softmax(logits, -1);
  auto targets = ids.reshape({-1}).index_select(0, flat);
  auto lp = logp_all.gather(1, targets.unsqueeze(1)).squeeze(1);
  TokenScores out;
  out.logprobs = torch::zeros({B * T}, lp.options()).index_put({flat}, lp).view({B, T});
  if (with_entropy) {
    auto ent = -(logp_all.exp() * logp_all).sum(-1);
    out.entropy = torch::zeros({B * T}, ent.options()).index_put({flat}, ent).view({B, T});
  }
  return out;
}

SharedPrefixScores ScoreSharedPrefix(DecoderLM& model, const std::vector<int32_t>& prompt,
                                     const std::vector<const std::vector<int32_t>*>& responses,
                                     float temperature, bool with_entropy) {
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
  auto logits = model.Logits(pred.reshape({G * S, -1}).index_select(0, flat)) / temperature;
  auto logp_all = torch::log_softmax(logits, -1);
  auto lp = logp_all.gather(1, suffix.reshape({-1}).index_select(0, flat).unsqueeze(1)).squeeze(1);
  SharedPrefixScores out;
  out.mask = mask;
  out.logprobs = torch::zeros({G * S}, lp.options()).index_put({flat}, lp).view({G, S});
  if (with_entropy) {
    auto ent = -(logp_all.exp() * logp_all).sum(-1);
    out.entropy = torch::zeros({G * S}, ent.options()).index_put({flat}, ent).view({G, S});
  }
  return out;
}

}  // namespace iranker
