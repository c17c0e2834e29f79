// `iranker rank --checkpoint DIR --input FILE.jsonl [--output FILE] [--trec-run FILE
// [--first-stage RUN]]`: the inference command. Ranks every query by greedy iterative elimination
// (the evaluation protocol), writes one JSON line per query with the ranking (best first), and
// with labels present prints the same metrics table as `iranker eval`. With --first-stage (the
// run the input was converted from: `data convert --from trec|beir`), the TREC run written is that
// run with each query's re-ranked top put in the policy's order (ranking/trec.h MergeReranked).
#include <fstream>
#include <iostream>
#include <map>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/process_setup.h"
#include "model/policy.h"
#include "ranking/trec.h"
#include "trainer/config_io.h"
#include "trainer/evaluation.h"

namespace iranker {

void AddRankCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("rank", "Rank the candidates of every query in a JSONL file");
  struct Opts {
    std::string checkpoint, input, output, trec_run, first_stage, config;
    std::vector<std::string> overrides;
    bool reasoning = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->checkpoint, "Hugging Face checkpoint directory")->required();
  cmd->add_option("--input", o->input, "JSONL queries with candidates (docs/DATA.md)")->required();
  cmd->add_option("--output", o->output, "JSONL output (default: stdout)");
  cmd->add_option("--trec-run", o->trec_run, "Also write a TREC run file");
  cmd->add_option("--first-stage", o->first_stage,
                  "With --trec-run: the first-stage run the input's candidates came from; the run "
                  "written is it with each query's top re-ranked (query ids as in that run)");
  cmd->add_option("-c,--config", o->config,
                  "Config for prompt/actor/reward options (default: built-in)");
  cmd->add_flag("--reasoning", o->reasoning,
                "Keep each elimination step's response text in the output");
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->callback([o] {
    if (!o->first_stage.empty() && o->trec_run.empty())
      Fail(ErrorCode::kInvalidArgument, "rank: --first-stage needs --trec-run (the run to write)");
    // Read before the ranking, so that a bad file fails at once.
    const TrecRun first_stage = o->first_stage.empty() ? TrecRun{} : ReadRun(o->first_stage);
    Config config = LoadConfig(o->config, o->overrides);
    InitLogging(config.run.log_level);
    ConfigureThreads(config.run.threads);
    Policy policy = LoadPolicy(o->checkpoint, config.model.dtype, config.model.device);
    PromptSet prompts(config.prompt);
    Dataset d;
    d.path = o->input;
    d.records = ReadJsonl(o->input, config.data.bad_lines, config.data.max_bad_lines);
    if (d.records.empty()) Fail(ErrorCode::kInvalidArgument, o->input, ": no records");
    d.name = d.records[0].task.empty() ? "input" : d.records[0].task;
    bool labelled = false;
    for (const auto& r : d.records)
      for (double x : r.relevance) labelled |= x > 0;
    std::vector<Dataset> sets = {d};
    auto report =
        Evaluate(*policy.model.model, *policy.tokenizer, prompts, config.actor, config.reward.match,
                 sets, EvaluationSeed(config.run.seed), /*baselines=*/labelled);
    // The merged run is made before anything is written: ids that do not match the first stage
    // leave no output behind.
    TrecRun merged;
    if (!o->first_stage.empty()) {
      std::map<std::string, std::vector<std::string>> reranked;
      for (size_t q = 0; q < d.records.size(); ++q)
        for (int c : report.policy_rankings[q].ranking)
          reranked[d.records[q].id].push_back(d.records[q].candidates[c].id);
      merged = MergeReranked(first_stage, reranked, o->first_stage);
    }
    std::string out;
    for (size_t q = 0; q < d.records.size(); ++q) {
      const auto& rec = d.records[q];
      const auto& ranking = report.policy_rankings[q].ranking;
      nlohmann::json j = {{"id", rec.id}, {"task", rec.task}};
      nlohmann::json ids = nlohmann::json::array(), idx = nlohmann::json::array();
      for (int c : ranking) ids.push_back(rec.candidates[c].id), idx.push_back(c);
      j["ranking"] = ids;
      j["ranking_index"] = idx;
      if (o->reasoning) j["steps"] = report.policy_rankings[q].responses;
      out += j.dump() + "\n";
    }
    if (o->output.empty())
      std::cout << out;
    else
      WriteFileAtomic(o->output, out);
    if (!o->first_stage.empty()) {
      WriteRun(o->trec_run, merged);
    } else if (!o->trec_run.empty()) {
      WriteTrecFiles(report, sets, o->trec_run, "");
    }
    if (labelled) std::cerr << FormatEvalTable(report);
  });
}

}  // namespace iranker
