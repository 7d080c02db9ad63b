#include "format/checkpoint.h"

#include <algorithm>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "format/json_fields.h"

namespace kafka_backup::format {
namespace {

using json_fields::Field;
using nlohmann::json;

}  // namespace

std::string SerializeCheckpoint(const CheckpointEntry& e) {
  json j{{"format", kCheckpointFormatName}, {"format_version", kCheckpointFormatVersion}, {"backup_id", e.backup_id},
         {"sequence", e.sequence},          {"written_at_ms", e.written_at_ms},           {"continuous", e.continuous}};
  if (e.base) {
    j["manifest"] = json::parse(SerializeManifest(*e.base));
    json cuts = json::array();
    for (const auto& [key, offset] : e.cuts) {
      cuts.push_back({{"topic", key.topic}, {"partition", key.partition}, {"offset", offset}});
    }
    j["cuts"] = cuts;
  }
  json parts = json::array();
  for (const auto& d : e.partitions) {
    json segments = json::array();
    for (const auto& s : d.segments) segments.push_back(SegmentRefToJson(s));
    json part{{"topic", d.topic},
              {"partition", d.partition},
              {"end_offset", d.end_offset},
              {"bytes", d.bytes},
              {"segments", segments}};
    if (!d.gaps.empty()) part["gaps"] = GapsToJson(d.gaps);
    parts.push_back(std::move(part));
  }
  j["partitions"] = parts;
  if (e.consumer_groups) j["consumer_groups"] = GroupsToJson(*e.consumer_groups);
  return j.dump(1) + "\n";
}

Result<CheckpointEntry> ParseCheckpoint(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("checkpoint is not a JSON object");
  try {
    if (Field<std::string>(j, "format", "") != kCheckpointFormatName) {
      return Status::Corruption("not a kafka-backup checkpoint (field 'format')");
    }
    int version = Field<int>(j, "format_version", "");
    if (version != kCheckpointFormatVersion) {
      return Status::Corruption(fmt::format(
          "checkpoint format version {} is not supported (this build reads version {}); use a newer kafka-backup",
          version, kCheckpointFormatVersion));
    }
    CheckpointEntry e;
    e.backup_id = Field<std::string>(j, "backup_id", "");
    e.sequence = Field<uint64_t>(j, "sequence", "");
    e.written_at_ms = Field<int64_t>(j, "written_at_ms", "");
    e.continuous = Field<bool>(j, "continuous", "");
    if (j.contains("manifest")) {
      auto base = ParseManifest(Field<json>(j, "manifest", "").dump());
      if (!base.ok()) return base.status().WithContext("checkpoint base");
      e.base = std::move(*base);
      for (const auto& cj : Field<json>(j, "cuts", "")) {
        e.cuts[{Field<std::string>(cj, "topic", "cuts[]."), Field<int32_t>(cj, "partition", "cuts[].")}] =
            Field<int64_t>(cj, "offset", "cuts[].");
      }
    }
    for (const auto& pj : Field<json>(j, "partitions", "")) {
      PartitionDelta d;
      d.topic = Field<std::string>(pj, "topic", "partitions[].");
      d.partition = Field<int32_t>(pj, "partition", "partitions[].");
      std::string path = fmt::format("partitions[{}/{}].", d.topic, d.partition);
      d.end_offset = Field<int64_t>(pj, "end_offset", path);
      d.bytes = Field<uint64_t>(pj, "bytes", path);
      for (const auto& sj : Field<json>(pj, "segments", path)) {
        d.segments.push_back(SegmentRefFromJson(sj, path + "segments[]."));
      }
      if (pj.contains("gaps")) d.gaps = GapsFromJson(pj["gaps"], path);
      e.partitions.push_back(std::move(d));
    }
    if (j.contains("consumer_groups")) e.consumer_groups = GroupsFromJson(j["consumer_groups"]);
    return e;
  } catch (const std::exception& ex) {
    return Status::Corruption(fmt::format("checkpoint is malformed: {}", ex.what()));
  }
}

void ApplyDelta(const PartitionDelta& d, PartitionManifest* p) {
  for (const auto& s : d.segments) {
    p->record_count += s.record_count;
    if (s.record_count > 0) {
      p->min_timestamp = p->min_timestamp ? std::min(*p->min_timestamp, s.min_timestamp) : s.min_timestamp;
      p->max_timestamp = p->max_timestamp ? std::max(*p->max_timestamp, s.max_timestamp) : s.max_timestamp;
    }
    p->segments.push_back(s);
  }
  // The stored digest was the fold of the segments before these; writers
  // fold again when they write (manifest.cc), so it is dropped, not kept stale.
  if (!d.segments.empty()) p->digest.clear();
  p->gaps.insert(p->gaps.end(), d.gaps.begin(), d.gaps.end());
  p->bytes += d.bytes;
  p->end_offset = std::max(p->end_offset, d.end_offset);
}

Result<Journal> ReplayJournal(const std::vector<CheckpointEntry>& entries) {
  auto base = std::find_if(entries.rbegin(), entries.rend(), [](const auto& e) { return e.base.has_value(); });
  if (base == entries.rend()) return Status::Corruption("checkpoint journal has no base entry");
  Journal journal;
  journal.manifest = *base->base;
  journal.cuts = base->cuts;
  journal.continuous = base->continuous;
  journal.base_sequence = base->sequence;
  journal.last_sequence = base->sequence;
  journal.manifest.completed_at_ms = base->written_at_ms;
  std::map<PartitionKey, PartitionManifest*> index;
  for (auto& t : journal.manifest.topics) {
    for (auto& p : t.partitions) index[{t.name, p.partition}] = &p;
  }
  for (auto it = base.base(); it != entries.end(); ++it) {
    if (it->sequence != journal.last_sequence + 1) {
      return Status::Corruption(
          fmt::format("checkpoint journal skips from sequence {} to {}", journal.last_sequence, it->sequence));
    }
    for (const auto& d : it->partitions) {
      auto p = index.find({d.topic, d.partition});
      if (p == index.end()) {
        return Status::Corruption(fmt::format("checkpoint {} names {}[{}], which its base does not list", it->sequence,
                                              d.topic, d.partition));
      }
      ApplyDelta(d, p->second);
    }
    if (it->consumer_groups) journal.manifest.consumer_groups = *it->consumer_groups;
    journal.last_sequence = it->sequence;
    journal.manifest.completed_at_ms = it->written_at_ms;
  }
  journal.manifest.state = journal.continuous ? "continuous" : "partial";
  return journal;
}

}  // namespace kafka_backup::format
