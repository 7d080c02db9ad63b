#include "kafka_backup/validate.h"

#include <optional>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "catalog/keys.h"
#include "format/digest.h"
#include "metrics/metrics.h"
#include "storage/object_store.h"
#include "util/progress.h"

namespace kafka_backup {
namespace {

// One partition being checked: where its results and issues go.
struct PartitionCheck {
  const std::string& topic;
  const format::PartitionManifest& manifest;
  ValidatePartition& result;
};

// A validation under way: the report it fills, and the counts it shows as
// progress and publishes as metrics (a deep validation's records only).
class Validation {
 public:
  Validation(storage::ObjectStore& store, bool deep, const format::EncryptionKey* key, ValidateReport& report,
             Progress& progress, metrics::RunGauges* gauges)
      : store_(store), deep_(deep), key_(key), report_(report), progress_(progress), gauges_(gauges) {}

  // Checks every partition of the topic, the index-th of the manifest.
  Status CheckTopic(size_t index, const format::TopicManifest& t);
  void Finish() {
    progress_.Finish();
    if (gauges_) gauges_->Publish(done_, payload_);
  }

 private:
  Status CheckPartition(const std::string& topic, const format::PartitionManifest& p);
  // Shallow: the segment object exists with the recorded size.
  Status CheckStored(PartitionCheck& c, const format::SegmentRef& seg);
  // Deep: every record read, in order, and what they add up to as recorded.
  Status CheckRecords(PartitionCheck& c, const format::SegmentRef& seg);
  void Issue(PartitionCheck& c, const std::string& object, const std::string& message,
             std::optional<UnreadableRecords> unreadable = std::nullopt);
  // The partition's offset and time ranges, as read or as recorded.
  static void Span(ValidatePartition& part, int64_t first, int64_t last, int64_t min_ts, int64_t max_ts);
  void Advance(uint64_t n, uint64_t bytes);

  storage::ObjectStore& store_;
  const bool deep_;
  const format::EncryptionKey* key_;
  ValidateReport& report_;
  Progress& progress_;
  metrics::RunGauges* gauges_;
  uint64_t done_ = 0;     // records (deep) or segments (shallow) checked
  uint64_t payload_ = 0;  // record payload bytes checked
  size_t topic_index_ = 0;
  uint64_t topic_done_ = 0;
  uint64_t topic_bytes_ = 0;
};

Status Validation::CheckTopic(size_t index, const format::TopicManifest& t) {
  topic_index_ = index;
  topic_done_ = topic_bytes_ = 0;
  if (static_cast<int32_t>(t.partitions.size()) != t.partition_count) {
    report_.issues.push_back(
        {t.name, -1, "manifest",
         fmt::format("topic has {} partitions recorded but partition_count {}", t.partitions.size(), t.partition_count),
         std::nullopt});
  }
  for (const auto& p : t.partitions) KB_RETURN_IF_ERROR(CheckPartition(t.name, p));
  return Status::Ok();
}

Status Validation::CheckPartition(const std::string& topic, const format::PartitionManifest& p) {
  report_.partitions++;
  ValidatePartition& part = report_.partition_results.emplace_back();
  part.topic = topic;
  part.partition = p.partition;
  part.records = p.record_count;
  PartitionCheck c{topic, p, part};
  uint64_t seg_records = 0;
  int64_t prev_last = p.start_offset - 1;
  for (const auto& seg : p.segments) {
    report_.segments++;
    part.segments++;
    seg_records += seg.record_count;
    if (seg.first_offset <= prev_last || seg.last_offset >= p.end_offset || seg.first_offset < p.start_offset) {
      Issue(c, seg.key,
            fmt::format("offsets {}..{} overlap the previous segment or leave the partition's range {}..{}",
                        seg.first_offset, seg.last_offset, p.start_offset, p.end_offset));
    }
    prev_last = seg.last_offset;
    KB_RETURN_IF_ERROR(deep_ ? CheckRecords(c, seg) : CheckStored(c, seg));
  }
  if (seg_records != p.record_count) {
    Issue(c, "manifest",
          fmt::format("segments hold {} records, the partition records {}", seg_records, p.record_count));
  }
  if (!p.digest.empty() && format::PartitionDigest(p.segments) != p.digest) {
    Issue(c, "manifest", fmt::format("the partition's digest {} is not the fold of its segments' digests", p.digest));
  }
  return Status::Ok();
}

Status Validation::CheckStored(PartitionCheck& c, const format::SegmentRef& seg) {
  if (seg.record_count > 0) Span(c.result, seg.first_offset, seg.last_offset, seg.min_timestamp, seg.max_timestamp);
  auto head = store_.Head(seg.key);
  if (!head.ok()) {
    if (head.status().code() != Status::Code::kNotFound) return head.status();
    Issue(c, seg.key, "segment object is missing",
          UnreadableRecords{0, seg.first_offset, seg.last_offset, seg.record_count});
  } else if (head->size != seg.size) {
    Issue(c, seg.key,
          fmt::format("segment is {} bytes, the manifest says {}: truncated or overwritten", head->size, seg.size));
  }
  Advance(1, 0);
  return Status::Ok();
}

Status Validation::CheckRecords(PartitionCheck& c, const format::SegmentRef& seg) {
  uint64_t count = 0;
  int64_t prev = seg.first_offset - 1;
  int64_t first = -1;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  bool damaged = false;
  std::optional<format::ContentDigest> digest;
  if (!seg.digest.empty()) digest.emplace();
  catalog::ReadStats stats;
  Status s = catalog::ReadSegmentViews(
      store_, seg, {},
      [&](const format::RecordView& r, const auto&) {
        if (r.offset <= prev)
          return Status::Corruption(fmt::format("offset {} follows {}: out of order", r.offset, prev));
        if (count == 0) first = r.offset;
        prev = r.offset;
        ++count;
        payload_ += r.PayloadBytes();
        min_ts = std::min(min_ts, r.timestamp);
        max_ts = std::max(max_ts, r.timestamp);
        if (digest) digest->Add(r);
        return Status::Ok();
      },
      &stats,
      [&](const catalog::SegmentDamage& d) {
        damaged = true;
        std::optional<UnreadableRecords> lost;
        if (d.records > 0) lost = UnreadableRecords{d.position, d.first_offset, d.last_offset, d.records};
        Issue(c, seg.key, d.status.ToString(), lost);
        return Status::Ok();
      },
      key_);
  report_.bytes_read += stats.bytes_fetched;
  report_.records_checked += count;
  c.result.records_checked += count;
  if (count > 0) Span(c.result, first, prev, min_ts, max_ts);
  Advance(count, stats.bytes_fetched);
  if (!s.ok()) {
    if (s.code() != Status::Code::kCorruption) return s;
    Issue(c, seg.key, s.ToString());
    return Status::Ok();
  }
  if (!damaged && (count != seg.record_count || prev != seg.last_offset ||
                   (count > 0 && (min_ts != seg.min_timestamp || max_ts != seg.max_timestamp)))) {
    Issue(c, seg.key,
          fmt::format("segment content (records {}, last offset {}, timestamps {}..{}) disagrees with the manifest "
                      "(records {}, last offset {}, timestamps {}..{})",
                      count, prev, min_ts, max_ts, seg.record_count, seg.last_offset, seg.min_timestamp,
                      seg.max_timestamp));
  } else if (std::string read = digest ? digest->Value() : seg.digest; !damaged && read != seg.digest) {
    Issue(c, seg.key,
          fmt::format("the records' content digest is {}, the manifest says {}: a record's key, value, headers or "
                      "timestamp differs from what was backed up",
                      read, seg.digest));
  }
  return Status::Ok();
}

void Validation::Issue(PartitionCheck& c, const std::string& object, const std::string& message,
                       std::optional<UnreadableRecords> unreadable) {
  report_.issues.push_back({c.topic, c.manifest.partition, object, message, unreadable});
  c.result.issues++;
  if (unreadable) c.result.records_unreadable += unreadable->records;
}

void Validation::Span(ValidatePartition& part, int64_t first, int64_t last, int64_t min_ts, int64_t max_ts) {
  if (!part.first_offset || first < *part.first_offset) part.first_offset = first;
  if (!part.last_offset || last > *part.last_offset) part.last_offset = last;
  if (!part.min_timestamp || min_ts < *part.min_timestamp) part.min_timestamp = min_ts;
  if (!part.max_timestamp || max_ts > *part.max_timestamp) part.max_timestamp = max_ts;
}

void Validation::Advance(uint64_t n, uint64_t bytes) {
  done_ += n;
  topic_done_ += n;
  topic_bytes_ += bytes;
  progress_.UpdateTopic(topic_index_, topic_done_, topic_bytes_);
  progress_.Update(done_, report_.bytes_read);
  if (gauges_) {
    gauges_->Publish(done_, payload_);
    metrics::Metrics::Get().StoredBytes("validate").Increment(static_cast<double>(bytes));
  }
}

}  // namespace

Result<ValidateReport> RunValidate(const std::string& storage_url, const std::string& backup_id, bool deep,
                                   const RunOptions& options, const EncryptionConfig& encryption) {
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(storage_url));
  catalog::Catalog cat(*store);
  KB_ASSIGN_OR_RETURN(std::string id, cat.Resolve(backup_id));
  ValidateReport report;
  report.backup_id = id;
  report.deep = deep;
  auto manifest = cat.LoadManifest(id);
  if (!manifest.ok()) {
    if (manifest.status().code() != Status::Code::kCorruption) return manifest.status();
    report.issues.push_back({"", -1, "manifest", manifest.status().ToString(), std::nullopt});
    return report;
  }
  // Reading the records of an encrypted backup needs its key; its sizes do not.
  std::optional<format::EncryptionKey> key;
  if (deep) {
    KB_ASSIGN_OR_RETURN(key, catalog::KeyForBackup(*manifest, encryption));
  }
  report.topics = static_cast<int>(manifest->topics.size());
  // Deep: records checked of those recorded; shallow: segments checked.
  auto work = [deep](const format::PartitionManifest& p) { return deep ? p.record_count : p.segments.size(); };
  uint64_t total = 0;
  for (const auto& t : manifest->topics) {
    for (const auto& p : t.partitions) total += work(p);
  }
  Progress progress("validate", total, options);
  for (const auto& t : manifest->topics) {
    uint64_t records = 0;
    for (const auto& p : t.partitions) records += work(p);
    progress.AddTopic(t.name, records);
  }
  std::optional<metrics::RunGauges> gauges;
  if (deep) gauges.emplace("validate", total);
  Validation validation(*store, deep, key ? &*key : nullptr, report, progress, gauges ? &*gauges : nullptr);
  for (size_t ti = 0; ti < manifest->topics.size(); ++ti) {
    KB_RETURN_IF_ERROR(validation.CheckTopic(ti, manifest->topics[ti]));
  }
  validation.Finish();
  return report;
}

}  // namespace kafka_backup
