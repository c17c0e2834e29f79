// Fuzz target: the tokenizer. The input is split at its first NUL byte: the part before is a
// tokenizer.json (Tokenizer::FromJson, which every model directory brings), the part after a text
// to encode. When the input has no NUL the text is encoded with the bundled quickstart tokenizer
// instead, so that both the loader and the encoder (added tokens, regex pre-tokenizer, BPE) are
// reached. Properties: loading raises only iranker::Error; every id is inside the vocabulary; the
// text decodes again without error.
#include <cstring>
#include <memory>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tokenizer/tokenizer.h"

namespace {
const iranker::Tokenizer& Bundled() {
  static std::unique_ptr<iranker::Tokenizer> t = iranker::Tokenizer::FromFile(
      std::string(IRANKER_SOURCE_DIR) + "/data/tokenizer/quickstart/tokenizer.json");
  return *t;
}

void EncodeWith(const iranker::Tokenizer& tok, std::string_view text) {
  for (bool special : {true, false}) {
    const auto ids = tok.Encode(text, special);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size())
        iranker::fuzz::Violation("fuzz_tokenizer",
                                 "id " + std::to_string(id) + " outside the vocabulary");
    (void)tok.Decode(ids);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(p, 0, size);
  if (!nul) {
    EncodeWith(Bundled(), std::string_view(p, size));
    return 0;
  }
  const size_t json_size = static_cast<const char*>(nul) - p;
  const std::string_view text(p + json_size + 1, size - json_size - 1);
  iranker::fuzz::ExpectOnlyErrors("fuzz_tokenizer", [&] {
    auto tok = iranker::Tokenizer::FromJson(std::string(p, json_size), "fuzz.json");
    EncodeWith(*tok, text);
  });
  return 0;
}
