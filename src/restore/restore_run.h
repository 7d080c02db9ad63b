// One restore (RunRestore, and the dry run a preflight makes): its plan, its
// producers and the state its steps share. Run() is the sequence
// (restore_run.cc); the steps are defined by idea:
//   target_topics.cc    the target topics created or checked, and purged
//   resume.cc           where a rerun resumes: committed progress, offset-map parts
//   data_phase.cc       phase 1, the records, in transactions with their progress
//   group_positions.cc  phase 3, where each consumer group resumes on the target
// Internal to the restore engine; used from one thread (the read-ahead
// readers report damage on theirs, see data_phase.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "format/encryption.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/topic_partition.h"
#include "kafka/client.h"
#include "kafka_backup/restore.h"
#include "restore/topic_plan.h"
#include "storage/object_store.h"

namespace kafka_backup::restore {

using Clock = std::chrono::steady_clock;

// The seed's header names for restored records' provenance.
constexpr const char* kHeaderOriginalOffset = "x-original-offset";
constexpr const char* kHeaderOriginalTimestamp = "x-original-timestamp";
constexpr const char* kHeaderSourceCluster = "x-source-cluster";

// One source partition being restored: the unit the offset map is kept for.
struct Lane {
  size_t plan = 0;
  const format::PartitionManifest* partition = nullptr;
  size_t producer = 0;                       // the one of the producers that writes it
  std::vector<format::OffsetRun> delivered;  // the delivery reports, joined into runs as they come
  format::PartitionOffsetMap map;            // built from `delivered` when the data is written
};

// Progress of lane (topic T, source partition p) is kept on target partition
// T[p % partitions]; the commit's metadata lists "p=next" of every lane kept there.
inline format::TopicPartition ProgressSlot(const TopicPlan& plan, int32_t source_partition) {
  return {plan.target, source_partition % plan.target_partitions};
}

class RestoreRun {
 public:
  RestoreRun(const Config& config, const RunOptions& options) : config_(config), options_(options) {}
  Result<RestoreReport> Run();

 private:
  // The steps of Run, in order.
  Status CheckRunnable() const;
  Status PlanTopics(const std::vector<const format::TopicManifest*>& topics);
  size_t AssignProducers();
  Status TakeOverProducers(const std::string& txn_id, size_t producer_count);
  Status PrepareOffsetMapParts(storage::ObjectStore& store, const std::string& backup_id, const std::string& restore_id,
                               const std::vector<int64_t>& next);
  // What phase 1 works from, besides the plans and lanes.
  struct DataPhaseInput {
    storage::ObjectStore& store;
    const std::string& backup_id;
    const std::string& restore_id;
    const std::string& txn_id;  // the first producer's; names the progress group
    const std::string& cluster_id;
    const std::string& source_cluster_id;
    const catalog::RecordFilter& filter;
    bool offset_headers;
    uint64_t total;  // records to restore, at most
  };
  // Phase 1's state and its steps (data_phase.cc).
  class DataPhase;
  Status RestoreData(const DataPhaseInput& in, std::vector<int64_t>* next_offsets, RestoreReport* out);
  Status StoreOffsetMap(storage::ObjectStore& store, const std::string& backup_id, const std::string& cluster_id,
                        RestoreReport* report);
  Status RestoreGroupPositions(const std::vector<const format::ConsumerGroupManifest*>& groups,
                               storage::ObjectStore& store, RestoreReport* report);
  // Creates the target topic or checks the existing one; fills `deferred_configs_`.
  Status PrepareTopic(const TopicPlan& plan, const kafka::ClusterInfo& cluster, RestoreTopicReport* out);
  // restore.on_existing_data: purge: notes the partitions of an existing
  // target topic that hold records; RunPurges deletes them (once confirmed)
  // when every topic is prepared, before the first record is written.
  Status PlanPurge(const std::string& topic, const kafka::TopicInfo& existing, RestoreTopicReport* out);
  Status RunPurges(const RestoreReport& report);
  // Every target topic prepared and purged as configured, and known to the
  // producers; the records to restore, at most.
  Result<uint64_t> PrepareTopics(const kafka::ClusterInfo& cluster, RestoreReport* report);
  Result<std::vector<const format::ConsumerGroupManifest*>> SelectGroups(const format::Manifest& m) const;
  Status CheckGroupsInactive(const std::vector<const format::ConsumerGroupManifest*>& groups);
  // Restore phase 3: where each selected group resumes on the target.
  Result<std::vector<GroupPosition>> ComputeGroupPositions(
      const std::vector<const format::ConsumerGroupManifest*>& groups, storage::ObjectStore& store);
  // The target position of the first restored record of `lane` at or after
  // source offset `committed`; nullopt when every restored record is below it.
  Result<std::optional<format::TargetPosition>> PositionFor(const Lane& lane, int64_t committed,
                                                            storage::ObjectStore& store);
  Result<const format::PartitionOffsetMap*> HeaderMap(const std::string& topic, int32_t partition);
  Result<kafka::Consumer*> TargetReader();
  // Waits until every record this restore wrote is readable by a read_committed
  // consumer: a transaction's commit returns before the broker has written its
  // markers, and until then the partition's stable end stays behind them.
  Status WaitForCommittedData();
  // Whether read_committed consumers see any record of the partition from
  // `low` on. Aborted transactions are not data: a restore killed before its
  // first commit leaves some, and its rerun must not refuse them.
  Result<bool> HoldsCommittedRecords(kafka::Consumer& reader, const std::string& topic, int32_t partition, int64_t low);

  const Config& config_;
  const RunOptions& options_;
  std::optional<format::EncryptionKey> key_;  // the backup's, when it is encrypted
  std::unique_ptr<kafka::Admin> admin_;
  std::map<std::string, std::map<std::string, std::string>> deferred_configs_;
  std::vector<TopicPlan> plans_;
  std::vector<Lane> lanes_;
  // The transactional producers that write (none in a dry run), and those
  // whose ids were only taken over.
  std::vector<std::unique_ptr<kafka::Producer>> producers_;
  std::vector<std::unique_ptr<kafka::Producer>> idle_producers_;
  // Reads the progress a crashed run of this restore committed; returns
  // whether there is any (stale progress, for target topics that no longer
  // exist or are empty, is ignored).
  Result<bool> LoadProgress(const std::string& group, const kafka::ClusterInfo& cluster, std::vector<int64_t>* next);
  // The committed progress of the lanes `producer` writes, as offsets of the
  // progress group.
  std::vector<kafka::TopicPartitionOffset> ProgressOffsets(const std::vector<int64_t>& next, size_t producer) const;
  // The offset map of the committed part of a resumed restore.
  Status LoadOffsetMapSoFar(storage::ObjectStore& store, const std::string& backup_id, const std::string& restore_id,
                            const std::vector<int64_t>& next);

  std::unique_ptr<kafka::Consumer> target_reader_;
  std::map<format::TopicPartition, format::PartitionOffsetMap> header_maps_;
  bool resuming_ = false;
  struct Purge {
    std::string topic;
    std::vector<int32_t> partitions;
  };
  std::vector<Purge> purges_;
  // The sequence number of the last offset-map part whose transaction
  // committed; later parts belong to transactions that were aborted.
  uint64_t committed_part_ = 0;
};

}  // namespace kafka_backup::restore
