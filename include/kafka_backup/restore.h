// Restore: writes the records of a backup (all topics or a selection, within
// an optional time window) into the target cluster, creating missing topics
// with the recorded partition count and configs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_backup/backup.h"
#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

struct RestoreTopicReport {
  std::string name;         // in the target cluster
  std::string source_name;  // in the backup (differs with restore.topic_mapping)
  bool dry_run = false;
  bool created = false;  // created (or, in a dry run, would be)
  uint64_t records = 0;
  uint64_t bytes = 0;
};

struct RestoreReport {
  std::string backup_id;
  bool dry_run = false;
  std::vector<RestoreTopicReport> topics;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t bytes_fetched = 0;  // read from storage
  // Records whose CreateTime was exactly 0: librdkafka sends a timestamp of 0
  // as "now", so the target holds the restore time for them (reported, never
  // silent). Their original timestamp stays in the backup.
  uint64_t zero_timestamp_records = 0;
  double seconds = 0;
};

// Refuses (Conflict) to write into a target topic that already holds data,
// unless restore.on_existing_data is "append".
Result<RestoreReport> RunRestore(const Config& config, const RunOptions& options);

}  // namespace kafka_backup
