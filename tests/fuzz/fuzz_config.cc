// Fuzz target: the config loader (trainer/config_io.h LoadConfig: YAML -> typed structs with
// validation), on the input as the config file and, split at the first newline of a '#!' first
// line, as command-line overrides too. Properties: only iranker::Error escapes; a config that
// loads prints (ConfigToYaml) to YAML that loads again to the same YAML.
#include <cstring>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "trainer/config_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iranker::fuzz::MemFile file(data, size);
  std::vector<std::string> overrides;
  // A first line "#! a=1 b=2" also becomes overrides (still a YAML comment for the file).
  if (size > 2 && data[0] == '#' && data[1] == '!') {
    const char* p = reinterpret_cast<const char*>(data) + 2;
    const char* end = static_cast<const char*>(std::memchr(p, '\n', size - 2));
    std::string line(p, end ? end : reinterpret_cast<const char*>(data) + size);
    size_t at = 0;
    while (at < line.size()) {
      size_t sp = line.find(' ', at);
      if (sp == std::string::npos) sp = line.size();
      if (sp > at) overrides.push_back(line.substr(at, sp - at));
      at = sp + 1;
    }
  }
  iranker::fuzz::ExpectOnlyErrors("fuzz_config", [&] {
    const iranker::Config c = iranker::LoadConfig(file.path(), overrides);
    const std::string yaml = iranker::ConfigToYaml(c);
    const std::string again = iranker::ConfigToYaml(iranker::LoadConfig(
        iranker::fuzz::MemFile(reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size()).path(),
        {}));
    if (again != yaml)
      iranker::fuzz::Violation("fuzz_config", "a printed config does not load to itself");
  });
  return 0;
}
