// ranking/text.h — the text normalisation and tokenisation shared by the answer matcher, TF-IDF
// and BM25. Byte-oriented: ASCII letters are lower-cased, bytes >= 0x80 (UTF-8 continuation and
// lead bytes) are kept as word characters, so non-Latin text still forms tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace iranker {

// Trims ASCII whitespace at both ends.
std::string Trim(std::string_view s);

// Lower-cases ASCII, collapses runs of whitespace to one space, trims, and removes one pair of
// surrounding quotes/brackets-free punctuation: leading/trailing '"', '\'', '`', '*' and trailing
// '.', ',', ';', ':'. Used to compare an answer with a candidate text.
std::string NormalizeForMatch(std::string_view s);

// Lower-cased word tokens: maximal runs of ASCII alphanumerics or bytes >= 0x80.
std::vector<std::string> Tokenize(std::string_view s);

// Length of the longest common subsequence of a and b (bytes). O(|a|·|b|) time, O(|b|) memory.
size_t LongestCommonSubsequence(std::string_view a, std::string_view b);

// Splits on '\n' (a trailing '\r' is removed from each line).
std::vector<std::string> SplitLines(std::string_view s);

// Decodes the HTML entities found in scraped titles (&amp; &lt; &gt; &quot; &apos; &nbsp; &reg;
// &trade; &copy; &eacute; and numeric &#N; / &#xN;) to UTF-8; anything else is left as written.
std::string DecodeHtmlEntities(const std::string& s);

}  // namespace iranker
