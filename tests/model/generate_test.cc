#include "model/generate.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "base/error.h"
#include "model/scoring.h"
#include "test_util.h"

namespace iranker {
namespace {

std::vector<int32_t> Prompt(int n, int vocab, uint64_t seed) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i)
    p.push_back(static_cast<int32_t>((seed * 31 + i * 17 + i * i) % vocab));
  return p;
}

GenerationRequest Req(uint64_t id, std::vector<int32_t> prompt, uint64_t seed, int max_new = 12) {
  GenerationRequest r;
  r.id = id;
  r.prompt = std::move(prompt);
  r.params.seed = seed;
  r.params.max_new_tokens = max_new;
  r.params.temperature = 1.0f;
  return r;
}

TEST(Sampling, SameSeedSameTokenAndDistributionIsRight) {
  std::vector<float> logits = {0.0f, std::log(3.0f), -1e9f};  // p = 0.25, 0.75, 0
  SamplingParams p;
  p.seed = 42;
  auto a = SampleToken(logits.data(), 3, p, 5, nullptr),
       b = SampleToken(logits.data(), 3, p, 5, nullptr);
  EXPECT_EQ(a.token, b.token);
  int ones = 0;
  for (int i = 0; i < 4000; ++i) {
    p.seed = i;
    auto t = SampleToken(logits.data(), 3, p, 0, nullptr);
    ASSERT_NE(t.token, 2);
    ones += t.token == 1;
    EXPECT_NEAR(t.logprob, std::log(t.token == 1 ? 0.75 : 0.25), 1e-5);
  }
  EXPECT_NEAR(ones / 4000.0, 0.75, 0.03);
}

TEST(Sampling, TopKTopPGreedyAndAllowed) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  SamplingParams p;
  p.greedy = true;
  EXPECT_EQ(SampleToken(logits.data(), 4, p, 0, nullptr).token, 1);
  std::vector<int32_t> allowed = {0, 3};
  EXPECT_EQ(SampleToken(logits.data(), 4, p, 0, &allowed).token, 0);
  p.greedy = false;
  p.top_k = 2;
  for (int s = 0; s < 200; ++s) {
    p.seed = s;
    int t = SampleToken(logits.data(), 4, p, 0, nullptr).token;
    EXPECT_TRUE(t == 1 || t == 2);
  }
  p.top_k = 0;
  p.top_p = 0.5f;  // token 1 alone holds > 0.5 of the mass
  for (int s = 0; s < 50; ++s) {
    p.seed = s;
    auto t = SampleToken(logits.data(), 4, p, 0, nullptr);
    EXPECT_EQ(t.token, 1);
    EXPECT_NEAR(t.sampling_logprob, 0.0, 1e-6);
  }
  for (int s = 0; s < 50; ++s) {
    p.seed = s;
    p.top_p = 1.0f;
    int t = SampleToken(logits.data(), 4, p, 0, &allowed).token;
    EXPECT_TRUE(t == 0 || t == 3);
  }
}

TEST(Generate, BatchedAndUnbatchedGiveIdenticalSamples) {
  auto m = testing::TinyModel(21);
  const int V = m->config().vocab_size;
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(Req(i, Prompt(10 + 3 * i, V, i), 1000 + i, 8 + i));
  EngineOptions batched;
  batched.slots = 4;
  GenerationEngine eb(*m, batched);
  for (auto r : reqs) eb.Submit(r);
  auto out_b = eb.RunAll();
  for (size_t i = 0; i < reqs.size(); ++i) {
    EngineOptions single;
    single.slots = 1;
    GenerationEngine es(*m, single);
    es.Submit(reqs[i]);
    auto out_s = es.RunAll();
    EXPECT_EQ(out_s[0].tokens, out_b[i].tokens) << "request " << i;
    ASSERT_EQ(out_s[0].logprobs.size(), out_b[i].logprobs.size());
    for (size_t t = 0; t < out_s[0].logprobs.size(); ++t)
      EXPECT_NEAR(out_s[0].logprobs[t], out_b[i].logprobs[t], 1e-4);
  }
}

TEST(Generate, PrefixReuseGivesSameLogprobsAsRecompute) {
  auto m = testing::TinyModel(22);
  const int V = m->config().vocab_size;
  auto base = Prompt(60, V, 5);
  std::vector<GenerationRequest> reqs;
  for (int g = 0; g < 4; ++g) reqs.push_back(Req(g, base, 77 + g));  // G samples of one state
  auto step2 = base;
  step2.erase(step2.begin() + 40, step2.begin() + 45);  // the next step drops a candidate
  reqs.push_back(Req(10, step2, 99));
  auto run = [&](bool reuse, EngineStats* stats) {
    EngineOptions o;
    o.slots = 4;
    o.prefix_reuse = reuse;
    GenerationEngine e(*m, o);
    std::vector<GenerationResult> out;
    for (int g = 0; g < 4; ++g) e.Submit(reqs[g]);
    out = e.RunAll();
    e.Submit(reqs[4]);
    out.push_back(e.RunAll()[0]);
    *stats = e.stats();
    return out;
  };
  EngineStats with, without;
  auto a = run(true, &with), b = run(false, &without);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << i;
    for (size_t t = 0; t < a[i].logprobs.size(); ++t)
      EXPECT_NEAR(a[i].logprobs[t], b[i].logprobs[t], 1e-4);
  }
  EXPECT_EQ(without.reused_tokens, 0);
  EXPECT_EQ(with.reused_tokens, 3 * 59 + 40);  // 3 forks of the shared prompt + the step prefix
  EXPECT_EQ(a[4].reused_tokens, 40);
  EXPECT_LT(with.prefill_tokens, without.prefill_tokens / 3);
}

TEST(Generate, ConstrainedDecodingYieldsAnAllowedSequence) {
  auto m = testing::TinyModel(23);
  std::vector<std::vector<int32_t>> options = {{5, 6, 7}, {5, 8}, {9}, {10, 11}};
  auto trie = std::make_shared<TokenTrie>(options);
  EngineOptions o;
  o.slots = 8;
  GenerationEngine e(*m, o);
  for (int i = 0; i < 40; ++i) {
    auto r = Req(i, Prompt(8, 97, i), i, 50);
    r.params.constraint = trie;
    e.Submit(r);
  }
  std::set<std::vector<int32_t>> seen;
  for (const auto& r : e.RunAll()) {
    EXPECT_EQ(r.finish, GenerationResult::Finish::kConstraint);
    EXPECT_TRUE(std::find(options.begin(), options.end(), r.tokens) != options.end());
    seen.insert(r.tokens);
    for (float lp : r.sampling_logprobs) EXPECT_LE(lp, 1e-6);
  }
  EXPECT_GE(seen.size(), 3u);  // a random policy explores the options
}

TEST(Generate, StopTokensAndLengthLimit) {
  auto m = testing::TinyModel(24);
  EngineOptions o;
  GenerationEngine e(*m, o);
  auto r = Req(1, Prompt(5, 97, 1), 3, 7);
  e.Submit(r);
  auto out = e.RunAll()[0];
  EXPECT_EQ(out.tokens.size(), 7u);
  EXPECT_EQ(out.finish, GenerationResult::Finish::kLength);
  // Make the first sampled token a stop token.
  auto r2 = r;
  r2.params.stop_ids = {out.tokens[0]};
  e.Submit(r2);
  auto out2 = e.RunAll()[0];
  EXPECT_EQ(out2.tokens.size(), 1u);
  EXPECT_EQ(out2.finish, GenerationResult::Finish::kStop);
  GenerationRequest bad = r;
  bad.prompt = {1000};
  EXPECT_THROW(e.Submit(bad), Error);
}

// keep_logits: row i is what the full causal forward gives after prompt + tokens[0, i) (the
// engine's cached path against the training forward), and greedy picks each row's argmax; with
// another request decoded beside it in the same steps, its rows are still its own.
TEST(Generate, KeptLogitsAreTheForwardsNextTokenLogits) {
  auto m = testing::TinyModel(25);
  m->eval();
  const int V = m->config().vocab_size;
  EngineOptions o;
  o.slots = 2;
  GenerationEngine e(*m, o);
  auto greedy = Req(1, Prompt(9, V, 4), 0, 6);
  greedy.params.greedy = true;
  greedy.keep_logits = true;
  auto other = Req(2, Prompt(13, V, 8), 5, 6);
  e.Submit(greedy);
  e.Submit(other);
  const auto out = e.RunAll();
  ASSERT_EQ(out[0].tokens.size(), 6u);
  ASSERT_EQ(out[0].logits.size(), out[0].tokens.size());
  EXPECT_TRUE(out[1].logits.empty());  // not asked for
  std::vector<int64_t> seq(greedy.prompt.begin(), greedy.prompt.end());
  seq.insert(seq.end(), out[0].tokens.begin(), out[0].tokens.end());
  torch::NoGradGuard ng;
  const auto full = m->Logits(m->ForwardHidden(torch::tensor(seq).unsqueeze(0)))[0];
  const int64_t P = static_cast<int64_t>(greedy.prompt.size());
  for (size_t i = 0; i < out[0].tokens.size(); ++i) {
    const auto& row = out[0].logits[i];
    ASSERT_EQ(static_cast<int64_t>(row.size()), V);
    const auto want = full[P - 1 + static_cast<int64_t>(i)];
    double diff = 0;
    for (int v = 0; v < V; ++v) diff = std::max(diff, std::abs(row[v] - want[v].item<double>()));
    EXPECT_LT(diff, 1e-4) << "row " << i;
    const auto best = std::max_element(row.begin(), row.end()) - row.begin();
    EXPECT_EQ(out[0].tokens[i], best) << "greedy token " << i << " is not its row's argmax";
  }
}

TEST(Scoring, SharedPrefixEqualsPaddedScoring) {
  auto m = testing::TinyModel(26);
  std::vector<int32_t> prompt = Prompt(30, 97, 4);
  std::vector<std::vector<int32_t>> responses = {{5, 6, 7}, {8}, {9, 10, 11, 12, 13}};
  std::vector<const std::vector<int32_t>*> ptrs;
  for (const auto& r : responses) ptrs.push_back(&r);
  auto shared = ScoreSharedPrefix(*m, prompt, ptrs, 0.8f, true);
  const int64_t T = 30 + 5;
  auto ids = torch::zeros({3, T}, torch::kInt64);
  auto mask = torch::zeros({3, T}, torch::kBool);
  for (int g = 0; g < 3; ++g) {
    for (int t = 0; t < 30; ++t) ids[g][t] = prompt[t];
    for (size_t j = 0; j < responses[g].size(); ++j)
      ids[g][30 + j] = responses[g][j], mask[g][30 + j] = true;
  }
  auto full = ScoreTokens(*m, ids, mask, 0.8f, true);
  for (int g = 0; g < 3; ++g)
    for (size_t j = 0; j < responses[g].size(); ++j) {
      EXPECT_NEAR(shared.logprobs[g][j].item<float>(), full.logprobs[g][30 + j].item<float>(),
                  1e-5);
      EXPECT_NEAR(shared.entropy[g][j].item<float>(), full.entropy[g][30 + j].item<float>(), 1e-5);
    }
  EXPECT_EQ(shared.mask.sum().item<int64_t>(), 9);
  // Gradients agree too.
  shared.logprobs.sum().backward();
  auto g1 = m->parameters()[0].grad().clone();
  m->zero_grad();
  full.logprobs.sum().backward();
  EXPECT_LT((g1 - m->parameters()[0].grad()).abs().max().item<float>(), 1e-5);
}

TEST(Scoring, LearnerLogprobsEqualActorLogprobs) {
  auto m = testing::TinyModel(25);
  EngineOptions o;
  o.slots = 3;
  GenerationEngine e(*m, o);
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 3; ++i) {
    reqs.push_back(Req(i, Prompt(12 + 5 * i, 97, i), 500 + i, 10));
    reqs.back().params.temperature = 0.7f;
    e.Submit(reqs.back());
  }
  auto outs = e.RunAll();
  // Pack prompt+response right-padded, score the response tokens.
  int64_t T = 0;
  for (int i = 0; i < 3; ++i)
    T = std::max<int64_t>(T, reqs[i].prompt.size() + outs[i].tokens.size());
  auto ids = torch::zeros({3, T}, torch::kInt64);
  auto mask = torch::zeros({3, T}, torch::kBool);
  for (int i = 0; i < 3; ++i) {
    int64_t t = 0;
    for (int32_t x : reqs[i].prompt) ids[i][t++] = x;
    for (int32_t x : outs[i].tokens) mask[i][t] = true, ids[i][t++] = x;
  }
  auto s = ScoreTokens(*m, ids, mask, 0.7f, /*with_entropy=*/true);
  double max_diff = 0;
  for (int i = 0; i < 3; ++i) {
    int64_t t0 = reqs[i].prompt.size();
    for (size_t k = 0; k < outs[i].tokens.size(); ++k)
      max_diff =
          std::max(max_diff, std::abs(s.logprobs[i][t0 + k].item<double>() - outs[i].logprobs[k]));
  }
  EXPECT_LT(max_diff, 1e-5) << "behaviour vs learner log-probability mismatch";
  EXPECT_GT(s.entropy.sum().item<float>(), 0);
  EXPECT_EQ(s.logprobs.masked_select(mask.logical_not()).abs().sum().item<float>(), 0);
  s.logprobs.sum().backward();
  EXPECT_TRUE(m->parameters()[0].grad().defined());
}

// The output head in chunks: the same log-probabilities and entropies as one chunk, and the same
// gradients for the hidden states and the head's weight (tied to the embedding here, so the head's
// chunks and the embedding lookup add up into one gradient), up to the order of partial sums.
TEST(Scoring, ChunkedHeadEqualsOneChunk) {
  for (bool tied : {true, false}) {
    auto m = testing::TinyModel(41, tied);
    const int64_t B = 3, T = 20;
    auto ids = torch::randint(1, 97, {B, T}, torch::kInt64);
    auto mask = torch::zeros({B, T}, torch::kBool);
    mask.narrow(1, 5, T - 5).fill_(true);
    std::vector<at::Tensor> lp, ent, grads;
    for (int64_t chunk : {int64_t(1) << 20, int64_t(7), int64_t(1)}) {
      m->zero_grad();
      auto s = ScoreTokens(*m, ids, mask, 0.9f, /*with_entropy=*/true, chunk);
      (s.logprobs.sum() + 0.3 * s.entropy.sum()).backward();
      lp.push_back(s.logprobs.detach());
      ent.push_back(s.entropy.detach());
      std::vector<at::Tensor> g;
      for (const auto& p : m->parameters()) g.push_back(p.grad().clone());
      grads.push_back(torch::cat([&] {
        std::vector<at::Tensor> flat;
        for (const auto& x : g) flat.push_back(x.reshape({-1}));
        return flat;
      }()));
    }
    for (size_t k = 1; k < lp.size(); ++k) {
      // Equal up to the summation order of the matrix products (BLAS blocks by row count).
      EXPECT_LT((lp[0] - lp[k]).abs().max().item<float>(), 1e-5)
          << "tied " << tied << ", case " << k;
      EXPECT_LT((ent[0] - ent[k]).abs().max().item<float>(), 1e-5)
          << "tied " << tied << ", case " << k;
      EXPECT_LT((grads[0] - grads[k]).abs().max().item<float>(), 1e-5)
          << "tied " << tied << ", case " << k;
    }
    EXPECT_GT(grads[0].abs().sum().item<float>(), 0);
  }
}

// Without grad mode (the reference policy, evaluation) chunks are scored and dropped alike.
TEST(Scoring, ChunkedHeadWithoutGradients) {
  auto m = testing::TinyModel(42);
  torch::NoGradGuard ng;
  auto h = torch::randn({11, m->config().hidden_size});
  auto targets = torch::randint(0, 97, {11}, torch::kInt64);
  auto one = ScoreRows(*m, h, targets, 1.0f, true, 100);
  auto many = ScoreRows(*m, h, targets, 1.0f, true, 4);
  EXPECT_TRUE(torch::equal(one.logprobs, many.logprobs));
  EXPECT_TRUE(torch::equal(one.entropy, many.entropy));
  auto direct = torch::log_softmax(m->Logits(h), -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(torch::equal(one.logprobs, direct));
  EXPECT_EQ(
      ScoreRows(*m, h.narrow(0, 0, 0), targets.narrow(0, 0, 0), 1.0f, false, 4).logprobs.numel(),
      0);
}

}  // namespace
}  // namespace iranker
