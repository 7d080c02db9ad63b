#include "backup/topic_selection.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/glob.h"

namespace kafka_backup::backup {
namespace {

bool IsInternalTopic(const std::string& name) {
  return name == "__consumer_offsets" || name == "__transaction_state" || name == "_schemas" || name.starts_with("__");
}

}  // namespace

Result<std::vector<kafka::TopicInfo>> SelectTopics(const kafka::ClusterInfo& cluster, const TopicSelection& sel,
                                                   bool include_internal, const std::string& bootstrap,
                                                   std::vector<std::string>* missing) {
  std::vector<std::string> include = sel.include.empty() ? std::vector<std::string>{"*"} : sel.include;
  for (const auto& pattern : include) {
    if (IsGlob(pattern) || cluster.Find(pattern)) continue;
    if (sel.on_missing != "warn") {
      return Status::NotFound(
          fmt::format("topic '{}' (source.topics.include) does not exist in the source cluster at {}; "
                      "check the name, use a glob such as '{}*' to match topics that may be absent, or set "
                      "source.topics.on_missing: warn to back up the others",
                      pattern, bootstrap, pattern));
    }
    if (missing) missing->push_back(pattern);
  }
  std::vector<kafka::TopicInfo> chosen;
  for (const auto& t : cluster.topics) {
    bool literal = std::find(include.begin(), include.end(), t.name) != include.end();
    if (IsInternalTopic(t.name) && !include_internal && !literal) continue;
    if (!MatchesAny(include, t.name) || MatchesAny(sel.exclude, t.name)) continue;
    chosen.push_back(t);
  }
  if (chosen.empty()) {
    return Status::NotFound(
        fmt::format("no topic in the source cluster at {} matches source.topics (include {}, exclude {})", bootstrap,
                    fmt::join(include, ","), fmt::join(sel.exclude, ",")));
  }
  return chosen;
}

Result<std::vector<format::ConsumerGroupManifest>> CaptureGroups(kafka::Admin& admin,
                                                                 const std::vector<std::string>& patterns,
                                                                 const PartitionMap& partitions) {
  std::vector<format::ConsumerGroupManifest> groups;
  if (patterns.empty()) return groups;
  KB_ASSIGN_OR_RETURN(auto ids, admin.ListGroups());
  for (const auto& id : ids) {
    if (!MatchesAny(patterns, id)) continue;
    KB_ASSIGN_OR_RETURN(auto offsets, admin.GroupOffsets(id));
    format::ConsumerGroupManifest g;
    g.group_id = id;
    for (const auto& o : offsets) {
      if (partitions.count({o.topic, o.partition}) == 0) continue;  // a topic not in this backup
      g.offsets.push_back({o.topic, o.partition, o.offset});
    }
    if (!g.offsets.empty()) groups.push_back(std::move(g));
  }
  return groups;
}

std::string TopicChange(const format::TopicManifest& t, const std::map<std::string, std::string>& ids) {
  if (t.topic_id.empty()) return "";
  auto now = ids.find(t.name);
  if (now == ids.end()) return "deleted";
  return now->second == t.topic_id ? "" : "recreated";
}

}  // namespace kafka_backup::backup
