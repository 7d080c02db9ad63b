// Where each topic of the backup goes (topic_plan.h).
#include "restore/topic_plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/glob.h"

namespace kafka_backup::restore {
namespace {

std::string TopicNames(const format::Manifest& m) {
  std::string names;
  for (const auto& t : m.topics) names += (names.empty() ? "" : ", ") + t.name;
  return names;
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

}  // namespace

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

Status CheckTopicKeys(const RestoreConfig& rc, const format::Manifest& m) {
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.topic_mapping, "topic_mapping", m));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.source_partitions, "source_partitions", m));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.partition_mapping, "partition_mapping", m));
  KB_RETURN_IF_ERROR(CheckTopicKeys(rc.repartitioning, "repartitioning", m));
  return CheckTopicKeys(rc.topic_configs, "topic_configs", m);
}

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

}  // namespace kafka_backup::restore
