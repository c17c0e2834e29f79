#include "cli/token_ids.h"

#include "base/error.h"

namespace iranker {

std::vector<int32_t> ParseTokenIds(const std::string& text, const std::string& where, int64_t vocab,
                                   const std::string& vocab_owner) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    if (space(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !space(text[j])) ++j;
    const std::string word = text.substr(i, j - i);
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || id < 0)
      Fail(ErrorCode::kInvalidArgument, where, ": '", word, "' is not a token id");
    if (id >= vocab)
      Fail(ErrorCode::kInvalidArgument, where, ": token id ", id, " is outside the ", vocab_owner,
           " vocabulary [0, ", vocab, ")");
    ids.push_back(static_cast<int32_t>(id));
    i = j;
  }
  return ids;
}

}  // namespace iranker
