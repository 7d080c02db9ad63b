// Restore: writes the records of a backup (all topics or a selection, within
// an optional time window) into the target cluster, creating missing topics
// with the recorded partition count and configs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "kafka_backup/run_options.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

struct RestoreTopicReport {
  std::string name;         // in the target cluster
  std::string source_name;  // in the backup (differs with restore.topic_mapping)
  bool dry_run = false;
  bool created = false;  // created (or, in a dry run, would be)
  // restore.on_existing_data: purge: offsets of the existing topic deleted
  // before the restore wrote (in a dry run, that would be).
  uint64_t purged_offsets = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Where a consumer group resumes on the target, and why.
struct GroupPosition {
  std::string group_id;  // on the target (restore.group_mapping applied)
  std::string topic;     // target topic
  int32_t partition = 0;
  int64_t offset = 0;
  // The committed source positions this was computed from ("orders[3]@1200").
  std::string from;
};

// Records of the backup a restore with restore.on_corruption: skip left out
// because they could not be read (a corrupt block, a missing, truncated or
// overwritten segment). They have no entry in the offset map.
struct SkippedRange {
  std::string topic;  // in the backup
  int32_t partition = 0;
  std::string object;        // the segment's key
  uint64_t position = 0;     // byte in the object where the unreadable part starts
  int64_t first_offset = 0;  // the source offsets (inclusive) the skipped records lie in
  int64_t last_offset = 0;
  uint64_t records = 0;  // records the backup holds there (some may lie outside a time window)
  std::string reason;
};

struct RestoreReport {
  std::string backup_id;
  std::string restore_id;
  std::string offset_map_key;  // where the offset map was stored (empty in a dry run)
  std::string group_strategy;
  std::vector<GroupPosition> group_positions;
  bool groups_committed = false;
  bool dry_run = false;
  std::vector<RestoreTopicReport> topics;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t bytes_fetched = 0;         // read from storage
  std::vector<SkippedRange> skipped;  // only with restore.on_corruption: skip
  uint64_t records_skipped = 0;       // the sum of skipped[].records
  double seconds = 0;
};

// Refuses (Conflict) to write into a target topic that already holds data,
// unless restore.on_existing_data is "append", or "purge": then the records
// of every partition of such a topic are deleted first (DeleteRecords, after
// options.confirm), unless the run resumes an earlier one. Data that cannot be read stops
// the restore (Corruption) unless restore.on_corruption is "skip": then it is
// left out and listed in the report's `skipped`. Runs three phases: the data
// (phase 1), the offset map stored beside the backup (phase 2), consumer
// group positions computed and, with reset_consumer_offsets, committed
// (phase 3).
Result<RestoreReport> RunRestore(const Config& config, const RunOptions& options);

// One check of a preflight.
struct PreflightCheck {
  std::string name;  // "target reachable", "topic orders", ...
  bool ok = false;
  std::string detail;  // what was found, or what is wrong and what to do
  Status status;       // why it failed (its code picks the exit code)
};

struct PreflightReport {
  std::string backup_id;
  std::vector<PreflightCheck> checks;
  bool ok() const {
    for (const auto& c : checks)
      if (!c.ok) return false;
    return true;
  }
};

// validate-restore: everything a restore would check, writing nothing: the
// backup exists, the target is reachable and authenticated, topics exist or
// can be created, partition counts fit the mappings, target topics are empty
// or a policy allows data, groups to reset are inactive, the time window
// selects data. A Status error only when the check itself could not run.
Result<PreflightReport> RunPreflight(const Config& config);

}  // namespace kafka_backup
