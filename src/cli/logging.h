// Logging on stderr: human-readable lines by default, one JSON object per line
// with --log-format json ({"time":..., "level":..., "message":...}), errors
// included, for log collectors.
#pragma once

#include <string>

namespace kafka_backup::cli {

void SetUpLogging(const std::string& level, const std::string& format);
bool JsonLogs();
// An error line, in the chosen log format: "error: <message>" or a JSON object
// with "level":"error" and the exit code.
void PrintError(const std::string& message, int exit_code);

}  // namespace kafka_backup::cli
