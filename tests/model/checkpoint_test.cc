#include "model/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "model/safetensors.h"
#include "test_util.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;

void ExpectSameWeights(const DecoderLM& a, const DecoderLM& b) {
  auto wa = a.NamedWeights(), wb = b.NamedWeights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    EXPECT_EQ(wa[i].first, wb[i].first);
    EXPECT_TRUE(torch::equal(wa[i].second, wb[i].second)) << wa[i].first;
  }
}

std::string ExpectLoadError(const std::string& dir, const std::string& what) {
  try {
    LoadModel(dir);
    ADD_FAILURE() << "no error, expected: " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    return e.what();
  }
  return "";
}

TEST(Checkpoint, SaveThenLoadIsBitExact) {
  for (bool tied : {true, false}) {
    auto m = testing::TinyModel(11, tied);
    auto dir = testing::TempDir(tied ? "ckpt_tied" : "ckpt_untied");
    SaveModel(*m, dir);
    EXPECT_TRUE(fs::exists(dir + "/config.json"));
    EXPECT_TRUE(fs::exists(dir + "/generation_config.json"));
    auto loaded = LoadModel(dir);
    ExpectSameWeights(*m, *loaded.model);
    EXPECT_EQ(loaded.config.tie_word_embeddings, tied);
    auto cfg = nlohmann::json::parse(ReadFile(dir + "/config.json"));
    EXPECT_EQ(cfg["architectures"][0], "Qwen2ForCausalLM");
    EXPECT_EQ(cfg["num_key_value_heads"], 2);
  }
}

TEST(Checkpoint, ShardedSaveAndLoad) {
  auto m = testing::TinyModel(12);
  auto dir = testing::TempDir("ckpt_shard");
  SaveModel(*m, dir, /*max_shard_bytes=*/40000);
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir))
    shards += e.path().string().find("-of-") != std::string::npos;
  EXPECT_GT(shards, 1);
  ExpectSameWeights(*m, *LoadModel(dir).model);
}

TEST(Checkpoint, Bf16CheckpointLoadsAsFp32AndBack) {
  auto m = testing::TinyModel(13);
  m->to(torch::kBFloat16);
  auto dir = testing::TempDir("ckpt_bf16");
  SaveModel(*m, dir);
  auto cfg = nlohmann::json::parse(ReadFile(dir + "/config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  auto f32 = LoadModel(dir, "float32");
  EXPECT_EQ(f32.model->parameters()[0].scalar_type(), torch::kFloat32);
  auto bf = LoadModel(dir, "auto");
  ExpectSameWeights(*m, *bf.model);
}

class BrokenCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::TinyModel(14);
    dir_ = testing::TempDir("ckpt_bad");
    SaveModel(*model_, dir_);
  }
  // Rewrites model.safetensors with `edit` applied to the tensor list.
  void Rewrite(const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit) {
    auto w = model_->NamedWeights();
    edit(w);
    WriteSafetensors(dir_ + "/model.safetensors", w);
  }
  std::shared_ptr<DecoderLM> model_;
  std::string dir_;
};

TEST_F(BrokenCheckpoint, MissingTensor) {
  Rewrite([](auto& w) { w.erase(w.begin() + 3); });
  ExpectLoadError(dir_, "missing tensor 'model.layers.0.self_attn.k_proj.weight'");
}

TEST_F(BrokenCheckpoint, ExtraTensor) {
  Rewrite([](auto& w) { w.emplace_back("model.layers.9.mlp.up_proj.weight", torch::zeros({2})); });
  ExpectLoadError(dir_, "unexpected tensor 'model.layers.9.mlp.up_proj.weight'");
}

TEST_F(BrokenCheckpoint, WrongShape) {
  Rewrite([](auto& w) { w[0].second = torch::zeros({3, 3}); });
  ExpectLoadError(dir_, "tensor 'model.embed_tokens.weight' has shape [3, 3], expected [97, 64]");
}

TEST_F(BrokenCheckpoint, WrongDtype) {
  Rewrite([](auto& w) { w[1].second = w[1].second.to(torch::kInt32); });
  ExpectLoadError(dir_, "has dtype I32, expected a floating type");
}

TEST_F(BrokenCheckpoint, TruncatedFile) {
  auto p = dir_ + "/model.safetensors";
  fs::resize_file(p, fs::file_size(p) - 100);
  ExpectLoadError(dir_, "model.safetensors: tensor");
}

TEST_F(BrokenCheckpoint, BadConfig) {
  WriteFileAtomic(dir_ + "/config.json", "{\"model_type\": \"qwen2\", \"vocab_size\": 97}");
  ExpectLoadError(dir_, "config.json: missing required key 'hidden_size'");
  WriteFileAtomic(dir_ + "/config.json", "{\"model_type\": \"gpt2\"}");
  ExpectLoadError(dir_, "model_type 'gpt2' is not supported");
  WriteFileAtomic(dir_ + "/config.json", "not json");
  ExpectLoadError(dir_, "config.json: not valid JSON");
}

TEST_F(BrokenCheckpoint, IndexNamingAMissingShard) {
  fs::remove(dir_ + "/model.safetensors");
  WriteFileAtomic(
      dir_ + "/model.safetensors.index.json",
      "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}");
  ExpectLoadError(dir_, "model-00001-of-00002.safetensors: no such file");
  WriteFileAtomic(dir_ + "/model.safetensors.index.json",
                  "{\"weight_map\": {\"model.norm.weight\": \"../x\"}}");
  ExpectLoadError(dir_, "outside the directory");
}

TEST(Checkpoint, NoWeightsOrNoDirectory) {
  ExpectLoadError("/nonexistent/iranker/ckpt", "does not exist");
  auto dir = testing::TempDir("ckpt_empty");
  WriteFileAtomic(dir + "/config.json", testing::TinyConfig().ToJson());
  ExpectLoadError(dir, "no model.safetensors or model.safetensors.index.json");
}

TEST(ModelConfig, PresetsHaveRealShapes) {
  auto c = PresetConfig("qwen2.5-0.5b");
  EXPECT_NEAR(c.NumParameters() / 1e6, 494.0, 1.0);  // Qwen2.5-0.5B: 494M parameters
  auto c7 = PresetConfig("qwen2.5-7b");
  EXPECT_NEAR(c7.NumParameters() / 1e9, 7.62, 0.01);  // Qwen2.5-7B: 7.62B
  EXPECT_NEAR(PresetConfig("qwen2.5-1.5b").NumParameters() / 1e9, 1.54, 0.01);
  EXPECT_NEAR(PresetConfig("qwen2.5-3b").NumParameters() / 1e9, 3.09, 0.01);
  EXPECT_THROW(PresetConfig("gpt-5"), Error);
  auto round = ModelConfig::FromJson(c.ToJson(), "x");
  EXPECT_EQ(round.ToJson(), c.ToJson());
}

}  // namespace
}  // namespace iranker
