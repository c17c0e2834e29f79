#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace iranker::byte_level {
namespace {

struct Tables {
  std::array<int32_t, 256> cp;
  std::array<std::string, 256> symbol;
  Tables() {
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      cp[b] = printable ? b : next++;
      utf8::Append(cp[b], &symbol[b]);
    }
  }
};

const Tables& T() {
  static const Tables t;
  return t;
}

}  // namespace

int32_t ByteToCodePoint(uint8_t b) { return T().cp[b]; }

const std::string& ByteToSymbol(uint8_t b) { return T().symbol[b]; }

int CodePointToByte(int32_t cp) {
  if (cp < 0) return -1;
  if (cp < 256) return T().cp[cp] == cp ? cp : -1;
  // The 68 remapped bytes occupy U+0100..U+0143 in byte order.
  if (cp >= 256 + 68) return -1;
  static const std::array<int16_t, 68> inverse = [] {
    std::array<int16_t, 68> inv{};
    for (int b = 0; b < 256; ++b)
      if (T().cp[b] >= 256) inv[T().cp[b] - 256] = static_cast<int16_t>(b);
    return inv;
  }();
  return inverse[cp - 256];
}

bool IsAlphabetToken(std::string_view token) {
  for (size_t i = 0; i < token.size();) {
    int32_t cp;
    i += utf8::Decode(token, i, &cp);
    if (CodePointToByte(cp) < 0) return false;
  }
  return true;
}

std::string TokenToBytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    int32_t cp;
    i += utf8::Decode(token, i, &cp);
    const int b = CodePointToByte(cp);
    if (b < 0) return std::string(token);
    out.push_back(static_cast<char>(b));
  }
  return out;
}

std::string BytesToToken(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += ByteToSymbol(static_cast<uint8_t>(c));
  return out;
}

}  // namespace iranker::byte_level
