// GraphRouter's router_data.csv (long format: one row per query and model) -> routing records,
// built as the IRanker reference code builds Router-Performance/-Balance/-Cost.
#include <algorithm>
#include <cmath>
#include <map>

#include "base/error.h"
#include "ranking/convert.h"
#include "ranking/csv.h"
#include "ranking/text.h"

namespace iranker {
namespace {

double Number(const std::string& s, const std::string& where) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if ((used == Trim(s).size() || used == s.size()) && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  Fail(ErrorCode::kInvalidArgument, where, ": '", s, "' is not a number");
}

struct Block {
  std::string task_id, query;
  int64_t line = 0;  // where the block starts
  std::vector<std::string> llms;
  std::vector<double> effect, cost;
  bool bad_number = false;
};

}  // namespace

const std::vector<std::string>& RoutingPreferences() {
  static const std::vector<std::string> kAll = {"performance", "balance", "cost"};
  return kAll;
}

std::pair<double, double> RoutingPreferenceWeights(const std::string& preference) {
  if (preference == "performance") return {1.0, 0.0};
  if (preference == "balance") return {0.5, 0.5};
  if (preference == "cost") return {0.2, 0.8};
  Fail(ErrorCode::kInvalidArgument, "unknown routing preference '", preference,
       "' (known: performance, balance, cost)");
}

std::vector<QueryRecord> ConvertGraphRouter(const GraphRouterOptions& o, ConvertStats* stats) {
  const auto [w_effect, w_cost] = RoutingPreferenceWeights(o.preference);
  std::map<std::string, std::string> descriptions;
  if (!o.models_json.empty()) descriptions = ReadModelDescriptions(o.models_json);
  CsvReader csv(o.csv);
  std::vector<std::string> header, row;
  if (!csv.Next(&header)) Fail(ErrorCode::kInvalidArgument, o.csv, ": empty file");
  auto require = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
      Fail(ErrorCode::kInvalidArgument, o.csv, ":1: no '", name,
           "' column (router_data.csv has task_id, query, llm, effect, cost, ...)");
    return static_cast<int>(it - header.begin());
  };
  const int task_col = require("task_id"), query_col = require("query"), llm_col = require("llm"),
            effect_col = require("effect"), cost_col = require("cost");

  // Consecutive rows of one (task_id, query) form a block, one row per model; a model seen twice
  // starts a new block (a query asked twice in a row).
  std::vector<Block> blocks;
  std::map<std::string, int64_t> dropped_tasks;
  while (csv.Next(&row)) {
    const std::string where = o.csv + ":" + std::to_string(csv.line());
    if (row.size() != header.size())
      Fail(ErrorCode::kInvalidArgument, where, ": ", row.size(), " fields, header has ",
           header.size());
    const std::string& task = row[task_col];
    if (std::find(o.drop_tasks.begin(), o.drop_tasks.end(), task) != o.drop_tasks.end()) {
      ++dropped_tasks[task];
      continue;
    }
    const std::string llm = Trim(row[llm_col]);
    if (blocks.empty() || blocks.back().task_id != task || blocks.back().query != row[query_col] ||
        std::find(blocks.back().llms.begin(), blocks.back().llms.end(), llm) !=
            blocks.back().llms.end())
      blocks.push_back({task, row[query_col], csv.line(), {}, {}, {}, false});
    Block& b = blocks.back();
    b.llms.push_back(llm);
    if (Trim(row[effect_col]).empty() || Trim(row[cost_col]).empty()) {
      b.bad_number = true;
      b.effect.push_back(0);
      b.cost.push_back(0);
      continue;
    }
    b.effect.push_back(Number(row[effect_col], where + " column 'effect'"));
    b.cost.push_back(Number(row[cost_col], where + " column 'cost'"));
  }
  if (blocks.empty()) Fail(ErrorCode::kInvalidArgument, o.csv, ": no rows to convert");

  // The models in order of first appearance (router_data.csv lists them in one fixed order for
  // every query; a query missing one does not change the order of the others).
  std::vector<std::string> models;
  for (const Block& b : blocks)
    for (const auto& llm : b.llms)
      if (std::find(models.begin(), models.end(), llm) == models.end()) models.push_back(llm);
  if (models.size() < 2)
    Fail(ErrorCode::kInvalidArgument, o.csv, ": fewer than 2 models in the 'llm' column");
  std::vector<QueryRecord> out;
  int64_t incomplete = 0, empty_cells = 0;
  for (size_t bi = 0; bi < blocks.size(); ++bi) {
    const Block& b = blocks[bi];
    if (b.llms.size() != models.size() ||
        !std::is_permutation(b.llms.begin(), b.llms.end(), models.begin())) {
      ++incomplete;
      continue;
    }
    if (b.bad_number) {
      ++empty_cells;
      continue;
    }
    QueryRecord r;
    r.id = b.task_id + "-" + std::to_string(bi);
    r.task = o.task.empty() ? GraphRouterTaskName(o.preference) : o.task;
    r.scenario = "routing";
    r.query = Trim(b.query).empty() ? "(empty query)" : b.query;
    std::vector<double> effect(models.size()), cost(models.size()), utility(models.size());
    for (size_t m = 0; m < models.size(); ++m) {
      const size_t k = std::find(b.llms.begin(), b.llms.end(), models[m]) - b.llms.begin();
      effect[m] = b.effect[k];
      cost[m] = b.cost[k];
      utility[m] = w_effect * effect[m] - w_cost * cost[m];
    }
    // The single positive: the first model of maximal utility, as numpy's argmax.
    const int best =
        static_cast<int>(std::max_element(utility.begin(), utility.end()) - utility.begin());
    for (size_t m = 0; m < models.size(); ++m) {
      auto d = descriptions.find(models[m]);
      r.candidates.push_back(
          {models[m], d == descriptions.end() ? models[m] : models[m] + ": " + d->second});
      r.relevance.push_back(static_cast<int>(m) == best ? 1.0 : 0.0);
    }
    r.positive = best;
    r.extra["quality"] = effect;
    r.extra["cost"] = cost;
    r.extra["utility"] = utility;
    r.extra["weights"] = {w_effect, w_cost};
    r.extra["preference"] = o.preference;
    r.extra["source_task"] = b.task_id;
    ValidateRecord(r);
    out.push_back(std::move(r));
  }
  if (out.empty())
    Fail(ErrorCode::kInvalidArgument, o.csv, ": no query lists all ", models.size(),
         " models exactly once (", incomplete, " incomplete, ", empty_cells,
         " with an empty effect or cost): nothing to convert");
  if (stats) {
    stats->records = static_cast<int64_t>(out.size());
    stats->skipped = incomplete + empty_cells;
    for (const auto& [task, n] : dropped_tasks)
      stats->notes.push_back(std::to_string(n) + " rows of task '" + task +
                             "' dropped (--drop-task)");
    if (incomplete)
      stats->notes.push_back(std::to_string(incomplete) +
                             " queries skipped: their rows do not list all " +
                             std::to_string(models.size()) + " models exactly once");
    if (empty_cells)
      stats->notes.push_back(std::to_string(empty_cells) +
                             " queries skipped: an effect or cost cell is empty");
  }
  return out;
}

std::string GraphRouterTaskName(const std::string& preference) {
  if (preference == "performance") return "Router-Performance";
  if (preference == "balance") return "Router-Balance";
  return "Router-Cost";
}

}  // namespace iranker
