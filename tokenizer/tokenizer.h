// tokenizer/tokenizer.h — byte-level BPE tokenizers read from a Hugging Face tokenizer.json.
//
// Pipeline (the one Hugging Face `tokenizers` runs for the Qwen2/Qwen3 and Llama-3 families):
//   1. added tokens are split out of the raw text (leftmost-longest; those with "normalized":
//      true are looked for again after normalisation), honouring special/lstrip/rstrip/
//      single_word;
//   2. each remaining section is normalised (NFC etc., see normalizer.h);
//   3. pre-tokenized (Split regex with PCRE2, ByteLevel; see pre_tokenizer.h);
//   4. each piece is merged by BPE rank on its raw bytes (see bpe.h).
// Encode never adds BOS/EOS or template tokens (the post_processor is not applied, as with
// add_special_tokens=False); prompts carry their special tokens in the text (see chatml.h).
//
// Supported files: model type "BPE" whose vocabulary holds the 256 byte-level symbols, merges as
// "a b" strings or ["a", "b"] pairs, ignore_merges; normalizers NFC/NFD/NFKC/NFKD/Lowercase/
// Sequence; pre-tokenizers Split/ByteLevel/Sequence; decoder ByteLevel or null. Anything else,
// and any malformed file, is an iranker::Error naming the file and the problem.
//
// Thread safety: a loaded Tokenizer is immutable apart from an internal, mutex-guarded cache;
// Encode and Decode may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iranker {

class Tokenizer {
 public:
  struct AddedTokenInfo {
    std::string content;
    int32_t id = 0;
    bool special = false;
  };

  // `path`: a tokenizer.json, or a directory holding one. Errors: kNotFound (no file),
  // kDataLoss (not JSON), kInvalidArgument (malformed or unsupported content).
  static std::unique_ptr<Tokenizer> FromFile(const std::string& path);
  // `json_text`: the content of a tokenizer.json; `name` is used in error messages.
  static std::unique_ptr<Tokenizer> FromJson(const std::string& json_text, const std::string& name);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` (bytes; invalid UTF-8 is encoded byte by byte and decodes back to the same
  // bytes). parse_special=false treats the text of special added tokens (e.g. "<|im_end|>") as
  // plain text; non-special added tokens are always recognised (Hugging Face's
  // split_special_tokens).
  std::vector<int32_t> Encode(std::string_view text, bool parse_special = true) const;
  // Appends to *ids instead of returning a new vector.
  void EncodeInto(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const;

  // The bytes the ids spell: vocabulary tokens through the byte-level alphabet, added tokens as
  // their content (as transformers and transformers.js do). Ids without a token (out of range, or
  // holes in the vocabulary such as a model's padding rows) decode to nothing, as in Hugging Face.
  // skip_special drops special added tokens. The result can be invalid UTF-8 when the ids end
  // inside a character; see SanitizeUtf8.
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  std::string Decode(const int32_t* ids, size_t n, bool skip_special = false) const;

  // Id of a token written as in the file (byte-level spelling, e.g. "Ġthe", or an added token's
  // content). Added tokens take precedence, as in Hugging Face.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token as written in the file; nullopt for ids without a token.
  std::optional<std::string> IdToToken(int32_t id) const;
  // The raw bytes one token decodes to (empty for ids without a token).
  std::string_view TokenBytes(int32_t id) const;
  bool IsSpecial(int32_t id) const;

  // One more than the largest id of the vocabulary and the added tokens.
  int32_t vocab_size() const;
  const std::vector<AddedTokenInfo>& added_tokens() const;
  // The file name or the name given to FromJson.
  const std::string& name() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A complete tokenizer.json (loadable by Hugging Face `tokenizers` and by Tokenizer) for a
// byte-level BPE with the 256 byte symbols as ids 0..255, no merges and no normaliser, followed by
// `special_tokens` as special added tokens (ids 256, 257, ...). Every byte string round-trips.
// Throws Error (kInvalidArgument) for an empty or repeated special token.
std::string ByteLevelTokenizerJson(const std::vector<std::string>& special_tokens = {
                                       "<|endoftext|>", "<|im_start|>", "<|im_end|>"});

// `bytes` with each maximal invalid UTF-8 subsequence replaced by U+FFFD (what Hugging Face's
// decode returns: Rust's String::from_utf8_lossy).
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace iranker
