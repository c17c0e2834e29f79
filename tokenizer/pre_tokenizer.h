// tokenizer/pre_tokenizer.h — the `pre_tokenizer` section of a tokenizer.json (internal).
//
// Supported: null, Split (Regex or String pattern; behaviours Isolated, Removed,
// MergedWithPrevious, MergedWithNext, Contiguous; invert), ByteLevel (add_prefix_space, use_regex
// with the GPT-2 pattern) and Sequence. The byte-to-symbol mapping of ByteLevel is not done here:
// the BPE model works on raw bytes (see bpe.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/regex.h"

namespace iranker {

class PreTokenizer {
 public:
  static std::unique_ptr<PreTokenizer> FromJson(const nlohmann::json& j, const std::string& where);
  ~PreTokenizer();

  // Splits *text into pieces (byte spans of *text, in order, none empty). A stage that adds prefix
  // spaces rewrites *text. *pieces is overwritten; *tmp is scratch. Thread-safe.
  void Split(std::string* text, std::vector<Span>* pieces, std::vector<Span>* tmp) const;

  // True when the pre-tokenizer has a ByteLevel stage (the model must then be byte-level).
  bool has_byte_level() const { return has_byte_level_; }

 private:
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Stage {
    std::unique_ptr<Regex> regex;  // null: a prefix-space stage
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
  };
  void Parse(const nlohmann::json& j, const std::string& where);
  static void SplitPiece(const Stage& stage, const std::string& text, Span piece,
                         std::vector<Span>* matches, std::vector<Span>* out);

  std::vector<Stage> stages_;
  bool has_byte_level_ = false;
};

}  // namespace iranker
