#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace iranker {
using nlohmann::json;

int64_t ModelConfig::LayerParameters() const {
  const int64_t hd = HeadDim();
  const int64_t q = num_attention_heads * hd, kv = num_key_value_heads * hd;
  int64_t attn = hidden_size * q + 2 * hidden_size * kv + q * hidden_size;
  if (attention_bias) attn += q + 2 * kv;
  int64_t mlp = 3 * hidden_size * intermediate_size;
  if (mlp_bias) mlp += 2 * intermediate_size + hidden_size;
  return attn + mlp + 2 * hidden_size;
}

int64_t ModelConfig::NumParameters() const {
  int64_t emb = vocab_size * hidden_size;
  return emb * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * LayerParameters() + hidden_size;
}

double ModelConfig::FlopsPerToken(int64_t context) const {
  // Matmul FLOPs: 2 per weight used (embedding lookup excluded, LM head included).
  double matmul_params = static_cast<double>(NumParameters() - vocab_size * hidden_size) +
                         (tie_word_embeddings ? vocab_size * hidden_size : 0);
  double attn = 2.0 * 2.0 * num_hidden_layers * num_attention_heads * HeadDim() * context;
  return 2.0 * matmul_params + attn;
}

namespace {
template <class T>
void Get(const json& j, const char* key, T* out, const std::string& source, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) Fail(ErrorCode::kInvalidArgument, source, ": missing required key '", key, "'");
    return;
  }
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    Fail(ErrorCode::kInvalidArgument, source, ": key '", key, "' has the wrong type (", it->dump(),
         ")");
  }
}
}  // namespace

ModelConfig ModelConfig::FromJson(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    Fail(ErrorCode::kInvalidArgument, source, ": not valid JSON: ", e.what());
  }
  if (!j.is_object()) Fail(ErrorCode::kInvalidArgument, source, ": expected a JSON object");
  ModelConfig c;
  Get(j, "model_type", &c.model_type, source, true);
  if (c.model_type != "qwen2" && c.model_type != "llama")
    Fail(ErrorCode::kInvalidArgument, source, ": model_type '", c.model_type,
         "' is not supported (qwen2, llama)");
  c.attention_bias = c.model_type == "qwen2";
  Get(j, "vocab_size", &c.vocab_size, source, true);
  Get(j, "hidden_size", &c.hidden_size, source, true);
  Get(j, "intermediate_size", &c.intermediate_size, source, true);
  Get(j, "num_hidden_layers", &c.num_hidden_layers, source, true);
  Get(j, "num_attention_heads", &c.num_attention_heads, source, true);
  c.num_key_value_heads = c.num_attention_heads;
  Get(j, "num_key_value_heads", &c.num_key_value_heads, source, false);
  Get(j, "head_dim", &c.head_dim, source, false);
  Get(j, "max_position_embeddings", &c.max_position_embeddings, source, false);
  Get(j, "rope_theta", &c.rope_theta, source, false);
  Get(j, "rms_norm_eps", &c.rms_norm_eps, source, false);
  Get(j, "tie_word_embeddings", &c.tie_word_embeddings, source, false);
  if (c.model_type == "llama") Get(j, "attention_bias", &c.attention_bias, source, false);
  Get(j, "mlp_bias", &c.mlp_bias, source, false);
  Get(j, "torch_dtype", &c.torch_dtype, source, false);
  Get(j, "initializer_range", &c.initializer_range, source, false);
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
    c.bos_token_id = j["bos_token_id"];
  if (j.contains("eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer())
      c.eos_token_id = e;
    else if (e.is_array() && !e.empty() && e[0].is_number_integer())
      c.eos_token_id = e[0];
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    Fail(ErrorCode::kInvalidArgument, source, ": rope_scaling is not supported");
  c.Validate(source);
  return c;
}

void ModelConfig::Validate(const std::string& source) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0)
      Fail(ErrorCode::kInvalidArgument, source, ": '", key, "' must be positive, got ", v);
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (num_attention_heads % num_key_value_heads != 0)
    Fail(ErrorCode::kInvalidArgument, source, ": num_attention_heads (", num_attention_heads,
         ") must be a multiple of num_key_value_heads (", num_key_value_heads, ")");
  if (head_dim == 0 && hidden_size % num_attention_heads != 0)
    Fail(ErrorCode::kInvalidArgument, source,
         ": hidden_size must be divisible by num_attention_heads");
  if (HeadDim() % 2 != 0)
    Fail(ErrorCode::kInvalidArgument, source, ": head_dim must be even (rotary)");
  if (!(rope_theta > 0) || !(rms_norm_eps > 0))
    Fail(ErrorCode::kInvalidArgument, source, ": rope_theta and rms_norm_eps must be positive");
  if (torch_dtype != "float32" && torch_dtype != "bfloat16" && torch_dtype != "float16")
    Fail(ErrorCode::kInvalidArgument, source, ": torch_dtype '", torch_dtype,
         "' is not supported (float32, bfloat16, float16)");
}

std::string ModelConfig::ToJson() const {
  json j;
  j["architectures"] = {model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  if (head_dim > 0) j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rope_theta"] = rope_theta;
  j["rms_norm_eps"] = rms_norm_eps;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["hidden_act"] = "silu";
  j["initializer_range"] = initializer_range;
  j["torch_dtype"] = torch_dtype;
  j["use_cache"] = true;
  j["attention_dropout"] = 0.0;
  if (model_type == "llama") {
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
  } else {
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = num_hidden_layers;
  }
  if (bos_token_id >= 0) j["bos_token_id"] = bos_token_id;
  if (eos_token_id >= 0) j["eos_token_id"] = eos_token_id;
  j["transformers_version"] = "4.40.0";
  return j.dump(2) + "\n";
}

std::vector<std::string> PresetNames() {
  return {"tiny", "small", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b"};
}

ModelConfig PresetConfig(const std::string& name, int64_t small_vocab) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.attention_bias = true;
  auto set = [&](int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads,
                 int64_t kv, bool tied) {
    c.vocab_size = vocab;
    c.hidden_size = hidden;
    c.intermediate_size = inter;
    c.num_hidden_layers = layers;
    c.num_attention_heads = heads;
    c.num_key_value_heads = kv;
    c.tie_word_embeddings = tied;
  };
  if (name == "tiny") {
    set(small_vocab > 0 ? small_vocab : 272, 64, 176, 2, 4, 2, true);
    c.max_position_embeddings = 8192;
  } else if (name == "small") {
    set(small_vocab > 0 ? small_vocab : 272, 256, 704, 4, 8, 2, true);
    c.max_position_embeddings = 8192;
  } else if (name == "qwen2.5-0.5b") {
    set(151936, 896, 4864, 24, 14, 2, true);
  } else if (name == "qwen2.5-1.5b") {
    set(151936, 1536, 8960, 28, 12, 2, true);
  } else if (name == "qwen2.5-3b") {
    set(151936, 2048, 11008, 36, 16, 2, true);
  } else if (name == "qwen2.5-7b") {
    set(152064, 3584, 18944, 28, 28, 4, false);
  } else {
    std::string names;
    for (const auto& n : PresetNames()) names += (names.empty() ? "" : ", ") + n;
    Fail(ErrorCode::kInvalidArgument, "unknown model preset '", name, "' (available: ", names, ")");
  }
  c.Validate("preset " + name);
  return c;
}

}  // namespace iranker
