// What a backup run knows of one partition: where it reads, the open segment,
// the segments sealed but not yet durable, and what is durable (the manifest,
// and what of it the checkpoint journal does not hold yet).
//
// Owns: the partition's positions (read, durable, journaled), its gaps
// (offsets the broker deleted before they were read) and what it inherits of
// an incremental backup's parent. Not thread-safe: the reading thread alone
// uses it. Uses: format and the segment pipeline.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "backup/segment_pipeline.h"
#include "format/checkpoint.h"
#include "format/digest.h"
#include "format/manifest.h"
#include "format/segment.h"
#include "format/topic_partition.h"

namespace kafka_backup::backup {

// A continuous run has no cut.
constexpr int64_t kNoCut = INT64_MAX;

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  int64_t cut = 0;        // records with offset < cut belong to this backup (kNoCut: continuous)
  int64_t high = -1;      // continuous: the high watermark last seen
  int64_t read_upto = 0;  // offsets below this were read (stored in a sealed segment or skipped)
  bool done = false;
  uint64_t records = 0;        // read by this run
  uint64_t payload_bytes = 0;  // read by this run
  // The open segment: its records so far, the block being filled, and the
  // object the pipeline is writing (null when no segment is open).
  std::shared_ptr<SegmentPipeline::Segment> segment;
  std::string segment_key;
  int64_t segment_from = 0;  // the position when it was opened
  format::SegmentSummary summary;
  format::ContentDigest digest;  // of the open segment's records
  format::BlockBuilder block;
  // Segments sealed, in order, until they are stored and every one before
  // them is: only then do they count as durable.
  struct Sealed {
    std::string key;
    int64_t covers_to = 0;  // the position after it
    bool stored = false;
    format::SegmentRef ref;
    uint64_t bytes = 0;
  };
  std::deque<Sealed> sealed;
  // What is durable: segments and end_offset (the durable position); what the
  // journal has of it is `journaled_end` plus `delta`, written at the next
  // checkpoint.
  format::PartitionManifest manifest;
  format::PartitionDelta delta;
  int64_t journaled_end = 0;

  // The next offset to read: past the open segment's last record, or what
  // sealed segments and skips covered; the cut once the partition is done.
  int64_t Position() const {
    if (done) return cut;
    return std::max(summary.record_count > 0 ? summary.last_offset + 1 : 0, read_upto);
  }
  // Offsets still to read up to the cut (continuous: up to the high watermark).
  int64_t Lag() const {
    int64_t upto = cut == kNoCut ? high : cut;
    return std::max<int64_t>(0, upto - Position());
  }

  // Moves the stored segments, in order, into what is durable.
  void AdvanceDurable();
  // Records offsets [from, to) as a gap (`reason`) in the manifest and in the
  // next checkpoint's delta.
  void AddGap(int64_t from, int64_t to, std::string reason);
  // The broker deleted offsets the backup had not read (retention,
  // delete-records), those below `low`: records them as a gap and moves past
  // them. Returns how many offsets that skipped (0: none).
  uint64_t SkipDeleted(int64_t low);
  // Takes over what an incremental backup's parent holds of the partition,
  // whose log starts at `low` now; reading continues where the parent stopped.
  void Inherit(const format::PartitionManifest& from, int64_t low);
};

using PartitionMap = std::map<format::TopicPartition, PartitionState>;

}  // namespace kafka_backup::backup
