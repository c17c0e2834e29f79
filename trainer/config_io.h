// trainer/config_io.h — reading, overriding, validating and writing the run configuration.
#pragma once

#include <string>
#include <vector>

#include "trainer/config.h"

namespace iranker {

// Loads `path` (YAML), applies `overrides` ("key.path=value", value parsed as YAML), then decodes
// and validates. Throws Error(kInvalidArgument) whose message lists every problem, one per line,
// each naming the file:line:col (or the override) and the key path; kNotFound if `path` is missing.
// An empty `path` starts from the built-in defaults.
Config LoadConfig(const std::string& path, const std::vector<std::string>& overrides);

// The resolved config as YAML; with docs, every key is preceded by its documentation comment.
std::string ConfigToYaml(const Config& config, bool docs = false);

// Markdown table of every key, its type, default, constraint and meaning.
std::string ConfigReference();

// Writes <run_dir>/config.yaml atomically.
void WriteResolvedConfig(const Config& config, const std::string& run_dir);

}  // namespace iranker
