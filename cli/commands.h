// cli/commands.h — the `iranker` subcommands. Each lives in its own cli/cmd_<name>.cc and adds
// itself to the CLI11 app; Commands() lists them in the order `iranker --help` shows them. A
// command's callback throws iranker::Error for failures the user can fix; main() prints it and
// exits 1 (2 for invalid arguments or config).
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

namespace iranker {

void AddConfigCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddTrainCommand(CLI::App& app);
void AddActorCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddRankCommand(CLI::App& app);
void AddInitModelCommand(CLI::App& app);
void AddRolesCommand(CLI::App& app);
void AddMetricsCommand(CLI::App& app);
void AddDataCommand(CLI::App& app);
void AddKeygenCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddPlotCommand(CLI::App& app);
void AddTokenizeCommand(CLI::App& app);
void AddPlanCommand(CLI::App& app);
void AddGenerateCommand(CLI::App& app);

// The registry: every subcommand's Add function.
using AddCommand = void (*)(CLI::App&);
const std::vector<AddCommand>& Commands();

}  // namespace iranker
