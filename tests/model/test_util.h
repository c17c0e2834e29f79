// Shared helpers for the model tests.
#pragma once

#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "model/decoder.h"

namespace iranker::testing {

// A small GQA config (4 query heads over 2 key/value heads) with biases, like Qwen2.
inline ModelConfig TinyConfig(bool tied = true) {
  ModelConfig c = PresetConfig("tiny", 97);
  c.tie_word_embeddings = tied;
  return c;
}

inline std::shared_ptr<DecoderLM> TinyModel(uint64_t seed = 0, bool tied = true) {
  torch::manual_seed(seed);
  auto m = std::make_shared<DecoderLM>(TinyConfig(tied));
  m->eval();
  return m;
}

inline std::string TempDir(const std::string& tag) {
  auto d = std::filesystem::temp_directory_path() /
           ("iranker_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

}  // namespace iranker::testing
