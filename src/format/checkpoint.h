// The checkpoint journal of a backup that is running, was interrupted, or
// runs continuously (docs/format/manifest.md, "Checkpoints"): a base entry
// holding a whole manifest, then delta entries each naming only what became
// durable since the entry before it, so that a checkpoint costs what is new,
// not what is stored. Pure functions over JSON, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format/manifest.h"
#include "format/topic_partition.h"
#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr std::string_view kCheckpointFormatName = "kafka-backup-checkpoint";
inline constexpr int kCheckpointFormatVersion = 1;

using PartitionKey = TopicPartition;

// What one partition gained since the previous entry.
struct PartitionDelta {
  std::string topic;
  int32_t partition = 0;
  int64_t end_offset = 0;  // durable position: every record below it is stored
  uint64_t bytes = 0;      // payload bytes of `segments`
  std::vector<SegmentRef> segments;
  std::vector<OffsetGap> gaps;  // found since the previous entry
};

struct CheckpointEntry {
  std::string backup_id;
  uint64_t sequence = 0;
  int64_t written_at_ms = 0;
  bool continuous = false;
  // A base entry: the whole backup as of this entry (end_offset of each
  // partition = its durable position). Readers start at the newest base.
  std::optional<Manifest> base;
  // One-shot runs: where each partition's reading stops (the cut); in the
  // base entry only.
  std::map<PartitionKey, int64_t> cuts;
  // A delta entry: what partitions gained. (A continuous run that finds a
  // new topic writes a base entry instead.)
  std::vector<PartitionDelta> partitions;
  // A delta entry of a continuous run: consumer groups' committed offsets
  // read again, replacing those recorded before (absent: unchanged).
  std::optional<std::vector<ConsumerGroupManifest>> consumer_groups;
};

std::string SerializeCheckpoint(const CheckpointEntry& entry);
// Corruption naming the field when malformed.
Result<CheckpointEntry> ParseCheckpoint(std::string_view json);

// The backup a journal describes: its newest base with every later delta
// applied in sequence order.
struct Journal {
  Manifest manifest;  // state "partial" or "continuous"; completed_at_ms = last checkpoint
  std::map<PartitionKey, int64_t> cuts;
  bool continuous = false;
  uint64_t last_sequence = 0;
  uint64_t base_sequence = 0;
};

// `entries` sorted by sequence; the first must be a base. A gap in the
// sequence numbers or a delta naming an unknown partition is Corruption.
Result<Journal> ReplayJournal(const std::vector<CheckpointEntry>& entries);

// Adds `delta` to a partition's manifest (segments, counts, time range,
// durable position).
void ApplyDelta(const PartitionDelta& delta, PartitionManifest* partition);

}  // namespace kafka_backup::format
