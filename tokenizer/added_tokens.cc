#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace iranker {
namespace {

// The code point that ends just before byte offset `end` (-1 if none or invalid).
int32_t CodePointBefore(std::string_view s, size_t end) {
  if (end == 0) return -1;
  size_t b = end - 1;
  while (b > 0 && end - b < 4 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  int32_t cp;
  const int len = utf8::Decode(s, b, &cp);
  return b + len == end ? cp : -1;
}

int32_t CodePointAt(std::string_view s, size_t i) {
  if (i >= s.size()) return -1;
  int32_t cp;
  utf8::Decode(s, i, &cp);
  return cp;
}

}  // namespace

void AddedTokenMatcher::Add(const AddedToken& t) {
  if (t.content.empty()) return;
  const int32_t index = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(t);
  int32_t node = 0;
  for (unsigned char b : t.content) {
    int32_t child = Child(node, b);
    if (child < 0) {
      child = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& edges = nodes_[node].next;
      edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1})),
                   {b, child});
    }
    node = child;
  }
  nodes_[node].token = index;
  first_[static_cast<unsigned char>(t.content[0])] = true;
}

int32_t AddedTokenMatcher::Child(int32_t node, uint8_t b) const {
  const auto& edges = nodes_[node].next;
  auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1}));
  return it != edges.end() && it->first == b ? it->second : -1;
}

void AddedTokenMatcher::FindAll(std::string_view text, bool parse_special,
                                std::vector<Match>* out) const {
  if (tokens_.empty()) return;
  size_t prev_end = 0;  // lstrip never reaches into the previous match
  size_t i = 0;
  while (i < text.size()) {
    if (!first_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = Child(node, static_cast<uint8_t>(text[j]));
      if (node < 0) break;
      const int32_t t = nodes_[node].token;
      if (t >= 0 && (parse_special || !tokens_[t].special)) best = t, best_end = j + 1;
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[best];
    if (tok.single_word && (utf8::IsWordChar(CodePointBefore(text, i)) ||
                            utf8::IsWordChar(CodePointAt(text, best_end)))) {
      i = best_end;
      continue;
    }
    size_t b = i, e = best_end;
    if (tok.lstrip) {
      while (b > prev_end) {
        const int32_t cp = CodePointBefore(text, b);
        if (!utf8::IsWhiteSpace(cp)) break;
        b -= cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      }
    }
    if (tok.rstrip) {
      while (e < text.size()) {
        int32_t cp;
        const int len = utf8::Decode(text, e, &cp);
        if (!utf8::IsWhiteSpace(cp)) break;
        e += len;
      }
    }
    out->push_back({b, e, tok.id});
    prev_end = i = e;
  }
}

}  // namespace iranker
