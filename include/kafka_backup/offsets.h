// Offset tools: move consumer groups on the target to where a completed
// restore's offset map says they belong (plan, execute, or print the
// equivalent kafka-consumer-groups commands), and undo an execute.
//
// Every execute first stores a snapshot of the groups' current offsets beside
// the restore (restores/<backup_id>/<restore_id>/offset-snapshots/), which
// RollbackOffsets puts back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

struct OffsetResetEntry {
  std::string group_id;
  std::string topic;  // target topic
  int32_t partition = 0;
  std::optional<int64_t> current;  // the group's committed offset on the target now
  std::optional<int64_t> target;   // nullopt: no commit (rollback of a partition that had none)
  std::string from;                // "orders[3]@1200": the source position it comes from
};

struct OffsetResetPlan {
  std::string backup_id;
  std::string restore_id;
  std::string bootstrap;  // the target cluster, for scripts
  std::vector<OffsetResetEntry> entries;
};

// Where offset-reset moves the groups. kExact: the positions the backup
// recorded, through the restore's offset map. The others as Kafka's
// kafka-consumer-groups --to-earliest / --to-latest / --to-datetime /
// --to-offset: every partition of each restored topic the group had
// committed offsets on, at its log start, its end, the first record at or
// after a time (the end if none), or an offset (clamped to the partition).
struct ResetTo {
  enum class Kind { kExact, kEarliest, kLatest, kTime, kOffset } kind = Kind::kExact;
  int64_t value = 0;  // kTime: epoch ms; kOffset: the offset
};

// Positions of the groups recorded in the backup (restore.consumer_groups
// selects; default all; named on the target as restore.group_mapping says)
// through the offset map of `restore_id` (empty: the newest restore of the
// backup).
Result<OffsetResetPlan> PlanOffsetReset(const Config& config, const std::string& restore_id, const ResetTo& to = {});
// Snapshots the current offsets, then commits the plan. Groups with active
// members are refused (Conflict). Returns the snapshot id.
Result<std::string> ExecuteOffsetReset(const Config& config, const OffsetResetPlan& plan);
// The plan that puts back snapshot `snapshot_id` (empty: the newest).
Result<OffsetResetPlan> PlanRollback(const Config& config, const std::string& restore_id,
                                     const std::string& snapshot_id);
// Applies a rollback plan (no new snapshot).
Status ApplyRollback(const Config& config, const OffsetResetPlan& plan);

}  // namespace kafka_backup
