// The offset map of one restore: where each restored record landed in the
// target cluster (docs/format/offset-map.md). Kept as runs, so a partition
// restored without gaps costs one entry, and exact across compaction gaps,
// transaction markers and repartitioning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr int kOffsetMapFormatVersion = 1;

// `count` records with source offsets source_offset, +1, ... landed at
// target_offset, +1, ... of target_partition.
struct OffsetRun {
  int64_t source_offset = 0;
  int32_t target_partition = 0;
  int64_t target_offset = 0;
  int64_t count = 0;
  bool operator==(const OffsetRun&) const = default;
};

struct PartitionOffsetMap {
  int32_t source_partition = 0;
  std::vector<OffsetRun> runs;  // sorted by source_offset
};

struct TopicOffsetMap {
  std::string source_topic;
  std::string target_topic;
  std::vector<PartitionOffsetMap> partitions;
};

struct OffsetMap {
  int format_version = kOffsetMapFormatVersion;
  std::string restore_id;
  std::string backup_id;
  std::string target_cluster_id;
  int64_t created_at_ms = 0;
  // A part of a restore in progress (restores/.../parts/<sequence>.json):
  // the sequence of the part committed before it, 0 for the first. Unset in
  // the complete map, and in parts written by earlier builds (their resume
  // keeps every part up to the committed one).
  std::optional<uint64_t> previous_part;
  std::vector<TopicOffsetMap> topics;

  const TopicOffsetMap* FindTopic(std::string_view source_topic) const;
};

struct TargetPosition {
  int32_t partition = 0;
  int64_t offset = 0;
};

// The first restored record of `partition` whose source offset is >= `offset`,
// or nullopt if every restored record is below it.
std::optional<TargetPosition> FirstAtOrAfter(const PartitionOffsetMap& map, int64_t offset);

struct OffsetEntry {
  int64_t source_offset;
  int32_t target_partition;
  int64_t target_offset;
};
// Sorts the entries by source offset and merges them into runs.
std::vector<OffsetRun> BuildRuns(const std::vector<OffsetEntry>& entries);

// Sorts runs by source offset and joins runs that continue each other.
std::vector<OffsetRun> MergeRuns(std::vector<OffsetRun> runs);

// `older` with every source offset that `newer` maps taken out, plus `newer`;
// sorted and merged. Each of the two maps any source offset at most once.
// A restore writes a record again only after its first write was aborted, so
// the later of two runs for one source offset is the true one.
std::vector<OffsetRun> OverlayRuns(std::vector<OffsetRun> older, std::vector<OffsetRun> newer);

// Appends `run` to `runs`, or extends the last run when `run` continues it.
// Records appended in offset order make one run per contiguous stretch; any
// order is valid input to MergeRuns.
void AppendRun(std::vector<OffsetRun>* runs, const OffsetRun& run);
// Drops what lies at or beyond `source_end` (records of transactions that
// did not commit).
std::vector<OffsetRun> TrimRuns(std::vector<OffsetRun> runs, int64_t source_end);

std::string SerializeOffsetMap(const OffsetMap& map);
Result<OffsetMap> ParseOffsetMap(std::string_view json);

}  // namespace kafka_backup::format
