#include "kafka_backup/restore.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "catalog/catalog.h"
#include "catalog/keys.h"
#include "format/offset_map.h"
#include "format/topic_partition.h"
#include "kafka/client.h"
#include "kafka/partitioner.h"
#include "metrics/metrics.h"
#include "restore/progress_marker.h"
#include "restore/read_ahead.h"
#include "storage/layout.h"
#include "storage/object_store.h"
#include "util/clock.h"
#include "util/glob.h"
#include "util/progress.h"
#include "util/strings.h"
#include "util/time_point.h"

namespace kafka_backup {
namespace {

using Clock = std::chrono::steady_clock;

// The seed's header names for restored records' provenance.
constexpr const char* kHeaderOriginalOffset = "x-original-offset";
constexpr const char* kHeaderOriginalTimestamp = "x-original-timestamp";
constexpr const char* kHeaderSourceCluster = "x-source-cluster";

constexpr const char* kTimestampTypeConfig = "message.timestamp.type";

Status CheckGroupOptions(const RestoreConfig& r, const std::string& file) {
  if (r.reset_consumer_offsets && r.consumer_group_strategy == "skip") {
    return Status::InvalidArgument(
        fmt::format("{}: restore.reset_consumer_offsets is true but consumer_group_strategy is skip; choose exact, "
                    "header-based or timestamp-based",
                    file));
  }
  return Status::Ok();
}

std::string TopicNames(const format::Manifest& m) {
  std::string names;
  for (const auto& t : m.topics) names += (names.empty() ? "" : ", ") + t.name;
  return names;
}
Result<std::vector<const format::TopicManifest*>> SelectTopics(const format::Manifest& m,
                                                               const std::vector<std::string>& wanted) {
  std::vector<const format::TopicManifest*> chosen;
  for (const auto& pattern : wanted) {
    if (!IsGlob(pattern) && !m.FindTopic(pattern)) {
      return Status::NotFound(fmt::format("topic '{}' (restore.topics) is not in backup '{}'; it holds: {}", pattern,
                                          m.backup_id, TopicNames(m)));
    }
  }
  for (const auto& t : m.topics) {
    if (wanted.empty() || MatchesAny(wanted, t.name)) chosen.push_back(&t);
  }
  if (chosen.empty()) {
    return Status::NotFound(fmt::format("no topic of backup '{}' matches restore.topics", m.backup_id));
  }
  return chosen;
}
template <typename Map>
Status CheckTopicKeys(const Map& options, const char* key, const format::Manifest& m) {
  for (const auto& [topic, _] : options) {
    if (!m.FindTopic(topic)) {
      return Status::InvalidArgument(fmt::format("restore.{} names topic '{}', which is not in backup '{}' ({})", key,
                                                 topic, m.backup_id, TopicNames(m)));
    }
  }
  return Status::Ok();
}

// The settings keyed by topic name only name topics of the backup.
Status CheckTopicKeys(const RestoreConfig& rc, const format::Manifest& m) {
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.topic_mapping, "topic_mapping", m));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.source_partitions, "source_partitions", m));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.partition_mapping, "partition_mapping", m));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.repartitioning, "repartitioning", m));
  return CheckTopicKeys(rc.topic_configs, "topic_configs", m);
}

// The records restore.time_window_start/end keep (logged when set).
catalog::RecordFilter TimeWindow(const RestoreConfig& rc, const std::string& backup_id) {
  catalog::RecordFilter filter;
  filter.min_timestamp = rc.time_window_start;
  filter.max_timestamp = rc.time_window_end;
  if (rc.time_window_start || rc.time_window_end) {
    // Relative times were resolved when the config was read: the log keeps
    // the absolute window, which a resumed run must be given to match.
    spdlog::info("restore {}: records with timestamps from {} to {} (epoch ms {} to {}, inclusive)", backup_id,
                 rc.time_window_start ? util::FormatRfc3339(*rc.time_window_start) : "the first",
                 rc.time_window_end ? util::FormatRfc3339(*rc.time_window_end) : "the last",
                 rc.time_window_start.value_or(0), rc.time_window_end ? fmt::to_string(*rc.time_window_end) : "-");
  }
  return filter;
}

// Where one topic of the backup goes.
struct TopicPlan {
  const format::TopicManifest* source = nullptr;
  std::string target;
  int32_t target_partitions = 0;       // the count the target topic must have (at least)
  std::optional<int32_t> repartition;  // exact count when keys are re-hashed
  std::map<int32_t, int32_t> partition_mapping;
  std::vector<const format::PartitionManifest*> partitions;  // to restore, in order

  int32_t TargetPartition(const format::PartitionManifest& p, const format::RecordView& r) const {
    if (repartition) return r.key ? kafka::PartitionForKey(*r.key, *repartition) : p.partition % *repartition;
    auto it = partition_mapping.find(p.partition);
    return it == partition_mapping.end() ? p.partition : it->second;
  }
};

Result<TopicPlan> PlanTopic(const format::TopicManifest& t, const RestoreConfig& r) {
  TopicPlan plan;
  plan.source = &t;
  auto renamed = r.topic_mapping.find(t.name);
  plan.target = renamed == r.topic_mapping.end() ? t.name : renamed->second;
  if (plan.target.empty()) return Status::InvalidArgument(fmt::format("restore.topic_mapping.{} is empty", t.name));

  auto only = r.source_partitions.find(t.name);
  for (const auto& p : t.partitions) {
    if (only == r.source_partitions.end() ||
        std::find(only->second.begin(), only->second.end(), p.partition) != only->second.end()) {
      plan.partitions.push_back(&p);
    }
  }
  if (only != r.source_partitions.end()) {
    for (int32_t wanted : only->second) {
      if (wanted >= t.partition_count) {
        return Status::InvalidArgument(fmt::format(
            "restore.source_partitions.{}: partition {} is not in the backup (the topic has partitions 0..{})", t.name,
            wanted, t.partition_count - 1));
      }
    }
  }

  auto mapping = r.partition_mapping.find(t.name);
  auto repartition = r.repartitioning.find(t.name);
  if (mapping != r.partition_mapping.end() && repartition != r.repartitioning.end()) {
    return Status::InvalidArgument(
        fmt::format("topic '{}' has both restore.partition_mapping and restore.repartitioning; choose one", t.name));
  }
  plan.target_partitions = t.partition_count;
  if (repartition != r.repartitioning.end()) {
    plan.repartition = repartition->second;
    plan.target_partitions = repartition->second;
  }
  if (mapping != r.partition_mapping.end()) {
    plan.partition_mapping = mapping->second;
    for (const auto& [from, to] : plan.partition_mapping) {
      if (from >= t.partition_count) {
        return Status::InvalidArgument(
            fmt::format("restore.partition_mapping.{}: source partition {} is not in the backup (partitions 0..{})",
                        t.name, from, t.partition_count - 1));
      }
      plan.target_partitions = std::max(plan.target_partitions, to + 1);
    }
  }
  return plan;
}

// Keeps a rate at or below records/s and bytes/s (0: no limit), sleeping as needed.
class Throttle {
 public:
  Throttle(uint64_t records_per_sec, uint64_t bytes_per_sec)
      : records_per_sec_(records_per_sec), bytes_per_sec_(bytes_per_sec), start_(Clock::now()) {}

  bool limited() const { return records_per_sec_ > 0 || bytes_per_sec_ > 0; }

  void Wait(uint64_t records, uint64_t bytes) {
    if (!limited()) return;  // no clock read per record
    records_ += records;
    bytes_ += bytes;
    double due = 0;  // seconds since start by which this much may have been sent
    if (records_per_sec_ > 0) due = std::max(due, static_cast<double>(records_) / records_per_sec_);
    if (bytes_per_sec_ > 0) due = std::max(due, static_cast<double>(bytes_) / bytes_per_sec_);
    double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (due > elapsed) std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed));
  }

 private:
  uint64_t records_per_sec_;
  uint64_t bytes_per_sec_;
  Clock::time_point start_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
};

// One source partition being restored: the unit the offset map is kept for.
struct Lane {
  size_t plan = 0;
  const format::PartitionManifest* partition = nullptr;
  size_t producer = 0;                       // the one of the producers that writes it
  std::vector<format::OffsetRun> delivered;  // the delivery reports, joined into runs as they come
  format::PartitionOffsetMap map;            // built from `delivered` when the data is written
};

// Thrown through the segment reader's sink to stop at the first match.
const Status kFound = Status::AlreadyExists("found");

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
  struct DataPhase {
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
  Status RestoreData(const DataPhase& in, std::vector<int64_t>* next_offsets, RestoreReport* out);
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

// A transaction holds at most this much (and restore.transaction_max_records)
// and is committed once it is this old. Each commit drains the producer, so
// transactions are large: with 64 KiB records and 128 MiB transactions the
// restore spent a fifth of its time draining (bench/RESULTS.md). The age bound
// keeps a crash's resend short and a throttled restore well inside the
// producer's transaction.timeout.ms (300 s; a third of it when that is set
// lower). The age is checked every 1,024 records, and at every record when
// throttled, where 1,024 records may take longer than the timeout.
constexpr uint64_t kTransactionBytes = uint64_t{1} << 30;
constexpr auto kTransactionMaxAge = std::chrono::seconds(30);
// Partitions read ahead at once, the record payload each may hold queued, and
// the largest GET each makes: memory bounded whatever the number of partitions
// (~14 MiB per reader; with 8 MiB GETs the restore's peak RSS was 320 MiB, with
// 1 MiB 210 MiB at the same speed; bench/RESULTS.md). Eight partitions spread
// the producer's requests as well as kcat's eight-partition produce.
constexpr size_t kReadAheadPartitions = 8;
constexpr uint64_t kReadAheadBytes = uint64_t{2} << 20;
constexpr uint64_t kReadAheadMaxRangedRead = uint64_t{1} << 20;
// Producers writing side by side (restore.producers), each with its own
// transactional id and a share of the partitions: librdkafka compresses every
// batch on its broker thread, one per producer, and with one producer that
// thread is the limit for large records (64 KiB records: median 5.2 -> 4.4 s
// with two). With small records the main thread is the limit, and with many
// partitions every transaction costs each producer more: there a second one
// only adds CPU (1 KiB records, 1,000 partitions: 4.5-5.2 -> 5.5-6.8 s;
// bench/RESULTS.md). Unset, it is two from this mean record size on, the
// sizes measured being 1 KiB and 64 KiB. Their queues share the memory one
// producer has. Every run takes all kMaxProducers ids over, so that a rerun
// with fewer producers still aborts what a killed run left open.
constexpr size_t kMaxProducers = 4;
constexpr uint64_t kTwoProducersRecordBytes = uint64_t{16} * 1024;
constexpr int kProducersQueueKBytes = 65536;

// Progress of lane (topic T, source partition p) is kept on target partition
// T[p % partitions]; the commit's metadata lists "p=next" of every lane kept there.
format::TopicPartition ProgressSlot(const TopicPlan& plan, int32_t source_partition) {
  return {plan.target, source_partition % plan.target_partitions};
}

std::vector<kafka::TopicPartitionOffset> RestoreRun::ProgressOffsets(const std::vector<int64_t>& next,
                                                                     size_t producer) const {
  std::map<format::TopicPartition, restore::ProgressMarker> slots;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i].producer != producer) continue;
    restore::ProgressMarker& marker = slots[ProgressSlot(plans_[lanes_[i].plan], lanes_[i].partition->partition)];
    marker.part = committed_part_;
    marker.next[lanes_[i].partition->partition] = next[i];
  }
  std::vector<kafka::TopicPartitionOffset> out;
  out.reserve(slots.size());
  for (auto& [slot, marker] : slots) out.push_back({slot.topic, slot.partition, 0, EncodeProgressMarker(marker)});
  return out;
}

namespace {

// Progress metadata carries our tag but cannot be read: a rerun must not
// guess where to resume (it would restore records twice or leave a gap).
Status DamagedProgress(const std::string& group, const std::string& topic, int32_t partition, const Status& why) {
  return Status::Corruption(
      fmt::format("the restore progress committed for group '{}' on {}[{}] cannot be read ({}): restore under another "
                  "restore_id, or delete the group (kafka-consumer-groups --delete --group {}) to start afresh",
                  group, topic, partition, why.message(), group));
}

}  // namespace

Result<bool> RestoreRun::LoadProgress(const std::string& group, const kafka::ClusterInfo& cluster,
                                      std::vector<int64_t>* next) {
  // A dry run leaves the transactional id alone (the restore may be running):
  // it reads the last committed progress, which is where a rerun resumes
  // after aborting whatever transaction is still open.
  KB_ASSIGN_OR_RETURN(auto committed, admin_->GroupOffsets(group, /*require_stable=*/!config_.restore.dry_run));
  std::map<format::TopicPartition, int64_t> found;  // (target topic, source partition) -> next
  std::set<std::string_view> targets;
  for (const auto& plan : plans_) targets.insert(plan.target);
  for (const auto& c : committed) {
    spdlog::debug("restore progress {}[{}]: '{}'", c.topic, c.partition, c.metadata);
    // The group also holds what an earlier restore under this restore_id
    // committed for other target topics: not this restore's progress.
    if (!targets.contains(c.topic)) continue;
    auto marker = restore::ParseProgressMarker(c.metadata);
    if (!marker.ok()) return DamagedProgress(group, c.topic, c.partition, marker.status());
    if (!marker->has_value()) continue;
    committed_part_ = std::max(committed_part_, (*marker)->part);
    for (const auto& [partition, offset] : (*marker)->next) found[{c.topic, partition}] = offset;
  }
  if (found.empty()) return false;
  std::vector<int64_t> resumed = *next;
  bool any = false;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    const TopicPlan& plan = plans_[lanes_[i].plan];
    auto it = found.find({plan.target, lanes_[i].partition->partition});
    if (it == found.end()) continue;
    if (!cluster.Find(plan.target)) return false;  // the target topic was deleted: start afresh
    if (it->second > resumed[i]) {
      resumed[i] = it->second;
      any = true;
    }
  }
  if (any) {
    // Data said to be restored must be there; an emptied topic means the
    // user wants a fresh restore.
    for (const auto& plan : plans_) {
      bool has_data = false;
      for (int32_t p = 0; p < plan.target_partitions && !has_data; ++p) {
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(plan.target, p));
        has_data = w.high > w.low;
      }
      if (!has_data && cluster.Find(plan.target)) {
        bool claimed = false;
        for (size_t i = 0; i < lanes_.size(); ++i) {
          if (&plans_[lanes_[i].plan] == &plan && resumed[i] > lanes_[i].partition->start_offset) claimed = true;
        }
        if (claimed) return false;
      }
    }
  }
  *next = resumed;
  return any;
}

Status RestoreRun::LoadOffsetMapSoFar(storage::ObjectStore& store, const std::string& backup_id,
                                      const std::string& restore_id, const std::vector<int64_t>& next) {
  KB_ASSIGN_OR_RETURN(auto parts,
                      storage::ListAll(store, storage::layout::OffsetMapPartsPrefix(backup_id, restore_id)));
  std::string prefix = storage::layout::OffsetMapPartsPrefix(backup_id, restore_id);
  std::map<uint64_t, std::string, std::greater<>> candidates;  // sequence -> key, newest first
  for (const auto& p : parts) {
    auto sequence = restore::ParseOffsetMapPartName(std::string_view(p.key).substr(prefix.size()));
    if (!sequence) {
      spdlog::warn("ignoring {}: not an offset-map part this tool wrote (parts are named <sequence>.json)", p.key);
      continue;
    }
    if (*sequence > committed_part_) {
      KB_RETURN_IF_ERROR(store.Delete(p.key));  // its transaction was aborted
    } else {
      candidates.emplace(*sequence, p.key);
    }
  }
  // The committed parts are a chain from the last one committed, each naming
  // the one committed before it: a part below that is not on the chain was
  // stored by a run fenced (or killed) before its commit, after the run that
  // took over had cleared the parts past the committed one.
  std::vector<std::pair<std::string, format::OffsetMap>> chain;  // newest first
  std::optional<uint64_t> wanted = committed_part_;              // nullopt: parts written before the chain
  for (const auto& [sequence, key] : candidates) {
    if (wanted && sequence != *wanted) {
      spdlog::info("removing {}: stored by a restore that did not commit it", key);
      KB_RETURN_IF_ERROR(store.Delete(key));
      continue;
    }
    KB_ASSIGN_OR_RETURN(std::string text, store.Get(key));
    auto part = format::ParseOffsetMap(text);
    if (!part.ok()) return part.status().WithContext(key);
    if (wanted) wanted = part->previous_part;
    chain.emplace_back(key, std::move(*part));
  }
  std::string final_key = storage::layout::OffsetMapKey(backup_id, restore_id);
  if (store.Head(final_key).ok()) {
    KB_ASSIGN_OR_RETURN(std::string text, store.Get(final_key));
    auto map = format::ParseOffsetMap(text);
    if (!map.ok()) return map.status().WithContext(final_key);
    chain.emplace(chain.begin(), final_key, std::move(*map));
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const format::OffsetMap* part = &it->second;
    for (const auto& t : part->topics) {
      for (const auto& p : t.partitions) {
        for (auto& lane : lanes_) {
          if (plans_[lane.plan].source->name == t.source_topic && lane.partition->partition == p.source_partition) {
            // A part committed by only some of the producers (a crash
            // between their commits) maps the others' aborted records, which
            // a later part maps again where they were written anew.
            lane.map.runs = format::OverlayRuns(std::move(lane.map.runs), p.runs);
          }
        }
      }
    }
  }
  // The last committed part may map records that were aborted and are not yet
  // written again: drop what lies at or past each lane's progress.
  for (size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i].map.runs = format::MergeRuns(format::TrimRuns(std::move(lanes_[i].map.runs), next[i]));
  }
  return Status::Ok();
}

Status RestoreRun::PrepareTopic(const TopicPlan& plan, const kafka::ClusterInfo& cluster, RestoreTopicReport* out) {
  const format::TopicManifest& t = *plan.source;
  const kafka::TopicInfo* existing = cluster.Find(plan.target);
  if (existing) {
    if (plan.repartition && existing->partition_count != *plan.repartition) {
      return Status::InvalidArgument(
          fmt::format("restore.repartitioning.{} is {} but target topic '{}' has {} partitions; they must agree",
                      t.name, *plan.repartition, plan.target, existing->partition_count));
    }
    if (existing->partition_count < plan.target_partitions) {
      return Status::InvalidArgument(fmt::format(
          "target topic '{}' has {} partitions but the restore writes to partition {} (backup of '{}' has {} "
          "partitions{}); add partitions to the target topic or change the mapping",
          plan.target, existing->partition_count, plan.target_partitions - 1, t.name, t.partition_count,
          plan.partition_mapping.empty() ? "" : ", with restore.partition_mapping"));
    }
    if (config_.restore.on_existing_data == "purge" && !resuming_) return PlanPurge(plan.target, *existing, out);
    if (config_.restore.on_existing_data != "append" && !resuming_) {
      std::unique_ptr<kafka::Consumer> reader;
      for (int32_t p = 0; p < existing->partition_count; ++p) {
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(plan.target, p));
        if (w.high <= w.low) continue;
        if (!reader) {
          KB_ASSIGN_OR_RETURN(reader, kafka::Consumer::Connect(config_.target));
        }
        KB_ASSIGN_OR_RETURN(bool holds, HoldsCommittedRecords(*reader, plan.target, p, w.low));
        if (holds) {
          return Status::Conflict(fmt::format(
              "target topic '{}' already holds data (partition {} has offsets {}..{}); refusing to mix it with the "
              "backup: delete the topic first, or set restore.on_existing_data: append",
              plan.target, p, w.low, w.high - 1));
        }
      }
    }
    return Status::Ok();
  }
  if (!config_.restore.create_topics) {
    return Status::NotFound(fmt::format(
        "target topic '{}' does not exist and restore.create_topics is false; create it or enable create_topics",
        plan.target));
  }
  if (out->dry_run) {
    out->created = true;
    return Status::Ok();
  }
  int32_t rf = config_.restore.default_replication_factor.value_or(
      std::min<int32_t>(std::max(t.replication_factor, 1), std::max(cluster.broker_count, 1)));
  std::map<std::string, std::string> configs = t.configs;
  if (auto o = config_.restore.topic_configs.find(t.name); o != config_.restore.topic_configs.end()) {
    for (const auto& [k, v] : o->second) configs[k] = v;
  }
  // The broker overwrites timestamps on LogAppendTime topics; create with
  // CreateTime so the recorded timestamps survive, then set the recorded type.
  auto ts_type = configs.find(kTimestampTypeConfig);
  if (ts_type != configs.end() && ts_type->second == "LogAppendTime") {
    deferred_configs_[plan.target] = configs;
    ts_type->second = "CreateTime";
  }
  spdlog::info("creating topic {} ({} partitions, replication factor {})", plan.target, plan.target_partitions, rf);
  KB_RETURN_IF_ERROR(admin_->CreateTopic(plan.target, plan.target_partitions, rf, configs));
  out->created = true;
  return Status::Ok();
}

Status RestoreRun::PlanPurge(const std::string& topic, const kafka::TopicInfo& existing, RestoreTopicReport* out) {
  Purge purge{topic, {}};
  for (int32_t p = 0; p < existing.partition_count; ++p) {
    KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(topic, p));
    if (w.high <= w.low) continue;
    purge.partitions.push_back(p);
    out->purged_offsets += static_cast<uint64_t>(w.high - w.low);
  }
  if (!purge.partitions.empty()) purges_.push_back(std::move(purge));
  return Status::Ok();
}

Status RestoreRun::RunPurges(const RestoreReport& report) {
  if (purges_.empty()) return Status::Ok();
  uint64_t offsets = 0;
  std::string topics;
  for (const auto& t : report.topics) {
    if (t.purged_offsets == 0) continue;
    offsets += t.purged_offsets;
    topics += fmt::format("{}{} ({} offsets)", topics.empty() ? "" : ", ", t.name, t.purged_offsets);
  }
  std::string what =
      fmt::format("restore.on_existing_data: purge deletes every record of {} on {}", topics, admin_->bootstrap());
  if (report.dry_run) {
    spdlog::info("dry run: {} (not done)", what);
    return Status::Ok();
  }
  if (options_.confirm && !options_.confirm(what)) {
    return Status::Conflict(fmt::format("not confirmed: nothing was deleted or restored ({})", what));
  }
  for (const auto& p : purges_) KB_RETURN_IF_ERROR(admin_->DeleteRecords(p.topic, p.partitions));
  spdlog::warn("{}: done, {} offsets deleted", what, offsets);
  return Status::Ok();
}

Result<std::vector<const format::ConsumerGroupManifest*>> RestoreRun::SelectGroups(const format::Manifest& m) const {
  std::vector<const format::ConsumerGroupManifest*> chosen;
  const auto& wanted = config_.restore.consumer_groups;
  for (const auto& pattern : wanted) {
    bool found = std::any_of(m.consumer_groups.begin(), m.consumer_groups.end(),
                             [&](const auto& g) { return GlobMatch(pattern, g.group_id); });
    if (!found && !IsGlob(pattern)) {
      std::string names;
      for (const auto& g : m.consumer_groups) names += (names.empty() ? "" : ", ") + g.group_id;
      return Status::NotFound(fmt::format(
          "consumer group '{}' (restore.consumer_groups) has no committed offsets in backup '{}' for its topics; "
          "groups in the backup: {}",
          pattern, m.backup_id, names.empty() ? "none" : names));
    }
  }
  for (const auto& g : m.consumer_groups) {
    if (wanted.empty() || MatchesAny(wanted, g.group_id)) chosen.push_back(&g);
  }
  return chosen;
}

Status RestoreRun::CheckGroupsInactive(const std::vector<const format::ConsumerGroupManifest*>& groups) {
  for (const auto* g : groups) {
    const std::string& target = config_.restore.TargetGroup(g->group_id);
    KB_ASSIGN_OR_RETURN(kafka::GroupInfo info, admin_->DescribeGroup(target));
    if (info.members > 0) {
      return Status::Conflict(fmt::format(
          "consumer group '{}' has {} active members on the target ({}); stop its consumers before its offsets are "
          "reset",
          target, info.members, info.state));
    }
  }
  return Status::Ok();
}

Result<kafka::Consumer*> RestoreRun::TargetReader() {
  if (!target_reader_) {
    KB_ASSIGN_OR_RETURN(target_reader_, kafka::Consumer::Connect(config_.target));
  }
  return target_reader_.get();
}

// header-based: reads the target partition and maps x-original-offset values
// to the offsets they landed at.
Result<const format::PartitionOffsetMap*> RestoreRun::HeaderMap(const std::string& topic, int32_t partition) {
  format::TopicPartition key{topic, partition};
  if (auto it = header_maps_.find(key); it != header_maps_.end()) return &it->second;
  KB_ASSIGN_OR_RETURN(kafka::Consumer * reader, TargetReader());
  KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(topic, partition));
  std::vector<format::OffsetEntry> entries;
  uint64_t foreign = 0;
  if (w.high > w.low) {
    KB_RETURN_IF_ERROR(reader->Assign({{topic, partition, w.low}}));
    auto deadline = Clock::now() + std::chrono::seconds(std::max(60, config_.target.connect_timeout_secs * 2));
    bool done = false;
    while (!done) {
      if (Clock::now() > deadline) {
        return Status::Unavailable(fmt::format("timed out reading {}[{}] for header-based offsets", topic, partition));
      }
      KB_ASSIGN_OR_RETURN(kafka::ConsumedItem item, reader->Poll(200));
      if (item.kind == kafka::ConsumedItem::Kind::kPartitionEnd) {
        done = item.next_offset >= w.high;
      } else if (item.kind == kafka::ConsumedItem::Kind::kRecord) {
        for (const auto& h : item.record.headers) {
          if (h.name == kHeaderOriginalOffset && h.value) {
            // A record another producer stamped with a header of that name
            // but no offset in it is not one a restore wrote: left out.
            auto original = util::ParseDecimal<int64_t>(*h.value);
            if (!original || *original < 0) {
              if (foreign++ == 0) {
                spdlog::warn(
                    "{}[{}] offset {}: header {} is '{}', not an offset: the record is left out of the "
                    "header-based offsets (not written by a restore)",
                    topic, partition, item.record.offset, kHeaderOriginalOffset, h.value->substr(0, 40));
              }
              break;
            }
            entries.push_back({*original, partition, item.record.offset});
            break;
          }
        }
        done = item.record.offset + 1 >= w.high;
      }
    }
    KB_RETURN_IF_ERROR(reader->Unassign(topic, partition));
  }
  if (entries.empty() && w.high > w.low) {
    return Status::InvalidArgument(
        fmt::format("consumer_group_strategy header-based needs the {} header, and {}[{}] has none: restore with "
                    "include_offset_headers: true, or use the exact strategy",
                    kHeaderOriginalOffset, topic, partition));
  }
  format::PartitionOffsetMap map;
  map.source_partition = partition;
  map.runs = format::BuildRuns(entries);
  return &header_maps_.emplace(key, std::move(map)).first->second;
}

Result<std::optional<format::TargetPosition>> RestoreRun::PositionFor(const Lane& lane, int64_t committed,
                                                                      storage::ObjectStore& store) {
  const TopicPlan& plan = plans_[lane.plan];
  const std::string& strategy = config_.restore.consumer_group_strategy;
  if (strategy == "exact") return format::FirstAtOrAfter(lane.map, committed);
  if (plan.repartition || !plan.partition_mapping.empty()) {
    return Status::InvalidArgument(fmt::format(
        "consumer_group_strategy {} needs each source partition restored into its own target partition; topic '{}' "
        "is repartitioned or remapped: use the exact strategy",
        strategy, plan.source->name));
  }
  int32_t target_partition = lane.partition->partition;
  if (strategy == "header-based") {
    KB_ASSIGN_OR_RETURN(const format::PartitionOffsetMap* map, HeaderMap(plan.target, target_partition));
    return format::FirstAtOrAfter(*map, committed);
  }
  // timestamp-based: the time of the first backed-up record at or after the
  // committed offset, looked up in the target.
  std::optional<int64_t> timestamp;
  catalog::RecordFilter from;
  from.min_offset = committed;
  // With on_corruption: skip, unreadable records were not restored: the
  // first readable one at or after `committed` is where the group resumes.
  catalog::DamageHandler skip;
  if (config_.restore.on_corruption == "skip") skip = [](const catalog::SegmentDamage&) { return Status::Ok(); };
  for (const auto& seg : lane.partition->segments) {
    if (seg.last_offset < committed) continue;
    Status s = catalog::ReadSegment(
        store, seg, from,
        [&](format::Record&& r) {
          timestamp = r.timestamp;
          return kFound;
        },
        nullptr, skip, key_ ? &*key_ : nullptr);
    if (timestamp) break;
    KB_RETURN_IF_ERROR(s);
  }
  if (!timestamp) return std::optional<format::TargetPosition>();
  KB_ASSIGN_OR_RETURN(kafka::Consumer * reader, TargetReader());
  KB_ASSIGN_OR_RETURN(int64_t offset, reader->OffsetForTime(plan.target, target_partition, *timestamp));
  return std::optional<format::TargetPosition>(format::TargetPosition{target_partition, offset});
}

Result<bool> RestoreRun::HoldsCommittedRecords(kafka::Consumer& reader, const std::string& topic, int32_t partition,
                                               int64_t low) {
  KB_RETURN_IF_ERROR(reader.Assign({{topic, partition, low}}));
  auto deadline = Clock::now() + std::chrono::seconds(std::max(60, config_.target.connect_timeout_secs * 2));
  Status last;
  while (Clock::now() < deadline) {
    auto item = reader.Poll(200);
    if (!item.ok()) {
      if (item.status().code() != Status::Code::kUnavailable) return item.status();
      last = item.status();
      continue;
    }
    if (item->topic != topic || item->partition != partition) continue;
    if (item->kind == kafka::ConsumedItem::Kind::kRecord) return true;
    if (item->kind == kafka::ConsumedItem::Kind::kPartitionEnd) return false;
  }
  return Status::Unavailable(fmt::format("cannot tell whether target {}[{}] holds data: nothing read in time{}", topic,
                                         partition, last.ok() ? "" : " (" + last.ToString() + ")"));
}

Status RestoreRun::WaitForCommittedData() {
  std::map<format::TopicPartition, int64_t> last;  // target partition -> last offset written
  for (const Lane& lane : lanes_) {
    for (const auto& run : lane.map.runs) {
      auto& l = last[{plans_[lane.plan].target, run.target_partition}];
      l = std::max(l, run.target_offset + run.count - 1);
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(std::max(60, config_.target.connect_timeout_secs * 2));
  for (const auto& [tp, offset] : last) {
    while (true) {
      // The admin client reads with isolation.level=read_committed: high is the last stable offset.
      KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(tp.topic, tp.partition));
      if (w.high > offset) break;
      if (Clock::now() > deadline) {
        return Status::Unavailable(fmt::format(
            "{}[{}]: the restored records up to offset {} are still not readable by read_committed consumers "
            "(stable end {}); is another transaction open on the target partition?",
            tp.topic, tp.partition, offset, w.high));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Status::Ok();
}

Result<std::vector<GroupPosition>> RestoreRun::ComputeGroupPositions(
    const std::vector<const format::ConsumerGroupManifest*>& groups, storage::ObjectStore& store) {
  std::vector<GroupPosition> out;
  for (const auto* g : groups) {
    // Per target partition, the earliest position any source partition feeding it asks for.
    std::map<format::TopicPartition, GroupPosition> positions;
    for (const auto& c : g->offsets) {
      auto lane = std::find_if(lanes_.begin(), lanes_.end(), [&](const Lane& l) {
        return plans_[l.plan].source->name == c.topic && l.partition->partition == c.partition;
      });
      if (lane == lanes_.end()) continue;  // not restored: nothing to position
      const TopicPlan& plan = plans_[lane->plan];
      KB_ASSIGN_OR_RETURN(std::optional<format::TargetPosition> pos, PositionFor(*lane, c.offset, store));
      std::string from = fmt::format("{}[{}]@{}", c.topic, c.partition, c.offset);
      std::vector<format::TargetPosition> targets;
      if (pos) {
        targets.push_back(*pos);
      } else if (!plan.repartition) {
        // Everything restored was consumed: the end of the target partition.
        int32_t tp = plan.TargetPartition(*lane->partition, format::RecordView{});
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(plan.target, tp));
        targets.push_back({tp, w.high});
      }
      for (const auto& t : targets) {
        format::TopicPartition key{plan.target, t.partition};
        auto it = positions.find(key);
        if (it == positions.end()) {
          positions[key] =
              GroupPosition{config_.restore.TargetGroup(g->group_id), plan.target, t.partition, t.offset, from};
        } else {
          it->second.offset = std::min(it->second.offset, t.offset);
          it->second.from += ", " + from;
        }
      }
    }
    for (auto& [_, p] : positions) out.push_back(std::move(p));
  }
  return out;
}

// The config restores, into a target cluster, with group options that fit.
Status RestoreRun::CheckRunnable() const {
  const RestoreConfig& rc = config_.restore;
  if (!config_.mode.empty() && config_.mode != "restore") {
    return Status::InvalidArgument(
        fmt::format("{}: mode is '{}', but this command restores (mode: restore)", config_.source_file, config_.mode));
  }
  if (!config_.has_target || config_.target.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: no target cluster: set target.bootstrap_servers", config_.source_file));
  }
  KB_RETURN_IF_ERROR(CheckGroupOptions(rc, config_.source_file));
  return Status::Ok();
}

// One plan per selected topic and one lane per partition it restores; two
// topics may not land in one target topic.
Status RestoreRun::PlanTopics(const std::vector<const format::TopicManifest*>& topics) {
  const RestoreConfig& rc = config_.restore;
  std::map<std::string, std::string> target_owner;
  for (const auto* t : topics) {
    KB_ASSIGN_OR_RETURN(TopicPlan plan, PlanTopic(*t, rc));
    auto [it, inserted] = target_owner.emplace(plan.target, t->name);
    if (!inserted) {
      return Status::InvalidArgument(
          fmt::format("topics '{}' and '{}' would both be restored into '{}'; change restore.topic_mapping", it->second,
                      t->name, plan.target));
    }
    for (const auto* p : plan.partitions) lanes_.push_back(Lane{plans_.size(), p, 0, {}, {}});
    plans_.push_back(std::move(plan));
  }
  return Status::Ok();
}

// How many producers write (restore.producers, else by the mean record
// size), and which one writes each lane: lanes sharing a progress slot share a
// producer, as each slot's offset is committed by one transaction. Slots are
// dealt to the producers in turn; there are no more producers than slots (an
// idle one would only hold its share of the queue memory).
size_t RestoreRun::AssignProducers() {
  const RestoreConfig& rc = config_.restore;
  size_t producer_count = 1;
  if (rc.producers) {
    producer_count = static_cast<size_t>(*rc.producers);
  } else {
    uint64_t records = 0, bytes = 0;
    for (const auto& lane : lanes_) {
      records += lane.partition->record_count;
      bytes += lane.partition->bytes;
    }
    if (records > 0 && bytes / records >= kTwoProducersRecordBytes) producer_count = 2;
  }
  std::set<format::TopicPartition> slots;
  for (const auto& lane : lanes_) slots.insert(ProgressSlot(plans_[lane.plan], lane.partition->partition));
  producer_count = std::clamp<size_t>(slots.size(), 1, producer_count);
  std::map<format::TopicPartition, size_t> slot_producer;
  for (auto& lane : lanes_) {
    auto slot = ProgressSlot(plans_[lane.plan], lane.partition->partition);
    lane.producer = slot_producer.emplace(slot, slot_producer.size() % producer_count).first->second;
  }
  return producer_count;
}

// Connects the producers that write and takes every one of the kMaxProducers
// ids over (a rerun with fewer producers still aborts what a killed run left
// open); the first id names the progress group too.
Status RestoreRun::TakeOverProducers(const std::string& txn_id, size_t producer_count) {
  const int queue_kbytes = kProducersQueueKBytes / static_cast<int>(producer_count);
  for (size_t k = 0; k < kMaxProducers; ++k) {
    std::string id = k == 0 ? txn_id : fmt::format("{}.{}", txn_id, k);
    KB_ASSIGN_OR_RETURN(auto producer, kafka::Producer::Connect(config_.target, id, queue_kbytes));
    (k < producer_count ? producers_ : idle_producers_).push_back(std::move(producer));
  }
  for (auto& producer : producers_) {
    producer->OnDelivered([this](const kafka::Producer::Delivery& d) {
      format::AppendRun(&lanes_[d.tag].delivered, {d.source_offset, d.partition, d.offset, 1});
    });
    // Waiting for room in one producer's queue, serve the others' delivery
    // reports: undelivered reports hold their records' room in the queue.
    producer->WhileWaiting([this, self = producer.get()] {
      for (auto& other : producers_) {
        if (other.get() != self) other->Poll();
      }
    });
  }
  // Taking an id over waits for its coordinator to abort what it left open
  // (round trips to the cluster, and the abort itself): all ids at once.
  std::vector<std::future<Status>> taken;
  for (auto* group : {&producers_, &idle_producers_}) {
    for (auto& producer : *group) {
      taken.push_back(std::async(std::launch::async, [p = producer.get()] { return p->InitTransactions(); }));
    }
  }
  Status first_failure;
  for (auto& t : taken) {
    Status s = t.get();
    if (!s.ok() && first_failure.ok()) first_failure = std::move(s);
  }
  return first_failure;
}

// A fresh start deletes the offset-map parts an earlier restore under this id
// left (stale); a resumed one loads the committed ones.
Status RestoreRun::PrepareOffsetMapParts(storage::ObjectStore& store, const std::string& backup_id,
                                         const std::string& restore_id, const std::vector<int64_t>& next) {
  if (!resuming_) {
    // A fresh start: what an earlier restore under this id left is stale.
    committed_part_ = 0;
    KB_ASSIGN_OR_RETURN(auto stale,
                        storage::ListAll(store, storage::layout::OffsetMapPartsPrefix(backup_id, restore_id)));
    for (const auto& o : stale) KB_RETURN_IF_ERROR(store.Delete(o.key));
  } else {
    KB_RETURN_IF_ERROR(LoadOffsetMapSoFar(store, backup_id, restore_id, next));
    size_t done = 0;
    for (size_t i = 0; i < lanes_.size(); ++i) done += next[i] >= lanes_[i].partition->end_offset ? 1 : 0;
    spdlog::info("resuming restore {}: {} of {} partitions complete", restore_id, done, lanes_.size());
  }
  return Status::Ok();
}

Result<RestoreReport> RestoreRun::Run() {
  auto started = Clock::now();
  const RestoreConfig& rc = config_.restore;
  KB_RETURN_IF_ERROR(CheckRunnable());
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(config_.storage.Url()));
  catalog::Catalog cat(*store);
  KB_ASSIGN_OR_RETURN(std::string backup_id, cat.Resolve(config_.backup_id.empty() ? "latest" : config_.backup_id));
  KB_ASSIGN_OR_RETURN(format::Manifest manifest, cat.LoadManifest(backup_id));
  KB_ASSIGN_OR_RETURN(key_, catalog::KeyForBackup(manifest, config_.encryption));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc, manifest));
  KB_ASSIGN_OR_RETURN(auto topics, SelectTopics(manifest, rc.topics));
  KB_RETURN_IF_ERROR(PlanTopics(topics));
  std::vector<const format::ConsumerGroupManifest*> groups;
  if (rc.consumer_group_strategy != "skip") {
    KB_ASSIGN_OR_RETURN(groups, SelectGroups(manifest));
  }

  RestoreReport report;
  report.backup_id = backup_id;
  report.dry_run = rc.dry_run;
  report.group_strategy = rc.consumer_group_strategy;
  const catalog::RecordFilter filter = TimeWindow(rc, backup_id);
  bool offset_headers = rc.include_offset_headers.value_or(manifest.include_offset_headers);

  KB_ASSIGN_OR_RETURN(admin_, kafka::Admin::Connect(config_.target));
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin_->Describe());
  // The same restore (same backup, same target cluster, same restore_id) rerun
  // after a crash resumes; see docs/config.md, "Exactly once".
  std::string restore_id = rc.restore_id.empty() ? "to-" + cluster.cluster_id : rc.restore_id;
  KB_RETURN_IF_ERROR(storage::layout::ValidateBackupId(restore_id).WithContext("restore.restore_id"));
  report.restore_id = restore_id;
  const std::string txn_id = fmt::format("kafka-backup-restore.{}.{}", backup_id, restore_id);
  std::vector<int64_t> next(lanes_.size());  // per lane: source offsets below are restored
  for (size_t i = 0; i < lanes_.size(); ++i) next[i] = lanes_[i].partition->start_offset;
  const size_t producer_count = AssignProducers();
  // The producers come first: taking over the transactional ids aborts what a
  // killed restore left open (it may hold the progress offsets, which the
  // group then refuses to report until the transaction ends, minutes later).
  if (!report.dry_run) KB_RETURN_IF_ERROR(TakeOverProducers(txn_id, producer_count));
  // A dry run (validate-restore) reads the progress too, so that it checks
  // and reports what a rerun would do: continue, not refuse the target's data.
  KB_ASSIGN_OR_RETURN(bool resumed, LoadProgress(txn_id, cluster, &next));
  resuming_ = resumed;
  if (!report.dry_run) KB_RETURN_IF_ERROR(PrepareOffsetMapParts(*store, backup_id, restore_id, next));
  if (rc.reset_consumer_offsets) KB_RETURN_IF_ERROR(CheckGroupsInactive(groups));
  KB_ASSIGN_OR_RETURN(const uint64_t total, PrepareTopics(cluster, &report));
  spdlog::info("restore {} as {}{}: {} topics, up to {} records into {}", backup_id, restore_id,
               report.dry_run ? " (dry run)" : "", plans_.size(), total, admin_->bootstrap());

  // Phase 1: the data (and the restore's progress with it).
  KB_RETURN_IF_ERROR(RestoreData(DataPhase{*store, backup_id, restore_id, txn_id, cluster.cluster_id,
                                           manifest.source_cluster_id, filter, offset_headers, total},
                                 &next, &report));

  // Phase 2: the offset map, from the delivery reports of every committed
  // transaction (this run's and, when resuming, earlier runs').
  if (!report.dry_run) KB_RETURN_IF_ERROR(StoreOffsetMap(*store, backup_id, cluster.cluster_id, &report));

  // Phase 3: consumer group positions.
  if (!groups.empty() && !report.dry_run) KB_RETURN_IF_ERROR(RestoreGroupPositions(groups, *store, &report));
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report;
}

Result<uint64_t> RestoreRun::PrepareTopics(const kafka::ClusterInfo& cluster, RestoreReport* report) {
  uint64_t total = 0;
  for (const auto& plan : plans_) {
    RestoreTopicReport tr;
    tr.name = plan.target;
    tr.source_name = plan.source->name;
    tr.dry_run = report->dry_run;
    KB_RETURN_IF_ERROR(PrepareTopic(plan, cluster, &tr));
    report->topics.push_back(tr);
    for (const auto* p : plan.partitions) total += p->record_count;
  }
  KB_RETURN_IF_ERROR(RunPurges(*report));
  // The producers learn the target topics' partitions now, not at their first
  // records (which would wait up to a second for librdkafka's next scan).
  std::vector<std::string> targets;
  for (const auto& plan : plans_) targets.push_back(plan.target);
  for (auto& producer : producers_) KB_RETURN_IF_ERROR(producer->LoadTopics(targets));
  return total;
}

// Restore phase 1: the data, in transactions that also commit the restore's
// progress (the next source offset of every partition) as offsets of a group
// named after the restore: data and progress become visible together, so a
// rerun after a crash starts exactly where the last committed transaction
// ended. Each transaction's part of the offset map is stored before it
// commits; parts of transactions that did not commit are trimmed on resume.
Status RestoreRun::RestoreData(const DataPhase& in, std::vector<int64_t>* next_offsets, RestoreReport* out) {
  const RestoreConfig& rc = config_.restore;
  RestoreReport& report = *out;
  std::vector<int64_t>& next = *next_offsets;
  storage::ObjectStore& store = in.store;
  const std::string& backup_id = in.backup_id;
  const std::string& restore_id = in.restore_id;
  const std::string& txn_id = in.txn_id;
  const std::string& cluster_id = in.cluster_id;
  const std::string& source_cluster_id = in.source_cluster_id;
  const catalog::RecordFilter& filter = in.filter;
  const bool offset_headers = in.offset_headers;
  const uint64_t total = in.total;
  for (auto& producer : producers_) KB_RETURN_IF_ERROR(producer->BeginTransaction());
  Progress progress("restore", total, options_);
  std::vector<size_t> lanes_left(plans_.size(), 0);  // per plan: lanes not yet restored
  for (const auto& plan : plans_) {
    uint64_t records = 0;
    for (const auto* p : plan.partitions) records += p->record_count;
    progress.AddTopic(plan.target, records);
  }
  for (const auto& lane : lanes_) ++lanes_left[lane.plan];
  metrics::RunGauges gauges("restore", total);
  uint64_t fetched_published = 0;
  catalog::ReadStats stats;
  std::vector<format::RecordHeader> extra;
  Throttle throttle(rc.max_records_per_sec, rc.max_bytes_per_sec);
  uint64_t batch_records = 0;
  uint64_t batch_bytes = 0;
  auto batch_started = std::chrono::steady_clock::now();
  // Committed by age well inside the broker's transaction timeout, which
  // client_properties may have lowered below kTransactionMaxAge.
  auto max_age = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kTransactionMaxAge);
  for (const auto& producer : producers_) {
    max_age = std::min<std::chrono::steady_clock::duration>(
        max_age, std::chrono::milliseconds(std::max<int64_t>(1, producer->TransactionTimeoutMs() / 3)));
  }
  // Parts are ordered by a sequence that only grows, whatever the machine's
  // clock says: on from the last part committed. A run killed or fenced
  // before its commit stored at most the part after that one, perhaps only
  // now (a fenced run may still be writing): this run starts past it, so no
  // two runs ever write one key, and the chain of previous_part leaves it out.
  uint64_t part_sequence = committed_part_ + 2;
  auto commit = [&](bool last) -> Status {
    for (auto& producer : producers_) {
      KB_RETURN_IF_ERROR(producer->Flush(300 * 1000).WithContext("restore did not complete"));
    }
    format::OffsetMap part;
    part.restore_id = restore_id;
    part.backup_id = backup_id;
    part.target_cluster_id = cluster_id;
    part.created_at_ms = NowMs();
    part.previous_part = committed_part_;
    format::TopicOffsetMap* topic = nullptr;
    for (auto& lane : lanes_) {
      if (lane.delivered.empty()) continue;
      std::vector<format::OffsetRun> runs = format::MergeRuns(std::move(lane.delivered));
      lane.delivered = {};
      lane.map.runs.insert(lane.map.runs.end(), runs.begin(), runs.end());
      const TopicPlan& plan = plans_[lane.plan];
      if (!topic || topic->source_topic != plan.source->name) {
        part.topics.push_back({plan.source->name, plan.target, {}});
        topic = &part.topics.back();
      }
      topic->partitions.push_back({lane.partition->partition, std::move(runs)});
    }
    if (!part.topics.empty()) {
      uint64_t sequence = part_sequence++;
      KB_RETURN_IF_ERROR(store.Put(storage::layout::OffsetMapPartKey(backup_id, restore_id, sequence),
                                   format::SerializeOffsetMap(part)));
      committed_part_ = sequence;  // committed with the transaction below, or discarded on resume
    }
    // A crash between two producers_' commits leaves some lanes' progress at
    // this part and others' at the one before: each lane resumes from its
    // own, and the part's records past a lane's progress are trimmed then.
    for (size_t k = 0; k < producers_.size(); ++k) {
      KB_RETURN_IF_ERROR(producers_[k]->CommitTransaction(txn_id, ProgressOffsets(next, k)));
    }
    metrics::Metrics::Get().CheckpointTime().SetToCurrentTime();
    metrics::Metrics::Get().StoredBytes("restore").Increment(
        static_cast<double>(stats.bytes_fetched - fetched_published));
    fetched_published = stats.bytes_fetched;
    batch_records = 0;
    batch_bytes = 0;
    batch_started = std::chrono::steady_clock::now();
    if (!last) {
      for (auto& producer : producers_) KB_RETURN_IF_ERROR(producer->BeginTransaction());
    }
    return Status::Ok();
  };
  // Damage is reported from the readers' threads.
  std::mutex skipped_mu;
  auto reader_for = [&](size_t li) -> std::unique_ptr<restore::PartitionReader> {
    const Lane& lane = lanes_[li];
    restore::PartitionReadPlan read;
    read.filter = filter;
    if (next[li] > lane.partition->start_offset) read.filter.min_offset = next[li];
    read.key = key_ ? &*key_ : nullptr;
    read.max_ranged_read = kReadAheadMaxRangedRead;
    for (const auto& seg : lane.partition->segments) {
      if (seg.last_offset < next[li]) continue;
      // A segment wholly outside the time window is not even opened.
      bool has_times = seg.record_count > 0 && seg.max_timestamp >= seg.min_timestamp;
      if (has_times && ((filter.min_timestamp && seg.max_timestamp < *filter.min_timestamp) ||
                        (filter.max_timestamp && seg.min_timestamp > *filter.max_timestamp))) {
        continue;
      }
      read.segments.push_back(&seg);
    }
    if (read.segments.empty()) return nullptr;
    // With on_corruption: skip, what cannot be read is left out and reported.
    if (rc.on_corruption == "skip") {
      read.on_damage = [&, li](const format::SegmentRef& seg, const catalog::SegmentDamage& d) {
        const Lane& damaged = lanes_[li];
        const std::string& topic = plans_[damaged.plan].source->name;
        if (d.records == 0) {
          spdlog::warn("{} (no record is lost)", d.status.ToString());
          return Status::Ok();
        }
        spdlog::warn("skipping offsets {}..{} of {}[{}] ({} records): {}", d.first_offset, d.last_offset, topic,
                     damaged.partition->partition, d.records, d.status.ToString());
        std::lock_guard lock(skipped_mu);
        report.skipped.push_back({topic, damaged.partition->partition, seg.key, d.position, d.first_offset,
                                  d.last_offset, d.records, d.status.message()});
        report.records_skipped += d.records;
        return Status::Ok();
      };
    }
    return std::make_unique<restore::PartitionReader>(store, std::move(read), kReadAheadBytes);
  };
  auto restore_record = [&](size_t li, const format::RecordView& r) -> Status {
    const Lane& lane = lanes_[li];
    const TopicPlan& plan = plans_[lane.plan];
    RestoreTopicReport& tr = report.topics[lane.plan];
    tr.records++;
    tr.bytes += r.PayloadBytes();
    report.records++;
    report.bytes += r.PayloadBytes();
    progress.UpdateTopic(lane.plan, tr.records, tr.bytes);
    // Unthrottled, the display is updated per chunk (a clock read per record
    // cost more than the rest of this function with 100 B records); throttled,
    // per record, as a chunk may take long.
    if (throttle.limited()) progress.Update(report.records, report.bytes);
    gauges.Update(report.records, report.bytes);
    if (report.dry_run) return Status::Ok();
    extra.clear();
    if (offset_headers) {
      extra.push_back({kHeaderOriginalOffset, std::to_string(r.offset)});
      extra.push_back({kHeaderOriginalTimestamp, std::to_string(r.timestamp)});
      extra.push_back({kHeaderSourceCluster, source_cluster_id});
    }
    batch_bytes += r.PayloadBytes();
    throttle.Wait(1, r.PayloadBytes());
    KB_RETURN_IF_ERROR(
        producers_[lane.producer]->Send(plan.target, plan.TargetPartition(*lane.partition, r), r, extra, li));
    next[li] = r.offset + 1;
    if (++batch_records >= rc.transaction_max_records || batch_bytes >= kTransactionBytes ||
        ((throttle.limited() || batch_records % 1024 == 0) &&
         std::chrono::steady_clock::now() - batch_started > max_age)) {
      return commit(false);
    }
    return Status::Ok();
  };
  auto finish_lane = [&](size_t li) {
    next[li] = std::max(next[li], lanes_[li].partition->end_offset);
    if (--lanes_left[lanes_[li].plan] == 0) progress.FinishTopic(lanes_[li].plan);
  };
  // Several partitions are read ahead at once, each on its own thread, and
  // produced a chunk of each in turn (restore/read_ahead.h).
  std::deque<std::pair<size_t, std::unique_ptr<restore::PartitionReader>>> reading;
  size_t next_lane = 0;
  while (next_lane < lanes_.size() || !reading.empty()) {
    while (reading.size() < kReadAheadPartitions && next_lane < lanes_.size()) {
      size_t li = next_lane++;
      auto reader = reader_for(li);
      if (reader) {
        reading.emplace_back(li, std::move(reader));
      } else {
        finish_lane(li);
      }
    }
    if (reading.empty()) continue;
    auto [li, reader] = std::move(reading.front());
    reading.pop_front();
    KB_ASSIGN_OR_RETURN(restore::PartitionReader::Chunk chunk, reader->Next());
    stats.bytes_fetched += chunk.bytes_fetched;
    for (const auto& r : chunk.records) KB_RETURN_IF_ERROR(restore_record(li, r));
    progress.Update(report.records, report.bytes);
    if (chunk.last) {
      finish_lane(li);
    } else {
      reading.emplace_back(li, std::move(reader));
    }
  }
  if (!producers_.empty()) KB_RETURN_IF_ERROR(commit(true));
  progress.Finish();
  gauges.Publish(report.records, report.bytes);
  for (const auto& [topic, configs] : deferred_configs_) {
    KB_RETURN_IF_ERROR(admin_->SetTopicConfigs(topic, configs));
  }
  report.bytes_fetched = stats.bytes_fetched;
  // Partitions are read side by side, so damage turns up in no set order:
  // the report lists it by topic, partition and offset, as validate does.
  std::sort(report.skipped.begin(), report.skipped.end(), [](const SkippedRange& a, const SkippedRange& b) {
    return std::tie(a.topic, a.partition, a.first_offset, a.position) <
           std::tie(b.topic, b.partition, b.first_offset, b.position);
  });
  return Status::Ok();
}

// Restore phase 2: the offset map, stored whole; its parts are folded in.
Status RestoreRun::StoreOffsetMap(storage::ObjectStore& store, const std::string& backup_id,
                                  const std::string& cluster_id, RestoreReport* report) {
  format::OffsetMap map;
  map.restore_id = report->restore_id;
  map.backup_id = backup_id;
  map.target_cluster_id = cluster_id;
  map.created_at_ms = NowMs();
  for (size_t pi = 0; pi < plans_.size(); ++pi) {
    format::TopicOffsetMap t;
    t.source_topic = plans_[pi].source->name;
    t.target_topic = plans_[pi].target;
    for (auto& lane : lanes_) {
      if (lane.plan != pi) continue;
      lane.map.source_partition = lane.partition->partition;
      lane.map.runs = format::MergeRuns(std::move(lane.map.runs));
      t.partitions.push_back(lane.map);
    }
    map.topics.push_back(std::move(t));
  }
  report->offset_map_key = storage::layout::OffsetMapKey(backup_id, report->restore_id);
  Status s = store.Put(report->offset_map_key, format::SerializeOffsetMap(map));
  if (!s.ok()) return s.WithContext("the data is restored, but the offset map could not be stored");
  // The parts are folded into the map now.
  KB_ASSIGN_OR_RETURN(auto parts,
                      storage::ListAll(store, storage::layout::OffsetMapPartsPrefix(backup_id, report->restore_id)));
  for (const auto& part : parts) KB_RETURN_IF_ERROR(store.Delete(part.key));
  return Status::Ok();
}

// Restore phase 3: where each group resumes on the target, committed there
// with restore.reset_consumer_offsets (once the groups are still inactive).
Status RestoreRun::RestoreGroupPositions(const std::vector<const format::ConsumerGroupManifest*>& groups,
                                         storage::ObjectStore& store, RestoreReport* report) {
  const RestoreConfig& rc = config_.restore;
  KB_RETURN_IF_ERROR(WaitForCommittedData());
  KB_ASSIGN_OR_RETURN(report->group_positions, ComputeGroupPositions(groups, store));
  if (rc.reset_consumer_offsets) {
    KB_RETURN_IF_ERROR(CheckGroupsInactive(groups));
    for (const auto* g : groups) {
      const std::string& target = rc.TargetGroup(g->group_id);
      std::vector<kafka::TopicPartitionOffset> offsets;
      for (const auto& p : report->group_positions) {
        if (p.group_id == target) offsets.push_back({p.topic, p.partition, p.offset, ""});
      }
      KB_RETURN_IF_ERROR(admin_->CommitGroupOffsets(target, offsets));
    }
    report->groups_committed = true;
  }
  return Status::Ok();
}

}  // namespace

Result<RestoreReport> RunRestore(const Config& config, const RunOptions& options) {
  RestoreRun run(config, options);
  return run.Run();
}

}  // namespace kafka_backup

namespace kafka_backup {

Result<PreflightReport> RunPreflight(const Config& config) {
  PreflightReport report;
  auto check = [&](std::string name, const Status& s, std::string ok_detail) {
    report.checks.push_back({std::move(name), s.ok(), s.ok() ? std::move(ok_detail) : s.ToString(), s});
    return s.ok();
  };
  auto store = storage::OpenStore(config.storage.Url());
  if (!check("storage", store.status(), config.storage.Url())) return report;
  catalog::Catalog cat(**store);
  auto id = cat.Resolve(config.backup_id.empty() ? "latest" : config.backup_id);
  if (!check("backup", id.status(), id.ok() ? *id : "")) return report;
  report.backup_id = *id;
  auto manifest = cat.LoadManifest(*id);
  if (!check("manifest", manifest.status(), fmt::format("{} topics", manifest.ok() ? manifest->topics.size() : 0))) {
    return report;
  }
  const RestoreConfig& rc = config.restore;
  if (rc.time_window_start || rc.time_window_end) {
    int64_t start = rc.time_window_start.value_or(INT64_MIN);
    int64_t end = rc.time_window_end.value_or(INT64_MAX);
    uint64_t partitions = 0;
    for (const auto& t : manifest->topics) {
      if (!rc.topics.empty() && !MatchesAny(rc.topics, t.name)) continue;
      for (const auto& p : t.partitions) {
        if (p.min_timestamp && *p.min_timestamp <= end && *p.max_timestamp >= start) ++partitions;
      }
    }
    check("time window",
          partitions > 0 ? Status::Ok()
                         : Status::InvalidArgument(fmt::format(
                               "no record of the selected topics has a timestamp in [{}, {}]: the restore would "
                               "write nothing",
                               start, end)),
          fmt::format("[{}, {}] selects data in {} partitions", start, end, partitions));
  }
  // The rest is exactly what a restore checks before writing: run it as a dry run.
  Config dry = config;
  dry.restore.dry_run = true;
  dry.backup_id = *id;
  RunOptions quiet;  // no on_progress: a dry run shows nothing
  RestoreRun run(dry, quiet);
  auto planned = run.Run();
  if (planned.ok()) {
    bool window_failed = std::any_of(report.checks.begin(), report.checks.end(),
                                     [](const PreflightCheck& c) { return c.name == "time window" && !c.ok; });
    if ((rc.time_window_start || rc.time_window_end) && planned->records == 0 && !window_failed) {
      check("time window",
            Status::InvalidArgument(fmt::format(
                "no backed-up record of the selected topics has a timestamp in [{}, {}] (inclusive): the restore "
                "would write nothing; widen restore.time_window_start/time_window_end",
                rc.time_window_start.value_or(INT64_MIN), rc.time_window_end.value_or(INT64_MAX))),
            "");
    }
    for (const auto& t : planned->topics) {
      std::string what = t.created              ? "will be created"
                         : t.purged_offsets > 0 ? fmt::format(
                                                      "exists; its {} offsets will be deleted first "
                                                      "(restore.on_existing_data: purge)",
                                                      t.purged_offsets)
                                                : "exists and may be written";
      check("topic " + t.name, Status::Ok(), fmt::format("{}; {} records to restore", what, t.records));
    }
    if (!planned->skipped.empty()) {
      check("data", Status::Ok(),
            fmt::format("{} records in {} range{} cannot be read and will be skipped (restore.on_corruption: skip); "
                        "`validate --deep` lists them",
                        planned->records_skipped, planned->skipped.size(), planned->skipped.size() == 1 ? "" : "s"));
    }
    check("target", Status::Ok(), fmt::format("{} reachable", fmt::join(config.target.bootstrap_servers, ",")));
  } else {
    check("restore plan", planned.status(), "");
  }
  return report;
}

}  // namespace kafka_backup
