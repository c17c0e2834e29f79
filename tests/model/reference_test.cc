// Numerics against an independent reference: bench/reference/hf_qwen2.py implements the same
// architecture the way transformers does (repeat_kv, additive masks, its own safetensors reader);
// iranker's logits must match it on checkpoints iranker saved.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "model/checkpoint.h"
#include "test_util.h"

namespace iranker {
namespace {

bool PythonTorchAvailable() {
  return std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") == 0;
}

std::string Run(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(::pclose(p), 0) << cmd;
  return out;
}

void CompareWithReference(const ModelConfig& cfg, c10::ScalarType dtype, double tol) {
  torch::manual_seed(5);
  DecoderLM m(cfg);
  m.eval();
  m.to(dtype);
  auto dir =
      testing::TempDir("ref_" + std::to_string(cfg.tie_word_embeddings) + c10::toString(dtype));
  SaveModel(m, dir);
  std::vector<int64_t> ids;
  for (int i = 0; i < 37; ++i) ids.push_back((i * 29 + 3) % cfg.vocab_size);
  WriteFileAtomic(dir + "/ids.json", nlohmann::json(ids).dump());
  auto ref = nlohmann::json::parse(Run("/usr/bin/python3 " + std::string(IRANKER_SOURCE_DIR) +
                                       "/bench/reference/hf_qwen2.py logits " + dir + " " + dir +
                                       "/ids.json"));
  torch::NoGradGuard ng;
  auto ours = m.Logits(m.ForwardHidden(torch::tensor(ids).unsqueeze(0)))[0];
  double max_diff = 0;
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t v = 0; v < cfg.vocab_size; ++v)
      max_diff = std::max(max_diff, std::abs(ref[t][v].get<double>() - ours[t][v].item<double>()));
  EXPECT_LE(max_diff, tol) << "max |logit difference| vs the transformers-style reference";
}

TEST(ReferenceNumerics, LogitsMatchTransformersStyleImplementation) {
  if (!PythonTorchAvailable())
    GTEST_SKIP() << "Debian's python3-torch is not installed (scripts/setup.sh)";
  auto cfg = testing::TinyConfig(/*tied=*/true);
  cfg.rope_theta = 10000.0;  // fast-rotating rotary: exercises positions well
  CompareWithReference(cfg, torch::kFloat32, 1e-4);
  auto untied = testing::TinyConfig(/*tied=*/false);
  untied.num_key_value_heads = 1;  // multi-query attention
  CompareWithReference(untied, torch::kFloat32, 1e-4);
  untied.model_type = "llama";
  untied.attention_bias = false;
  CompareWithReference(untied, torch::kFloat32, 1e-4);
}

TEST(ReferenceNumerics, Bf16LogitsAgreeWithinBf16Tolerance) {
  if (!PythonTorchAvailable())
    GTEST_SKIP() << "Debian's python3-torch is not installed (scripts/setup.sh)";
  CompareWithReference(testing::TinyConfig(), torch::kBFloat16, 0.05);
}

}  // namespace
}  // namespace iranker
