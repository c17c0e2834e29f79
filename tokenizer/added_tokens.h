// tokenizer/added_tokens.h — finding added tokens in text before pre-tokenization (internal).
//
// Matching is leftmost-longest over all tokens of one pass (Hugging Face's Aho-Corasick
// LeftmostLongest): a byte trie, entered only at bytes that start some token. A `single_word`
// match touching a word character is dropped; `lstrip`/`rstrip` matches swallow the White_Space
// before/after them (the swallowed text is not encoded).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace iranker {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false;
  bool normalized = true;  // matched against normalised text (else against the raw input)
};

class AddedTokenMatcher {
 public:
  struct Match {
    size_t begin, end;  // byte span consumed, strip whitespace included
    int32_t id;
  };

  AddedTokenMatcher() = default;
  // Takes the tokens for which select(token) holds.
  template <class Pred>
  AddedTokenMatcher(const std::vector<AddedToken>& tokens, Pred select) {
    for (const auto& t : tokens)
      if (select(t)) Add(t);
  }

  bool empty() const { return tokens_.empty(); }

  // Appends the matches in `text`, left to right. parse_special=false ignores special tokens.
  void FindAll(std::string_view text, bool parse_special, std::vector<Match>* out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t token = -1;                             // index into tokens_
  };
  void Add(const AddedToken& t);
  int32_t Child(int32_t node, uint8_t b) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_{Node{}};
  bool first_[256] = {};
};

}  // namespace iranker
