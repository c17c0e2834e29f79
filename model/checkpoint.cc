#include "model/checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/atomic_file.h"
#include "base/error.h"
#include "model/safetensors.h"

namespace iranker {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
c10::ScalarType ParseDtype(const std::string& name, const std::string& context) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  Fail(ErrorCode::kInvalidArgument, context, ": dtype '", name,
       "' is not supported (float32, bfloat16, float16)");
}

// Opens every weight file of `dir` and maps tensor name -> file.
std::map<std::string, std::shared_ptr<SafetensorsFile>> OpenWeights(const std::string& dir) {
  std::map<std::string, std::shared_ptr<SafetensorsFile>> where;
  const std::string index = dir + "/model.safetensors.index.json";
  const std::string single = dir + "/model.safetensors";
  if (fs::exists(index)) {
    json j;
    try {
      j = json::parse(ReadFile(index));
    } catch (const json::exception& e) {
      Fail(ErrorCode::kInvalidArgument, index, ": not valid JSON: ", e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      Fail(ErrorCode::kInvalidArgument, index, ": missing 'weight_map' object");
    std::map<std::string, std::shared_ptr<SafetensorsFile>> files;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        Fail(ErrorCode::kInvalidArgument, index, ": weight_map['", it.key(),
             "'] is not a file name");
      std::string file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file == "..")
        Fail(ErrorCode::kInvalidArgument, index, ": weight_map['", it.key(), "'] names '", file,
             "' outside the directory");
      if (!files.count(file)) files[file] = SafetensorsFile::Open(dir + "/" + file);
      if (!files[file]->Find(it.key()))
        Fail(ErrorCode::kDataLoss, index, ": tensor '", it.key(), "' is mapped to ", file,
             " which does not contain it");
      where[it.key()] = files[file];
    }
    for (const auto& [file, f] : files)
      for (const auto& e : f->entries())
        if (!where.count(e.name))
          Fail(ErrorCode::kInvalidArgument, dir, "/", file, ": tensor '", e.name,
               "' is not listed in ", index);
  } else if (fs::exists(single)) {
    auto f = SafetensorsFile::Open(single);
    for (const auto& e : f->entries()) where[e.name] = f;
  } else {
    Fail(ErrorCode::kNotFound, dir, ": no model.safetensors or model.safetensors.index.json");
  }
  return where;
}

bool IsFloating(c10::ScalarType t) {
  return t == torch::kFloat32 || t == torch::kBFloat16 || t == torch::kFloat16 ||
         t == torch::kFloat64;
}
}  // namespace

void LoadWeightsInto(DecoderLM& model, const std::string& dir) {
  auto where = OpenWeights(dir);
  std::vector<std::string> problems;
  std::set<std::string> used;
  auto params = model.named_parameters();
  for (const auto& p : params) {
    const std::string& name = p.key();
    auto it = where.find(name);
    if (it == where.end()) {
      problems.push_back("missing tensor '" + name + "'");
      continue;
    }
    used.insert(name);
    const auto* e = it->second->Find(name);
    if (!IsFloating(e->scalar_type))
      problems.push_back(it->second->path() + ": tensor '" + name + "' has dtype " + e->dtype +
                         ", expected a floating type");
    else if (e->shape != p.value().sizes().vec())
      problems.push_back(it->second->path() + ": tensor '" + name + "' has shape " +
                         c10::str(c10::IntArrayRef(e->shape)) + ", expected " +
                         c10::str(p.value().sizes()));
  }
  for (const auto& [name, f] : where) {
    if (used.count(name)) continue;
    // Tied checkpoints may carry a copy of the embedding as lm_head.weight; older ones carry
    // rotary inv_freq buffers. transformers ignores both, and so do we.
    if (name == "lm_head.weight" && model.config().tie_word_embeddings) continue;
    if (name.size() > 9 && name.compare(name.size() - 9, 9, ".inv_freq") == 0) continue;
    problems.push_back(f->path() + ": unexpected tensor '" + name + "'");
  }
  if (!problems.empty()) {
    std::string msg = dir + ": checkpoint does not match the model (" +
                      std::to_string(problems.size()) + " problem" +
                      (problems.size() > 1 ? "s" : "") + "):";
    for (size_t i = 0; i < problems.size() && i < 20; ++i) msg += "\n  " + problems[i];
    if (problems.size() > 20) msg += "\n  ...";
    Fail(ErrorCode::kInvalidArgument, msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& p : params) p.value().copy_(where[p.key()]->Tensor(p.key()));
}

LoadedModel LoadModel(const std::string& dir, const std::string& dtype, const std::string& device) {
  if (!fs::is_directory(dir))
    Fail(ErrorCode::kNotFound, "checkpoint directory '", dir, "' does not exist");
  LoadedModel out;
  out.config = ModelConfig::FromJson(ReadFile(dir + "/config.json"), dir + "/config.json");
  auto st = ParseDtype(dtype == "auto" ? out.config.torch_dtype : dtype, dir);
  out.model = std::make_shared<DecoderLM>(out.config);
  out.model->to(torch::Device(device), st);
  LoadWeightsInto(*out.model, dir);
  out.model->eval();
  return out;
}

void SaveModel(const DecoderLM& model, const std::string& dir, int64_t max_shard_bytes,
               const std::function<void()>& on_file) {
  ModelConfig cfg = model.config();
  auto weights = model.NamedWeights();
  IR_CHECK(!weights.empty());
  auto st = weights[0].second.scalar_type();
  cfg.torch_dtype = st == torch::kBFloat16  ? "bfloat16"
                    : st == torch::kFloat16 ? "float16"
                                            : "float32";
  WriteFileAtomic(dir + "/config.json", cfg.ToJson());
  json gen = {{"_from_model_config", true}, {"transformers_version", "4.40.0"}};
  if (cfg.bos_token_id >= 0) gen["bos_token_id"] = cfg.bos_token_id;
  if (cfg.eos_token_id >= 0) gen["eos_token_id"] = cfg.eos_token_id;
  WriteFileAtomic(dir + "/generation_config.json", gen.dump(2) + "\n");

  // Shards: fill each up to max_shard_bytes, in parameter order.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  int64_t in_shard = 0, total = 0;
  for (auto& w : weights) {
    int64_t bytes = w.second.numel() * w.second.element_size();
    if (in_shard > 0 && in_shard + bytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(w);
    in_shard += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    WriteSafetensors(dir + "/model.safetensors", shards[0]);
    if (on_file) on_file();
    return;
  }
  json map = json::object();
  char name[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    WriteSafetensors(dir + "/" + name, shards[i]);
    if (on_file) on_file();
    for (const auto& w : shards[i]) map[w.first] = name;
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", map}};
  WriteFileAtomic(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
}

void CopyTokenizerFiles(const std::string& from_dir, const std::string& to_dir) {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                        "special_tokens_map.json"}) {
    fs::path src = fs::path(from_dir) / f;
    if (fs::exists(src)) WriteFileAtomic((fs::path(to_dir) / f).string(), ReadFile(src.string()));
  }
}

void SaveArchiveAtomic(torch::serialize::OutputArchive& archive, const std::string& path) {
  AtomicFileWriter out(path);
  archive.save_to([&out](const void* data, size_t size) -> size_t {
    out.Write(data, size);
    return size;  // errors are remembered by `out` and raised by Commit()
  });
  out.Commit();
}

}  // namespace iranker
