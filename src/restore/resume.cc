// Where a rerun of a restore resumes (docs/config.md, "Exactly once"): the
// progress each transaction commits with its records, as offsets of the
// progress group (restore/progress_marker.h), read back; and the offset-map
// parts stored before each commit, those of committed transactions loaded and
// the rest deleted.
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "restore/progress_marker.h"
#include "restore/restore_run.h"
#include "storage/layout.h"

namespace kafka_backup::restore {
namespace {

// Progress metadata carries our tag but cannot be read: a rerun must not
// guess where to resume (it would restore records twice or leave a gap).
Status DamagedProgress(const std::string& group, const std::string& topic, int32_t partition, const Status& why) {
  return Status::Corruption(
      fmt::format("the restore progress committed for group '{}' on {}[{}] cannot be read ({}): restore under another "
                  "restore_id, or delete the group (kafka-consumer-groups --delete --group {}) to start afresh",
                  group, topic, partition, why.message(), group));
}

}  // namespace

std::vector<kafka::TopicPartitionOffset> RestoreRun::ProgressOffsets(const std::vector<int64_t>& next,
                                                                     size_t producer) const {
  std::map<format::TopicPartition, restore::ProgressMarker> slots;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i].producer != producer) continue;
    restore::ProgressMarker& marker = slots[ProgressSlot(plans_[lanes_[i].plan], lanes_[i].partition->partition)];
    marker.part = committed_part_;
    marker.next[lanes_[i].partition->partition] = next[i];
  }
  std::vector<kafka::TopicPartitionOffset> out;
  out.reserve(slots.size());
  for (auto& [slot, marker] : slots) out.push_back({slot.topic, slot.partition, 0, EncodeProgressMarker(marker)});
  return out;
}

Result<bool> RestoreRun::LoadProgress(const std::string& group, const kafka::ClusterInfo& cluster,
                                      std::vector<int64_t>* next) {
  // A dry run leaves the transactional id alone (the restore may be running):
  // it reads the last committed progress, which is where a rerun resumes
  // after aborting whatever transaction is still open.
  KB_ASSIGN_OR_RETURN(auto committed, admin_->GroupOffsets(group, /*require_stable=*/!config_.restore.dry_run));
  std::map<format::TopicPartition, int64_t> found;  // (target topic, source partition) -> next
  std::set<std::string_view> targets;
  for (const auto& plan : plans_) targets.insert(plan.target);
  for (const auto& c : committed) {
    spdlog::debug("restore progress {}[{}]: '{}'", c.topic, c.partition, c.metadata);
    // The group also holds what an earlier restore under this restore_id
    // committed for other target topics: not this restore's progress.
    if (!targets.contains(c.topic)) continue;
    auto marker = restore::ParseProgressMarker(c.metadata);
    if (!marker.ok()) return DamagedProgress(group, c.topic, c.partition, marker.status());
    if (!marker->has_value()) continue;
    committed_part_ = std::max(committed_part_, (*marker)->part);
    for (const auto& [partition, offset] : (*marker)->next) found[{c.topic, partition}] = offset;
  }
  if (found.empty()) return false;
  std::vector<int64_t> resumed = *next;
  bool any = false;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    const TopicPlan& plan = plans_[lanes_[i].plan];
    auto it = found.find({plan.target, lanes_[i].partition->partition});
    if (it == found.end()) continue;
    if (!cluster.Find(plan.target)) return false;  // the target topic was deleted: start afresh
    if (it->second > resumed[i]) {
      resumed[i] = it->second;
      any = true;
    }
  }
  if (any) {
    // Data said to be restored must be there; an emptied topic means the
    // user wants a fresh restore.
    for (const auto& plan : plans_) {
      bool has_data = false;
      for (int32_t p = 0; p < plan.target_partitions && !has_data; ++p) {
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(plan.target, p));
        has_data = w.high > w.low;
      }
      if (!has_data && cluster.Find(plan.target)) {
        bool claimed = false;
        for (size_t i = 0; i < lanes_.size(); ++i) {
          if (&plans_[lanes_[i].plan] == &plan && resumed[i] > lanes_[i].partition->start_offset) claimed = true;
        }
        if (claimed) return false;
      }
    }
  }
  *next = resumed;
  return any;
}

Status RestoreRun::LoadOffsetMapSoFar(storage::ObjectStore& store, const std::string& backup_id,
                                      const std::string& restore_id, const std::vector<int64_t>& next) {
  KB_ASSIGN_OR_RETURN(auto parts,
                      storage::ListAll(store, storage::layout::OffsetMapPartsPrefix(backup_id, restore_id)));
  std::string prefix = storage::layout::OffsetMapPartsPrefix(backup_id, restore_id);
  std::map<uint64_t, std::string, std::greater<>> candidates;  // sequence -> key, newest first
  for (const auto& p : parts) {
    auto sequence = restore::ParseOffsetMapPartName(std::string_view(p.key).substr(prefix.size()));
    if (!sequence) {
      spdlog::warn("ignoring {}: not an offset-map part this tool wrote (parts are named <sequence>.json)", p.key);
      continue;
    }
    if (*sequence > committed_part_) {
      KB_RETURN_IF_ERROR(store.Delete(p.key));  // its transaction was aborted
    } else {
      candidates.emplace(*sequence, p.key);
    }
  }
  // The committed parts are a chain from the last one committed, each naming
  // the one committed before it: a part below that is not on the chain was
  // stored by a run fenced (or killed) before its commit, after the run that
  // took over had cleared the parts past the committed one.
  std::vector<std::pair<std::string, format::OffsetMap>> chain;  // newest first
  std::optional<uint64_t> wanted = committed_part_;              // nullopt: parts written before the chain
  for (const auto& [sequence, key] : candidates) {
    if (wanted && sequence != *wanted) {
      spdlog::info("removing {}: stored by a restore that did not commit it", key);
      KB_RETURN_IF_ERROR(store.Delete(key));
      continue;
    }
    KB_ASSIGN_OR_RETURN(std::string text, store.Get(key));
    auto part = format::ParseOffsetMap(text);
    if (!part.ok()) return part.status().WithContext(key);
    if (wanted) wanted = part->previous_part;
    chain.emplace_back(key, std::move(*part));
  }
  std::string final_key = storage::layout::OffsetMapKey(backup_id, restore_id);
  if (store.Head(final_key).ok()) {
    KB_ASSIGN_OR_RETURN(std::string text, store.Get(final_key));
    auto map = format::ParseOffsetMap(text);
    if (!map.ok()) return map.status().WithContext(final_key);
    chain.emplace(chain.begin(), final_key, std::move(*map));
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const format::OffsetMap* part = &it->second;
    for (const auto& t : part->topics) {
      for (const auto& p : t.partitions) {
        for (auto& lane : lanes_) {
          if (plans_[lane.plan].source->name == t.source_topic && lane.partition->partition == p.source_partition) {
            // A part committed by only some of the producers (a crash
            // between their commits) maps the others' aborted records, which
            // a later part maps again where they were written anew.
            lane.map.runs = format::OverlayRuns(std::move(lane.map.runs), p.runs);
          }
        }
      }
    }
  }
  // The last committed part may map records that were aborted and are not yet
  // written again: drop what lies at or past each lane's progress.
  for (size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i].map.runs = format::MergeRuns(format::TrimRuns(std::move(lanes_[i].map.runs), next[i]));
  }
  return Status::Ok();
}

// A fresh start deletes the offset-map parts an earlier restore under this id
// left (stale); a resumed one loads the committed ones.
Status RestoreRun::PrepareOffsetMapParts(storage::ObjectStore& store, const std::string& backup_id,
                                         const std::string& restore_id, const std::vector<int64_t>& next) {
  if (!resuming_) {
    // A fresh start: what an earlier restore under this id left is stale.
    committed_part_ = 0;
    KB_ASSIGN_OR_RETURN(auto stale,
                        storage::ListAll(store, storage::layout::OffsetMapPartsPrefix(backup_id, restore_id)));
    for (const auto& o : stale) KB_RETURN_IF_ERROR(store.Delete(o.key));
  } else {
    KB_RETURN_IF_ERROR(LoadOffsetMapSoFar(store, backup_id, restore_id, next));
    size_t done = 0;
    for (size_t i = 0; i < lanes_.size(); ++i) done += next[i] >= lanes_[i].partition->end_offset ? 1 : 0;
    spdlog::info("resuming restore {}: {} of {} partitions complete", restore_id, done, lanes_.size());
  }
  return Status::Ok();
}

}  // namespace kafka_backup::restore
