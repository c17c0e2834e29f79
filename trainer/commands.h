// trainer/commands.h — each `iranker` subcommand registers itself on the CLI11 app.
// A command's callback throws iranker::Error for failures the user can fix; main() prints it.
#pragma once

#include <CLI/CLI.hpp>

namespace iranker {

void AddConfigCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddTrainCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddRankCommand(CLI::App& app);
void AddInitModelCommand(CLI::App& app);
void AddMetricsCommand(CLI::App& app);
void AddDataCommand(CLI::App& app);
void AddKeygenCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddPlotCommand(CLI::App& app);
void AddTokenizeCommand(CLI::App& app);

// Sets torch's intra-op thread count: `threads` if > 0, else the host's cores divided by the
// processes of this job that share the host (from the MPI/Slurm local size). Returns it.
int ConfigureThreads(int threads);

}  // namespace iranker
