// One-shot backup: copies the selected topics, up to the cut taken at start,
// into the storage named by the config, and commits a manifest last.
#pragma once

#include <cstdint>
#include <string>

#include "kafka_backup/config.h"
#include "kafka_backup/run_options.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

struct BackupReport {
  std::string backup_id;
  std::string storage_url;
  int topics = 0;
  int partitions = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;         // record payload bytes
  uint64_t stored_bytes = 0;  // segment bytes written
  uint64_t segments = 0;
  double seconds = 0;
};

// Requires config.mode backup (or empty), a source and a storage location.
// Fails with AlreadyExists if the backup id is already committed; a run that
// died earlier under the same id left no manifest, and its leftover segments
// are deleted before this run starts.
Result<BackupReport> RunBackup(const Config& config, const RunOptions& options);

}  // namespace kafka_backup
