// The `iranker` command: one binary, one subcommand per role or tool.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "base/error.h"
#include "base/version.h"
#include "cli/commands.h"
#include "cli/process_setup.h"

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f, a quota) then fails the write with EFBIG, which the writers
  // report as a clear error naming the file, instead of killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  iranker::RetainFreedMemory();
  CLI::App app{"iranker — reinforcement-learning training of LLM rankers (IRanker / DRanker)"};
  app.set_version_flag("--version", std::string("iranker ") + IRANKER_VERSION);
  app.require_subcommand(1);
  for (const iranker::AddCommand add : iranker::Commands()) add(app);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "iranker: error: unknown command '%s' (commands: %s)\n", argv[1],
                   names.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A bad command line: the same "iranker: error:" prefix and exit status 2 as a bad config.
    std::fprintf(stderr, "iranker: error: %s\nRun with --help for more information.\n", e.what());
    return 2;
  } catch (const iranker::Error& e) {
    std::fprintf(stderr, "iranker: error: %s\n", e.what());
    return e.code() == iranker::ErrorCode::kInvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "iranker: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
