// ranking/prompt.h — the policy's prompts: editable templates under configs/prompts/, one per
// scenario (recommendation, routing, passage) and mode (iranker, dranker), filled from a record
// and wrapped in Qwen ChatML with a pre-filled assistant turn.
//
// Template file "<scenario>_<mode>.txt": optional '#' comment lines, then a "[system]" line and
// the system text, then a "[user]" line and the user text. Placeholders in the texts:
//   {{task}} {{query}}      record fields
//   {{history}}             extra.history, one "- item" line each, oldest first, the last
//                           max_history items ("(no history)" when there is none)
//   {{candidates}}          the shown candidates, one "N. text" line each, N from 1
//   {{num_candidates}}      how many are shown
//   {{items}}               what the candidates are, plural: extra.item_noun ("movies", "CDs"),
//                           else "items" / "models" / "passages" by scenario
//   {{preference}}          routing trade-off, from extra.preference: "performance", "balance"
//                           and "cost" become a sentence (PreferenceText), other text is shown
//                           as written; "" when absent (so its line is dropped)
// A template line whose placeholders all render empty is dropped (e.g. "{{query}}" for a
// recommendation record without a query, "Preference: {{preference}}" for a record without one). An
// unknown placeholder or a missing section is Error(kInvalidArgument) naming file and line; a
// missing file is Error(kNotFound).
//
// Rendered text (chat_format "chatml"):
//   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n
//   <|im_start|>assistant\n{assistant_prefill}
// With chat_format "plain": "{system}\n\n{user}\n\n{assistant_prefill}".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/fields.h"
#include "ranking/record.h"

namespace iranker {

// How a prompt is wrapped for the model (prompt.chat_format).
enum class ChatFormat { kChatml, kPlain };
inline const EnumNames<ChatFormat>& NamesOf(ChatFormat) {
  static const EnumNames<ChatFormat> names = {{ChatFormat::kChatml, "chatml"},
                                              {ChatFormat::kPlain, "plain"}};
  return names;
}

struct PromptOptions {
  // Directory of the template files (relative to the working directory).
  std::string dir = "configs/prompts";
  // Scenario used for records that do not name one.
  std::string default_scenario = "passage";
  // Text the assistant turn starts with; the policy continues it. The reward reads this prefix
  // plus the generation (ranking/answer.h).
  std::string assistant_prefill = "Let me solve this step by step.\n<think>";
  // "chatml" (Qwen) or "plain".
  ChatFormat chat_format = ChatFormat::kChatml;
  // Most recent history items shown.
  int max_history = 20;
  // Longest candidate text shown, in bytes (cut at a word boundary, " ..." appended); 0 = all.
  int max_candidate_chars = 0;

  template <class V>
  void Visit(V& v) {
    v.Field("dir", dir, "Directory of the prompt templates <scenario>_<mode>.txt.");
    v.Field("default_scenario", default_scenario, "Scenario of records that name none.",
            OneOf({"recommendation", "routing", "passage"}));
    v.Field("assistant_prefill", assistant_prefill,
            "Text the assistant turn starts with; the reward reads it plus the generation.");
    v.Field("chat_format", chat_format, "Chat wrapping of the prompt.");
    v.Field("max_history", max_history, "Most recent history items shown.", AtLeast(0));
    v.Field("max_candidate_chars", max_candidate_chars,
            "Longest candidate text shown (bytes, cut at a word); 0 = no limit.", AtLeast(0));
  }
};

// {{items}} and {{preference}} of a record (see above).
std::string ItemNoun(const QueryRecord& record, const std::string& scenario);
std::string PreferenceText(const QueryRecord& record);

enum class RankMode { kIRanker, kDRanker };
const char* RankModeName(RankMode m);  // "iranker" / "dranker"

struct PromptTemplate {
  std::string path;  // where it was read from, for messages
  std::string system;
  std::string user;
};

// Parses template text; `path` only labels errors.
PromptTemplate ParsePromptTemplate(const std::string& text, const std::string& path);

// All six templates of a directory, loaded once; rendering is then pure and thread-compatible.
class PromptSet {
 public:
  explicit PromptSet(const PromptOptions& options);

  // The full prompt for `record`, showing `shown` (candidate texts in display order, e.g.
  // PoolTexts of an episode) under the record's scenario (or default_scenario).
  std::string Render(const QueryRecord& record, const std::vector<std::string>& shown,
                     RankMode mode) const;
  // Same, all candidates in record order.
  std::string Render(const QueryRecord& record, RankMode mode) const;

  const PromptOptions& options() const { return options_; }

 private:
  PromptOptions options_;
  std::map<std::string, PromptTemplate> templates_;  // key "<scenario>_<mode>"
};

// "N. text" lines, N from 1; texts longer than max_chars (> 0) are cut at a word boundary.
std::string FormatCandidates(const std::vector<std::string>& texts, int max_chars);

// The ChatML wrapping described above.
std::string ChatMl(const std::string& system, const std::string& user, const std::string& prefill);

}  // namespace iranker
