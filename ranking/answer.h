// ranking/answer.h — reading a policy response: the think/answer layout, tag counts and the
// answer text. Operates on the assistant turn only (the pre-filled prefix plus the generated
// text, never the prompt: scoring the prompt made the reference's format terms constant).
//
// The expected layout is   [preamble] <think> ... </think> <answer> ... </answer>
// with each of the four tags exactly once, in that order, only whitespace between </think> and
// <answer>, and only whitespace after </answer>. Any preamble before <think> is allowed (the
// pre-filled "Let me solve this step by step.").
#pragma once

#include <string>
#include <string_view>

namespace iranker {

struct ParsedResponse {
  int think_open = 0, think_close = 0, answer_open = 0, answer_close = 0;  // occurrences
  bool layout_ok = false;                                                  // the layout above holds
  bool has_answer = false;  // an <answer> ... </answer> block with non-blank content exists
  std::string answer;  // that content, trimmed (the last <answer> and the first </answer> after it)

  // How many of the four tags do not occur exactly once (0..4).
  int TagsNotExactlyOnce() const;
};

ParsedResponse ParseResponse(std::string_view assistant_text);

// Removes one leading enumeration prefix "N. " or "N) " (N = 1-4 digits, then at least one space),
// e.g. "3. The Matrix" -> "The Matrix". Other text is returned trimmed, unchanged.
std::string StripNumbering(std::string_view line);

// The 1-based label a line names on its own — "3", "[3]", "(3)", "#3", "3.", "passage 3",
// "Candidate [3]", "model 3", "item 3", "option 3", "document 3" (case-insensitive) — or 0.
int ParseLabel(std::string_view line);

}  // namespace iranker
