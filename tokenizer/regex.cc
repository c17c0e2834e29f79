#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "base/error.h"

namespace iranker {
namespace {

// White_Space, as a character-class body usable inside [...] in PCRE2 syntax.
constexpr const char* kWhiteSpaceBody =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

// Per-thread match state: match data (only the whole-match offsets are used), a JIT stack large
// enough for long runs of text, and a match context pointing at it.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  MatchScratch() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    if (stack && context) pcre2_jit_stack_assign(context, nullptr, stack);
    IR_CHECK(data != nullptr && context != nullptr);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    if (stack) pcre2_jit_stack_free(stack);
  }
};

MatchScratch& Scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

std::string RewriteWhitespaceClasses(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  bool quoted = false;  // inside \Q...\E
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (quoted) {
      out.push_back(c);
      if (c == '\\' && i + 1 < p.size() && p[i + 1] == 'E') {
        out.push_back('E');
        ++i;
        quoted = false;
      }
      continue;
    }
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      ++i;
      if (n == 's') {
        out += in_class ? std::string(kWhiteSpaceBody) : "[" + std::string(kWhiteSpaceBody) + "]";
      } else if (n == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpaceBody) + "]";
      } else {
        if (n == 'Q') quoted = true;
        out.push_back('\\');
        out.push_back(n);
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX [:name:]
      const size_t close = p.find(":]", i + 2);
      if (close != std::string::npos) {
        out.append(p, i, close + 2 - i);
        i = close + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
  }
  return out;
}

Regex::Regex(const std::string& pattern, bool literal, const std::string& where) : where_(where) {
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  options |= literal ? PCRE2_LITERAL : PCRE2_UCP;  // PCRE2 rejects UCP with LITERAL
  const std::string compiled = literal ? pattern : RewriteWhitespaceClasses(pattern);
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options,
                        &err, &err_offset, nullptr);
  if (!code_) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    Fail(ErrorCode::kInvalidArgument, where, ": pre-tokenizer regex does not compile at offset ",
         err_offset, ": ", reinterpret_cast<const char*>(msg), " (pattern: ", pattern, ")");
  }
  jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::FindAll(std::string_view subject, uint32_t base, std::vector<Span>* out) const {
  MatchScratch& s = Scratch();
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const PCRE2_SIZE len = subject.size();
  PCRE2_SIZE pos = 0;
  while (pos < len) {
    int rc = jit_ ? pcre2_jit_match(code_, subj, len, pos, 0, s.data, s.context)
                  : PCRE2_ERROR_JIT_BADOPTION;
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)  // no JIT, or JIT stack exhausted: interpret
      rc = pcre2_match(code_, subj, len, pos, PCRE2_NO_JIT, s.data, s.context);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof(msg));
      Fail(ErrorCode::kInternal, where_,
           ": regex match failed: ", reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    const PCRE2_SIZE b = ov[0], e = ov[1];
    if (e > b) {
      out->push_back({static_cast<uint32_t>(b + base), static_cast<uint32_t>(e + base)});
      pos = e;
    } else {
      // Empty match: step over one character (UTF-8 continuation bytes included).
      pos = b + 1;
      while (pos < len && (subj[pos] & 0xC0) == 0x80) ++pos;
    }
  }
}

}  // namespace iranker
