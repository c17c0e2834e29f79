// model/options.h — which policy a run starts from (`model:` section).
#pragma once

#include <string>

#include "base/fields.h"

namespace iranker {

struct ModelOptions {
  // A Hugging Face checkpoint directory to start from. "" = initialise `preset` with random
  // weights (seeded by run.seed) and write it to <run dir>/init.
  std::string path = "";
  // Preset used when path is "": tiny, small, qwen2.5-0.5b, qwen2.5-1.5b, qwen2.5-3b, qwen2.5-7b.
  std::string preset = "tiny";
  // Tokenizer for a preset: a tokenizer.json file or a directory holding one; "" = the built-in
  // byte-level tokenizer (256 byte symbols + ChatML specials), which the small presets use.
  std::string tokenizer = "";
  // Parameter dtype: float32 or bfloat16.
  std::string dtype = "float32";
  // "cpu" or "cuda" (one GPU per process, by local rank).
  std::string device = "cpu";

  template <class V>
  void Visit(V& v) {
    v.Field("path", path, "Hugging Face checkpoint to start from; \"\" = a random preset.");
    v.Field("preset", preset, "Preset initialised when path is \"\".",
            OneOf({"tiny", "small", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b"}));
    v.Field("tokenizer", tokenizer,
            "tokenizer.json (or its directory) for a preset; \"\" = byte-level.");
    v.Field("dtype", dtype, "Parameter dtype.", OneOf({"float32", "bfloat16"}));
    v.Field("device", device, "Device.", OneOf({"cpu", "cuda"}));
  }
};

}  // namespace iranker
