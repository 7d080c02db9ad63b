// Points in time as users write them: epoch milliseconds (1701234500000, what
// Kafka's record timestamps are), RFC 3339 (2026-12-01T10:00:00Z,
// 2026-12-01T11:00:00.250+01:00) or a time before now (-2h, -1h30m, -90s,
// -7d; units ms, s, m, h, d, w), and "now". Used for restore.time_window_*
// in the config and on the command line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kafka_backup/status.h"

namespace kafka_backup {

// Epoch milliseconds; a relative time counts back from `now_ms`.
// InvalidArgument names the text and the forms accepted.
Result<int64_t> ParseTimePoint(std::string_view text, int64_t now_ms);

// "2026-12-01T10:00:00.250Z": RFC 3339 in UTC, milliseconds shown when not 0.
std::string FormatRfc3339(int64_t epoch_ms);

}  // namespace kafka_backup
