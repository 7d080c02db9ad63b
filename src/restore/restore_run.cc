// The restore's sequence (restore_run.h): the checks and the plan, the
// producers taking the transactional ids over, the resume point, the target
// topics, then the three phases; and phase 2, the offset map stored whole.
#include "restore/restore_run.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "catalog/keys.h"
#include "storage/layout.h"
#include "util/clock.h"
#include "util/time_point.h"

namespace kafka_backup {
namespace restore {
namespace {

Status CheckGroupOptions(const RestoreConfig& r, const std::string& file) {
  if (r.reset_consumer_offsets && r.consumer_group_strategy == "skip") {
    return Status::InvalidArgument(
        fmt::format("{}: restore.reset_consumer_offsets is true but consumer_group_strategy is skip; choose exact, "
                    "header-based or timestamp-based",
                    file));
  }
  return Status::Ok();
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

}  // namespace

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
  KB_RETURN_IF_ERROR(RestoreData(DataPhaseInput{*store, backup_id, restore_id, txn_id, cluster.cluster_id,
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

}  // namespace restore

Result<RestoreReport> RunRestore(const Config& config, const RunOptions& options) {
  restore::RestoreRun run(config, options);
  return run.Run();
}

}  // namespace kafka_backup
