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

}  // namespace iranker
