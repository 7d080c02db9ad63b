// What a storage location holds, read-only: its backups (list, describe), the
// status a backup run writes as it goes, and the offset maps its restores
// stored. `kafka-backup list`, `describe`, `status` and `show-offset-mapping`
// are this header and a printer; nothing here writes to storage.
//
//   KB_ASSIGN_OR_RETURN(auto catalog, BackupCatalog::Open("s3://bucket/backups"));
//   KB_ASSIGN_OR_RETURN(BackupInfo latest, catalog->Describe("latest"));
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka_backup/run_status.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

// Offsets of a partition the backup does not hold, and why (the source had
// deleted them, a record was unreadable...): docs/format/manifest.md.
struct BackupGap {
  int64_t first_offset = 0;
  int64_t last_offset = 0;  // inclusive
  std::string reason;
};

struct BackupPartition {
  int32_t partition = 0;
  int64_t start_offset = 0;
  int64_t end_offset = 0;  // the cut: records with offset < end_offset are in the backup
  uint64_t records = 0;
  uint64_t bytes = 0;  // record payload
  uint64_t segments = 0;
  std::optional<int64_t> min_timestamp;
  std::optional<int64_t> max_timestamp;
  std::vector<BackupGap> gaps;
  // Offsets from end_offset on that were in a transaction still open at the
  // cut; the next backup takes them.
  int64_t held_back = 0;
};

// Something that happened to a topic while a continuous backup watched it
// (deleted, recreated under a new topic id).
struct BackupTopicEvent {
  int64_t at_ms = 0;
  std::string event;
  std::string topic_id;
  std::string detail;
};

struct BackupTopic {
  std::string name;
  std::string topic_id;  // Kafka's topic id (base64); empty when unknown
  int32_t partition_count = 0;
  int32_t replication_factor = 0;
  std::map<std::string, std::string> configs;  // non-default topic configs
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::vector<BackupPartition> partitions;
  std::vector<BackupTopicEvent> events;
};

// One backup as its manifest (committed) or, before it has one, its last
// checkpoint describes it.
struct BackupInfo {
  std::string backup_id;
  // "committed"; "continuous" (a continuous backup, described by its last
  // checkpoint) or "partial" (a one-shot run still running or interrupted).
  std::string state;
  int64_t created_at_ms = 0;
  int64_t completed_at_ms = 0;  // not committed: when its last checkpoint was written
  std::string source_cluster_id;
  std::string kafka_cluster_id;
  std::string compression;
  // Set for an encrypted backup: the algorithm and which key decrypts it.
  struct Encryption {
    std::string algorithm;
    std::string key_id;
  };
  std::optional<Encryption> encryption;
  std::string parent_backup_id;             // incremental: the backup it builds on
  std::vector<std::string> missing_topics;  // named in the include list, absent from the source
  uint64_t records = 0;
  uint64_t bytes = 0;         // record payload
  uint64_t stored_bytes = 0;  // every segment it lists, inherited ones included
  uint64_t segments = 0;
  uint64_t own_segments = 0;  // those its own run stored (an incremental one inherits the rest)
  uint64_t own_stored_bytes = 0;
  std::vector<BackupTopic> topics;

  bool committed() const { return state == "committed"; }
};

// A backup whose manifest or checkpoint journal cannot be read: listed as
// damaged, never "latest", and every other backup stays readable.
struct DamagedBackup {
  std::string backup_id;
  Status reason;  // Corruption naming the object
};

struct BackupListing {
  std::string storage_url;
  std::vector<BackupInfo> backups;     // by completion time, oldest first
  std::vector<DamagedBackup> damaged;  // by id
};

struct RunStatusReading {
  RunStatus status;
  // A committed backup written by a version that recorded no run status is
  // described from its manifest.
  bool from_manifest = false;
};

// Where a restore put each record (docs/format/offset-map.md): runs of
// consecutive source offsets and where they landed.
struct OffsetMapping {
  std::string restore_id;
  std::string backup_id;
  std::string target_cluster_id;
  int64_t created_at_ms = 0;
  struct Run {
    int64_t source_offset = 0;
    int32_t target_partition = 0;
    int64_t target_offset = 0;
    int64_t count = 0;
  };
  struct Partition {
    int32_t source_partition = 0;
    std::vector<Run> runs;
  };
  struct Topic {
    std::string source_topic;
    std::string target_topic;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  std::string json;  // the map as stored, one document (docs/format/offset-map.md)
};

class BackupCatalog {
 public:
  // A storage location by URL (a directory, file://, s3://, azure://, gs://:
  // docs/storage.md). Opening reads nothing; credentials come as the
  // engines take them (the environment, the provider's chain).
  static Result<std::unique_ptr<BackupCatalog>> Open(const std::string& storage_url);
  ~BackupCatalog();
  BackupCatalog(const BackupCatalog&) = delete;
  BackupCatalog& operator=(const BackupCatalog&) = delete;

  // The location as the store names it (a directory becomes its file:// URL).
  const std::string& url() const;

  // Every backup; only storage failures (unreachable, access refused) fail
  // it, damage is reported per backup.
  Result<BackupListing> List();
  // "latest": the committed or continuous backup whose last commit or
  // checkpoint is newest; any other id must exist. NotFound lists the ids
  // that do.
  Result<std::string> Resolve(const std::string& id_or_latest);
  Result<BackupInfo> Describe(const std::string& id_or_latest);
  // The status document of a backup's run; for "latest", the one written most
  // recently by any run.
  Result<RunStatusReading> ReadRunStatus(const std::string& id_or_latest);
  // The offset map of restore `restore_id` of a backup; with an empty id, the
  // newest restore of it. NotFound says the backup was not restored yet.
  Result<OffsetMapping> ReadOffsetMapping(const std::string& backup_id_or_latest, const std::string& restore_id);

 private:
  struct Impl;
  explicit BackupCatalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kafka_backup
