#include "format/manifest.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "format/digest.h"
#include "format/json_fields.h"

namespace kafka_backup::format {
namespace {

using json_fields::Field;
using json_fields::OptionalField;
using nlohmann::json;

json PartitionToJson(const PartitionManifest& p) {
  json j{{"partition", p.partition},
         {"start_offset", p.start_offset},
         {"end_offset", p.end_offset},
         {"record_count", p.record_count},
         {"bytes", p.bytes}};
  if (p.min_timestamp) j["min_timestamp"] = *p.min_timestamp;
  if (p.max_timestamp) j["max_timestamp"] = *p.max_timestamp;
  j["segments"] = json::array();
  for (const auto& s : p.segments) j["segments"].push_back(SegmentRefToJson(s));
  // Derived from the segments as they are written, so it cannot go stale.
  if (std::optional<std::string> digest = PartitionDigest(p.segments)) j["digest"] = *digest;
  if (!p.gaps.empty()) j["gaps"] = GapsToJson(p.gaps);
  if (p.held_back > 0) j["held_back"] = p.held_back;
  return j;
}

}  // namespace

json GapsToJson(const std::vector<OffsetGap>& gaps) {
  json arr = json::array();
  for (const auto& g : gaps) {
    arr.push_back({{"first_offset", g.first_offset}, {"last_offset", g.last_offset}, {"reason", g.reason}});
  }
  return arr;
}

std::vector<OffsetGap> GapsFromJson(const json& j, const std::string& path) {
  std::vector<OffsetGap> gaps;
  if (!j.is_array()) throw std::runtime_error(fmt::format("field '{}gaps' has the wrong type", path));
  for (const auto& gj : j) {
    gaps.push_back({Field<int64_t>(gj, "first_offset", path + "gaps[]."),
                    Field<int64_t>(gj, "last_offset", path + "gaps[]."),
                    Field<std::string>(gj, "reason", path + "gaps[].")});
  }
  return gaps;
}

json SegmentRefToJson(const SegmentRef& s) {
  json j{{"key", s.key},
         {"size", s.size},
         {"first_offset", s.first_offset},
         {"last_offset", s.last_offset},
         {"record_count", s.record_count},
         {"min_timestamp", s.min_timestamp},
         {"max_timestamp", s.max_timestamp}};
  if (s.bytes > 0) j["bytes"] = s.bytes;
  if (!s.digest.empty()) j["digest"] = s.digest;
  return j;
}

SegmentRef SegmentRefFromJson(const json& sj, const std::string& path) {
  SegmentRef s;
  s.key = Field<std::string>(sj, "key", path);
  s.size = Field<uint64_t>(sj, "size", path);
  s.first_offset = Field<int64_t>(sj, "first_offset", path);
  s.last_offset = Field<int64_t>(sj, "last_offset", path);
  s.record_count = Field<uint64_t>(sj, "record_count", path);
  s.min_timestamp = Field<int64_t>(sj, "min_timestamp", path);
  s.max_timestamp = Field<int64_t>(sj, "max_timestamp", path);
  s.bytes = OptionalField<uint64_t>(sj, "bytes", path).value_or(0);
  s.digest = OptionalField<std::string>(sj, "digest", path).value_or("");
  return s;
}

json GroupsToJson(const std::vector<ConsumerGroupManifest>& groups) {
  json arr = json::array();
  for (const auto& g : groups) {
    json offsets = json::array();
    for (const auto& o : g.offsets)
      offsets.push_back({{"topic", o.topic}, {"partition", o.partition}, {"offset", o.offset}});
    arr.push_back({{"group_id", g.group_id}, {"offsets", offsets}});
  }
  return arr;
}

std::vector<ConsumerGroupManifest> GroupsFromJson(const json& j) {
  if (!j.is_array()) throw std::runtime_error("field 'consumer_groups' has the wrong type");
  std::vector<ConsumerGroupManifest> groups;
  for (const auto& gj : j) {
    ConsumerGroupManifest g;
    g.group_id = Field<std::string>(gj, "group_id", "consumer_groups[].");
    std::string gp = fmt::format("consumer_groups[{}].offsets[].", g.group_id);
    for (const auto& oj : Field<json>(gj, "offsets", "consumer_groups[].")) {
      g.offsets.push_back(
          {Field<std::string>(oj, "topic", gp), Field<int32_t>(oj, "partition", gp), Field<int64_t>(oj, "offset", gp)});
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

uint64_t TopicManifest::RecordCount() const {
  uint64_t n = 0;
  for (const auto& p : partitions) n += p.record_count;
  return n;
}
uint64_t TopicManifest::Bytes() const {
  uint64_t n = 0;
  for (const auto& p : partitions) n += p.bytes;
  return n;
}
uint64_t Manifest::RecordCount() const {
  uint64_t n = 0;
  for (const auto& t : topics) n += t.RecordCount();
  return n;
}
uint64_t Manifest::Bytes() const {
  uint64_t n = 0;
  for (const auto& t : topics) n += t.Bytes();
  return n;
}
uint64_t Manifest::StoredBytes() const {
  uint64_t n = 0;
  for (const auto& t : topics)
    for (const auto& p : t.partitions)
      for (const auto& s : p.segments) n += s.size;
  return n;
}
const TopicManifest* Manifest::FindTopic(std::string_view name) const {
  for (const auto& t : topics)
    if (t.name == name) return &t;
  return nullptr;
}

std::string SerializeManifest(const Manifest& m) {
  json topics = json::array();
  for (const auto& t : m.topics) {
    json parts = json::array();
    for (const auto& p : t.partitions) parts.push_back(PartitionToJson(p));
    json tj{{"name", t.name},
            {"partition_count", t.partition_count},
            {"replication_factor", t.replication_factor},
            {"configs", t.configs},
            {"partitions", parts}};
    if (!t.topic_id.empty()) tj["topic_id"] = t.topic_id;
    if (!t.events.empty()) {
      tj["events"] = json::array();
      for (const auto& e : t.events) {
        json ej{{"at_ms", e.at_ms}, {"event", e.event}, {"detail", e.detail}};
        if (!e.topic_id.empty()) ej["topic_id"] = e.topic_id;
        tj["events"].push_back(std::move(ej));
      }
    }
    topics.push_back(std::move(tj));
  }
  json j{{"format", kManifestFormatName},
         {"format_version", m.format_version},
         {"backup_id", m.backup_id},
         {"tool_version", m.tool_version},
         {"created_at_ms", m.created_at_ms},
         {"completed_at_ms", m.completed_at_ms},
         {"source_cluster_id", m.source_cluster_id},
         {"kafka_cluster_id", m.kafka_cluster_id},
         {"compression", m.compression},
         {"compression_level", m.compression_level},
         {"include_offset_headers", m.include_offset_headers},
         {"topics", topics}};
  if (m.encryption) j["encryption"] = {{"algorithm", m.encryption->algorithm}, {"key_id", m.encryption->key_id}};
  if (!m.parent_backup_id.empty()) j["parent_backup_id"] = m.parent_backup_id;
  if (!m.missing_topics.empty()) j["missing_topics"] = m.missing_topics;
  j["consumer_groups"] = GroupsToJson(m.consumer_groups);
  return j.dump(2) + "\n";
}

Result<Manifest> ParseManifest(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("manifest is not a JSON object");
  try {
    if (Field<std::string>(j, "format", "") != kManifestFormatName) {
      return Status::Corruption("not a kafka-backup manifest (field 'format')");
    }
    Manifest m;
    m.format_version = Field<int>(j, "format_version", "");
    if (m.format_version != kManifestFormatVersion) {
      return Status::Corruption(fmt::format(
          "manifest format version {} is not supported (this build reads version {}); use a newer kafka-backup",
          m.format_version, kManifestFormatVersion));
    }
    m.backup_id = Field<std::string>(j, "backup_id", "");
    m.tool_version = Field<std::string>(j, "tool_version", "");
    m.created_at_ms = Field<int64_t>(j, "created_at_ms", "");
    m.completed_at_ms = Field<int64_t>(j, "completed_at_ms", "");
    m.source_cluster_id = Field<std::string>(j, "source_cluster_id", "");
    m.kafka_cluster_id = Field<std::string>(j, "kafka_cluster_id", "");
    m.compression = Field<std::string>(j, "compression", "");
    m.compression_level = Field<int>(j, "compression_level", "");
    m.include_offset_headers = OptionalField<bool>(j, "include_offset_headers", "").value_or(false);
    if (j.contains("encryption")) {
      json e = Field<json>(j, "encryption", "");
      m.encryption = ManifestEncryption{Field<std::string>(e, "algorithm", "encryption."),
                                        Field<std::string>(e, "key_id", "encryption.")};
      if (m.encryption->algorithm != "AES-256-GCM") {
        return Status::Corruption(
            fmt::format("the backup is encrypted with {}, which this build cannot read (it reads AES-256-GCM); use "
                        "a newer kafka-backup",
                        m.encryption->algorithm));
      }
    }
    m.parent_backup_id = OptionalField<std::string>(j, "parent_backup_id", "").value_or("");
    m.missing_topics =
        OptionalField<std::vector<std::string>>(j, "missing_topics", "").value_or(std::vector<std::string>{});
    for (const auto& tj : Field<json>(j, "topics", "")) {
      TopicManifest t;
      t.name = Field<std::string>(tj, "name", "topics[].");
      std::string tp = fmt::format("topics[{}].", t.name);
      t.partition_count = Field<int32_t>(tj, "partition_count", tp);
      t.replication_factor = Field<int32_t>(tj, "replication_factor", tp);
      t.configs = Field<std::map<std::string, std::string>>(tj, "configs", tp);
      t.topic_id = OptionalField<std::string>(tj, "topic_id", tp).value_or("");
      if (tj.contains("events")) {
        for (const auto& ej : Field<json>(tj, "events", tp)) {
          std::string ep = tp + "events[].";
          t.events.push_back({Field<int64_t>(ej, "at_ms", ep), Field<std::string>(ej, "event", ep),
                              OptionalField<std::string>(ej, "topic_id", ep).value_or(""),
                              Field<std::string>(ej, "detail", ep)});
        }
      }
      for (const auto& pj : Field<json>(tj, "partitions", tp)) {
        PartitionManifest p;
        p.partition = Field<int32_t>(pj, "partition", tp + "partitions[].");
        std::string pp = fmt::format("{}partitions[{}].", tp, p.partition);
        p.start_offset = Field<int64_t>(pj, "start_offset", pp);
        p.end_offset = Field<int64_t>(pj, "end_offset", pp);
        p.record_count = Field<uint64_t>(pj, "record_count", pp);
        p.bytes = Field<uint64_t>(pj, "bytes", pp);
        p.min_timestamp = OptionalField<int64_t>(pj, "min_timestamp", pp);
        p.max_timestamp = OptionalField<int64_t>(pj, "max_timestamp", pp);
        for (const auto& sj : Field<json>(pj, "segments", pp)) {
          p.segments.push_back(SegmentRefFromJson(sj, pp + "segments[]."));
        }
        p.digest = OptionalField<std::string>(pj, "digest", pp).value_or("");
        if (pj.contains("gaps")) p.gaps = GapsFromJson(pj["gaps"], pp);
        p.held_back = OptionalField<int64_t>(pj, "held_back", pp).value_or(0);
        if (p.held_back < 0) throw std::runtime_error(fmt::format("field '{}held_back' is negative", pp));
        t.partitions.push_back(std::move(p));
      }
      m.topics.push_back(std::move(t));
    }
    if (j.contains("consumer_groups")) m.consumer_groups = GroupsFromJson(j["consumer_groups"]);
    return m;
  } catch (const std::exception& e) {
    return Status::Corruption(fmt::format("manifest is malformed: {}", e.what()));
  }
}

}  // namespace kafka_backup::format
