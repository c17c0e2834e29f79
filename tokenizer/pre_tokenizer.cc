#include "tokenizer/pre_tokenizer.h"

#include "base/error.h"

namespace iranker {
namespace {

// The GPT-2 pattern that ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

bool BoolField(const nlohmann::json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean())
    Fail(ErrorCode::kInvalidArgument, where, ": pre_tokenizer field \"", key,
         "\" must be a boolean");
  return j[key].get<bool>();
}

}  // namespace

PreTokenizer::~PreTokenizer() = default;

std::unique_ptr<PreTokenizer> PreTokenizer::FromJson(const nlohmann::json& j,
                                                     const std::string& where) {
  auto p = std::make_unique<PreTokenizer>();
  p->Parse(j, where);
  return p;
}

void PreTokenizer::Parse(const nlohmann::json& j, const std::string& where) {
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    Fail(ErrorCode::kInvalidArgument, where,
         ": pre_tokenizer must be null or an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      Fail(ErrorCode::kInvalidArgument, where,
           ": Sequence pre_tokenizer without a \"pretokenizers\" array");
    for (const auto& sub : j["pretokenizers"]) Parse(sub, where);
  } else if (type == "Split") {
    Stage s;
    const auto& pat = j.contains("pattern") ? j["pattern"] : nlohmann::json();
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
      s.regex = std::make_unique<Regex>(pat["Regex"].get<std::string>(), /*literal=*/false, where);
    } else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
      s.regex = std::make_unique<Regex>(pat["String"].get<std::string>(), /*literal=*/true, where);
    } else {
      Fail(ErrorCode::kInvalidArgument, where,
           ": Split pre_tokenizer needs \"pattern\": {\"Regex\": ...} or {\"String\": ...}");
    }
    const std::string behavior =
        j.contains("behavior") && j["behavior"].is_string() ? j["behavior"].get<std::string>() : "";
    if (behavior == "Isolated")
      s.behavior = Behavior::kIsolated;
    else if (behavior == "Removed")
      s.behavior = Behavior::kRemoved;
    else if (behavior == "MergedWithPrevious")
      s.behavior = Behavior::kMergedWithPrevious;
    else if (behavior == "MergedWithNext")
      s.behavior = Behavior::kMergedWithNext;
    else if (behavior == "Contiguous")
      s.behavior = Behavior::kContiguous;
    else
      Fail(ErrorCode::kInvalidArgument, where, ": Split behavior '", behavior,
           "' is not one of Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous");
    s.invert = BoolField(j, "invert", false, where);
    stages_.push_back(std::move(s));
  } else if (type == "ByteLevel") {
    has_byte_level_ = true;
    // Hugging Face's defaults when a field is absent: add_prefix_space and use_regex are true.
    if (BoolField(j, "add_prefix_space", true, where)) stages_.push_back(Stage{});
    if (BoolField(j, "use_regex", true, where)) {
      Stage s;
      s.regex = std::make_unique<Regex>(kGpt2Pattern, /*literal=*/false, where);
      stages_.push_back(std::move(s));
    }
  } else {
    Fail(ErrorCode::kInvalidArgument, where, ": pre_tokenizer type '", type,
         "' is not supported (supported: Split, ByteLevel, Sequence)");
  }
}

void PreTokenizer::SplitPiece(const Stage& stage, const std::string& text, Span piece,
                              std::vector<Span>* matches, std::vector<Span>* out) {
  matches->clear();
  stage.regex->FindAll(std::string_view(text).substr(piece.begin, piece.end - piece.begin),
                       piece.begin, matches);
  if (matches->empty() && !stage.invert) {  // the common case for short pieces
    out->push_back(piece);
    return;
  }
  // Lay the piece out as alternating gaps and matches, each flagged "delimiter" (a match, or a gap
  // when inverted), then apply the behaviour to the delimiters.
  struct Part {
    Span span;
    bool delim;
  };
  thread_local std::vector<Part> parts;
  parts.clear();
  uint32_t cur = piece.begin;
  for (const Span& m : *matches) {
    if (m.begin > cur) parts.push_back({{cur, m.begin}, stage.invert});
    parts.push_back({m, !stage.invert});
    cur = m.end;
  }
  if (cur < piece.end) parts.push_back({{cur, piece.end}, stage.invert});

  switch (stage.behavior) {
    case Behavior::kIsolated:
      for (const Part& p : parts) out->push_back(p.span);
      break;
    case Behavior::kRemoved:
      for (const Part& p : parts)
        if (!p.delim) out->push_back(p.span);
      break;
    case Behavior::kMergedWithPrevious:  // a delimiter joins the non-delimiter before it
      for (size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].delim && i > 0 && !parts[i - 1].delim)
          out->back().end = parts[i].span.end;
        else
          out->push_back(parts[i].span);
      }
      break;
    case Behavior::kMergedWithNext:  // a delimiter joins the non-delimiter after it
      for (size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].delim && i + 1 < parts.size() && !parts[i + 1].delim) {
          out->push_back({parts[i].span.begin, parts[i + 1].span.end});
          ++i;
        } else {
          out->push_back(parts[i].span);
        }
      }
      break;
    case Behavior::kContiguous: {
      bool last_delim = false;
      for (size_t i = 0; i < parts.size(); ++i) {
        const Part& p = parts[i];
        if (i > 0 && p.delim && last_delim)
          out->back().end = p.span.end;
        else
          out->push_back(p.span);
        last_delim = p.delim;
      }
      break;
    }
  }
}

void PreTokenizer::Split(std::string* text, std::vector<Span>* pieces,
                         std::vector<Span>* tmp) const {
  pieces->clear();
  if (text->empty()) return;
  pieces->push_back({0, static_cast<uint32_t>(text->size())});
  thread_local std::vector<Span> matches;
  for (const Stage& stage : stages_) {
    tmp->clear();
    if (!stage.regex) {
      // Prefix a space to every piece that lacks one; the text is rebuilt piece by piece.
      std::string rebuilt;
      rebuilt.reserve(text->size() + pieces->size());
      for (const Span& p : *pieces) {
        const uint32_t b = static_cast<uint32_t>(rebuilt.size());
        if ((*text)[p.begin] != ' ') rebuilt.push_back(' ');
        rebuilt.append(*text, p.begin, p.end - p.begin);
        tmp->push_back({b, static_cast<uint32_t>(rebuilt.size())});
      }
      text->swap(rebuilt);
    } else {
      for (const Span& p : *pieces) SplitPiece(stage, *text, p, &matches, tmp);
    }
    pieces->swap(*tmp);
  }
}

}  // namespace iranker
