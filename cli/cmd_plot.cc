// `iranker plot RUN_DIR`: line charts of a run's metrics.jsonl into RUN_DIR/plots/
// (trainer/plots.h).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/plots.h"

namespace iranker {

void AddPlotCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plot", "Charts (SVG, and PNG with gnuplot) of a run's metrics.jsonl into RUN_DIR/plots/");
  auto run = std::make_shared<std::string>();
  cmd->add_option("run_dir", *run, "Run directory")->required();
  cmd->callback([run] { std::cout << *run << "/plots: " << WritePlots(*run) << " charts\n"; });
}

}  // namespace iranker
