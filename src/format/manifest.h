// The backup manifest: the commit point of a backup (docs/format/manifest.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr int kManifestFormatVersion = 1;
inline constexpr const char* kManifestFormatName = "kafka-backup-manifest";

struct SegmentRef {
  std::string key;  // object key relative to the storage root
  uint64_t size = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  uint64_t record_count = 0;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
  uint64_t bytes = 0;  // record payload; 0 in manifests written before it was recorded
  // The content digest of its records (format/digest.h); empty in manifests
  // written before digests existed.
  std::string digest{};
};

// Offsets of a partition that are not in the backup although they were
// below its end: the broker deleted them (retention, delete-records) before
// the backup read them.
struct OffsetGap {
  int64_t first_offset = 0;
  int64_t last_offset = 0;  // inclusive
  std::string reason;
};

struct PartitionManifest {
  int32_t partition = 0;
  int64_t start_offset = 0;
  int64_t end_offset = 0;  // the cut: records with offset < end_offset are in the backup
  uint64_t record_count = 0;
  uint64_t bytes = 0;
  std::optional<int64_t> min_timestamp;
  std::optional<int64_t> max_timestamp;
  std::vector<SegmentRef> segments;
  // The digest the manifest stores (format/digest.h): written as
  // PartitionDigest(segments), absent when a segment has none. Read back as
  // stored, so a reader can check it against the segments.
  std::string digest{};
  std::vector<OffsetGap> gaps;  // in offset order; absent from the JSON when empty
  // Offsets from end_offset on that a transaction still open at the cut held
  // back: the high watermark then was end_offset + held_back. They are not in
  // this backup (read_committed cannot see them yet); the next backup takes
  // them. Absent from the JSON when 0.
  int64_t held_back = 0;
};

// Something a backup saw happen to a topic: "recreated" (deleted and created
// again; topic_id is the new id) or "deleted".
struct TopicEvent {
  int64_t at_ms = 0;
  std::string event;
  std::string topic_id;
  std::string detail;
};

struct TopicManifest {
  std::string name;
  std::string topic_id;  // Kafka's topic id (base64); empty when unknown
  int32_t partition_count = 0;
  int32_t replication_factor = 0;
  std::map<std::string, std::string> configs;  // non-default topic configs
  std::vector<PartitionManifest> partitions;
  std::vector<TopicEvent> events;  // absent from the JSON when empty

  uint64_t RecordCount() const;
  uint64_t Bytes() const;
};

// A consumer group's committed position in one partition, as read when the
// backup took its cut.
struct CommittedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;

  bool operator==(const CommittedOffset&) const = default;
};

struct ConsumerGroupManifest {
  std::string group_id;
  std::vector<CommittedOffset> offsets;  // only for topics in this backup

  bool operator==(const ConsumerGroupManifest&) const = default;
};

// How the backup's segments are encrypted (docs/format/segment.md,
// "Encryption"); absent when they are not.
struct ManifestEncryption {
  std::string algorithm;  // "AES-256-GCM"
  std::string key_id;     // 16 hex digits: which user key decrypts the backup
};

struct Manifest {
  int format_version = kManifestFormatVersion;
  std::string backup_id;
  std::string tool_version;
  int64_t created_at_ms = 0;
  int64_t completed_at_ms = 0;
  std::string source_cluster_id;
  std::string kafka_cluster_id;
  std::string compression;
  int compression_level = 0;
  // backup.include_offset_headers: restores add x-original-* headers by default.
  bool include_offset_headers = false;
  std::optional<ManifestEncryption> encryption;
  // An incremental backup: the backup it continued from (its segments are
  // listed here too, so nothing needs the parent's manifest).
  std::string parent_backup_id;
  // Topics named literally in source.topics.include that did not exist
  // (source.topics.on_missing: warn); empty otherwise.
  std::vector<std::string> missing_topics;
  std::vector<TopicManifest> topics;
  std::vector<ConsumerGroupManifest> consumer_groups;
  // Not stored: empty for a committed backup (its manifest object exists);
  // "partial" (a run still going or interrupted) or "continuous" when read
  // from the checkpoint journal (checkpoint.h), completed_at_ms then being the
  // last checkpoint's time.
  std::string state;

  bool committed() const { return state.empty(); }
  uint64_t RecordCount() const;
  uint64_t Bytes() const;
  uint64_t StoredBytes() const;  // sum of segment object sizes
  const TopicManifest* FindTopic(std::string_view name) const;
};

std::string SerializeManifest(const Manifest& manifest);
// A segment reference as the manifest and the checkpoint journal store it;
// the reader throws std::runtime_error naming a missing or mistyped field
// (prefixed with `path`).
nlohmann::json SegmentRefToJson(const SegmentRef& segment);
nlohmann::json GapsToJson(const std::vector<OffsetGap>& gaps);
std::vector<OffsetGap> GapsFromJson(const nlohmann::json& j, const std::string& path);
SegmentRef SegmentRefFromJson(const nlohmann::json& j, const std::string& path);
// Consumer groups' committed offsets as the manifest and the checkpoint
// journal store them (the reader throws like SegmentRefFromJson).
nlohmann::json GroupsToJson(const std::vector<ConsumerGroupManifest>& groups);
std::vector<ConsumerGroupManifest> GroupsFromJson(const nlohmann::json& j);
// Corruption if the JSON is malformed or a field is missing or of the wrong
// type; the message names the field. Newer format versions are rejected with a
// message naming the version found and the versions supported.
Result<Manifest> ParseManifest(std::string_view json);

}  // namespace kafka_backup::format
