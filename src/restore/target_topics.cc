// The target topics of a restore, before its first record: each created with
// the recorded partition count and configs (LogAppendTime topics as
// CreateTime, their recorded type set after the data), or the existing one
// checked against the plan and restore.on_existing_data (refused when it
// holds committed records, appended to, or purged once confirmed).
#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "restore/restore_run.h"

namespace kafka_backup::restore {
namespace {

constexpr const char* kTimestampTypeConfig = "message.timestamp.type";

}  // namespace

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

}  // namespace kafka_backup::restore
