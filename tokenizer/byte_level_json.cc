// ByteLevelTokenizerJson: the tokenizer.json of the tiny presets (see tokenizer.h).
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace iranker {

std::string ByteLevelTokenizerJson(const std::vector<std::string>& special_tokens) {
  using OJson = nlohmann::ordered_json;
  std::set<std::string> seen;
  OJson added = OJson::array();
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    const std::string& t = special_tokens[i];
    if (t.empty()) Fail(ErrorCode::kInvalidArgument, "byte-level tokenizer: empty special token");
    if (!seen.insert(t).second)
      Fail(ErrorCode::kInvalidArgument, "byte-level tokenizer: special token '", t, "' repeated");
    added.push_back({{"id", 256 + static_cast<int>(i)},
                     {"content", t},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  OJson vocab = OJson::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::ByteToSymbol(static_cast<uint8_t>(b))] = b;
  // Without merges every piece becomes its bytes, so no regex split is needed.
  const OJson byte_level = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", false},
                            {"use_regex", false}};
  OJson root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", OJson::array()}}},
  };
  return root.dump(2) + "\n";
}

}  // namespace iranker
