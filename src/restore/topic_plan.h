// Where each topic of the backup goes: the topics restore.topics selects, and
// per topic its target name (restore.topic_mapping), the source partitions it
// restores (restore.source_partitions) and the target partition of each
// record (restore.partition_mapping, or restore.repartitioning by key).
//
// Pure functions of the manifest and the config: errors are InvalidArgument
// or NotFound naming the setting. Depends on config, format, kafka
// (the partitioner) only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "format/manifest.h"
#include "format/record.h"
#include "kafka/partitioner.h"
#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup::restore {

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

// The topics of `m` that `wanted` (restore.topics: names or globs; empty:
// all) selects, in the manifest's order; NotFound for a name not in the
// backup, or when nothing matches.
Result<std::vector<const format::TopicManifest*>> SelectTopics(const format::Manifest& m,
                                                               const std::vector<std::string>& wanted);

// The settings keyed by topic name only name topics of the backup.
Status CheckTopicKeys(const RestoreConfig& rc, const format::Manifest& m);

Result<TopicPlan> PlanTopic(const format::TopicManifest& t, const RestoreConfig& r);

}  // namespace kafka_backup::restore
