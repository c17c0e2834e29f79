// `iranker data check|generate|convert`: validate ranking JSONL files, generate the synthetic
// datasets, and convert public formats into JSONL (docs/DATA.md).
#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "base/rng.h"
#include "cli/commands.h"
#include "ranking/baselines.h"
#include "ranking/convert.h"
#include "ranking/jsonl.h"
#include "ranking/metrics.h"
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

void PrintConverted(const std::string& out, const std::vector<QueryRecord>& records,
                    const ConvertStats& stats) {
  WriteJsonl(out, records);
  std::cout << out << ": " << records.size() << " records";
  if (stats.skipped) std::cout << ", " << stats.skipped << " inputs skipped";
  std::cout << "\n";
  for (const auto& n : stats.notes) std::cout << "  " << n << "\n";
}

void AddConvert(CLI::App* data) {
  auto* cmd = data->add_subcommand(
      "convert", "Convert RecBole, TREC / rank_llm or routing-CSV files to ranking JSONL");
  struct Opts {
    std::string from, out;
    RecboleOptions rec;
    TrecConvertOptions trec;
    RoutingCsvOptions routing;
    std::string task;
    std::vector<double> weights;
    int candidates = 0, depth = 0;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--from", o->from, "Input format: recbole, trec or routing-csv")
      ->required()
      ->check(CLI::IsMember({"recbole", "trec", "routing-csv"}));
  cmd->add_option("--out", o->out, "Output JSONL file")->required();
  cmd->add_option("--task", o->task, "Task (dataset) name written in each record");
  // recbole
  cmd->add_option("--inter", o->rec.inter, "recbole: .inter file (interactions or sequences)");
  cmd->add_option("--item", o->rec.item, "recbole: .item file (titles)");
  cmd->add_option("--candidates-file", o->rec.candidates_file,
                  "recbole: user_id<TAB>candidate ids (LLMRank .random/.bm25)");
  cmd->add_option("--candidates", o->candidates, "recbole: candidates per user (default 20)");
  cmd->add_option("--history", o->rec.history, "recbole: most recent history items kept");
  cmd->add_option("--min-history", o->rec.min_history, "recbole: skip users with fewer");
  cmd->add_option("--max-users", o->rec.max_users,
                  "recbole: stop after this many records (0 = all)");
  cmd->add_option("--seed", o->seed, "recbole: seed of negative sampling and candidate order");
  // trec
  cmd->add_option("--topics", o->trec.topics, "trec: qid<TAB>query file");
  cmd->add_option("--qrels", o->trec.qrels, "trec: qrels file (grades)");
  cmd->add_option("--run", o->trec.run, "trec: run file (candidate order)");
  cmd->add_option("--passages", o->trec.passages, "trec: docid<TAB>text collection");
  cmd->add_option("--rankllm-json", o->trec.rankllm_json,
                  "trec: rank_llm retrieve results [{query, hits: [{content, qid, docid}]}]");
  cmd->add_option("--depth", o->depth,
                  "trec: candidates per query from the top of the run (default 20)");
  cmd->add_option("--relevance-level", o->trec.relevance_level,
                  "trec: grades below this become 0 (TREC DL: 2 for 'relevant')");
  // routing-csv
  cmd->add_option("--csv", o->routing.csv, "routing-csv: table with M and M|total_cost columns");
  cmd->add_option("--query-column", o->routing.query_column, "routing-csv: query column");
  cmd->add_option("--id-column", o->routing.id_column, "routing-csv: id column");
  cmd->add_option("--models-json", o->routing.models_json,
                  "routing-csv: {\"model\": \"description\"} for candidate texts");
  cmd->add_option("--weights", o->weights,
                  "routing-csv: quality and cost weights, e.g. 1 0 (performance), 0.5 0.5, 0.2 0.8")
      ->expected(2);
  cmd->callback([o] {
    ConvertStats stats;
    if (o->from == "recbole") {
      if (o->rec.inter.empty() || o->rec.item.empty())
        Fail(ErrorCode::kInvalidArgument, "--from recbole needs --inter and --item");
      if (!o->task.empty()) o->rec.task = o->task;
      if (o->candidates) o->rec.candidates = o->candidates;
      o->rec.seed = o->seed;
      PrintConverted(o->out, ConvertRecbole(o->rec, &stats), stats);
    } else if (o->from == "trec") {
      if (!o->task.empty()) o->trec.task = o->task;
      if (o->depth) o->trec.depth = o->depth;
      PrintConverted(o->out, ConvertTrec(o->trec, &stats), stats);
    } else {
      if (o->routing.csv.empty())
        Fail(ErrorCode::kInvalidArgument, "--from routing-csv needs --csv");
      if (!o->task.empty()) o->routing.task = o->task;
      if (!o->weights.empty()) {
        o->routing.quality_weight = o->weights[0];
        o->routing.cost_weight = o->weights[1];
      }
      PrintConverted(o->out, ConvertRoutingCsv(o->routing, &stats), stats);
    }
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
