// `iranker config`: print the resolved configuration or the reference of every key.
#include <iostream>

#include "cli/commands.h"
#include "trainer/config_io.h"

namespace iranker {

void AddConfigCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Resolve, validate and print a configuration");
  struct Opts {
    std::string file;
    std::vector<std::string> overrides;
    bool print = false, docs = false, reference = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->file, "YAML config file (default: built-in defaults)");
  cmd->add_option("overrides", o->overrides, "key.path=value overrides, applied after the file");
  cmd->add_flag("--print", o->print, "Print the resolved config as YAML (the default action)");
  cmd->add_flag("--docs", o->docs, "With --print: precede every key by its documentation");
  cmd->add_flag("--reference", o->reference, "Print a Markdown table of every key instead");
  cmd->callback([o] {
    if (o->reference) {
      std::cout << ConfigReference();
      return;
    }
    Config config = LoadConfig(o->file, o->overrides);
    std::cout << ConfigToYaml(config, o->docs);
  });
}

}  // namespace iranker
