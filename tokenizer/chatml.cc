#include "tokenizer/chatml.h"

namespace iranker {

std::string FormatChatML(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  size_t size = 32;
  for (const auto& m : messages) size += m.role.size() + m.content.size() + 26;
  out.reserve(size);
  for (const auto& m : messages) {
    out += "<|im_start|>";
    out += m.role;
    out += '\n';
    out += m.content;
    out += "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace iranker
