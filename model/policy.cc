#include "model/policy.h"

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"

namespace iranker {
namespace fs = std::filesystem;

namespace {
// The tokenizer.json text of `tokenizer` (a file or its directory), or the byte-level one for "".
std::string TokenizerJsonFor(const std::string& tokenizer) {
  if (tokenizer.empty())
    return ByteLevelTokenizerJson({"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  return ReadFile(fs::is_directory(tokenizer) ? tokenizer + "/tokenizer.json" : tokenizer);
}
}  // namespace

ModelConfig PresetForTokenizer(const std::string& preset, const std::string& tokenizer,
                               std::unique_ptr<Tokenizer>* tokenizer_out) {
  const std::string tok_json = TokenizerJsonFor(tokenizer);
  auto tok = Tokenizer::FromJson(tok_json, tokenizer.empty() ? "byte-level tokenizer" : tokenizer);
  ModelConfig cfg = PresetConfig(preset, tok->vocab_size());
  if (cfg.vocab_size < tok->vocab_size())
    Fail(ErrorCode::kInvalidArgument, "preset ", preset, " has a vocabulary of ", cfg.vocab_size,
         " but the tokenizer needs ", tok->vocab_size());
  if (tokenizer_out) *tokenizer_out = std::move(tok);
  return cfg;
}

void InitModelDirectory(const std::string& preset, const std::string& tokenizer, uint64_t seed,
                        const std::string& dtype, const std::string& out_dir,
                        const std::function<void()>& on_file) {
  if (fs::exists(out_dir) && !fs::is_empty(out_dir))
    Fail(ErrorCode::kFailedPrecondition, "output directory '", out_dir,
         "' exists and is not empty");
  std::unique_ptr<Tokenizer> tok;
  ModelConfig cfg = PresetForTokenizer(preset, tokenizer, &tok);
  const std::string tok_json = TokenizerJsonFor(tokenizer);
  if (auto eos = tok->TokenToId("<|im_end|>")) cfg.eos_token_id = *eos;
  if (auto bos = tok->TokenToId("<|endoftext|>")) cfg.bos_token_id = *bos;
  torch::manual_seed(seed);
  DecoderLM model(cfg);
  if (dtype == "bfloat16")
    model.to(torch::kBFloat16);
  else if (dtype != "float32")
    Fail(ErrorCode::kInvalidArgument, "dtype '", dtype, "' (float32, bfloat16)");
  // Write into a temporary directory and commit it whole.
  const std::string tmp = out_dir + ".tmp-init";
  fs::remove_all(tmp);
  MakeDirs(tmp);
  SaveModel(model, tmp, /*max_shard_bytes=*/2LL << 30, on_file);
  WriteFileAtomic(tmp + "/tokenizer.json", tok_json);
  nlohmann::json tc = {{"model_max_length", cfg.max_position_embeddings},
                       {"eos_token", "<|im_end|>"},
                       {"pad_token", "<|endoftext|>"},
                       {"tokenizer_class", "PreTrainedTokenizerFast"}};
  WriteFileAtomic(tmp + "/tokenizer_config.json", tc.dump(2) + "\n");
  if (fs::exists(out_dir)) fs::remove(out_dir);  // empty
  CommitDirectory(tmp, out_dir);
}

Policy LoadPolicy(const std::string& dir, const std::string& dtype, const std::string& device) {
  Policy p;
  p.dir = dir;
  p.model = LoadModel(dir, dtype, device);
  p.tokenizer = Tokenizer::FromFile(dir);
  if (p.tokenizer->vocab_size() > p.model.config.vocab_size)
    Fail(ErrorCode::kInvalidArgument, dir, ": tokenizer has ", p.tokenizer->vocab_size(),
         " tokens but the model's vocabulary is ", p.model.config.vocab_size);
  return p;
}

}  // namespace iranker
