#include "backup/partition_state.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace kafka_backup::backup {

void PartitionState::AdvanceDurable() {
  // Segments of a partition are stored in parallel and may finish out of
  // order; they become durable in order.
  while (!sealed.empty() && sealed.front().stored) {
    Sealed& f = sealed.front();
    format::PartitionDelta one;
    one.end_offset = f.covers_to;
    one.bytes = f.bytes;
    one.segments.push_back(f.ref);
    format::ApplyDelta(one, &manifest);
    delta.segments.push_back(std::move(f.ref));
    delta.bytes += f.bytes;
    sealed.pop_front();
  }
  if (!sealed.empty()) return;
  // Nothing in flight: everything read before the open segment (or, with
  // none open, everything read) is stored; offsets in between hold no
  // committed record (compaction, transaction markers).
  int64_t durable = done ? cut : segment ? segment_from : std::min(Position(), cut);
  manifest.end_offset = std::max(manifest.end_offset, durable);
}

void PartitionState::AddGap(int64_t from, int64_t to, std::string reason) {
  format::OffsetGap gap{from, to - 1, std::move(reason)};
  manifest.gaps.push_back(gap);
  delta.gaps.push_back(std::move(gap));
}

uint64_t PartitionState::SkipDeleted(int64_t low) {
  int64_t from = Position();
  int64_t to = std::min(low, cut);  // exclusive
  if (to <= from) return 0;
  spdlog::warn("{}[{}]: offsets {}..{} were deleted by the broker before this backup read them; recorded as a gap",
               topic, partition, from, to - 1);
  AddGap(from, to, "deleted by the broker (retention or delete-records) before it was read");
  read_upto = to;
  return static_cast<uint64_t>(to - from);
}

void PartitionState::Inherit(const format::PartitionManifest& from, int64_t low) {
  format::PartitionManifest& pm = manifest;
  // Segments wholly below the log start hold only records deleted since.
  for (const auto& seg : from.segments) {
    if (seg.last_offset >= low) pm.segments.push_back(seg);
  }
  pm.start_offset = std::max(from.start_offset, pm.segments.empty() ? low : std::min(low, pm.segments[0].first_offset));
  for (auto gap : from.gaps) {
    if (gap.last_offset < pm.start_offset) continue;
    gap.first_offset = std::max(gap.first_offset, pm.start_offset);
    pm.gaps.push_back(std::move(gap));
  }
  pm.end_offset = std::max(from.end_offset, low);
  pm.record_count = 0;
  pm.bytes = 0;
  for (const auto& seg : pm.segments) {
    pm.record_count += seg.record_count;
    pm.bytes += seg.bytes;
    pm.min_timestamp = std::min(pm.min_timestamp.value_or(seg.min_timestamp), seg.min_timestamp);
    pm.max_timestamp = std::max(pm.max_timestamp.value_or(seg.max_timestamp), seg.max_timestamp);
  }
  // Manifests written before segments recorded their payload: the parent's
  // figure, exact when every segment is inherited.
  if (pm.segments.size() == from.segments.size()) pm.bytes = from.bytes;
  read_upto = pm.end_offset;
  journaled_end = pm.end_offset;
}

}  // namespace kafka_backup::backup
