// `iranker init-model --preset NAME --out DIR`: a randomly initialised Hugging Face checkpoint.
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "cli/commands.h"
#include "model/model_config.h"
#include "model/policy.h"

namespace iranker {

void AddInitModelCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("init-model", "Write a randomly initialised checkpoint of a preset");
  struct Opts {
    std::string preset, out, tokenizer, dtype = "float32";
    uint64_t seed = 0;
    bool describe = false;
  };
  auto o = std::make_shared<Opts>();
  std::string presets;
  for (const auto& p : PresetNames()) presets += (presets.empty() ? "" : ", ") + p;
  cmd->add_option("--preset", o->preset, "One of: " + presets)->required();
  cmd->add_option("--out", o->out, "Output directory (must not exist or be empty)");
  cmd->add_flag("--describe", o->describe,
                "Print the preset's shapes and parameter count as JSON; write nothing");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "tokenizer.json or its directory (default: byte-level)");
  cmd->add_option("--seed", o->seed, "Initialisation seed");
  cmd->add_option("--dtype", o->dtype, "float32 or bfloat16");
  cmd->callback([o] {
    if (o->describe) {
      const ModelConfig c = PresetForTokenizer(o->preset, o->tokenizer);
      std::cout << nlohmann::json{{"preset", o->preset},
                                  {"parameters", c.NumParameters()},
                                  {"hidden_size", c.hidden_size},
                                  {"layers", c.num_hidden_layers},
                                  {"vocab_size", c.vocab_size},
                                  {"tied_embeddings", c.tie_word_embeddings}}
                       .dump()
                << "\n";
      return;
    }
    if (o->out.empty())
      Fail(ErrorCode::kInvalidArgument, "init-model: --out DIR is required (or --describe)");
    InitModelDirectory(o->preset, o->tokenizer, o->seed, o->dtype, o->out);
    std::cout << "wrote " << o->out << " (" << o->preset << ")\n";
  });
}

}  // namespace iranker
