#include "kafka_backup/restore.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "catalog/catalog.h"
#include "kafka/client.h"
#include "kafka/partitioner.h"
#include "storage/object_store.h"
#include "util/glob.h"
#include "util/progress.h"

namespace kafka_backup {
namespace {

using Clock = std::chrono::steady_clock;

// The seed's header names for restored records' provenance.
constexpr const char* kHeaderOriginalOffset = "x-original-offset";
constexpr const char* kHeaderOriginalTimestamp = "x-original-timestamp";
constexpr const char* kHeaderSourceCluster = "x-source-cluster";

constexpr const char* kTimestampTypeConfig = "message.timestamp.type";

Status CheckSupported(const RestoreConfig& r, const std::string& file) {
  auto unsupported = [&](const std::string& key) {
    return Status::InvalidArgument(fmt::format(
        "{}: restore.{} is not supported by this version of kafka-backup yet; remove it to restore data only", file,
        key));
  };
  if (r.consumer_group_strategy != "skip") return unsupported("consumer_group_strategy");
  if (r.reset_consumer_offsets) return unsupported("reset_consumer_offsets");
  if (!r.consumer_groups.empty()) return unsupported("consumer_groups");
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

// Every per-topic option must name a topic of the backup: a typo would
// otherwise silently restore something else than asked.
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

// Where one topic of the backup goes.
struct TopicPlan {
  const format::TopicManifest* source = nullptr;
  std::string target;
  int32_t target_partitions = 0;       // the count the target topic must have (at least)
  std::optional<int32_t> repartition;  // exact count when keys are re-hashed
  std::map<int32_t, int32_t> partition_mapping;
  std::vector<const format::PartitionManifest*> partitions;  // to restore, in order

  int32_t TargetPartition(const format::PartitionManifest& p, const format::Record& r) const {
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

class RestoreRun {
 public:
  RestoreRun(const Config& config, const RunOptions& options) : config_(config), options_(options) {}
  Result<RestoreReport> Run();

 private:
  // Creates the target topic or checks the existing one; fills `deferred_configs_`.
  Status PrepareTopic(const TopicPlan& plan, const kafka::ClusterInfo& cluster, RestoreTopicReport* out);

  const Config& config_;
  const RunOptions& options_;
  std::unique_ptr<kafka::Admin> admin_;
  std::map<std::string, std::map<std::string, std::string>> deferred_configs_;
};

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
    if (config_.restore.on_existing_data != "append") {
      for (int32_t p = 0; p < existing->partition_count; ++p) {
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(plan.target, p));
        if (w.high > w.low) {
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

Result<RestoreReport> RestoreRun::Run() {
  auto started = Clock::now();
  const RestoreConfig& rc = config_.restore;
  if (!config_.mode.empty() && config_.mode != "restore") {
    return Status::InvalidArgument(
        fmt::format("{}: mode is '{}', but this command restores (mode: restore)", config_.source_file, config_.mode));
  }
  if (!config_.has_target || config_.target.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: no target cluster: set target.bootstrap_servers", config_.source_file));
  }
  KB_RETURN_IF_ERROR(CheckSupported(rc, config_.source_file));
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(config_.storage.Url()));
  catalog::Catalog cat(*store);
  KB_ASSIGN_OR_RETURN(std::string backup_id, cat.Resolve(config_.backup_id.empty() ? "latest" : config_.backup_id));
  KB_ASSIGN_OR_RETURN(format::Manifest manifest, cat.LoadManifest(backup_id));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.topic_mapping, "topic_mapping", manifest));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.source_partitions, "source_partitions", manifest));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.partition_mapping, "partition_mapping", manifest));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.repartitioning, "repartitioning", manifest));
  KB_ASSIGN_OR_RETURN(auto topics, SelectTopics(manifest, rc.topics));
  std::vector<TopicPlan> plans;
  std::map<std::string, std::string> target_owner;
  for (const auto* t : topics) {
    KB_ASSIGN_OR_RETURN(TopicPlan plan, PlanTopic(*t, rc));
    auto [it, inserted] = target_owner.emplace(plan.target, t->name);
    if (!inserted) {
      return Status::InvalidArgument(
          fmt::format("topics '{}' and '{}' would both be restored into '{}'; change "
                      "restore.topic_mapping",
                      it->second, t->name, plan.target));
    }
    plans.push_back(std::move(plan));
  }

  RestoreReport report;
  report.backup_id = backup_id;
  report.dry_run = rc.dry_run;
  catalog::RecordFilter filter;
  filter.min_timestamp = rc.time_window_start;
  filter.max_timestamp = rc.time_window_end;
  bool offset_headers = rc.include_offset_headers.value_or(manifest.include_offset_headers);

  KB_ASSIGN_OR_RETURN(admin_, kafka::Admin::Connect(config_.target));
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin_->Describe());
  uint64_t total = 0;
  for (const auto& plan : plans) {
    RestoreTopicReport tr;
    tr.name = plan.target;
    tr.source_name = plan.source->name;
    tr.dry_run = report.dry_run;
    KB_RETURN_IF_ERROR(PrepareTopic(plan, cluster, &tr));
    report.topics.push_back(tr);
    for (const auto* p : plan.partitions) total += p->record_count;
  }
  spdlog::info("restore {}{}: {} topics, up to {} records into {}", backup_id, report.dry_run ? " (dry run)" : "",
               plans.size(), total, admin_->bootstrap());

  std::unique_ptr<kafka::Producer> producer;
  if (!report.dry_run) {
    KB_ASSIGN_OR_RETURN(producer, kafka::Producer::Connect(config_.target));
  }
  Progress progress("restore", total, options_.show_progress);
  catalog::ReadStats stats;
  std::vector<format::RecordHeader> extra;
  for (size_t ti = 0; ti < plans.size(); ++ti) {
    const TopicPlan& plan = plans[ti];
    RestoreTopicReport& tr = report.topics[ti];
    for (const auto* p : plan.partitions) {
      for (const auto& seg : p->segments) {
        Status s = catalog::ReadSegment(
            *store, seg, filter,
            [&](format::Record&& r) -> Status {
              tr.records++;
              tr.bytes += r.PayloadBytes();
              report.records++;
              report.bytes += r.PayloadBytes();
              progress.Update(report.records, report.bytes);
              if (r.timestamp == 0 && r.timestamp_type != format::TimestampType::kLogAppendTime) {
                report.zero_timestamp_records++;
              }
              if (report.dry_run) return Status::Ok();
              extra.clear();
              if (offset_headers) {
                extra.push_back({kHeaderOriginalOffset, std::to_string(r.offset)});
                extra.push_back({kHeaderOriginalTimestamp, std::to_string(r.timestamp)});
                extra.push_back({kHeaderSourceCluster, manifest.source_cluster_id});
              }
              return producer->Send(plan.target, plan.TargetPartition(*p, r), r, extra);
            },
            &stats);
        KB_RETURN_IF_ERROR(s);
      }
    }
  }
  if (producer) {
    Status s = producer->Flush(300 * 1000);
    if (!s.ok()) return s.WithContext("restore did not complete");
  }
  progress.Finish();
  for (const auto& [topic, configs] : deferred_configs_) {
    KB_RETURN_IF_ERROR(admin_->SetTopicConfigs(topic, configs));
  }
  report.bytes_fetched = stats.bytes_fetched;
  if (report.zero_timestamp_records > 0) {
    spdlog::warn(
        "{} records had CreateTime 0, which the Kafka client library (librdkafka) cannot send: the target holds "
        "the restore time for them; the backup keeps the original",
        report.zero_timestamp_records);
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report;
}

}  // namespace

Result<RestoreReport> RunRestore(const Config& config, const RunOptions& options) {
  RestoreRun run(config, options);
  return run.Run();
}

}  // namespace kafka_backup
