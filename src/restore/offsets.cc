#include "kafka_backup/offsets.h"
#include "format/topic_partition.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "kafka/client.h"
#include "kafka_backup/restore.h"
#include "storage/layout.h"
#include "storage/object_store.h"
#include "util/clock.h"
#include "util/glob.h"
#include "util/parallel.h"
#include "util/time_point.h"

namespace kafka_backup {
namespace {

struct Context {
  std::unique_ptr<storage::ObjectStore> store;
  std::string backup_id;
  format::Manifest manifest;
  format::OffsetMap map;
  std::unique_ptr<kafka::Admin> admin;
};

Result<Context> Open(const Config& config, const std::string& restore_id) {
  if (!config.has_target || config.target.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: no target cluster: set target.bootstrap_servers", config.source_file));
  }
  Context c;
  KB_ASSIGN_OR_RETURN(c.store, storage::OpenStore(config.storage.Url()));
  catalog::Catalog cat(*c.store);
  KB_ASSIGN_OR_RETURN(c.backup_id, cat.Resolve(config.backup_id.empty() ? "latest" : config.backup_id));
  KB_ASSIGN_OR_RETURN(c.manifest, cat.LoadManifest(c.backup_id));
  KB_ASSIGN_OR_RETURN(c.map, catalog::LoadOffsetMap(*c.store, c.backup_id, restore_id));
  KB_ASSIGN_OR_RETURN(c.admin, kafka::Admin::Connect(config.target));
  return c;
}

// Admin calls for this many groups at a time: a plan over hundreds of groups
// waits on round trips, not on CPU.
constexpr size_t kGroupsAtOnce = 8;

// The groups' committed offsets on the target now, per (group, topic, partition).
Result<std::map<std::tuple<std::string, std::string, int32_t>, int64_t>> CurrentOffsets(
    kafka::Admin& admin, const std::vector<std::string>& groups) {
  std::vector<std::vector<kafka::TopicPartitionOffset>> each(groups.size());
  KB_RETURN_IF_ERROR(util::ParallelFor(groups.size(), kGroupsAtOnce, [&](size_t i) -> Status {
    KB_ASSIGN_OR_RETURN(each[i], admin.GroupOffsets(groups[i]));
    return Status::Ok();
  }));
  std::map<std::tuple<std::string, std::string, int32_t>, int64_t> out;
  for (size_t i = 0; i < groups.size(); ++i) {
    for (const auto& o : each[i]) out[{groups[i], o.topic, o.partition}] = o.offset;
  }
  return out;
}

Status CheckInactive(kafka::Admin& admin, const std::vector<std::string>& groups) {
  return util::ParallelFor(groups.size(), kGroupsAtOnce, [&](size_t i) -> Status {
    KB_ASSIGN_OR_RETURN(kafka::GroupInfo info, admin.DescribeGroup(groups[i]));
    if (info.members > 0) {
      return Status::Conflict(
          fmt::format("consumer group '{}' has {} active members on the target ({}); stop its consumers first",
                      groups[i], info.members, info.state));
    }
    return Status::Ok();
  });
}

std::vector<std::string> GroupsOf(const OffsetResetPlan& plan) {
  std::vector<std::string> groups;
  for (const auto& e : plan.entries) {
    if (std::find(groups.begin(), groups.end(), e.group_id) == groups.end()) groups.push_back(e.group_id);
  }
  return groups;
}

Status Apply(kafka::Admin& admin, const OffsetResetPlan& plan) {
  std::vector<std::string> groups = GroupsOf(plan);
  return util::ParallelFor(groups.size(), kGroupsAtOnce, [&](size_t i) -> Status {
    std::vector<kafka::TopicPartitionOffset> commit;
    std::vector<kafka::TopicPartitionOffset> remove;
    for (const auto& e : plan.entries) {
      if (e.group_id != groups[i]) continue;
      (e.target ? commit : remove).push_back({e.topic, e.partition, e.target.value_or(0), ""});
    }
    KB_RETURN_IF_ERROR(admin.CommitGroupOffsets(groups[i], commit));
    return admin.DeleteGroupOffsets(groups[i], remove);
  });
}

// The exact positions of group `g` through the offset map: per target
// partition, the earliest position any source partition asks for.
Status ExactPositions(Context& c, const format::ConsumerGroupManifest& g, const std::string& target_group,
                      std::vector<OffsetResetEntry>* out) {
  std::map<format::TopicPartition, OffsetResetEntry> positions;
  for (const auto& committed : g.offsets) {
    const format::TopicOffsetMap* topic = c.map.FindTopic(committed.topic);
    if (!topic) continue;  // not restored
    const format::PartitionOffsetMap* part = nullptr;
    for (const auto& p : topic->partitions)
      if (p.source_partition == committed.partition) part = &p;
    if (!part) continue;
    std::optional<format::TargetPosition> pos = format::FirstAtOrAfter(*part, committed.offset);
    if (!pos) {
      // Everything restored was consumed: the end of the partition it went to.
      int32_t tp = part->runs.empty() ? committed.partition : part->runs.back().target_partition;
      KB_ASSIGN_OR_RETURN(kafka::Watermarks w, c.admin->QueryWatermarks(topic->target_topic, tp));
      pos = format::TargetPosition{tp, w.high};
    }
    std::string from = fmt::format("{}[{}]@{}", committed.topic, committed.partition, committed.offset);
    format::TopicPartition key{topic->target_topic, pos->partition};
    auto it = positions.find(key);
    if (it == positions.end()) {
      positions[key] =
          OffsetResetEntry{target_group, topic->target_topic, pos->partition, std::nullopt, pos->offset, from};
    } else if (pos->offset < *it->second.target) {
      it->second.target = pos->offset;
      it->second.from += ", " + from;
    }
  }
  for (auto& [_, e] : positions) out->push_back(std::move(e));
  return Status::Ok();
}

// --to-earliest / --to-latest / --to-datetime / --to-offset: every partition
// of each restored topic group `g` had committed offsets on.
Status ResetPositions(Context& c, const kafka::ClusterInfo& cluster, const format::ConsumerGroupManifest& g,
                      const std::string& target_group, const ResetTo& to, std::vector<OffsetResetEntry>* out) {
  std::set<std::string> topics;
  for (const auto& committed : g.offsets) {
    if (const format::TopicOffsetMap* t = c.map.FindTopic(committed.topic)) topics.insert(t->target_topic);
  }
  std::string from = to.kind == ResetTo::Kind::kEarliest ? "earliest"
                     : to.kind == ResetTo::Kind::kLatest ? "latest"
                     : to.kind == ResetTo::Kind::kTime   ? "time " + util::FormatRfc3339(to.value)
                                                         : fmt::format("offset {}", to.value);
  for (const auto& topic : topics) {
    const kafka::TopicInfo* info = cluster.Find(topic);
    if (!info) return Status::NotFound(fmt::format("target topic '{}' of the restore does not exist", topic));
    std::vector<int64_t> at_time;
    if (to.kind == ResetTo::Kind::kTime) {
      KB_ASSIGN_OR_RETURN(at_time, c.admin->OffsetsForTime(topic, info->partition_count, to.value));
    }
    for (int32_t p = 0; p < info->partition_count; ++p) {
      KB_ASSIGN_OR_RETURN(kafka::Watermarks w, c.admin->QueryWatermarks(topic, p));
      int64_t offset = to.kind == ResetTo::Kind::kEarliest ? w.low
                       : to.kind == ResetTo::Kind::kLatest ? w.high
                       : to.kind == ResetTo::Kind::kTime   ? (at_time[p] < 0 ? w.high : at_time[p])
                                                           : std::clamp(to.value, w.low, std::max(w.low, w.high));
      out->push_back(OffsetResetEntry{target_group, topic, p, std::nullopt, offset, from});
    }
  }
  return Status::Ok();
}

}  // namespace

Result<OffsetResetPlan> PlanOffsetReset(const Config& config, const std::string& restore_id, const ResetTo& to) {
  KB_ASSIGN_OR_RETURN(Context c, Open(config, restore_id));
  OffsetResetPlan plan;
  plan.backup_id = c.backup_id;
  plan.restore_id = c.map.restore_id;
  plan.bootstrap = fmt::format("{}", fmt::join(config.target.bootstrap_servers, ","));
  kafka::ClusterInfo cluster;
  if (to.kind != ResetTo::Kind::kExact) {
    KB_ASSIGN_OR_RETURN(cluster, c.admin->Describe());
  }
  const auto& wanted = config.restore.consumer_groups;
  std::vector<std::string> found;    // in the backup
  std::vector<std::string> targets;  // on the target (restore.group_mapping)
  for (const auto& g : c.manifest.consumer_groups) {
    if (!wanted.empty() && !MatchesAny(wanted, g.group_id)) continue;
    found.push_back(g.group_id);
    const std::string& target = config.restore.TargetGroup(g.group_id);
    targets.push_back(target);
    KB_RETURN_IF_ERROR(to.kind == ResetTo::Kind::kExact ? ExactPositions(c, g, target, &plan.entries)
                                                        : ResetPositions(c, cluster, g, target, to, &plan.entries));
  }
  for (const auto& w : wanted) {
    if (!IsGlob(w) && std::find(found.begin(), found.end(), w) == found.end()) {
      return Status::NotFound(
          fmt::format("consumer group '{}' has no committed offsets in backup '{}'", w, c.backup_id));
    }
  }
  KB_ASSIGN_OR_RETURN(auto current, CurrentOffsets(*c.admin, targets));
  for (auto& e : plan.entries) {
    if (auto it = current.find({e.group_id, e.topic, e.partition}); it != current.end()) e.current = it->second;
  }
  return plan;
}

Result<std::string> ExecuteOffsetReset(const Config& config, const OffsetResetPlan& plan) {
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(config.storage.Url()));
  KB_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Connect(config.target));
  std::vector<std::string> groups = GroupsOf(plan);
  KB_RETURN_IF_ERROR(CheckInactive(*admin, groups));
  // Snapshot what is there now, so that offset-rollback can put it back.
  KB_ASSIGN_OR_RETURN(auto current, CurrentOffsets(*admin, groups));
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : plan.entries) {
    auto it = current.find({e.group_id, e.topic, e.partition});
    entries.push_back({{"group_id", e.group_id},
                       {"topic", e.topic},
                       {"partition", e.partition},
                       {"offset", it == current.end() ? nlohmann::json(nullptr) : nlohmann::json(it->second)}});
  }
  std::string snapshot_id = fmt::format("{:013}", NowMs());
  nlohmann::json snapshot{{"format", "kafka-backup-offset-snapshot"},
                          {"format_version", 1},
                          {"snapshot_id", snapshot_id},
                          {"backup_id", plan.backup_id},
                          {"restore_id", plan.restore_id},
                          {"entries", entries}};
  KB_RETURN_IF_ERROR(store->Put(storage::layout::OffsetSnapshotKey(plan.backup_id, plan.restore_id, snapshot_id),
                                snapshot.dump(2) + "\n"));
  KB_RETURN_IF_ERROR(Apply(*admin, plan));
  return snapshot_id;
}

Result<OffsetResetPlan> PlanRollback(const Config& config, const std::string& restore_id,
                                     const std::string& snapshot_id) {
  KB_ASSIGN_OR_RETURN(Context c, Open(config, restore_id));
  std::string prefix = storage::layout::OffsetSnapshotPrefix(c.backup_id, c.map.restore_id);
  std::string key;
  if (snapshot_id.empty()) {
    KB_ASSIGN_OR_RETURN(auto all, storage::ListAll(*c.store, prefix));
    if (all.empty()) {
      return Status::NotFound(
          fmt::format("no offset snapshot for restore '{}' of backup '{}': offset-reset execute "
                      "takes one before it changes anything",
                      c.map.restore_id, c.backup_id));
    }
    key = all.back().key;  // ids are zero-padded times: the last is the newest
  } else {
    key = storage::layout::OffsetSnapshotKey(c.backup_id, c.map.restore_id, snapshot_id);
  }
  auto text = c.store->Get(key);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(fmt::format("offset snapshot '{}' not found ({})", snapshot_id, key));
    }
    return text.status();
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != "kafka-backup-offset-snapshot") {
    return Status::Corruption(fmt::format("{} is not an offset snapshot", key));
  }
  OffsetResetPlan plan;
  plan.backup_id = c.backup_id;
  plan.restore_id = c.map.restore_id;
  plan.bootstrap = fmt::format("{}", fmt::join(config.target.bootstrap_servers, ","));
  std::vector<std::string> groups;
  try {
    for (const auto& e : j.at("entries")) {
      OffsetResetEntry entry;
      entry.group_id = e.at("group_id").get<std::string>();
      entry.topic = e.at("topic").get<std::string>();
      entry.partition = e.at("partition").get<int32_t>();
      if (!e.at("offset").is_null()) entry.target = e.at("offset").get<int64_t>();
      entry.from = "snapshot " + j.at("snapshot_id").get<std::string>();
      if (std::find(groups.begin(), groups.end(), entry.group_id) == groups.end()) groups.push_back(entry.group_id);
      plan.entries.push_back(std::move(entry));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(fmt::format("{} is malformed: {}", key, e.what()));
  }
  KB_ASSIGN_OR_RETURN(auto current, CurrentOffsets(*c.admin, groups));
  for (auto& e : plan.entries) {
    if (auto it = current.find({e.group_id, e.topic, e.partition}); it != current.end()) e.current = it->second;
  }
  return plan;
}

Status ApplyRollback(const Config& config, const OffsetResetPlan& plan) {
  KB_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Connect(config.target));
  KB_RETURN_IF_ERROR(CheckInactive(*admin, GroupsOf(plan)));
  return Apply(*admin, plan);
}

}  // namespace kafka_backup
