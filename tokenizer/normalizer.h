// tokenizer/normalizer.h — the `normalizer` section of a tokenizer.json (internal to tokenizer/).
//
// Supported: null, NFC, NFD, NFKC, NFKD, Lowercase and a Sequence of these. Unicode forms come from
// utf8proc. Bytes that are not valid UTF-8 are passed through unchanged, and normalisation runs on
// the valid stretches between them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace iranker {

class Normalizer {
 public:
  // Parses the section; throws Error (kInvalidArgument) naming `where` for unsupported types.
  static Normalizer FromJson(const nlohmann::json& j, const std::string& where);

  // True when Apply always returns its input (no normalizer).
  bool identity() const { return steps_.empty(); }

  // Writes the normalised text to *out (cleared first). Thread-safe.
  void Apply(std::string_view in, std::string* out) const;

 private:
  enum class Step { kNFC, kNFD, kNFKC, kNFKD, kLowercase };
  static void ParseInto(const nlohmann::json& j, const std::string& where,
                        std::vector<Step>* steps);
  static void ApplyStep(Step step, std::string_view in, std::string* out);
  std::vector<Step> steps_;
};

}  // namespace iranker
