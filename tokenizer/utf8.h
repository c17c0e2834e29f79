// tokenizer/utf8.h — UTF-8 helpers shared by the tokenizer's stages (internal to tokenizer/).
//
// Input text is bytes: nothing here assumes it is valid UTF-8. Invalid sequences are reported as
// such so that callers can pass them through untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace iranker::utf8 {

// Decodes the code point starting at s[i]. Returns the number of bytes it takes (1..4) and sets
// *cp, or returns the length of the maximal invalid subpart (>= 1, as Unicode's "substitution of
// maximal subparts" defines it) and sets *cp = -1.
int Decode(std::string_view s, size_t i, int32_t* cp);

// Appends the UTF-8 encoding of cp (a Unicode scalar value) to *out.
void Append(int32_t cp, std::string* out);

// True when every byte is < 0x80.
bool IsAscii(std::string_view s);

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s mean).
bool IsWhiteSpace(int32_t cp);

// Letter, number or '_' (the word characters that `single_word` added tokens must not touch).
bool IsWordChar(int32_t cp);

}  // namespace iranker::utf8
