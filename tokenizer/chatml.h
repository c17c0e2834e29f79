// tokenizer/chatml.h — ChatML prompt formatting used by the Qwen chat models.
#pragma once

#include <string>
#include <vector>

namespace iranker {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

// "<|im_start|>{role}\n{content}<|im_end|>\n" per message, then "<|im_start|>assistant\n" when
// add_generation_prompt. This is the rendering of Qwen's chat template for plain-text messages
// (no tools); unlike Qwen2.5's template it adds no default system message: pass one explicitly.
std::string FormatChatML(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

}  // namespace iranker
