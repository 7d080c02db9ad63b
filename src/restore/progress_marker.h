// The restore's progress marker: where each source partition of a topic
// resumes, kept as the metadata of the offsets the restore's transaction
// commits for its transactional id's group (docs/config.md, "Resuming").
//
// It is read back from the target cluster, which anyone may write to, so the
// parser takes any bytes: a marker it cannot read is Corruption, never a
// crash or a guess. Depends on util only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "kafka_backup/status.h"

namespace kafka_backup::restore {

// "kafka-backup-progress-v1 part=<N> <source partition>=<next offset> ..."
inline constexpr std::string_view kProgressTag = "kafka-backup-progress-v1";

struct ProgressMarker {
  // The sequence number of the last offset-map part committed with it.
  uint64_t part = 0;
  // Source partition -> the next offset to restore.
  std::map<int32_t, int64_t> next;

  bool operator==(const ProgressMarker&) const = default;
};

std::string EncodeProgressMarker(const ProgressMarker& marker);

// nullopt when `metadata` is not a marker (no tag: another tool's offsets);
// Corruption when it carries the tag but an entry is not partition=offset
// (both non-negative decimals) or part=<sequence>.
Result<std::optional<ProgressMarker>> ParseProgressMarker(std::string_view metadata);

// The sequence of an offset-map part's object name ("<sequence>.json", the
// last path element of storage::layout::OffsetMapPartKey), or nullopt.
std::optional<uint64_t> ParseOffsetMapPartName(std::string_view name);

}  // namespace kafka_backup::restore
