#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "base/error.h"

namespace iranker {

void InitLogging(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept that for the literal "off".
  if (lvl == spdlog::level::off && level != "off") {
    Fail(ErrorCode::kInvalidArgument, "unknown log level '", level,
         "' (expected trace, debug, info, warn, error or off)");
  }
  static bool installed = false;
  if (!installed) {
    auto logger = spdlog::stderr_color_mt("iranker");
    spdlog::set_default_logger(logger);
    installed = true;
  }
  spdlog::set_level(lvl);
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] [" + ProcessIdentity() + "] %v");
}

}  // namespace iranker
