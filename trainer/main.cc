// The `iranker` command: one binary, one subcommand per role or tool.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "base/error.h"
#include "base/version.h"
#include "trainer/commands.h"

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f, a quota) then fails the write with EFBIG, which the writers
  // report as a clear error naming the file, instead of killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"iranker — reinforcement-learning training of LLM rankers (IRanker / DRanker)"};
  app.set_version_flag("--version", std::string("iranker ") + IRANKER_VERSION);
  app.require_subcommand(1);
  iranker::AddConfigCommand(app);
  iranker::AddBenchCommand(app);
  iranker::AddTrainCommand(app);
  iranker::AddActorCommand(app);
  iranker::AddEvalCommand(app);
  iranker::AddRankCommand(app);
  iranker::AddInitModelCommand(app);
  iranker::AddRolesCommand(app);
  iranker::AddMetricsCommand(app);
  iranker::AddDataCommand(app);
  iranker::AddKeygenCommand(app);
  iranker::AddInspectCommand(app);
  iranker::AddPlotCommand(app);
  iranker::AddTokenizeCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const iranker::Error& e) {
    std::fprintf(stderr, "iranker: error: %s\n", e.what());
    return e.code() == iranker::ErrorCode::kInvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "iranker: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
