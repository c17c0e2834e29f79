#include "model/decoder.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "base/error.h"
#include "test_util.h"

namespace iranker {
namespace {
using testing::TinyModel;

at::Tensor RandomIds(int64_t n, int64_t vocab, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  return torch::randint(vocab, {n}, g, torch::kInt64);
}

TEST(Decoder, ParameterNamesMatchHuggingFace) {
  auto m = TinyModel();
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  for (const char* n :
       {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.k_proj.bias",
        "model.layers.1.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_FALSE(names.count("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_FALSE(names.count("lm_head.weight"));  // tied
  EXPECT_TRUE(TinyModel(0, false)->named_parameters().contains("lm_head.weight"));
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(n, m->config().NumParameters());
}

TEST(Decoder, KvCacheDecodeMatchesFullForward) {
  torch::NoGradGuard ng;
  auto m = TinyModel(1);
  const int64_t n = 40, prompt = 25;
  auto ids = RandomIds(n, m->config().vocab_size, 7);
  auto full = m->Logits(m->ForwardHidden(ids.unsqueeze(0)))[0];  // [n, V]
  KVCache cache(m->config(), 3, 64, torch::kFloat32, torch::kCPU);
  auto pre = m->Logits(m->Prefill(cache, 1, ids.narrow(0, 0, prompt)));
  EXPECT_LT((pre - full.narrow(0, 0, prompt)).abs().max().item<float>(), 1e-4);
  for (int64_t t = prompt; t < n; ++t) {
    auto step = m->Logits(m->Decode(cache, {1}, ids.narrow(0, t, 1)));
    ASSERT_LT((step[0] - full[t]).abs().max().item<float>(), 1e-4) << "position " << t;
  }
  EXPECT_EQ(cache.length[1], n);
  EXPECT_EQ(cache.length[0], 0);
}

TEST(Decoder, ChunkedPrefillAndBatchedDecodeAgree) {
  torch::NoGradGuard ng;
  auto m = TinyModel(2);
  auto a = RandomIds(30, m->config().vocab_size, 1), b = RandomIds(17, m->config().vocab_size, 2);
  KVCache cache(m->config(), 4, 64, torch::kFloat32, torch::kCPU);
  // Slot 3 prefilled in two chunks, slot 0 at once, then decoded together (non-contiguous slots).
  m->Prefill(cache, 3, a.narrow(0, 0, 12));
  m->Prefill(cache, 3, a.narrow(0, 12, 17));
  m->Prefill(cache, 0, b.narrow(0, 0, 16));
  auto step = m->Logits(m->Decode(cache, {3, 0}, torch::stack({a[29], b[16]})));
  auto fa = m->Logits(m->ForwardHidden(a.unsqueeze(0)))[0][29];
  auto fb = m->Logits(m->ForwardHidden(b.unsqueeze(0)))[0][16];
  EXPECT_LT((step[0] - fa).abs().max().item<float>(), 1e-4);
  EXPECT_LT((step[1] - fb).abs().max().item<float>(), 1e-4);
}

TEST(Decoder, RightPaddingDoesNotChangeValidPositions) {
  torch::NoGradGuard ng;
  auto m = TinyModel(3);
  auto a = RandomIds(20, m->config().vocab_size, 3);
  auto padded = torch::cat({a, torch::zeros({9}, torch::kInt64)}).unsqueeze(0);
  auto h1 = m->ForwardHidden(a.unsqueeze(0));
  auto h2 = m->ForwardHidden(padded).narrow(1, 0, 20);
  EXPECT_LT((h1 - h2).abs().max().item<float>(), 1e-5);
}

TEST(Decoder, CopyPrefixSharesKeys) {
  torch::NoGradGuard ng;
  auto m = TinyModel(4);
  auto a = RandomIds(24, m->config().vocab_size, 4);
  KVCache cache(m->config(), 2, 32, torch::kFloat32, torch::kCPU);
  m->Prefill(cache, 0, a);
  cache.CopyPrefix(0, 1, 10);
  auto h = m->Prefill(cache, 1, a.narrow(0, 10, 14));
  auto full = m->ForwardHidden(a.unsqueeze(0))[0].narrow(0, 10, 14);
  EXPECT_LT((h - full).abs().max().item<float>(), 1e-5);
}

TEST(Decoder, CapacityOverflowIsAnError) {
  torch::NoGradGuard ng;
  auto m = TinyModel();
  KVCache cache(m->config(), 1, 8, torch::kFloat32, torch::kCPU);
  EXPECT_THROW(m->Prefill(cache, 0, RandomIds(9, 50, 1)), Error);
}

TEST(Decoder, Bf16ForwardIsCloseToFp32) {
  torch::NoGradGuard ng;
  auto m = TinyModel(5);
  auto ids = RandomIds(16, m->config().vocab_size, 5).unsqueeze(0);
  auto f32 = m->Logits(m->ForwardHidden(ids));
  m->to(torch::kBFloat16);
  auto bf16 = m->Logits(m->ForwardHidden(ids));
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat32);
  EXPECT_LT((bf16 - f32).abs().max().item<float>(), 0.05);
}

TEST(Decoder, GradientsFlowToEveryParameter) {
  auto m = TinyModel(6);
  m->train();
  auto ids = RandomIds(12, m->config().vocab_size, 6).unsqueeze(0);
  m->Logits(m->ForwardHidden(ids)).logsumexp(-1).sum().backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0) << p.key();
  }
}

// Activation checkpointing changes memory, not results: the same loss and the same gradient for
// every parameter, through both training forwards (padded rows and a shared prefix).
TEST(Decoder, ActivationCheckpointingGivesTheSameGradients) {
  for (bool shared : {false, true}) {
    std::vector<std::vector<at::Tensor>> grads;
    std::vector<float> losses;
    for (bool recompute : {false, true}) {
      auto m = TinyModel(8);
      m->train();
      m->set_activation_checkpointing(recompute);
      at::Tensor loss;
      if (shared) {
        auto prefix = RandomIds(9, m->config().vocab_size, 8);
        auto suffix = RandomIds(3 * 5, m->config().vocab_size, 9).view({3, 5});
        auto [last, hs] = m->ForwardSharedPrefix(prefix, suffix);
        loss = m->Logits(hs).logsumexp(-1).sum() + m->Logits(last).logsumexp(-1);
      } else {
        auto ids = RandomIds(2 * 11, m->config().vocab_size, 8).view({2, 11});
        loss = m->Logits(m->ForwardHidden(ids)).logsumexp(-1).sum();
      }
      loss.backward();
      losses.push_back(loss.item<float>());
      grads.emplace_back();
      for (const auto& p : m->parameters()) {
        ASSERT_TRUE(p.grad().defined());
        grads.back().push_back(p.grad().clone());
      }
    }
    EXPECT_FLOAT_EQ(losses[0], losses[1]) << "shared " << shared;
    for (size_t i = 0; i < grads[0].size(); ++i) {
      EXPECT_GT(grads[1][i].abs().sum().item<float>(), 0) << i;
      EXPECT_TRUE(torch::allclose(grads[0][i], grads[1][i], 1e-5, 1e-6))
          << "shared " << shared << " param " << i;
    }
  }
}

// Without grad mode (generation, evaluation) checkpointing does nothing.
TEST(Decoder, ActivationCheckpointingIsInertWithoutGrad) {
  auto m = TinyModel(9);
  auto ids = RandomIds(7, m->config().vocab_size, 9).unsqueeze(0);
  torch::NoGradGuard ng;
  auto a = m->ForwardHidden(ids);
  m->set_activation_checkpointing(true);
  EXPECT_TRUE(torch::equal(a, m->ForwardHidden(ids)));
}

}  // namespace
}  // namespace iranker
