// tokenizer/regex.h — a compiled PCRE2 pattern for pre-tokenization (internal to tokenizer/).
//
// Patterns are compiled with UTF, UCP (Unicode classes for \d, \w, \p{..}) and MATCH_INVALID_UTF
// (bytes that are not valid UTF-8 never match and never break matching), and JIT-compiled when
// the library supports it. `\s` and `\S` are rewritten to Unicode White_Space, which is what
// Hugging Face's Oniguruma means by them (PCRE2 would also count U+180E).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct pcre2_real_code_8;

namespace iranker {

struct Span {
  uint32_t begin = 0, end = 0;  // byte offsets, end exclusive
};

class Regex {
 public:
  // literal: match `pattern` as plain text. Throws Error (kInvalidArgument) naming `where` and
  // the offset when the pattern does not compile.
  Regex(const std::string& pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends every non-empty, non-overlapping match in `subject`, left to right, with offsets
  // shifted by `base`. Thread-safe (per-thread match scratch).
  void FindAll(std::string_view subject, uint32_t base, std::vector<Span>* out) const;

  bool jit() const { return jit_; }

 private:
  pcre2_real_code_8* code_ = nullptr;
  bool jit_ = false;
  std::string where_;
};

// The rewrite of \s and \S described above (exposed for tests).
std::string RewriteWhitespaceClasses(const std::string& pattern);

}  // namespace iranker
