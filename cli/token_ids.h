// cli/token_ids.h — token ids typed by a user (`tokenize --decode`, `generate --ids`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iranker {

// The ids in `text`, separated by spaces, tabs or line ends. A word that is not a non-negative
// integer, or an id outside [0, vocab), is an error starting with `where` ("FILE:LINE", "stdin
// record N") and naming `vocab_owner`'s vocabulary ("tokenizer's", "model's").
std::vector<int32_t> ParseTokenIds(const std::string& text, const std::string& where, int64_t vocab,
                                   const std::string& vocab_owner);

}  // namespace iranker
