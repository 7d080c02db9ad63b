// Restore phase 3: where each consumer group of the backup resumes on the
// target (restore.consumer_group_strategy: exact, from the offset map;
// header-based, from the x-original-offset headers read back; timestamp-based,
// from the committed record's time), and, with restore.reset_consumer_offsets,
// those positions committed for groups with no active member.
#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "restore/restore_run.h"
#include "util/glob.h"
#include "util/strings.h"

namespace kafka_backup::restore {
namespace {

// Thrown through the segment reader's sink to stop at the first match.
const Status kFound = Status::AlreadyExists("found");

}  // namespace

// Restore phase 3: where each group resumes on the target, committed there
// with restore.reset_consumer_offsets (once the groups are still inactive).
Status RestoreRun::RestoreGroupPositions(const std::vector<const format::ConsumerGroupManifest*>& groups,
                                         storage::ObjectStore& store, RestoreReport* report) {
  const RestoreConfig& rc = config_.restore;
  KB_RETURN_IF_ERROR(WaitForCommittedData());
  KB_ASSIGN_OR_RETURN(report->group_positions, ComputeGroupPositions(groups, store));
  if (rc.reset_consumer_offsets) {
    KB_RETURN_IF_ERROR(CheckGroupsInactive(groups));
    for (const auto* g : groups) {
      const std::string& target = rc.TargetGroup(g->group_id);
      std::vector<kafka::TopicPartitionOffset> offsets;
      for (const auto& p : report->group_positions) {
        if (p.group_id == target) offsets.push_back({p.topic, p.partition, p.offset, ""});
      }
      KB_RETURN_IF_ERROR(admin_->CommitGroupOffsets(target, offsets));
    }
    report->groups_committed = true;
  }
  return Status::Ok();
}

Result<std::vector<const format::ConsumerGroupManifest*>> RestoreRun::SelectGroups(const format::Manifest& m) const {
  std::vector<const format::ConsumerGroupManifest*> chosen;
  const auto& wanted = config_.restore.consumer_groups;
  for (const auto& pattern : wanted) {
    bool found = std::any_of(m.consumer_groups.begin(), m.consumer_groups.end(),
                             [&](const auto& g) { return GlobMatch(pattern, g.group_id); });
    if (!found && !IsGlob(pattern)) {
      std::string names;
      for (const auto& g : m.consumer_groups) names += (names.empty() ? "" : ", ") + g.group_id;
      return Status::NotFound(fmt::format(
          "consumer group '{}' (restore.consumer_groups) has no committed offsets in backup '{}' for its topics; "
          "groups in the backup: {}",
          pattern, m.backup_id, names.empty() ? "none" : names));
    }
  }
  for (const auto& g : m.consumer_groups) {
    if (wanted.empty() || MatchesAny(wanted, g.group_id)) chosen.push_back(&g);
  }
  return chosen;
}

Status RestoreRun::CheckGroupsInactive(const std::vector<const format::ConsumerGroupManifest*>& groups) {
  for (const auto* g : groups) {
    const std::string& target = config_.restore.TargetGroup(g->group_id);
    KB_ASSIGN_OR_RETURN(kafka::GroupInfo info, admin_->DescribeGroup(target));
    if (info.members > 0) {
      return Status::Conflict(fmt::format(
          "consumer group '{}' has {} active members on the target ({}); stop its consumers before its offsets are "
          "reset",
          target, info.members, info.state));
    }
  }
  return Status::Ok();
}

Status RestoreRun::WaitForCommittedData() {
  std::map<format::TopicPartition, int64_t> last;  // target partition -> last offset written
  for (const Lane& lane : lanes_) {
    for (const auto& run : lane.map.runs) {
      auto& l = last[{plans_[lane.plan].target, run.target_partition}];
      l = std::max(l, run.target_offset + run.count - 1);
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(std::max(60, config_.target.connect_timeout_secs * 2));
  for (const auto& [tp, offset] : last) {
    while (true) {
      // The admin client reads with isolation.level=read_committed: high is the last stable offset.
      KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(tp.topic, tp.partition));
      if (w.high > offset) break;
      if (Clock::now() > deadline) {
        return Status::Unavailable(fmt::format(
            "{}[{}]: the restored records up to offset {} are still not readable by read_committed consumers "
            "(stable end {}); is another transaction open on the target partition?",
            tp.topic, tp.partition, offset, w.high));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Status::Ok();
}

Result<std::vector<GroupPosition>> RestoreRun::ComputeGroupPositions(
    const std::vector<const format::ConsumerGroupManifest*>& groups, storage::ObjectStore& store) {
  std::vector<GroupPosition> out;
  for (const auto* g : groups) {
    // Per target partition, the earliest position any source partition feeding it asks for.
    std::map<format::TopicPartition, GroupPosition> positions;
    for (const auto& c : g->offsets) {
      auto lane = std::find_if(lanes_.begin(), lanes_.end(), [&](const Lane& l) {
        return plans_[l.plan].source->name == c.topic && l.partition->partition == c.partition;
      });
      if (lane == lanes_.end()) continue;  // not restored: nothing to position
      const TopicPlan& plan = plans_[lane->plan];
      KB_ASSIGN_OR_RETURN(std::optional<format::TargetPosition> pos, PositionFor(*lane, c.offset, store));
      std::string from = fmt::format("{}[{}]@{}", c.topic, c.partition, c.offset);
      std::vector<format::TargetPosition> targets;
      if (pos) {
        targets.push_back(*pos);
      } else if (!plan.repartition) {
        // Everything restored was consumed: the end of the target partition.
        int32_t tp = plan.TargetPartition(*lane->partition, format::RecordView{});
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(plan.target, tp));
        targets.push_back({tp, w.high});
      }
      for (const auto& t : targets) {
        format::TopicPartition key{plan.target, t.partition};
        auto it = positions.find(key);
        if (it == positions.end()) {
          positions[key] =
              GroupPosition{config_.restore.TargetGroup(g->group_id), plan.target, t.partition, t.offset, from};
        } else {
          it->second.offset = std::min(it->second.offset, t.offset);
          it->second.from += ", " + from;
        }
      }
    }
    for (auto& [_, p] : positions) out.push_back(std::move(p));
  }
  return out;
}

Result<std::optional<format::TargetPosition>> RestoreRun::PositionFor(const Lane& lane, int64_t committed,
                                                                      storage::ObjectStore& store) {
  const TopicPlan& plan = plans_[lane.plan];
  const std::string& strategy = config_.restore.consumer_group_strategy;
  if (strategy == "exact") return format::FirstAtOrAfter(lane.map, committed);
  if (plan.repartition || !plan.partition_mapping.empty()) {
    return Status::InvalidArgument(fmt::format(
        "consumer_group_strategy {} needs each source partition restored into its own target partition; topic '{}' "
        "is repartitioned or remapped: use the exact strategy",
        strategy, plan.source->name));
  }
  int32_t target_partition = lane.partition->partition;
  if (strategy == "header-based") {
    KB_ASSIGN_OR_RETURN(const format::PartitionOffsetMap* map, HeaderMap(plan.target, target_partition));
    return format::FirstAtOrAfter(*map, committed);
  }
  // timestamp-based: the time of the first backed-up record at or after the
  // committed offset, looked up in the target.
  std::optional<int64_t> timestamp;
  catalog::RecordFilter from;
  from.min_offset = committed;
  // With on_corruption: skip, unreadable records were not restored: the
  // first readable one at or after `committed` is where the group resumes.
  catalog::DamageHandler skip;
  if (config_.restore.on_corruption == "skip") skip = [](const catalog::SegmentDamage&) { return Status::Ok(); };
  for (const auto& seg : lane.partition->segments) {
    if (seg.last_offset < committed) continue;
    Status s = catalog::ReadSegment(
        store, seg, from,
        [&](format::Record&& r) {
          timestamp = r.timestamp;
          return kFound;
        },
        nullptr, skip, key_ ? &*key_ : nullptr);
    if (timestamp) break;
    KB_RETURN_IF_ERROR(s);
  }
  if (!timestamp) return std::optional<format::TargetPosition>();
  KB_ASSIGN_OR_RETURN(kafka::Consumer * reader, TargetReader());
  KB_ASSIGN_OR_RETURN(int64_t offset, reader->OffsetForTime(plan.target, target_partition, *timestamp));
  return std::optional<format::TargetPosition>(format::TargetPosition{target_partition, offset});
}

Result<kafka::Consumer*> RestoreRun::TargetReader() {
  if (!target_reader_) {
    KB_ASSIGN_OR_RETURN(target_reader_, kafka::Consumer::Connect(config_.target));
  }
  return target_reader_.get();
}

// header-based: reads the target partition and maps x-original-offset values
// to the offsets they landed at.
Result<const format::PartitionOffsetMap*> RestoreRun::HeaderMap(const std::string& topic, int32_t partition) {
  format::TopicPartition key{topic, partition};
  if (auto it = header_maps_.find(key); it != header_maps_.end()) return &it->second;
  KB_ASSIGN_OR_RETURN(kafka::Consumer * reader, TargetReader());
  KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(topic, partition));
  std::vector<format::OffsetEntry> entries;
  uint64_t foreign = 0;
  if (w.high > w.low) {
    KB_RETURN_IF_ERROR(reader->Assign({{topic, partition, w.low}}));
    auto deadline = Clock::now() + std::chrono::seconds(std::max(60, config_.target.connect_timeout_secs * 2));
    bool done = false;
    while (!done) {
      if (Clock::now() > deadline) {
        return Status::Unavailable(fmt::format("timed out reading {}[{}] for header-based offsets", topic, partition));
      }
      KB_ASSIGN_OR_RETURN(kafka::ConsumedItem item, reader->Poll(200));
      if (item.kind == kafka::ConsumedItem::Kind::kPartitionEnd) {
        done = item.next_offset >= w.high;
      } else if (item.kind == kafka::ConsumedItem::Kind::kRecord) {
        for (const auto& h : item.record.headers) {
          if (h.name == kHeaderOriginalOffset && h.value) {
            // A record another producer stamped with a header of that name
            // but no offset in it is not one a restore wrote: left out.
            auto original = util::ParseDecimal<int64_t>(*h.value);
            if (!original || *original < 0) {
              if (foreign++ == 0) {
                spdlog::warn(
                    "{}[{}] offset {}: header {} is '{}', not an offset: the record is left out of the "
                    "header-based offsets (not written by a restore)",
                    topic, partition, item.record.offset, kHeaderOriginalOffset, h.value->substr(0, 40));
              }
              break;
            }
            entries.push_back({*original, partition, item.record.offset});
            break;
          }
        }
        done = item.record.offset + 1 >= w.high;
      }
    }
    KB_RETURN_IF_ERROR(reader->Unassign(topic, partition));
  }
  if (entries.empty() && w.high > w.low) {
    return Status::InvalidArgument(
        fmt::format("consumer_group_strategy header-based needs the {} header, and {}[{}] has none: restore with "
                    "include_offset_headers: true, or use the exact strategy",
                    kHeaderOriginalOffset, topic, partition));
  }
  format::PartitionOffsetMap map;
  map.source_partition = partition;
  map.runs = format::BuildRuns(entries);
  return &header_maps_.emplace(key, std::move(map)).first->second;
}

}  // namespace kafka_backup::restore
