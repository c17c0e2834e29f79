// model/model_config.h — the shapes of a Qwen2 / Llama decoder, read from and written to a
// Hugging Face config.json, and the named presets that `iranker init-model` and the scaling
// studies use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iranker {

struct ModelConfig {
  std::string model_type = "qwen2";  // "qwen2" or "llama"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // 0 = hidden_size / num_attention_heads
  int64_t max_position_embeddings = 32768;
  double rope_theta = 1000000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = true;
  bool attention_bias = true;  // q/k/v projections carry a bias (always true for Qwen2)
  bool mlp_bias = false;
  std::string torch_dtype = "float32";  // dtype the weights are stored in
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  double initializer_range = 0.02;

  int64_t HeadDim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  // Number of parameters (tied embeddings counted once).
  int64_t NumParameters() const;
  int64_t LayerParameters() const;  // of one decoder layer
  // Forward FLOPs per token for a sequence of `context` tokens (2 * params for the matmuls plus
  // attention scores), the convention MFU figures use.
  double FlopsPerToken(int64_t context) const;

  // Parses config.json text; throws Error(kInvalidArgument) naming `source` and the key.
  static ModelConfig FromJson(const std::string& text, const std::string& source);
  std::string ToJson() const;  // a config.json that transformers loads
  void Validate(const std::string& source) const;
};

// Named presets: "tiny", "small" (byte-level vocabulary, for tests and the quickstart) and the
// shapes of "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b".
ModelConfig PresetConfig(const std::string& name, int64_t vocab_size_for_small_presets = 0);
std::vector<std::string> PresetNames();

}  // namespace iranker
