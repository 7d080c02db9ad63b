// Which topics and consumer groups of a cluster a backup takes, and what
// became of a topic it holds (by the cluster's topic ids).
//
// Owns: the source.topics include/exclude rule (internal topics, literal
// names, on_missing) and the backup.consumer_groups patterns. Stateless.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "backup/partition_state.h"
#include "kafka/client.h"
#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup::backup {

// Topics of the cluster chosen by include/exclude globs. Internal topics are
// left out unless named literally in include or include_internal is set. A
// literal include that names no topic is an error (the user asked for it),
// or with on_missing: warn, a name added to `missing`.
Result<std::vector<kafka::TopicInfo>> SelectTopics(const kafka::ClusterInfo& cluster, const TopicSelection& sel,
                                                   bool include_internal, const std::string& bootstrap,
                                                   std::vector<std::string>* missing = nullptr);

// The committed offsets of the groups matching `patterns`, for the
// partitions of this backup only (a group with none is left out).
Result<std::vector<format::ConsumerGroupManifest>> CaptureGroups(kafka::Admin& admin,
                                                                 const std::vector<std::string>& patterns,
                                                                 const PartitionMap& partitions);

// What became of a topic this backup holds, by the cluster's topic ids now:
// "" (nothing), "deleted" or "recreated". A topic recorded without an id
// (a broker that did not give one) is never reported.
std::string TopicChange(const format::TopicManifest& t, const std::map<std::string, std::string>& ids);

}  // namespace kafka_backup::backup
