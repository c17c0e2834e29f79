// `iranker tokenize`: encode text to token ids, or decode ids to text, one record per line.
//
// Encoding reads UTF-8 lines on stdin and writes, per line, its token ids separated by spaces (an
// empty line gives an empty line). The newline ending a line is not part of the text, so a text
// that itself holds newlines cannot be given this way; with -z/--null-data records are separated
// by NUL bytes instead, in both directions (as `sort -z`), and newlines are ordinary text.
// Decoding (--decode) reads lines of space-separated ids and writes the decoded text of each
// followed by the record separator. Nothing is escaped: a decoded text that holds newlines
// spans several output lines, so use -z when the texts may hold them (the pair
// `tokenize -z | tokenize --decode -z` then reproduces its input byte for byte). Decoded bytes
// are written as they are, even when the ids end inside a UTF-8 character.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/token_ids.h"
#include "tokenizer/tokenizer.h"

namespace iranker {

void AddTokenizeCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "tokenize", "Encode stdin lines to token ids (or --decode ids to text), one per line");
  struct Opts {
    std::string tokenizer;
    bool decode = false, null_data = false, plain_special = false, skip_special = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer.json, or a directory holding one")
      ->required();
  cmd->add_flag("--decode", o->decode, "Read lines of space-separated ids and write their text");
  cmd->add_flag("-z,--null-data", o->null_data,
                "Records are separated by NUL instead of newline (texts may hold newlines)");
  cmd->add_flag("--plain-special", o->plain_special,
                "Encode: treat the text of special tokens such as <|im_end|> as plain text");
  cmd->add_flag("--skip-special", o->skip_special, "Decode: leave special tokens out");
  cmd->callback([o] {
    auto tok = Tokenizer::FromFile(o->tokenizer);
    const char sep = o->null_data ? '\0' : '\n';
    std::ios::sync_with_stdio(false);
    std::string record, out;
    std::vector<int32_t> ids;
    size_t n = 0;
    while (std::getline(std::cin, record, sep)) {
      ++n;
      out.clear();
      if (o->decode) {
        out = tok->Decode(ParseTokenIds(record, "stdin record " + std::to_string(n),
                                        tok->vocab_size(), "tokenizer's"),
                          o->skip_special);
      } else {
        ids.clear();
        tok->EncodeInto(record, /*parse_special=*/!o->plain_special, &ids);
        for (size_t i = 0; i < ids.size(); ++i) {
          if (i) out += ' ';
          out += std::to_string(ids[i]);
        }
      }
      out += sep;
      std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    }
    std::cout.flush();
    if (!std::cout) Fail(ErrorCode::kUnavailable, "tokenize: cannot write to stdout");
  });
}

}  // namespace iranker
