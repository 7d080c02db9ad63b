#include "drill/read_back.h"

#include <fmt/format.h>

namespace kafka_backup::drill {
namespace {

bool IsLogAppendTime(const format::TopicManifest& t) {
  auto it = t.configs.find("message.timestamp.type");
  return it != t.configs.end() && it->second == "LogAppendTime";
}

std::string Span(const std::optional<int64_t>& first, const std::optional<int64_t>& last) {
  return first ? fmt::format("{}..{}", *first, last.value_or(*first)) : std::string("none");
}

// How a difference names the segment it starts in.
std::string Where(const format::SegmentRef& s) {
  return fmt::format("segment {} (offsets {}..{} in the backup)", s.key, s.first_offset, s.last_offset);
}

}  // namespace

PartitionCheck::PartitionCheck(const format::TopicManifest& topic, const format::PartitionManifest& p,
                               DrillPartition* out)
    : manifest_(p), log_append_time_(IsLogAppendTime(topic)), out_(out) {
  out_->expected_records = p.record_count;
  for (const auto& s : p.segments) has_digests_ = has_digests_ && !s.digest.empty();
  SkipEmptySegments();
}

void PartitionCheck::Add(format::RecordView r) {
  if (!out_->first_offset) out_->first_offset = r.offset;
  out_->last_offset = r.offset;
  out_->records++;
  if (segment_ >= manifest_.segments.size()) {  // more than the backup holds
    if (first_difference_.empty()) {
      first_difference_ = fmt::format("record {} read back, after the last segment's records", out_->records);
    }
    return;
  }
  // A restore cannot write LogAppendTime (a producer sets CreateTime): it
  // writes the original timestamps and then sets the topic to LogAppendTime,
  // so what it wrote reads back as CreateTime.
  if (log_append_time_ && r.timestamp_type == format::TimestampType::kCreateTime) {
    r.timestamp_type = format::TimestampType::kLogAppendTime;
  }
  digest_.Add(r);
  if (++in_segment_ == manifest_.segments[segment_].record_count) FinishSegment();
}

void PartitionCheck::ExpectOffsets(const format::PartitionOffsetMap* map) {
  offsets_expected_ = true;
  if (!map) return;
  for (const auto& run : map->runs) {
    if (run.count <= 0) continue;
    int64_t last = run.target_offset + run.count - 1;
    if (!out_->expected_first_offset || run.target_offset < *out_->expected_first_offset) {
      out_->expected_first_offset = run.target_offset;
    }
    if (!out_->expected_last_offset || last > *out_->expected_last_offset) out_->expected_last_offset = last;
    map_records_ += static_cast<uint64_t>(run.count);
  }
}

void PartitionCheck::Finish() {
  DrillPartition& o = *out_;
  // A segment left part-read: its records are missing (or fewer came).
  if (segment_ < manifest_.segments.size() && first_difference_.empty()) {
    first_difference_ = Where(manifest_.segments[segment_]);
  }
  if (!has_digests_) {
    o.digest = "unavailable";
  } else {
    o.digest = first_difference_.empty() ? "match" : "differs";
    o.first_difference = first_difference_;
  }
  if (o.records != o.expected_records) {
    o.problem = fmt::format("{} records read back, the backup holds {}", o.records, o.expected_records);
    if (has_digests_) o.problem += fmt::format("; the first difference is in {}", first_difference_);
  } else if (o.digest == "differs") {
    o.problem = fmt::format("the records differ from the backup's, first in {}", first_difference_);
  }
  if (offsets_expected_) {
    std::string offsets;
    if (o.first_offset != o.expected_first_offset || o.last_offset != o.expected_last_offset) {
      offsets = fmt::format("read back at offsets {}, the restore's offset map puts them at {}",
                            Span(o.first_offset, o.last_offset), Span(o.expected_first_offset, o.expected_last_offset));
    } else if (map_records_ != o.expected_records) {
      offsets =
          fmt::format("the restore's offset map holds {} records, the backup {}", map_records_, o.expected_records);
    }
    if (!offsets.empty()) o.problem += (o.problem.empty() ? "" : "; ") + offsets;
  }
  o.ok = o.problem.empty();
}

void PartitionCheck::FinishSegment() {
  const format::SegmentRef& s = manifest_.segments[segment_];
  if (first_difference_.empty() && digest_.Value() != s.digest) first_difference_ = Where(s);
  digest_.Reset();
  in_segment_ = 0;
  ++segment_;
  SkipEmptySegments();
}

void PartitionCheck::SkipEmptySegments() {
  while (segment_ < manifest_.segments.size() && manifest_.segments[segment_].record_count == 0) ++segment_;
}

}  // namespace kafka_backup::drill
