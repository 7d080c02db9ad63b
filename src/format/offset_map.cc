#include "format/offset_map.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "format/json_numbers.h"

namespace kafka_backup::format {

using nlohmann::json;

const TopicOffsetMap* OffsetMap::FindTopic(std::string_view source_topic) const {
  for (const auto& t : topics)
    if (t.source_topic == source_topic) return &t;
  return nullptr;
}

std::optional<TargetPosition> FirstAtOrAfter(const PartitionOffsetMap& map, int64_t offset) {
  // The first run that ends after `offset`.
  auto it = std::lower_bound(map.runs.begin(), map.runs.end(), offset,
                             [](const OffsetRun& r, int64_t o) { return r.source_offset + r.count <= o; });
  if (it == map.runs.end()) return std::nullopt;
  int64_t skip = std::max<int64_t>(0, offset - it->source_offset);
  return TargetPosition{it->target_partition, it->target_offset + skip};
}

std::vector<OffsetRun> BuildRuns(const std::vector<OffsetEntry>& entries) {
  std::vector<OffsetRun> runs;
  runs.reserve(entries.size());
  for (const auto& e : entries) runs.push_back({e.source_offset, e.target_partition, e.target_offset, 1});
  return MergeRuns(std::move(runs));
}

std::vector<OffsetRun> MergeRuns(std::vector<OffsetRun> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const OffsetRun& a, const OffsetRun& b) { return a.source_offset < b.source_offset; });
  std::vector<OffsetRun> out;
  for (const auto& r : runs) AppendRun(&out, r);
  return out;
}

std::vector<OffsetRun> OverlayRuns(std::vector<OffsetRun> older, std::vector<OffsetRun> newer) {
  older = MergeRuns(std::move(older));
  newer = MergeRuns(std::move(newer));
  std::vector<OffsetRun> out;
  size_t first = 0;  // the first run of `newer` that may overlap the current older run
  for (const auto& o : older) {
    const int64_t end = o.source_offset + o.count;
    while (first < newer.size() && newer[first].source_offset + newer[first].count <= o.source_offset) ++first;
    int64_t at = o.source_offset;  // what of `o` is not yet kept or dropped
    for (size_t k = first; k < newer.size() && newer[k].source_offset < end && at < end; ++k) {
      if (newer[k].source_offset > at) {
        out.push_back({at, o.target_partition, o.target_offset + (at - o.source_offset), newer[k].source_offset - at});
      }
      at = std::max(at, newer[k].source_offset + newer[k].count);
    }
    if (at < end) out.push_back({at, o.target_partition, o.target_offset + (at - o.source_offset), end - at});
  }
  out.insert(out.end(), newer.begin(), newer.end());
  return MergeRuns(std::move(out));
}

void AppendRun(std::vector<OffsetRun>* runs, const OffsetRun& run) {
  if (!runs->empty()) {
    OffsetRun& last = runs->back();
    if (last.target_partition == run.target_partition && last.source_offset + last.count == run.source_offset &&
        last.target_offset + last.count == run.target_offset) {
      last.count += run.count;
      return;
    }
  }
  runs->push_back(run);
}

std::vector<OffsetRun> TrimRuns(std::vector<OffsetRun> runs, int64_t source_end) {
  std::erase_if(runs, [&](const OffsetRun& r) { return r.source_offset >= source_end; });
  for (auto& r : runs) r.count = std::min(r.count, source_end - r.source_offset);
  return runs;
}

std::string SerializeOffsetMap(const OffsetMap& m) {
  json topics = json::array();
  for (const auto& t : m.topics) {
    json parts = json::array();
    for (const auto& p : t.partitions) {
      json runs = json::array();
      for (const auto& r : p.runs) runs.push_back({r.source_offset, r.target_partition, r.target_offset, r.count});
      parts.push_back({{"source_partition", p.source_partition}, {"runs", runs}});
    }
    topics.push_back({{"source_topic", t.source_topic}, {"target_topic", t.target_topic}, {"partitions", parts}});
  }
  json j{{"format", "kafka-backup-offset-map"},
         {"format_version", m.format_version},
         {"restore_id", m.restore_id},
         {"backup_id", m.backup_id},
         {"target_cluster_id", m.target_cluster_id},
         {"created_at_ms", m.created_at_ms},
         {"topics", topics}};
  if (m.previous_part) j["previous_part"] = *m.previous_part;
  return j.dump() + "\n";
}

Result<OffsetMap> ParseOffsetMap(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  // value() with a json default: a "format" that is not a string is no error here.
  if (j.is_discarded() || !j.is_object() || j.value("format", json()) != "kafka-backup-offset-map") {
    return Status::Corruption("not a kafka-backup offset map");
  }
  if (auto where = FindFractionalNumber(j)) {
    return Status::Corruption(fmt::format("offset map is malformed: {} is not an integer", *where));
  }
  try {
    OffsetMap m;
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version != kOffsetMapFormatVersion) {
      return Status::Corruption(fmt::format(
          "offset map format version {} is not supported (this build reads version {}); use a newer kafka-backup",
          m.format_version, kOffsetMapFormatVersion));
    }
    m.restore_id = j.at("restore_id").get<std::string>();
    m.backup_id = j.at("backup_id").get<std::string>();
    m.target_cluster_id = j.at("target_cluster_id").get<std::string>();
    m.created_at_ms = j.at("created_at_ms").get<int64_t>();
    if (j.contains("previous_part")) {
      const json& previous = j.at("previous_part");
      if (!previous.is_number_unsigned())
        return Status::Corruption("offset map is malformed: previous_part is not a sequence number");
      m.previous_part = previous.get<uint64_t>();
    }
    for (const auto& tj : j.at("topics")) {
      TopicOffsetMap t;
      t.source_topic = tj.at("source_topic").get<std::string>();
      t.target_topic = tj.at("target_topic").get<std::string>();
      for (const auto& pj : tj.at("partitions")) {
        PartitionOffsetMap p;
        p.source_partition = pj.at("source_partition").get<int32_t>();
        for (const auto& rj : pj.at("runs")) {
          OffsetRun r{rj.at(0).get<int64_t>(), rj.at(1).get<int32_t>(), rj.at(2).get<int64_t>(),
                      rj.at(3).get<int64_t>()};
          // Offsets are Kafka offsets and a run ends within int64: what
          // MergeRuns, TrimRuns and FirstAtOrAfter add up cannot overflow.
          if (r.source_offset < 0 || r.target_partition < 0 || r.target_offset < 0 || r.count < 1 ||
              r.source_offset > INT64_MAX - r.count || r.target_offset > INT64_MAX - r.count) {
            return Status::Corruption(fmt::format(
                "offset map is malformed: topic {} partition {} has the run [{}, {}, {}, {}] (offsets and partition "
                "must be >= 0, count >= 1, offset + count < 2^63)",
                t.source_topic, p.source_partition, r.source_offset, r.target_partition, r.target_offset, r.count));
          }
          p.runs.push_back(r);
        }
        t.partitions.push_back(std::move(p));
      }
      m.topics.push_back(std::move(t));
    }
    return m;
  } catch (const json::exception& e) {
    return Status::Corruption(fmt::format("offset map is malformed: {}", e.what()));
  }
}

}  // namespace kafka_backup::format
