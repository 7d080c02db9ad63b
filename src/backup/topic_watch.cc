// Topic watching: the topic ids of what a run follows (a topic deleted, or
// deleted and created again, is abandoned with an event), and for continuous
// runs the topics and partitions that appear, and the consumer groups'
// offsets read again.
#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/backup_run.h"
#include "backup/topic_selection.h"
#include "util/clock.h"

namespace kafka_backup::backup {

std::optional<std::map<std::string, std::string>> BackupRun::CurrentTopicIds(const std::vector<std::string>& names) {
  auto ids = admin_->TopicIds(names);
  if (ids.ok()) return std::move(*ids);
  spdlog::warn("cannot read topic ids ({}): a topic deleted and created again goes unnoticed", ids.status().ToString());
  return std::nullopt;
}

Status BackupRun::AbandonTopic(format::TopicManifest& topic, const std::string& event, const std::string& new_id) {
  bool recreated = event == "recreated";
  std::string detail;
  if (continuous_) {
    detail = fmt::format(
        "{}; this backup holds the old topic up to where it was read and no longer follows it: back the new "
        "topic up under another backup id",
        recreated ? fmt::format("deleted and created again (topic id {} -> {})", topic.topic_id, new_id) : "deleted");
  } else {
    detail = fmt::format(
        "{} before this backup read all of it: the offsets it had not read are recorded as a gap",
        recreated ? fmt::format("deleted and created again (topic id {} -> {})", topic.topic_id, new_id) : "deleted");
  }
  spdlog::warn("topic {}: {}", topic.name, detail);
  topic.events.push_back({NowMs(), event, new_id, detail});
  force_base_ = true;  // a delta entry cannot carry the event
  for (int32_t i = 0; i < topic.partition_count; ++i) {
    auto it = partitions_.find({topic.name, i});
    if (it == partitions_.end() || it->second.done) continue;
    PartitionState& p = it->second;
    int64_t position = p.Position();
    if (continuous_) {
      p.cut = position;
    } else if (position < p.cut) {
      p.AddGap(position, p.cut, fmt::format("topic {} before it was read", event));
      p.read_upto = p.cut;
      report_.deleted_offsets += static_cast<uint64_t>(p.cut - position);
    }
    p.done = true;
    KB_RETURN_IF_ERROR(SealSegment(p));
    if (consumer_) (void)consumer_->Unassign(p.topic, p.partition);
  }
  return Status::Ok();
}

Status BackupRun::CheckTopicIds() {
  auto followed = [&](const format::TopicManifest& t) {
    return !t.topic_id.empty() && std::any_of(partitions_.begin(), partitions_.end(),
                                              [&](const auto& e) { return e.first.topic == t.name && !e.second.done; });
  };
  std::vector<std::string> names;
  for (const auto& t : meta_.topics) {
    if (followed(t)) names.push_back(t.name);
  }
  if (names.empty()) return Status::Ok();
  auto ids = CurrentTopicIds(names);
  if (!ids) return Status::Ok();
  for (auto& t : meta_.topics) {
    if (!followed(t)) continue;
    std::string change = TopicChange(t, *ids);
    if (!change.empty()) KB_RETURN_IF_ERROR(AbandonTopic(t, change, change == "recreated" ? ids->at(t.name) : ""));
  }
  return Status::Ok();
}

void BackupRun::RefreshGroups() {
  auto groups = CaptureGroups(*admin_, config_.backup.consumer_groups, partitions_);
  if (!groups.ok()) {
    spdlog::warn("cannot read consumer groups' offsets: {} (trying again later)", groups.status().ToString());
    return;
  }
  if (*groups == meta_.consumer_groups) return;
  meta_.consumer_groups = std::move(*groups);
  groups_changed_ = true;
}

Status BackupRun::DiscoverTopics() {
  last_discovery_ = Clock::now();
  KB_RETURN_IF_ERROR(CheckTopicIds());
  auto cluster = admin_->Describe();
  if (!cluster.ok()) {
    spdlog::warn("cannot look for new topics: {}", cluster.status().ToString());
    return Status::Ok();
  }
  auto topics =
      SelectTopics(*cluster, config_.source.topics, config_.backup.include_internal_topics, admin_->bootstrap());
  if (!topics.ok()) return Status::Ok();  // nothing matches now; what is followed stays followed
  auto held = [&](const std::string& name) {
    return std::find_if(meta_.topics.begin(), meta_.topics.end(), [&](const auto& x) { return x.name == name; });
  };
  std::vector<std::string> new_names;
  for (const auto& t : *topics) {
    if (held(t.name) == meta_.topics.end()) new_names.push_back(t.name);
  }
  std::map<std::string, std::string> new_ids;
  if (!new_names.empty()) new_ids = CurrentTopicIds(new_names).value_or(std::map<std::string, std::string>{});
  std::vector<kafka::Consumer::Start> starts;
  for (const auto& t : *topics) {
    auto tm = held(t.name);
    if (tm == meta_.topics.end()) {
      format::TopicManifest added;
      added.name = t.name;
      added.replication_factor = t.replication_factor;
      auto configs = admin_->TopicConfigs(t.name);
      if (!configs.ok()) {
        spdlog::warn("new topic {}: {} (trying again later)", t.name, configs.status().ToString());
        continue;
      }
      added.configs = std::move(*configs);
      if (auto id = new_ids.find(t.name); id != new_ids.end()) added.topic_id = id->second;
      meta_.topics.push_back(std::move(added));
      tm = std::prev(meta_.topics.end());
    }
    for (int32_t p = tm->partition_count; p < t.partition_count; ++p) {
      auto w = admin_->QueryWatermarks(t.name, p);
      if (!w.ok()) {
        spdlog::warn("new partition {}[{}]: {} (trying again later)", t.name, p, w.status().ToString());
        break;
      }
      PartitionState& st = partitions_[{t.name, p}];
      st.topic = t.name;
      st.partition = p;
      st.cut = kNoCut;
      st.high = w->high;
      st.read_upto = w->low;
      st.manifest.partition = p;
      st.manifest.start_offset = w->low;
      st.manifest.end_offset = w->low;
      st.journaled_end = w->low;
      starts.push_back({t.name, p, w->low});
      tm->partition_count = p + 1;
    }
  }
  if (starts.empty()) return Status::Ok();
  spdlog::info("backup {}: following {} new partitions", config_.backup_id, starts.size());
  force_base_ = true;
  return consumer_->AssignMore(starts);
}

}  // namespace kafka_backup::backup
