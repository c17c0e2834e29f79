// `iranker data check|generate|convert`: validate ranking JSONL files, generate the synthetic
// datasets, and convert public formats into JSONL (docs/DATA.md).
#include <cmath>
#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "base/rng.h"
#include "cli/commands.h"
#include "ranking/baselines.h"
#include "ranking/convert.h"
#include "ranking/jsonl.h"
#include "ranking/metrics.h"
#include "ranking/split.h"
#include "ranking/synthetic.h"

namespace iranker {
namespace {

void AddCheck(CLI::App* data) {
  auto* cmd = data->add_subcommand("check", "Validate JSONL files and print record counts");
  struct Opts {
    std::vector<std::string> files;
    bool skip = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("files", o->files, "JSONL files")->required();
  cmd->add_flag("--skip-bad", o->skip, "Skip and count malformed lines instead of stopping");
  cmd->callback([o] {
    for (const auto& f : o->files) {
      ReadStats s;
      ReadJsonl(f, o->skip ? BadLinePolicy::kSkip : BadLinePolicy::kStop, -1, &s);
      std::cout << f << ": " << s.records << " records, " << s.bad_lines << " bad lines\n";
      for (const auto& m : s.bad_line_messages) std::cout << "  " << m << "\n";
    }
  });
}

void AddGenerate(CLI::App* data) {
  auto* cmd = data->add_subcommand("generate", "Write a synthetic dataset (ranking/synthetic.h)");
  struct Opts {
    SyntheticOptions synth;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--scenario", o->synth.scenario, "recommendation, routing or passage")
      ->required()
      ->check(CLI::IsMember({"recommendation", "routing", "passage"}));
  cmd->add_option("--n", o->synth.n, "Number of records")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o->synth.seed,
                  "Seed of the record stream (use different seeds for train and test)");
  cmd->add_option("--world-seed", o->synth.world_seed,
                  "Seed of the shared world (catalogue, model zoo); keep it equal across splits");
  cmd->add_option("--genre-skew", o->synth.genre_skew,
                  "recommendation: popularity skew of preferred genres (0 = uniform; 1 = Zipf)");
  cmd->add_option("--candidates", o->synth.candidates,
                  "Candidates per record (default 20 / 10 / 9 by scenario)");
  cmd->add_option("--task", o->synth.task, "Task (dataset) name written in each record");
  cmd->add_option("--out", o->out, "Output JSONL file")->required();
  cmd->callback([o] {
    auto records = GenerateSynthetic(o->synth);
    WriteJsonl(o->out, records);
    std::cout << o->out << ": " << records.size() << " " << o->synth.scenario << " records\n";
  });
}

// Random and BM25 figures of a dataset: the floor any trained policy should beat.
void AddBaselines(CLI::App* data) {
  auto* cmd =
      data->add_subcommand("baselines", "MRR / nDCG@10 / Hit@1 of the random and BM25 rankers");
  struct Opts {
    std::vector<std::string> files;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("files", o->files, "JSONL files")->required();
  cmd->add_option("--seed", o->seed, "Seed of the random ranker");
  cmd->callback([o] {
    std::printf("%-40s %-7s %7s %7s %7s %6s\n", "file", "ranker", "MRR", "nDCG@10", "Hit@1", "n");
    for (const auto& f : o->files) {
      auto records = ReadJsonl(f, BadLinePolicy::kStop);
      MetricsSummary random, bm25;
      for (size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        random.Add(ScoreRanking(RandomRanking(r.size(), DeriveSeed(o->seed, i)), r.relevance));
        bm25.Add(ScoreRanking(Bm25Ranking(r), r.relevance));
      }
      for (auto [name, s] :
           {std::pair<const char*, const MetricsSummary*>{"random", &random}, {"bm25", &bm25}}) {
        const QueryMetrics m = s->Mean();
        std::printf("%-40s %-7s %7.4f %7.4f %7.4f %6d\n", f.c_str(), name, m.recip_rank, m.ndcg[2],
                    m.hit[0], s->count());
      }
    }
  });
}

struct SplitOptions {
  double train_fraction = 0;  // 0 = no split
  uint32_t seed = 42;
  std::string test_out;
};

// Writes the records (or, with a split, the training part to `out` and the test part to
// split.test_out, each in the split's order) and reports what was skipped.
void PrintConverted(const std::string& out, const std::vector<QueryRecord>& records,
                    const ConvertStats& stats, const SplitOptions& split) {
  if (split.train_fraction > 0) {
    // 1 - 0.8 is 0.19999999999999996 in doubles; scikit-learn is given 0.2.
    const double test_fraction = std::round((1 - split.train_fraction) * 1e9) / 1e9;
    const SplitIndices parts =
        TrainTestSplit(static_cast<int64_t>(records.size()), test_fraction, split.seed);
    for (const auto& [path, indices] :
         {std::make_pair(out, &parts.train), std::make_pair(split.test_out, &parts.test)}) {
      std::vector<QueryRecord> part;
      for (int64_t i : *indices) part.push_back(records[i]);
      WriteJsonl(path, part);
      std::cout << path << ": " << part.size() << " records\n";
    }
    std::cout << records.size() << " records split " << parts.train.size() << " / "
              << parts.test.size();
  } else {
    WriteJsonl(out, records);
    std::cout << out << ": " << records.size() << " records";
  }
  if (stats.skipped) std::cout << ", " << stats.skipped << " inputs skipped";
  std::cout << "\n";
  for (const auto& n : stats.notes) std::cout << "  " << n << "\n";
}

void AddConvert(CLI::App* data) {
  auto* cmd = data->add_subcommand(
      "convert",
      "Convert RecBole, TREC / rank_llm, BEIR, routing-CSV, GraphRouter or MS MARCO files to "
      "ranking JSONL");
  struct Opts {
    std::string from, out;
    RecboleOptions rec;
    TrecConvertOptions trec;
    BeirConvertOptions beir;
    RoutingCsvOptions routing;
    GraphRouterOptions graphrouter;
    MsMarcoOptions msmarco;
    SplitOptions split;
    std::string task, models_json;
    std::vector<double> weights;
    int candidates = 0, depth = 0;
    uint64_t seed = 0;
    int64_t max_users = -1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--from", o->from,
                  "Input format: recbole, trec, beir, routing-csv, graphrouter or msmarco")
      ->required()
      ->check(CLI::IsMember({"recbole", "trec", "beir", "routing-csv", "graphrouter", "msmarco"}));
  cmd->add_option("--out", o->out, "Output JSONL file (with --split: the training part)")
      ->required();
  cmd->add_option("--task", o->task, "Task (dataset) name written in each record");
  cmd->add_option("--split", o->split.train_fraction,
                  "Fraction of records for training, e.g. 0.8; the rest go to --test-out "
                  "(scikit-learn's train_test_split draw)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--split-seed", o->split.seed, "Seed of --split (the reference code: 42)");
  cmd->add_option("--test-out", o->split.test_out, "With --split: the test part's JSONL file");
  // recbole
  cmd->add_option("--inter", o->rec.inter, "recbole: .inter file (interactions or sequences)");
  cmd->add_option("--item", o->rec.item, "recbole: .item file (titles)");
  cmd->add_option("--candidates-file", o->rec.candidates_file,
                  "recbole: user_id<TAB>candidate ids (LLMRank .random/.bm25)");
  cmd->add_option("--candidates", o->candidates,
                  "recbole: candidates per user (default 20); msmarco: passages per query (5)");
  cmd->add_option("--history", o->rec.history, "recbole: most recent history items kept");
  cmd->add_option("--min-history", o->rec.min_history, "recbole: skip users with fewer");
  cmd->add_option("--max-users", o->max_users,
                  "recbole: stop after this many records (0 = all); --protocol paper: sample "
                  "this many qualifying users (default 657)");
  cmd->add_option("--protocol", o->rec.protocol,
                  "recbole: last (latest item is the target) or paper (first --history items, "
                  "then the target; history default 20)")
      ->check(CLI::IsMember({"last", "paper"}));
  cmd->add_option("--item-noun", o->rec.item_noun,
                  "recbole: what the items are, plural (\"movies\", \"CDs\", \"games\"), shown in "
                  "prompts");
  cmd->add_option("--seed", o->seed,
                  "recbole: seed of sampling and candidate order (default 1); msmarco: seed of "
                  "the query sample (default 42)");
  // trec
  cmd->add_option("--topics", o->trec.topics, "trec: qid<TAB>query file");
  cmd->add_option("--qrels", o->trec.qrels, "trec: qrels file (grades)");
  cmd->add_option("--run", o->trec.run, "trec, beir: run file (candidate order)");
  cmd->add_option("--passages", o->trec.passages, "trec: docid<TAB>text collection");
  cmd->add_option("--rankllm-json", o->trec.rankllm_json,
                  "trec: rank_llm retrieve results [{query, hits: [{content, qid, docid}]}]");
  cmd->add_option("--depth", o->depth,
                  "trec, beir: candidates per query from the top of the run (default 20)");
  cmd->add_option("--relevance-level", o->trec.relevance_level,
                  "trec, beir: grades below this become 0 (TREC DL: 2 for 'relevant')");
  // beir
  cmd->add_option("--beir-dir", o->beir.dir,
                  "beir: dataset directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)");
  cmd->add_option("--beir-split", o->beir.split, "beir: qrels split (default test)");
  // routing-csv
  cmd->add_option("--csv", o->routing.csv,
                  "routing-csv: table with M and M|total_cost columns; graphrouter: "
                  "router_data.csv");
  cmd->add_option("--query-column", o->routing.query_column, "routing-csv: query column");
  cmd->add_option("--id-column", o->routing.id_column, "routing-csv: id column");
  cmd->add_option("--models-json", o->models_json,
                  "routing-csv, graphrouter: {\"model\": \"description\"} for candidate texts");
  // graphrouter
  cmd->add_option("--preference", o->graphrouter.preference,
                  "graphrouter: performance (weights 1/0), balance (0.5/0.5) or cost (0.2/0.8)")
      ->check(CLI::IsMember(RoutingPreferences()));
  cmd->add_option("--drop-task", o->graphrouter.drop_tasks,
                  "graphrouter: task_id values left out (default multi_news, as the reference)");
  // msmarco
  cmd->add_option("--input", o->msmarco.input, "msmarco: the v1.1 JSON file");
  cmd->add_option("--max-chars", o->msmarco.max_chars,
                  "msmarco: most characters of passage text per query (default 2600; 0 = any)");
  cmd->add_option("--max-queries", o->msmarco.max_queries,
                  "msmarco: queries sampled (default 10000 / (candidates - 1); 0 = all)");
  cmd->add_option("--weights", o->weights,
                  "routing-csv: quality and cost weights, e.g. 1 0 (performance), 0.5 0.5, 0.2 0.8")
      ->expected(2);
  auto* history = cmd->get_option("--history");
  auto* seed = cmd->get_option("--seed");
  cmd->callback([o, history, seed] {
    if (o->split.train_fraction > 0 && o->split.test_out.empty())
      Fail(ErrorCode::kInvalidArgument, "--split needs --test-out (the test part's file)");
    if (o->split.train_fraction <= 0 && !o->split.test_out.empty())
      Fail(ErrorCode::kInvalidArgument, "--test-out needs --split");
    ConvertStats stats;
    std::vector<QueryRecord> records;
    if (o->from == "recbole") {
      if (o->rec.inter.empty() || o->rec.item.empty())
        Fail(ErrorCode::kInvalidArgument, "--from recbole needs --inter and --item");
      if (!o->task.empty()) o->rec.task = o->task;
      if (o->candidates) o->rec.candidates = o->candidates;
      if (seed->count()) o->rec.seed = o->seed;
      const bool paper = o->rec.protocol == "paper";
      if (paper && history->count() == 0) o->rec.history = 20;
      o->rec.max_users = o->max_users >= 0 ? o->max_users : paper ? 657 : 0;
      records = ConvertRecbole(o->rec, &stats);
    } else if (o->from == "trec") {
      if (!o->task.empty()) o->trec.task = o->task;
      if (o->depth) o->trec.depth = o->depth;
      records = ConvertTrec(o->trec, &stats);
    } else if (o->from == "beir") {
      o->beir.run = o->trec.run;
      o->beir.relevance_level = o->trec.relevance_level;
      if (!o->task.empty()) o->beir.task = o->task;
      if (o->depth) o->beir.depth = o->depth;
      records = ConvertBeir(o->beir, &stats);
    } else if (o->from == "routing-csv") {
      if (o->routing.csv.empty())
        Fail(ErrorCode::kInvalidArgument, "--from routing-csv needs --csv");
      if (!o->task.empty()) o->routing.task = o->task;
      o->routing.models_json = o->models_json;
      if (!o->weights.empty()) {
        o->routing.quality_weight = o->weights[0];
        o->routing.cost_weight = o->weights[1];
      }
      records = ConvertRoutingCsv(o->routing, &stats);
    } else if (o->from == "graphrouter") {
      if (o->routing.csv.empty())
        Fail(ErrorCode::kInvalidArgument, "--from graphrouter needs --csv (router_data.csv)");
      o->graphrouter.csv = o->routing.csv;
      o->graphrouter.models_json = o->models_json;
      o->graphrouter.task = o->task;
      records = ConvertGraphRouter(o->graphrouter, &stats);
    } else {
      if (o->msmarco.input.empty())
        Fail(ErrorCode::kInvalidArgument, "--from msmarco needs --input (the v1.1 JSON file)");
      o->msmarco.task = o->task;
      if (o->candidates) o->msmarco.candidates = o->candidates;
      if (seed->count()) o->msmarco.seed = o->seed;
      records = ConvertMsMarco(o->msmarco, &stats);
    }
    PrintConverted(o->out, records, stats, o->split);
  });
}

}  // namespace

void AddDataCommand(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Ranking datasets: check, generate, convert");
  data->require_subcommand(1);
  AddCheck(data);
  AddGenerate(data);
  AddBaselines(data);
  AddConvert(data);
}

}  // namespace iranker
