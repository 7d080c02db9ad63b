#include "kafka_backup/restore.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "catalog/catalog.h"
#include "kafka/client.h"
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
  if (!r.topic_mapping.empty()) return unsupported("topic_mapping");
  return Status::Ok();
}

Result<std::vector<const format::TopicManifest*>> SelectTopics(const format::Manifest& m,
                                                               const std::vector<std::string>& wanted) {
  std::vector<const format::TopicManifest*> chosen;
  for (const auto& pattern : wanted) {
    if (!IsGlob(pattern) && !m.FindTopic(pattern)) {
      std::string names;
      for (const auto& t : m.topics) names += (names.empty() ? "" : ", ") + t.name;
      return Status::NotFound(
          fmt::format("topic '{}' (restore.topics) is not in backup '{}'; it holds: {}", pattern, m.backup_id, names));
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

class RestoreRun {
 public:
  RestoreRun(const Config& config, const RunOptions& options) : config_(config), options_(options) {}
  Result<RestoreReport> Run();

 private:
  // Creates the topic or checks the existing one; fills `deferred_configs_`.
  Status PrepareTopic(const format::TopicManifest& t, const kafka::ClusterInfo& cluster, RestoreTopicReport* out);

  const Config& config_;
  const RunOptions& options_;
  std::unique_ptr<kafka::Admin> admin_;
  std::map<std::string, std::map<std::string, std::string>> deferred_configs_;
};

Status RestoreRun::PrepareTopic(const format::TopicManifest& t, const kafka::ClusterInfo& cluster,
                                RestoreTopicReport* out) {
  const kafka::TopicInfo* existing = cluster.Find(t.name);
  if (existing) {
    if (existing->partition_count < t.partition_count) {
      return Status::Conflict(fmt::format(
          "target topic '{}' has {} partitions but the backup has {}; add partitions to it or delete it first", t.name,
          existing->partition_count, t.partition_count));
    }
    if (config_.restore.on_existing_data != "append") {
      for (int32_t p = 0; p < existing->partition_count; ++p) {
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(t.name, p));
        if (w.high > w.low) {
          return Status::Conflict(fmt::format(
              "target topic '{}' already holds data (partition {} has offsets {}..{}); refusing to mix it with the "
              "backup: delete the topic first, or set restore.on_existing_data: append",
              t.name, p, w.low, w.high - 1));
        }
      }
    }
    return Status::Ok();
  }
  if (!config_.restore.create_topics) {
    return Status::NotFound(fmt::format(
        "target topic '{}' does not exist and restore.create_topics is false; create it or enable create_topics",
        t.name));
  }
  int32_t rf = config_.restore.default_replication_factor.value_or(
      std::min<int32_t>(std::max(t.replication_factor, 1), std::max(cluster.broker_count, 1)));
  std::map<std::string, std::string> configs = t.configs;
  // The broker overwrites timestamps on LogAppendTime topics; create with
  // CreateTime so the recorded timestamps survive, then set the recorded type.
  auto ts_type = configs.find(kTimestampTypeConfig);
  if (ts_type != configs.end() && ts_type->second == "LogAppendTime") {
    deferred_configs_[t.name] = configs;
    ts_type->second = "CreateTime";
  }
  spdlog::info("creating topic {} ({} partitions, replication factor {})", t.name, t.partition_count, rf);
  KB_RETURN_IF_ERROR(admin_->CreateTopic(t.name, t.partition_count, rf, configs));
  out->created = true;
  return Status::Ok();
}

Result<RestoreReport> RestoreRun::Run() {
  auto started = Clock::now();
  if (!config_.mode.empty() && config_.mode != "restore") {
    return Status::InvalidArgument(
        fmt::format("{}: mode is '{}', but this command restores (mode: restore)", config_.source_file, config_.mode));
  }
  if (!config_.has_target || config_.target.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: no target cluster: set target.bootstrap_servers", config_.source_file));
  }
  KB_RETURN_IF_ERROR(CheckSupported(config_.restore, config_.source_file));
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(config_.storage.Url()));
  catalog::Catalog cat(*store);
  KB_ASSIGN_OR_RETURN(std::string backup_id, cat.Resolve(config_.backup_id.empty() ? "latest" : config_.backup_id));
  KB_ASSIGN_OR_RETURN(format::Manifest manifest, cat.LoadManifest(backup_id));
  KB_ASSIGN_OR_RETURN(auto topics, SelectTopics(manifest, config_.restore.topics));

  RestoreReport report;
  report.backup_id = backup_id;
  report.dry_run = config_.restore.dry_run;
  catalog::RecordFilter filter;
  filter.min_timestamp = config_.restore.time_window_start;
  filter.max_timestamp = config_.restore.time_window_end;
  bool offset_headers = config_.restore.include_offset_headers.value_or(manifest.include_offset_headers);

  KB_ASSIGN_OR_RETURN(admin_, kafka::Admin::Connect(config_.target));
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin_->Describe());
  uint64_t total = 0;
  for (const auto* t : topics) {
    RestoreTopicReport tr;
    tr.name = t->name;
    if (!report.dry_run) KB_RETURN_IF_ERROR(PrepareTopic(*t, cluster, &tr));
    report.topics.push_back(tr);
    total += t->RecordCount();
  }
  spdlog::info("restore {}{}: {} topics, up to {} records into {}", backup_id, report.dry_run ? " (dry run)" : "",
               topics.size(), total, admin_->bootstrap());

  std::unique_ptr<kafka::Producer> producer;
  if (!report.dry_run) {
    KB_ASSIGN_OR_RETURN(producer, kafka::Producer::Connect(config_.target));
  }
  Progress progress("restore", total, options_.show_progress);
  catalog::ReadStats stats;
  std::vector<format::RecordHeader> extra;
  for (size_t ti = 0; ti < topics.size(); ++ti) {
    const format::TopicManifest& t = *topics[ti];
    RestoreTopicReport& tr = report.topics[ti];
    for (const auto& p : t.partitions) {
      for (const auto& seg : p.segments) {
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
              return producer->Send(t.name, p.partition, r, extra);
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
