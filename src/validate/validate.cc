#include "kafka_backup/validate.h"

#include <optional>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "catalog/keys.h"
#include "metrics/metrics.h"
#include "storage/object_store.h"
#include "util/progress.h"

namespace kafka_backup {

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
  Progress progress("validate", total, options.progress);
  for (const auto& t : manifest->topics) {
    uint64_t records = 0;
    for (const auto& p : t.partitions) records += work(p);
    progress.AddTopic(t.name, records);
  }
  std::optional<metrics::RunGauges> gauges;  // records: a deep validation's only
  if (deep) gauges.emplace("validate", total);
  uint64_t done = 0;
  uint64_t payload = 0;  // record payload bytes checked
  for (size_t ti = 0; ti < manifest->topics.size(); ++ti) {
    const auto& t = manifest->topics[ti];
    uint64_t topic_done = 0;
    uint64_t topic_bytes = 0;
    auto advance = [&](uint64_t n, uint64_t bytes) {
      done += n;
      topic_done += n;
      topic_bytes += bytes;
      progress.UpdateTopic(ti, topic_done, topic_bytes);
      progress.Update(done, report.bytes_read);
      if (gauges) {
        gauges->Publish(done, payload);
        metrics::Metrics::Get().StoredBytes("validate").Increment(static_cast<double>(bytes));
      }
    };
    if (static_cast<int32_t>(t.partitions.size()) != t.partition_count) {
      report.issues.push_back({t.name, -1, "manifest",
                               fmt::format("topic has {} partitions recorded but partition_count {}",
                                           t.partitions.size(), t.partition_count),
                               std::nullopt});
    }
    for (const auto& p : t.partitions) {
      report.partitions++;
      ValidatePartition& part = report.partition_results.emplace_back();
      part.topic = t.name;
      part.partition = p.partition;
      part.records = p.record_count;
      auto issue = [&](const std::string& object, const std::string& msg,
                       std::optional<UnreadableRecords> unreadable = std::nullopt) {
        report.issues.push_back({t.name, p.partition, object, msg, unreadable});
        part.issues++;
        if (unreadable) part.records_unreadable += unreadable->records;
      };
      // The partition's offset and time ranges, as read or as recorded.
      auto span = [&](int64_t first, int64_t last, int64_t min_ts, int64_t max_ts) {
        if (!part.first_offset || first < *part.first_offset) part.first_offset = first;
        if (!part.last_offset || last > *part.last_offset) part.last_offset = last;
        if (!part.min_timestamp || min_ts < *part.min_timestamp) part.min_timestamp = min_ts;
        if (!part.max_timestamp || max_ts > *part.max_timestamp) part.max_timestamp = max_ts;
      };
      uint64_t seg_records = 0;
      int64_t prev_last = p.start_offset - 1;
      for (const auto& seg : p.segments) {
        report.segments++;
        part.segments++;
        seg_records += seg.record_count;
        if (seg.first_offset <= prev_last || seg.last_offset >= p.end_offset || seg.first_offset < p.start_offset) {
          issue(seg.key,
                fmt::format("offsets {}..{} overlap the previous segment or leave the partition's range {}..{}",
                            seg.first_offset, seg.last_offset, p.start_offset, p.end_offset));
        }
        prev_last = seg.last_offset;
        if (!deep) {
          if (seg.record_count > 0) span(seg.first_offset, seg.last_offset, seg.min_timestamp, seg.max_timestamp);
          auto head = store->Head(seg.key);
          if (!head.ok()) {
            if (head.status().code() != Status::Code::kNotFound) return head.status();
            issue(seg.key, "segment object is missing",
                  UnreadableRecords{0, seg.first_offset, seg.last_offset, seg.record_count});
          } else if (head->size != seg.size) {
            issue(seg.key, fmt::format("segment is {} bytes, the manifest says {}: truncated or overwritten",
                                       head->size, seg.size));
          }
          advance(1, 0);
          continue;
        }
        uint64_t count = 0;
        int64_t prev = seg.first_offset - 1;
        int64_t first = -1;
        int64_t min_ts = INT64_MAX;
        int64_t max_ts = INT64_MIN;
        bool damaged = false;
        catalog::ReadStats stats;
        Status s = catalog::ReadSegmentViews(
            *store, seg, {},
            [&](const format::RecordView& r, const auto&) {
              if (r.offset <= prev) {
                return Status::Corruption(fmt::format("offset {} follows {}: out of order", r.offset, prev));
              }
              if (count == 0) first = r.offset;
              prev = r.offset;
              ++count;
              payload += r.PayloadBytes();
              min_ts = std::min(min_ts, r.timestamp);
              max_ts = std::max(max_ts, r.timestamp);
              return Status::Ok();
            },
            &stats,
            [&](const catalog::SegmentDamage& d) {
              damaged = true;
              std::optional<UnreadableRecords> lost;
              if (d.records > 0) lost = UnreadableRecords{d.position, d.first_offset, d.last_offset, d.records};
              issue(seg.key, d.status.ToString(), lost);
              return Status::Ok();
            },
            key ? &*key : nullptr);
        report.bytes_read += stats.bytes_fetched;
        report.records_checked += count;
        part.records_checked += count;
        if (count > 0) span(first, prev, min_ts, max_ts);
        advance(count, stats.bytes_fetched);
        if (!s.ok()) {
          if (s.code() != Status::Code::kCorruption) return s;
          issue(seg.key, s.ToString());
          continue;
        }
        if (!damaged && (count != seg.record_count || prev != seg.last_offset ||
                         (count > 0 && (min_ts != seg.min_timestamp || max_ts != seg.max_timestamp)))) {
          issue(seg.key, fmt::format("segment content (records {}, last offset {}, timestamps {}..{}) disagrees with "
                                     "the manifest (records {}, last offset {}, timestamps {}..{})",
                                     count, prev, min_ts, max_ts, seg.record_count, seg.last_offset, seg.min_timestamp,
                                     seg.max_timestamp));
        }
      }
      if (seg_records != p.record_count) {
        issue("manifest",
              fmt::format("segments hold {} records, the partition records {}", seg_records, p.record_count));
      }
    }
  }
  progress.Finish();
  if (gauges) gauges->Publish(done, payload);
  return report;
}

}  // namespace kafka_backup
