// model/policy.h — the policy and tokenizer a run starts from.
//
// A run starts either from a Hugging Face checkpoint directory (model.path) or from a preset
// initialised with random weights. In the second case the complete directory (config.json,
// weights, tokenizer.json, generation_config.json) is written first, so every command that takes a
// checkpoint accepts it as it is, and the run can be re-created from its init directory.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "model/checkpoint.h"
#include "model/options.h"
#include "tokenizer/tokenizer.h"

namespace iranker {

struct Policy {
  std::string dir;  // checkpoint directory it was loaded from
  LoadedModel model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// A preset's shapes with the vocabulary `tokenizer` needs (a tokenizer.json or its directory, ""
// for the byte-level one); the tokenizer itself into *tokenizer_out when given.
ModelConfig PresetForTokenizer(const std::string& preset, const std::string& tokenizer,
                               std::unique_ptr<Tokenizer>* tokenizer_out = nullptr);

// Writes a randomly initialised checkpoint of `preset` into `out_dir` (created; must not exist or
// be empty). tokenizer: a tokenizer.json or its directory, or "" for the byte-level tokenizer.
// The vocabulary is at least the tokenizer's size (presets with real shapes keep theirs).
// `on_file` (may be empty) is called after each weights file written.
void InitModelDirectory(const std::string& preset, const std::string& tokenizer, uint64_t seed,
                        const std::string& dtype, const std::string& out_dir,
                        const std::function<void()>& on_file = {});

// Loads a checkpoint directory with its tokenizer.
Policy LoadPolicy(const std::string& dir, const std::string& dtype = "float32",
                  const std::string& device = "cpu");

}  // namespace iranker
