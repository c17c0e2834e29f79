#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "base/error.h"
#include "tokenizer/utf8.h"

namespace iranker {

Normalizer Normalizer::FromJson(const nlohmann::json& j, const std::string& where) {
  Normalizer n;
  ParseInto(j, where, &n.steps_);
  return n;
}

void Normalizer::ParseInto(const nlohmann::json& j, const std::string& where,
                           std::vector<Step>* steps) {
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    Fail(ErrorCode::kInvalidArgument, where,
         ": normalizer must be null or an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "NFC")
    steps->push_back(Step::kNFC);
  else if (type == "NFD")
    steps->push_back(Step::kNFD);
  else if (type == "NFKC")
    steps->push_back(Step::kNFKC);
  else if (type == "NFKD")
    steps->push_back(Step::kNFKD);
  else if (type == "Lowercase")
    steps->push_back(Step::kLowercase);
  else if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      Fail(ErrorCode::kInvalidArgument, where,
           ": Sequence normalizer without a \"normalizers\" array");
    for (const auto& sub : j["normalizers"]) ParseInto(sub, where, steps);
  } else {
    Fail(ErrorCode::kInvalidArgument, where, ": normalizer type '", type,
         "' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence)");
  }
}

void Normalizer::Apply(std::string_view in, std::string* out) const {
  if (steps_.empty()) {
    out->assign(in);
    return;
  }
  if (steps_.size() == 1) {
    ApplyStep(steps_[0], in, out);
    return;
  }
  std::string tmp(in);
  for (Step s : steps_) {
    ApplyStep(s, tmp, out);
    tmp.swap(*out);
  }
  out->swap(tmp);
}

namespace {

// Normalises one valid UTF-8 stretch with utf8proc and appends it.
void MapValid(std::string_view run, utf8proc_option_t options, std::string* out) {
  if (run.empty()) return;
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()),
                                          static_cast<utf8proc_ssize_t>(run.size()), &dst, options);
  if (n < 0) {  // cannot happen on valid input; keep the text rather than lose it
    out->append(run);
    return;
  }
  out->append(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
  std::free(dst);
}

}  // namespace

void Normalizer::ApplyStep(Step step, std::string_view in, std::string* out) {
  out->clear();
  if (utf8::IsAscii(in)) {  // all four normal forms are the identity on ASCII
    out->assign(in);
    if (step == Step::kLowercase)
      for (char& c : *out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return;
  }
  out->reserve(in.size() + in.size() / 8);
  if (step == Step::kLowercase) {
    for (size_t i = 0; i < in.size();) {
      int32_t cp;
      const int len = utf8::Decode(in, i, &cp);
      if (cp < 0)
        out->append(in.substr(i, len));
      else
        utf8::Append(utf8proc_tolower(cp), out);
      i += len;
    }
    return;
  }
  int options = UTF8PROC_STABLE;
  if (step == Step::kNFC || step == Step::kNFKC)
    options |= UTF8PROC_COMPOSE;
  else
    options |= UTF8PROC_DECOMPOSE;
  if (step == Step::kNFKC || step == Step::kNFKD) options |= UTF8PROC_COMPAT;
  // Normalise the valid stretches; invalid bytes pass through as they are.
  size_t run_start = 0;
  for (size_t i = 0; i < in.size();) {
    int32_t cp;
    const int len = utf8::Decode(in, i, &cp);
    if (cp < 0) {
      MapValid(in.substr(run_start, i - run_start), static_cast<utf8proc_option_t>(options), out);
      out->append(in.substr(i, len));
      run_start = i + len;
    }
    i += len;
  }
  MapValid(in.substr(run_start), static_cast<utf8proc_option_t>(options), out);
}

}  // namespace iranker
