// Backup: copies the selected topics into the storage named by the config.
// One-shot: up to the cut taken at start, then commits a manifest. Continuous
// (backup.continuous): follows the topics until options.stop is set. Both
// write a checkpoint every checkpoint_interval_secs; a run of a backup id that
// has a checkpoint journal but no manifest resumes from its last checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "kafka_backup/run_options.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

// Offsets of a partition a transaction still open at the cut held back
// (format::PartitionManifest::held_back): the backup ends at `stable_offset`.
struct HeldBackOffsets {
  std::string topic;
  int32_t partition = 0;
  int64_t stable_offset = 0;
  int64_t offsets = 0;
};

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
  uint64_t deleted_offsets = 0;             // deleted by the broker before they were read: gaps in the manifest
  bool committed = false;                   // the manifest was written (a continuous run only checkpoints)
  std::vector<std::string> missing_topics;  // literal includes that did not exist (on_missing: warn)
  int64_t resumed_from_checkpoint = -1;     // the checkpoint a resumed run started from
  uint64_t checkpoints = 0;                 // entries written by this run
  uint64_t checkpoint_bytes = 0;            // ... their bytes
  double checkpoint_max_ms = 0;             // the slowest one
  // backup.incremental: the backup this one continued from ("" for a full
  // backup), and what it took over from it instead of reading it again.
  std::string parent_backup_id;
  uint64_t inherited_segments = 0;
  uint64_t inherited_records = 0;
  // One-shot: the partitions whose cut an open transaction held back.
  std::vector<HeldBackOffsets> held_back;
};

// Requires config.mode backup (or empty), a source and a storage location.
// Fails with AlreadyExists if the backup id is already committed, Conflict if
// another live run writes it; segments a killed run stored after its last
// checkpoint are deleted before this run starts. A one-shot run stopped by
// options.stop returns Unavailable (resumable) after its checkpoint.
Result<BackupReport> RunBackup(const Config& config, const RunOptions& options);

}  // namespace kafka_backup
