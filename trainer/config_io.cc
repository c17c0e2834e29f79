#include "trainer/config_io.h"

#include "base/atomic_file.h"
#include "base/error.h"
#include "trainer/yaml_visitors.h"

namespace iranker {

Config LoadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  DecodeContext ctx;
  ctx.file = path.empty() ? "<defaults>" : path;
  YAML::Node root;
  if (!path.empty()) {
    std::string text = ReadFile(path);
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      Fail(ErrorCode::kInvalidArgument, path, ":", e.mark.line + 1, ":", e.mark.column + 1,
           ": not valid YAML: ", e.msg);
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap())
      Fail(ErrorCode::kInvalidArgument, path, ": expected a map of sections at the top level");
  } else {
    root = YAML::Node(YAML::NodeType::Map);
  }
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      Fail(ErrorCode::kInvalidArgument, "command-line override '", o, "': expected key.path=value");
    std::string key = o.substr(0, eq);
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      Fail(ErrorCode::kInvalidArgument, "command-line override '", o,
           "': value is not valid YAML: ", e.msg);
    }
    if (!value.IsDefined() || value.IsNull()) value = YAML::Node(std::string());
    SetYamlPath(root, key, value);
    ctx.overrides[key] = o;
  }
  Config config;
  YamlDecoder decoder(root, "", &ctx);
  config.Visit(decoder);
  decoder.Finish();
  if (!ctx.errors.empty()) {
    std::string msg = "invalid configuration (" + std::to_string(ctx.errors.size()) + " problem" +
                      (ctx.errors.size() > 1 ? "s" : "") + "):";
    for (const auto& e : ctx.errors) msg += "\n  " + e;
    Fail(ErrorCode::kInvalidArgument, msg);
  }
  return config;
}

std::string ConfigToYaml(const Config& config, bool docs) {
  Config copy = config;  // Visit takes non-const references
  YAML::Emitter out;
  out << YAML::BeginMap;
  YamlEncoder enc(&out, docs);
  copy.Visit(enc);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string ConfigReference() {
  Config defaults;
  std::string table = "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  ReferenceWriter writer(&table);
  defaults.Visit(writer);
  return table;
}

void WriteResolvedConfig(const Config& config, const std::string& run_dir) {
  MakeDirs(run_dir);
  WriteFileAtomic(run_dir + "/config.yaml", ConfigToYaml(config, /*docs=*/false));
}

}  // namespace iranker
