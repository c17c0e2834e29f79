#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "base/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace iranker {
namespace {

using Json = nlohmann::json;

// Ids beyond this are taken as corruption (the tables are indexed by id).
constexpr int64_t kMaxId = (int64_t{1} << 24) - 1;

int32_t IdField(const Json& v, const std::string& where, const std::string& what) {
  if (!v.is_number_integer())
    Fail(ErrorCode::kInvalidArgument, where, ": ", what, " is not an integer id");
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id > kMaxId)
    Fail(ErrorCode::kInvalidArgument, where, ": ", what, " has id ", id, " outside [0, ", kMaxId,
         "]");
  return static_cast<int32_t>(id);
}

bool OptBool(const Json& obj, const char* key, bool fallback, const std::string& where,
             const std::string& what) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean())
    Fail(ErrorCode::kInvalidArgument, where, ": ", what, " field \"", key, "\" is not a boolean");
  return obj[key].get<bool>();
}

bool EmptyOrNullString(const Json& obj, const char* key) {
  return !obj.contains(key) || obj[key].is_null() ||
         (obj[key].is_string() && obj[key].get<std::string>().empty());
}

}  // namespace

struct Tokenizer::Impl {
  std::string name;
  Normalizer normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> bpe;
  AddedTokenMatcher raw_matcher;         // added tokens matched on the input text
  AddedTokenMatcher normalized_matcher;  // added tokens matched after normalisation
  std::vector<AddedTokenInfo> added_info;
  std::unordered_map<std::string, int32_t> vocab;  // file spelling -> id (model vocabulary)
  std::unordered_map<std::string, int32_t> added;  // added token content -> id
  std::vector<std::string> id_token;               // id -> file spelling ("" = no token)
  std::vector<std::string> id_bytes;               // id -> decoded bytes
  std::vector<uint8_t> id_kind;                    // 0 none, 1 vocabulary, 2 added, 3 special
  int32_t vocab_size = 0;

  void Load(const Json& root);
  // The tables indexed by id (spelling, bytes, kind) and the added-token matchers; returns the
  // whole-word tokens an ignore_merges model takes as they are.
  std::unordered_map<std::string, int32_t> BuildIdTables(
      const std::vector<AddedToken>& added_tokens, int64_t max_id, bool ignore_merges);
  void EncodeSection(std::string_view text, bool parse_special, std::vector<int32_t>* ids) const;
  void EncodeNormalized(std::string_view text, std::vector<int32_t>* ids) const;
};

namespace {

// The BPE model object of a tokenizer.json, checked to be byte-level BPE without the features
// this implementation lacks; returns it.
const Json& CheckedBpeModel(const Json& root, const std::string& where) {
  if (!root.is_object())
    Fail(ErrorCode::kInvalidArgument, where, ": top level is not a JSON object");
  if (!root.contains("model") || !root["model"].is_object())
    Fail(ErrorCode::kInvalidArgument, where, ": no \"model\" object");
  const Json& model = root["model"];
  std::string type = "BPE";  // old files omit the type of a BPE model
  if (model.contains("type")) {
    if (!model["type"].is_string())
      Fail(ErrorCode::kInvalidArgument, where, ": model \"type\" is not a string");
    type = model["type"].get<std::string>();
  }
  if (type != "BPE")
    Fail(ErrorCode::kInvalidArgument, where, ": model type '", type,
         "' is not supported (only byte-level BPE)");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    Fail(ErrorCode::kInvalidArgument, where, ": model has no \"vocab\" object");
  if (!model.contains("merges") || !model["merges"].is_array())
    Fail(ErrorCode::kInvalidArgument, where, ": model has no \"merges\" array");
  if (!EmptyOrNullString(model, "continuing_subword_prefix") ||
      !EmptyOrNullString(model, "end_of_word_suffix"))
    Fail(ErrorCode::kInvalidArgument, where,
         ": BPE continuing_subword_prefix/end_of_word_suffix are not supported");
  if (model.contains("dropout") && model["dropout"].is_number() &&
      model["dropout"].get<double>() > 0)
    Fail(ErrorCode::kInvalidArgument, where, ": BPE dropout is not supported");
  return model;
}

// The "added_tokens" array; raises *max_id to their largest id.
std::vector<AddedToken> ReadAddedTokens(const Json& root, const std::string& where,
                                        int64_t* max_id) {
  std::vector<AddedToken> added_tokens;
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return added_tokens;
  if (!root["added_tokens"].is_array())
    Fail(ErrorCode::kInvalidArgument, where, ": \"added_tokens\" is not an array");
  size_t index = 0;
  for (const Json& t : root["added_tokens"]) {
    const std::string what = "added_tokens[" + std::to_string(index++) + "]";
    if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id"))
      Fail(ErrorCode::kInvalidArgument, where, ": ", what, " lacks \"id\" or \"content\"");
    AddedToken a;
    a.content = t["content"].get<std::string>();
    if (a.content.empty()) Fail(ErrorCode::kInvalidArgument, where, ": ", what, " is empty");
    a.id = IdField(t["id"], where, what);
    a.special = OptBool(t, "special", false, where, what);
    a.lstrip = OptBool(t, "lstrip", false, where, what);
    a.rstrip = OptBool(t, "rstrip", false, where, what);
    a.single_word = OptBool(t, "single_word", false, where, what);
    a.normalized = OptBool(t, "normalized", !a.special, where, what);
    *max_id = std::max<int64_t>(*max_id, a.id);
    added_tokens.push_back(a);
  }
  return added_tokens;
}

// The merges, as "a b" strings or ["a", "b"] pairs, each naming vocabulary tokens.
std::vector<BpeModel::Merge> ReadMerges(const Json& merges_json,
                                        const std::unordered_map<std::string, int32_t>& vocab,
                                        const std::string& where) {
  std::vector<BpeModel::Merge> merges;
  merges.reserve(merges_json.size());
  std::string left, right;
  for (size_t r = 0; r < merges_json.size(); ++r) {
    const Json& m = merges_json[r];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() ||
          s.find(' ', sp + 1) != std::string::npos)
        Fail(ErrorCode::kInvalidArgument, where, ": merges[", r, "] '", s,
             "' is not two tokens separated by one space");
      left.assign(s, 0, sp);
      right.assign(s, sp + 1, std::string::npos);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      Fail(ErrorCode::kInvalidArgument, where, ": merges[", r,
           "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto l = vocab.find(left), rt = vocab.find(right), mg = vocab.find(left + right);
    if (l == vocab.end() || rt == vocab.end())
      Fail(ErrorCode::kInvalidArgument, where, ": merges[", r, "] names token '",
           l == vocab.end() ? left : right, "' that is not in the vocab");
    if (mg == vocab.end())
      Fail(ErrorCode::kInvalidArgument, where, ": merges[", r, "] produces '", left + right,
           "' that is not in the vocab");
    merges.push_back({l->second, rt->second, mg->second});
  }
  return merges;
}

}  // namespace

void Tokenizer::Impl::Load(const Json& root) {
  const std::string& where = name;
  const Json& model = CheckedBpeModel(root, where);
  const bool ignore_merges = OptBool(model, "ignore_merges", false, where, "model");

  // Vocabulary and added tokens.
  int64_t max_id = -1;
  vocab.reserve(model["vocab"].size());
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    const int32_t id = IdField(it.value(), where, "vocab token '" + it.key() + "'");
    vocab.emplace(it.key(), id);
    max_id = std::max<int64_t>(max_id, id);
  }
  if (vocab.empty()) Fail(ErrorCode::kInvalidArgument, where, ": model vocab is empty");
  const std::vector<AddedToken> added_tokens = ReadAddedTokens(root, where, &max_id);
  std::unordered_map<std::string, int32_t> whole_words =
      BuildIdTables(added_tokens, max_id, ignore_merges);

  // Byte symbols and merges.
  std::array<int32_t, 256> byte_ids;
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(byte_level::ByteToSymbol(static_cast<uint8_t>(b)));
    if (it == vocab.end())
      Fail(ErrorCode::kInvalidArgument, where, ": vocab lacks the byte-level symbol '",
           byte_level::ByteToSymbol(static_cast<uint8_t>(b)), "' for byte ", b,
           " (only byte-level BPE vocabularies are supported)");
    byte_ids[b] = it->second;
  }
  bpe = std::make_unique<BpeModel>(byte_ids, ReadMerges(model["merges"], vocab, where),
                                   std::move(whole_words), ignore_merges);

  normalizer =
      Normalizer::FromJson(root.contains("normalizer") ? root["normalizer"] : Json(), where);
  pre_tokenizer = PreTokenizer::FromJson(
      root.contains("pre_tokenizer") ? root["pre_tokenizer"] : Json(), where);
  if (root.contains("decoder") && !root["decoder"].is_null()) {
    const Json& d = root["decoder"];
    if (!d.is_object() || !d.contains("type") || d["type"] != "ByteLevel")
      Fail(ErrorCode::kInvalidArgument, where, ": decoder ",
           d.is_object() && d.contains("type") ? d["type"].dump() : d.dump(),
           " is not supported (only ByteLevel)");
  }
}

std::unordered_map<std::string, int32_t> Tokenizer::Impl::BuildIdTables(
    const std::vector<AddedToken>& added_tokens, int64_t max_id, bool ignore_merges) {
  const std::string& where = name;
  // Tables are indexed by id: refuse files whose ids are mostly holes (a corrupt id would
  // otherwise cost gigabytes).
  const int64_t count = static_cast<int64_t>(vocab.size() + added_tokens.size());
  if (max_id > 2 * count + 65536)
    Fail(ErrorCode::kInvalidArgument, where, ": largest token id ", max_id, " for only ", count,
         " tokens");
  vocab_size = static_cast<int32_t>(max_id + 1);
  id_token.assign(vocab_size, std::string());
  id_bytes.assign(vocab_size, std::string());
  id_kind.assign(vocab_size, 0);
  std::unordered_map<std::string, int32_t> whole_words;  // ignore_merges: whole-word tokens
  for (const auto& [token, id] : vocab) {
    if (id_kind[id] != 0)
      Fail(ErrorCode::kInvalidArgument, where, ": vocab gives id ", id, " to both '", id_token[id],
           "' and '", token, "'");
    id_kind[id] = 1;
    id_token[id] = token;
    id_bytes[id] = byte_level::TokenToBytes(token);
    if (ignore_merges && byte_level::IsAlphabetToken(token)) whole_words.emplace(id_bytes[id], id);
  }
  for (const AddedToken& a : added_tokens) {
    // An added token may restate a vocabulary entry; it then keeps the vocabulary's spelling.
    id_kind[a.id] = a.special ? 3 : 2;
    id_token[a.id] = a.content;
    id_bytes[a.id] = a.content;  // an added token's text is its content (as transformers does)
    added[a.content] = a.id;
    added_info.push_back({a.content, a.id, a.special});
  }
  raw_matcher = AddedTokenMatcher(added_tokens, [](const AddedToken& t) { return !t.normalized; });
  normalized_matcher =
      AddedTokenMatcher(added_tokens, [](const AddedToken& t) { return t.normalized; });
  return whole_words;
}

void Tokenizer::Impl::EncodeNormalized(std::string_view text, std::vector<int32_t>* ids) const {
  struct Scratch {
    std::string text;
    std::vector<Span> pieces, tmp;
  };
  thread_local Scratch s;
  s.text.assign(text.data(), text.size());
  pre_tokenizer->Split(&s.text, &s.pieces, &s.tmp);
  const std::string_view all(s.text);
  for (const Span& p : s.pieces) bpe->Encode(all.substr(p.begin, p.end - p.begin), ids);
}

void Tokenizer::Impl::EncodeSection(std::string_view text, bool parse_special,
                                    std::vector<int32_t>* ids) const {
  if (text.empty()) return;
  if (normalizer.identity() && normalized_matcher.empty()) return EncodeNormalized(text, ids);
  thread_local std::string norm;  // EncodeNormalized copies what it needs: no re-entry issue
  normalizer.Apply(text, &norm);
  if (normalized_matcher.empty()) return EncodeNormalized(norm, ids);
  thread_local std::vector<AddedTokenMatcher::Match> matches;
  matches.clear();
  normalized_matcher.FindAll(norm, parse_special, &matches);
  const std::string_view all(norm);
  size_t cur = 0;
  for (const auto& m : matches) {
    if (m.begin > cur) EncodeNormalized(all.substr(cur, m.begin - cur), ids);
    ids->push_back(m.id);
    cur = m.end;
  }
  if (cur < all.size()) EncodeNormalized(all.substr(cur), ids);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::FromJson(const std::string& json_text,
                                               const std::string& name) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& e) {
    Fail(ErrorCode::kDataLoss, name, ": not valid JSON: ", e.what());
  }
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  try {
    impl->Load(root);
  } catch (const Json::exception& e) {  // a field of an unexpected JSON type
    Fail(ErrorCode::kInvalidArgument, name, ": malformed tokenizer.json: ", e.what());
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::unique_ptr<Tokenizer> Tokenizer::FromFile(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string file =
      fs::is_directory(path, ec) ? (fs::path(path) / "tokenizer.json").string() : path;
  if (!fs::is_regular_file(file, ec))
    Fail(ErrorCode::kNotFound, "tokenizer file '", file, "' not found");
  std::ifstream in(file, std::ios::binary);
  if (!in) Fail(ErrorCode::kNotFound, "cannot open tokenizer file '", file, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return FromJson(ss.str(), file);
}

void Tokenizer::EncodeInto(std::string_view text, bool parse_special,
                           std::vector<int32_t>* ids) const {
  const Impl& m = *impl_;
  if (text.size() > std::numeric_limits<uint32_t>::max())  // spans hold 32-bit offsets
    Fail(ErrorCode::kInvalidArgument, m.name, ": cannot encode a text of ", text.size(),
         " bytes (at most 4 GiB)");
  if (m.raw_matcher.empty()) return m.EncodeSection(text, parse_special, ids);
  thread_local std::vector<AddedTokenMatcher::Match> matches;
  matches.clear();
  m.raw_matcher.FindAll(text, parse_special, &matches);
  if (matches.empty()) return m.EncodeSection(text, parse_special, ids);
  size_t cur = 0;
  for (const auto& mt : matches) {
    if (mt.begin > cur) m.EncodeSection(text.substr(cur, mt.begin - cur), parse_special, ids);
    ids->push_back(mt.id);
    cur = mt.end;
  }
  if (cur < text.size()) m.EncodeSection(text.substr(cur), parse_special, ids);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  EncodeInto(text, parse_special, &ids);
  return ids;
}

std::string Tokenizer::Decode(const int32_t* ids, size_t n, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  out.reserve(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= m.vocab_size) continue;
    if (skip_special && m.id_kind[id] == 3) continue;
    out += m.id_bytes[id];
  }
  return out;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special) const {
  return Decode(ids.data(), ids.size(), skip_special);
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  const std::string key(token);
  if (auto it = impl_->added.find(key); it != impl_->added.end()) return it->second;
  if (auto it = impl_->vocab.find(key); it != impl_->vocab.end()) return it->second;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size || impl_->id_kind[id] == 0) return std::nullopt;
  return impl_->id_token[id];
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return {};
  return impl_->id_bytes[id];
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < impl_->vocab_size && impl_->id_kind[id] == 3;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

const std::vector<Tokenizer::AddedTokenInfo>& Tokenizer::added_tokens() const {
  return impl_->added_info;
}

const std::string& Tokenizer::name() const { return impl_->name; }

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    int32_t cp;
    const int len = utf8::Decode(bytes, i, &cp);
    if (cp < 0)
      out += "\xEF\xBF\xBD";
    else
      out.append(bytes.data() + i, len);
    i += len;
  }
  return out;
}

}  // namespace iranker
