// `iranker rank --checkpoint DIR --input FILE.jsonl [--output FILE] [--trec-run FILE]`: the
// inference command. Ranks every query by greedy iterative elimination (the evaluation protocol),
// writes one JSON line per query with the ranking (best first), and with labels present prints the
// same metrics table as `iranker eval`.
#include <fstream>
#include <iostream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/process_setup.h"
#include "model/policy.h"
#include "trainer/config_io.h"
#include "trainer/evaluation.h"

namespace iranker {

void AddRankCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("rank", "Rank the candidates of every query in a JSONL file");
  struct Opts {
    std::string checkpoint, input, output, trec_run, config;
    std::vector<std::string> overrides;
    bool reasoning = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--checkpoint", o->checkpoint, "Hugging Face checkpoint directory")->required();
  cmd->add_option("--input", o->input, "JSONL queries with candidates (docs/DATA.md)")->required();
  cmd->add_option("--output", o->output, "JSONL output (default: stdout)");
  cmd->add_option("--trec-run", o->trec_run, "Also write a TREC run file");
  cmd->add_option("-c,--config", o->config,
                  "Config for prompt/actor/reward options (default: built-in)");
  cmd->add_flag("--reasoning", o->reasoning,
                "Keep each elimination step's response text in the output");
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->callback([o] {
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
    if (!o->trec_run.empty()) WriteTrecFiles(report, sets, o->trec_run, "");
    if (labelled) std::cerr << FormatEvalTable(report);
  });
}

}  // namespace iranker
