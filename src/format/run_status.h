// The status document of a backup run (docs/format/manifest.md, "Run
// status"): what a running backup has done so far, or what the last run did.
// A running backup overwrites it every checkpoint interval and at its end;
// `kafka-backup status` reads it. It is informational, never a commit point:
// restore and validate trust only the manifest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kafka_backup/run_status.h"
#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr std::string_view kRunStatusFormatName = "kafka-backup-run-status";
inline constexpr int kRunStatusFormatVersion = 1;

// The document's content is the public RunStatus (kafka_backup/run_status.h),
// with the liveness rule beside it.
using RunStatus = ::kafka_backup::RunStatus;
using TopicRunStatus = RunStatus::Topic;
using ::kafka_backup::LivenessWindowSecs;
using ::kafka_backup::RunningAndFresh;

std::string SerializeRunStatus(const RunStatus& s);
// Corruption when the text is not a run status document of a known version.
Result<RunStatus> ParseRunStatus(std::string_view text);

}  // namespace kafka_backup::format
