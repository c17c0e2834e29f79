#include "cli/commands.h"

namespace iranker {

const std::vector<AddCommand>& Commands() {
  static const std::vector<AddCommand> all = {
      AddConfigCommand,  AddBenchCommand,    AddTrainCommand,     AddActorCommand,
      AddEvalCommand,    AddRankCommand,     AddInitModelCommand, AddRolesCommand,
      AddMetricsCommand, AddDataCommand,     AddKeygenCommand,    AddInspectCommand,
      AddPlotCommand,    AddTokenizeCommand, AddPlanCommand,      AddGenerateCommand,
  };
  return all;
}

}  // namespace iranker
