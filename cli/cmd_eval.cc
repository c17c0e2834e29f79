// `iranker eval -c CONFIG --checkpoint DIR`: the evaluation protocol on data.test, with the random
// and BM25 baselines beside the policy; writes the TREC run and qrels it evaluated.
#include <iostream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/process_setup.h"
#include "model/policy.h"
#include "trainer/config_io.h"
#include "trainer/evaluation.h"
#include "trainer/paper_table.h"

namespace iranker {

void AddEvalCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("eval", "Evaluate a checkpoint on the held-out data, with baselines");
  struct Opts {
    std::string file, checkpoint, out, reported;
    std::vector<std::string> overrides;
    bool json = false, paper_table = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->file, "YAML config file (data, prompt, actor sections)")
      ->required();
  cmd->add_option("--checkpoint", o->checkpoint, "Hugging Face checkpoint directory")->required();
  cmd->add_option("--out", o->out,
                  "Directory for run.trec, qrels.trec and eval.json (default: none)");
  cmd->add_flag("--json", o->json, "Print the table as JSON");
  cmd->add_flag("--paper-table", o->paper_table,
                "Also print the IRanker paper's layout: MRR x 100 per dataset, nDCG/Hit at each "
                "scenario's cut-offs, means per scenario (with --out: paper_table.md and .json)");
  cmd->add_option("--reported", o->reported,
                  "With --paper-table: JSON of reported numbers to print beside ours, "
                  "{\"Rec-Movie\": {\"mrr\": 41.2, \"ndcg@5\": ...}} (x 100)");
  cmd->add_option("overrides", o->overrides, "key.path=value overrides");
  cmd->callback([o] {
    if (!o->reported.empty() && !o->paper_table)
      Fail(ErrorCode::kInvalidArgument, "--reported needs --paper-table");
    const nlohmann::json reported =
        o->reported.empty() ? nlohmann::json::object() : ReadReportedNumbers(o->reported);
    Config config = LoadConfig(o->file, o->overrides);
    InitLogging(config.run.log_level);
    ConfigureThreads(config.run.threads);
    Policy policy = LoadPolicy(o->checkpoint, config.model.dtype, config.model.device);
    PromptSet prompts(config.prompt);
    auto sets = LoadTestSets(config.data, 0);
    auto report =
        Evaluate(*policy.model.model, *policy.tokenizer, prompts, config.actor, config.reward.match,
                 sets, EvaluationSeed(config.run.seed), /*baselines=*/true);
    const std::vector<PaperRow> paper =
        o->paper_table ? BuildPaperTable(report, sets) : std::vector<PaperRow>{};
    if (o->json && o->paper_table)
      std::cout << nlohmann::json{{"rows", EvalReportJson(report)},
                                  {"paper_table", PaperTableJson(paper, reported)}}
                       .dump(2)
                << "\n";
    else if (o->json)
      std::cout << EvalReportJson(report).dump(2) << "\n";
    else
      std::cout << FormatEvalTable(report)
                << (o->paper_table ? "\n" + FormatPaperTable(paper, reported) : "");
    if (!o->out.empty()) {
      MakeDirs(o->out);
      WriteTrecFiles(report, sets, o->out + "/run.trec", o->out + "/qrels.trec");
      WriteFileAtomic(o->out + "/eval.json", EvalReportJson(report).dump(2) + "\n");
      if (o->paper_table) {
        WriteFileAtomic(o->out + "/paper_table.md", FormatPaperTable(paper, reported));
        WriteFileAtomic(o->out + "/paper_table.json",
                        PaperTableJson(paper, reported).dump(2) + "\n");
      }
      std::cout << "wrote " << o->out
                << "/run.trec and qrels.trec (check with: iranker metrics --qrels " << o->out
                << "/qrels.trec --run " << o->out << "/run.trec)\n";
    }
  });
}

}  // namespace iranker
