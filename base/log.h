// base/log.h — process-wide logging through spdlog.
//
// Every line carries the time, the level and the process identity (host:rank or a role label),
// so that interleaved output of mpirun/srun jobs can be told apart. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace iranker {

// Sets the level ("trace", "debug", "info", "warn", "error", "off") and the line format.
// Throws Error(kInvalidArgument) for an unknown level name.
void InitLogging(const std::string& level);

}  // namespace iranker

#define IR_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define IR_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define IR_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define IR_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
