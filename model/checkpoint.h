// model/checkpoint.h — Hugging Face model directories: config.json, model.safetensors or sharded
// model-0000i-of-0000n.safetensors with model.safetensors.index.json, generation_config.json and
// tokenizer files.
//
// Loading checks the weights against the architecture before copying anything into the model:
// every missing tensor, unexpected tensor, wrong shape or non-floating dtype is reported in one
// Error naming the file and the tensor. Floating dtypes are converted to the requested dtype.
// Saving writes a directory that transformers' from_pretrained loads unchanged; callers that need
// crash safety write into a temporary directory and commit it (base/atomic_file.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "model/decoder.h"

namespace iranker {

struct LoadedModel {
  ModelConfig config;
  std::shared_ptr<DecoderLM> model;
};

// Reads config.json and the weights of `dir`. dtype: "float32", "bfloat16" or "auto" (the
// checkpoint's torch_dtype).
LoadedModel LoadModel(const std::string& dir, const std::string& dtype = "float32",
                      const std::string& device = "cpu");

// Copies the weights of `dir` into an existing model of the same architecture (e.g. a policy
// update received by an actor, or resume).
void LoadWeightsInto(DecoderLM& model, const std::string& dir);

// Writes config.json (torch_dtype = the parameters' dtype), weights (sharded above
// max_shard_bytes) and generation_config.json into `dir`, which must exist. Tokenizer files are
// the caller's (see CopyTokenizerFiles). `on_file` (may be empty) is called after each weights
// file written: a sign of progress for whoever waits (cluster/progress_lease.h).
void SaveModel(const DecoderLM& model, const std::string& dir, int64_t max_shard_bytes = 2LL << 30,
               const std::function<void()>& on_file = {});

// Copies tokenizer.json, tokenizer_config.json, vocab.json, merges.txt and
// special_tokens_map.json, those that exist, from `from_dir` to `to_dir`.
void CopyTokenizerFiles(const std::string& from_dir, const std::string& to_dir);

// Writes a libtorch archive (optimizer or critic state) to `path`, streamed through
// AtomicFileWriter: complete or absent. A failed write (full disk, file-size limit) is an Error
// naming the file, never an abort inside libtorch's zip writer.
void SaveArchiveAtomic(torch::serialize::OutputArchive& archive, const std::string& path);

}  // namespace iranker
