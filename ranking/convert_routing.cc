// A routing score table (RouterBench CSV layout) -> routing records.
#include <algorithm>
#include <map>

#include "base/atomic_file.h"
#include "base/error.h"
#include "ranking/convert.h"
#include "ranking/csv.h"
#include "ranking/text.h"

namespace iranker {
namespace {

// RouterBench stores prompts as Python list literals: "['text']" (or with double quotes).
std::string UnwrapPythonList(const std::string& s) {
  std::string t = Trim(s);
  if (t.size() < 4 || t.front() != '[' || t.back() != ']') return t;
  std::string inner = Trim(t.substr(1, t.size() - 2));
  if (inner.size() < 2 || (inner.front() != '\'' && inner.front() != '"') ||
      inner.back() != inner.front())
    return t;
  inner = inner.substr(1, inner.size() - 2);
  std::string out;
  for (size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '\\' && i + 1 < inner.size()) {
      const char c = inner[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += inner[i];
    }
  }
  return out;
}

double Number(const std::string& s, const std::string& where) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == Trim(s).size() || used == s.size()) return v;
  } catch (const std::exception&) {
  }
  Fail(ErrorCode::kInvalidArgument, where, ": '", s, "' is not a number");
}

}  // namespace

std::map<std::string, std::string> ReadModelDescriptions(const std::string& path) {
  auto j = nlohmann::json::parse(ReadFile(path), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    Fail(ErrorCode::kInvalidArgument, path, ": expected {\"model\": \"description\"}");
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      Fail(ErrorCode::kInvalidArgument, path, ": the description of '", it.key(),
           "' is not a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

std::vector<QueryRecord> ConvertRoutingCsv(const RoutingCsvOptions& o, ConvertStats* stats) {
  std::map<std::string, std::string> descriptions;
  if (!o.models_json.empty()) descriptions = ReadModelDescriptions(o.models_json);
  CsvReader csv(o.csv);
  std::vector<std::string> header, row;
  if (!csv.Next(&header)) Fail(ErrorCode::kInvalidArgument, o.csv, ": empty file");
  auto column = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int query_col = column(o.query_column);
  if (query_col < 0)
    Fail(ErrorCode::kInvalidArgument, o.csv, ":1: no query column '", o.query_column, "'");
  const int id_col = o.id_column.empty() ? -1 : column(o.id_column);
  struct ModelCols {
    std::string name;
    int score, cost;
  };
  std::vector<ModelCols> models;
  for (size_t c = 0; c < header.size(); ++c) {
    const int cost = column(header[c] + "|total_cost");
    if (cost >= 0 && !header[c].empty()) models.push_back({header[c], static_cast<int>(c), cost});
  }
  if (models.size() < 2)
    Fail(ErrorCode::kInvalidArgument, o.csv,
         ":1: fewer than 2 models found (a model M needs columns 'M' and 'M|total_cost')");
  std::vector<QueryRecord> out;
  int64_t flat = 0, missing = 0;
  while (csv.Next(&row)) {
    const std::string where = o.csv + ":" + std::to_string(csv.line());
    if (row.size() != header.size())
      Fail(ErrorCode::kInvalidArgument, where, ": ", row.size(), " fields, header has ",
           header.size());
    std::vector<double> quality, cost, utility;
    bool incomplete = false;
    for (const auto& m : models)
      incomplete |= Trim(row[m.score]).empty() || Trim(row[m.cost]).empty();
    if (incomplete) {
      ++missing;
      continue;
    }
    for (const auto& m : models) {
      quality.push_back(Number(row[m.score], where + " column '" + m.name + "'"));
      cost.push_back(Number(row[m.cost], where + " column '" + m.name + "|total_cost'"));
    }
    const double max_cost = *std::max_element(cost.begin(), cost.end());
    for (size_t i = 0; i < models.size(); ++i)
      utility.push_back(o.quality_weight * quality[i] -
                        (max_cost > 0 ? o.cost_weight * cost[i] / max_cost : 0.0));
    const double best = *std::max_element(utility.begin(), utility.end());
    const double worst = *std::min_element(utility.begin(), utility.end());
    if (best - worst < 1e-12) {
      ++flat;
      continue;
    }
    QueryRecord r;
    r.id = id_col >= 0 ? row[id_col] : std::to_string(csv.line());
    r.task = o.task;
    r.scenario = "routing";
    r.query = UnwrapPythonList(row[query_col]);
    if (r.query.empty()) r.query = "(empty query)";
    for (size_t i = 0; i < models.size(); ++i) {
      auto d = descriptions.find(models[i].name);
      r.candidates.push_back({models[i].name, d == descriptions.end()
                                                  ? models[i].name
                                                  : models[i].name + ": " + d->second});
      r.relevance.push_back(utility[i] >= best - 1e-12 ? 1.0 : 0.0);
    }
    r.extra["quality"] = quality;
    r.extra["cost"] = cost;
    r.extra["utility"] = utility;
    r.extra["weights"] = {o.quality_weight, o.cost_weight};
    ValidateRecord(r);
    out.push_back(std::move(r));
  }
  if (stats) {
    stats->records = static_cast<int64_t>(out.size());
    stats->skipped = flat + missing;
    if (missing)
      stats->notes.push_back(std::to_string(missing) +
                             " rows skipped: a score or cost cell is empty");
    if (flat)
      stats->notes.push_back(std::to_string(flat) +
                             " rows skipped: every model has the same utility (no ranking signal)");
  }
  return out;
}

}  // namespace iranker
