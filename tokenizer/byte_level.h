// tokenizer/byte_level.h — the GPT-2 byte-level alphabet (internal to tokenizer/).
//
// Byte-level BPE vocabularies spell every byte as one printable code point: printable Latin-1
// bytes stand for themselves, the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) for U+0100
// upwards in byte order, so that ' ' is 'Ġ' and '\n' is 'Ċ'. The tokenizer works on raw bytes and
// only uses the alphabet to read and write vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace iranker::byte_level {

// The code point that stands for byte b.
int32_t ByteToCodePoint(uint8_t b);

// The UTF-8 spelling of the symbol for byte b.
const std::string& ByteToSymbol(uint8_t b);

// The byte a code point stands for, or -1 when it is not in the alphabet.
int CodePointToByte(int32_t cp);

// The bytes a vocabulary token spells: each character mapped through the alphabet, or, when some
// character is outside it (added tokens such as "<| a |>"), the token's own UTF-8 bytes. This is
// what Hugging Face's ByteLevel decoder does token by token.
std::string TokenToBytes(std::string_view token);

// True when every character of the token is in the alphabet.
bool IsAlphabetToken(std::string_view token);

// Spells raw bytes in the alphabet.
std::string BytesToToken(std::string_view bytes);

}  // namespace iranker::byte_level
