// The read back of a drill: one restored partition's records, in order,
// checked against the partition of the backup's manifest: the count, and the
// content digest of each segment's run of records (docs/format/digest.md).
// Pure logic over records, so the unit tests feed it what a broker could
// return (a record missing, changed, doubled).
#pragma once

#include <string>

#include "format/digest.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/record.h"
#include "kafka_backup/drill.h"

namespace kafka_backup::drill {

class PartitionCheck {
 public:
  // `out` (expected_records, records, offsets, digest, problem, ok) is filled
  // as records come and by Finish; it must outlive the check.
  PartitionCheck(const format::TopicManifest& topic, const format::PartitionManifest& partition, DrillPartition* out);

  // The next record read back, in offset order.
  void Add(format::RecordView record);
  // Where the restore's offset map (its phase 2) says it wrote this
  // partition's records; Finish then checks the offsets read back against it.
  // Null: the map has no entry (nothing was written).
  void ExpectOffsets(const format::PartitionOffsetMap* map);
  // The partition's end was reached: the verdict.
  void Finish();

 private:
  void FinishSegment();
  void SkipEmptySegments();

  const format::PartitionManifest& manifest_;
  bool log_append_time_;
  DrillPartition* out_;
  bool has_digests_ = true;
  size_t segment_ = 0;
  uint64_t in_segment_ = 0;
  format::ContentDigest digest_;
  std::string first_difference_;
  bool offsets_expected_ = false;
  uint64_t map_records_ = 0;
};

}  // namespace kafka_backup::drill
