// Where a run starts each partition. A fresh run: the cut (each partition's
// last stable offset now), the topics' manifests, backup.start_offset, and for
// an incremental run the parent it inherits from; a resumed run: the
// checkpoint journal, and the segments stored after it cleaned away.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/backup_run.h"
#include "backup/topic_selection.h"
#include "catalog/catalog.h"
#include "catalog/keys.h"
#include "storage/layout.h"
#include "util/clock.h"
#include "util/version.h"

namespace kafka_backup::backup {

Status BackupRun::StartFresh(const std::vector<kafka::TopicInfo>& topics, const kafka::ClusterInfo& cluster) {
  DescribeBackup(cluster);
  std::vector<std::string> names;
  names.reserve(topics.size());
  for (const auto& t : topics) names.push_back(t.name);
  std::map<std::string, std::string> ids = CurrentTopicIds(names).value_or(std::map<std::string, std::string>{});
  for (const auto& t : topics) KB_RETURN_IF_ERROR(StartTopic(t, ids));
  // Consumer groups' committed offsets, read right after the cut so that
  // restored data and restored positions agree.
  KB_ASSIGN_OR_RETURN(meta_.consumer_groups, CaptureGroups(*admin_, config_.backup.consumer_groups, partitions_));
  // Segments of an earlier run of this id that died before its first checkpoint.
  KB_RETURN_IF_ERROR(RemoveOrphans({}));
  // The journal exists from here on: a run killed later resumes from it.
  return Checkpoint(true);
}

void BackupRun::DescribeBackup(const kafka::ClusterInfo& cluster) {
  format::Manifest& m = meta_;
  m.backup_id = config_.backup_id;
  m.tool_version = kVersion;
  m.created_at_ms = NowMs();
  m.kafka_cluster_id = cluster.cluster_id;
  m.source_cluster_id =
      config_.backup.source_cluster_id.empty() ? cluster.cluster_id : config_.backup.source_cluster_id;
  m.compression = format::CodecName(codec_);
  m.compression_level = codec_ == format::Codec::kZstd ? config_.backup.compression_level : 0;
  m.include_offset_headers = config_.backup.include_offset_headers;
  if (key_) m.encryption = catalog::ManifestEncryptionFor(*key_);
  if (parent_) m.parent_backup_id = parent_->backup_id;
}

// The cut: each partition's last stable offset now (Watermarks::high), the
// high watermark unless a transaction is open. A transaction still open is
// not waited for (it may stay open for transaction.max.timeout.ms): the
// offsets from its first record on are held back, reported, and left to the
// next backup. Aborted records never arrive (read_committed). A continuous
// run has no cut.
Status BackupRun::StartTopic(const kafka::TopicInfo& t, const std::map<std::string, std::string>& ids) {
  format::TopicManifest tm;
  tm.name = t.name;
  tm.topic_id = ids.contains(t.name) ? ids.at(t.name) : "";
  tm.partition_count = t.partition_count;
  tm.replication_factor = t.replication_factor;
  KB_ASSIGN_OR_RETURN(tm.configs, admin_->TopicConfigs(t.name));
  // Read before the last stable offsets, so that records written meanwhile
  // are never counted as held back.
  std::vector<int64_t> hwm;
  if (!continuous_) {
    KB_ASSIGN_OR_RETURN(hwm, admin_->HighWatermarks(t.name, t.partition_count));
  }
  std::vector<kafka::Watermarks> marks;
  for (int32_t p = 0; p < t.partition_count; ++p) {
    KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(t.name, p));
    marks.push_back(w);
  }
  const format::TopicManifest* inherited = InheritedTopic(t, marks, tm);
  meta_.topics.push_back(std::move(tm));
  KB_ASSIGN_OR_RETURN(std::vector<int64_t> first, StartOffsets(t, marks));
  for (int32_t p = 0; p < t.partition_count; ++p) StartPartition(t, p, marks[p], hwm, first[p], inherited);
  return Status::Ok();
}

// What the parent holds of the topic, unless the topic is not the one the
// parent saw: another id, or offsets the parent read that no longer exist.
const format::TopicManifest* BackupRun::InheritedTopic(const kafka::TopicInfo& t,
                                                       const std::vector<kafka::Watermarks>& marks,
                                                       format::TopicManifest& tm) {
  const format::TopicManifest* inherited = parent_ ? parent_->FindTopic(t.name) : nullptr;
  if (!inherited) return nullptr;
  std::string why;
  if (!inherited->topic_id.empty() && !tm.topic_id.empty() && inherited->topic_id != tm.topic_id) {
    why = fmt::format("its topic id is {}, not {} as in backup '{}'", tm.topic_id, inherited->topic_id,
                      parent_->backup_id);
  }
  for (const auto& pm : inherited->partitions) {
    if (why.empty() && pm.partition < t.partition_count && pm.end_offset > marks[pm.partition].high) {
      why = fmt::format("partition {} ends at offset {}, below the {} backup '{}' read", pm.partition,
                        marks[pm.partition].high, pm.end_offset, parent_->backup_id);
    }
  }
  if (why.empty()) return inherited;
  spdlog::warn("topic {} was deleted and created again since backup '{}' ({}): copied whole, not inherited", t.name,
               parent_->backup_id, why);
  tm.events.push_back({NowMs(), "recreated", tm.topic_id,
                       fmt::format("deleted and created again since backup '{}' ({}); this backup holds the "
                                   "new topic only",
                                   parent_->backup_id, why)});
  return nullptr;
}

void BackupRun::StartPartition(const kafka::TopicInfo& t, int32_t p, const kafka::Watermarks& w,
                               const std::vector<int64_t>& hwm, int64_t first, const format::TopicManifest* inherited) {
  PartitionState& st = partitions_[{t.name, p}];
  st.topic = t.name;
  st.partition = p;
  st.cut = continuous_ ? kNoCut : w.high;
  if (!continuous_ && hwm[p] > w.high) {
    st.manifest.held_back = hwm[p] - w.high;
    spdlog::warn(
        "backup {}: {}[{}]: a transaction still open holds back offsets {} to {} ({}); the backup ends at the "
        "last stable offset {}, and the next backup takes them",
        config_.backup_id, t.name, p, w.high, hwm[p] - 1, st.manifest.held_back, w.high);
  }
  st.high = w.high;
  st.read_upto = first;
  st.manifest.partition = p;
  st.manifest.start_offset = first;
  st.manifest.end_offset = first;
  st.journaled_end = first;
  if (inherited) {
    auto from = std::find_if(inherited->partitions.begin(), inherited->partitions.end(),
                             [&](const auto& pm) { return pm.partition == p; });
    if (from != inherited->partitions.end()) {
      st.Inherit(*from, w.low);
      report_.inherited_segments += st.manifest.segments.size();
      report_.inherited_records += st.manifest.record_count;
    }
  }
  st.done = !continuous_ && st.read_upto >= w.high;
}

Status BackupRun::FindParent(const kafka::ClusterInfo& cluster) {
  std::string source = config_.backup.source_cluster_id.empty() ? cluster.cluster_id : config_.backup.source_cluster_id;
  catalog::Catalog catalog(*store_);
  // Chosen from the catalog index: one read, not one per backup stored.
  KB_ASSIGN_OR_RETURN(auto committed, catalog.LoadCommitted());
  for (const auto& d : committed.damaged) {
    spdlog::warn("backup '{}' cannot be a parent: {}", d.backup_id, d.reason.ToString());
  }
  const format::IndexEntry* best = nullptr;
  for (const auto& e : committed.backups) {
    if (e.source_cluster_id != source || e.kafka_cluster_id != cluster.cluster_id) continue;
    // Segments are inherited as stored: a chain keeps one encryption key (or none).
    if (e.encryption_key_id != (key_ ? key_->id() : "")) continue;
    if (!best || std::tie(e.completed_at_ms, e.backup_id) > std::tie(best->completed_at_ms, best->backup_id)) best = &e;
  }
  if (best) {
    auto m = catalog.LoadManifest(best->backup_id);
    if (!m.ok()) return m.status().WithContext(fmt::format("cannot read the parent backup '{}'", best->backup_id));
    parent_ = std::move(*m);
  }
  if (parent_) {
    spdlog::info("backup {}: incremental, continuing from backup '{}' ({} records in {} segments)", config_.backup_id,
                 parent_->backup_id, parent_->RecordCount(), catalog::OwnSegments(*parent_));
    report_.parent_backup_id = parent_->backup_id;
  } else {
    spdlog::info("backup {}: incremental, but no committed backup of source '{}' is in {}: a full backup",
                 config_.backup_id, source, store_->Url());
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> BackupRun::StartOffsets(const kafka::TopicInfo& t,
                                                     const std::vector<kafka::Watermarks>& marks) {
  std::vector<int64_t> first(marks.size());
  std::transform(marks.begin(), marks.end(), first.begin(), [](const kafka::Watermarks& w) { return w.low; });
  // An incremental backup continues where its parent ended: start_offset
  // chose where the chain begins, and topics new since are copied whole.
  const StartOffset& from = config_.backup.StartOffsetFor(t.name);
  if (parent_ || from.kind == StartOffset::Kind::kEarliest) return first;
  std::vector<int64_t> at_time;
  if (from.kind == StartOffset::Kind::kTime) {
    KB_ASSIGN_OR_RETURN(at_time, admin_->OffsetsForTime(t.name, t.partition_count, from.time_ms));
  }
  uint64_t skipped = 0;
  for (size_t p = 0; p < marks.size(); ++p) {
    const kafka::Watermarks& w = marks[p];
    // No record at or after the time (-1): nothing before the end is wanted.
    int64_t want = from.kind == StartOffset::Kind::kLatest || at_time[p] < 0 ? w.high : at_time[p];
    first[p] = std::clamp(want, w.low, std::max(w.low, w.high));
    skipped += static_cast<uint64_t>(first[p] - w.low);
  }
  spdlog::info("backup {}: topic {} starts at {} (start_offset): {} earlier offsets not backed up", config_.backup_id,
               t.name, from.ToString(), skipped);
  return first;
}

Status BackupRun::Resume(const format::Journal& journal) {
  if (journal.continuous != continuous_) {
    return Status::InvalidArgument(
        fmt::format("backup '{}' was started {}; resume it with backup.continuous: {} (or choose another backup_id)",
                    config_.backup_id, journal.continuous ? "as a continuous backup" : "as a one-shot backup",
                    journal.continuous ? "true" : "false"));
  }
  // A resumed run stores its segments as the run it resumes did.
  const std::string was = journal.manifest.encryption ? journal.manifest.encryption->key_id : "";
  const std::string now = key_ ? key_->id() : "";
  if (was.empty() && !now.empty()) {
    return Status::InvalidArgument(fmt::format(
        "backup '{}' was started without encryption; resume it without an encryption key (or choose another "
        "backup_id)",
        config_.backup_id));
  }
  if (!was.empty() && now.empty()) {
    return Status::InvalidArgument(
        fmt::format("backup '{}' was started encrypted (key id {}); resume it with that key "
                    "(encryption.key_file/key_env or --encryption-key-file)",
                    config_.backup_id, was));
  }
  if (was != now) {
    return Status::Auth(fmt::format("the key given (id {}) is not the key backup '{}' was started with (key id {})",
                                    now, config_.backup_id, was));
  }
  meta_ = journal.manifest;
  missing_topics_ = meta_.missing_topics;
  report_.missing_topics = missing_topics_;
  meta_.state.clear();
  report_.parent_backup_id = meta_.parent_backup_id;
  std::set<std::string> keep;
  uint64_t records = 0;
  // Topics deleted, or deleted and created again, since the journal was written.
  std::vector<std::string> names;
  for (const auto& t : meta_.topics) names.push_back(t.name);
  auto ids = CurrentTopicIds(names);
  auto replaced = [&](const format::TopicManifest& t) { return ids && !TopicChange(t, *ids).empty(); };
  for (auto& t : meta_.topics) {
    for (auto& pm : t.partitions) {
      PartitionState& st = partitions_[{t.name, pm.partition}];
      st.topic = t.name;
      st.partition = pm.partition;
      if (continuous_) {
        st.cut = kNoCut;
      } else {
        auto cut = journal.cuts.find({t.name, pm.partition});
        if (cut == journal.cuts.end()) {
          return Status::Corruption(fmt::format("the checkpoint journal of backup '{}' has no cut for {}[{}]",
                                                config_.backup_id, t.name, pm.partition));
        }
        st.cut = cut->second;
      }
      st.read_upto = pm.end_offset;
      st.journaled_end = pm.end_offset;
      st.done = st.read_upto >= st.cut;
      for (const auto& seg : pm.segments) keep.insert(seg.key);
      records += pm.record_count;
      st.manifest = std::move(pm);
      if (!st.done && !replaced(t)) {
        KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(t.name, st.partition));
        st.high = w.high;
        report_.deleted_offsets += st.SkipDeleted(w.low);
        st.done = st.read_upto >= st.cut;
      }
    }
    t.partitions.clear();
  }
  next_sequence_ = journal.last_sequence + 1;
  force_base_ = false;
  for (auto& t : meta_.topics) {
    if (!replaced(t)) continue;
    std::string change = TopicChange(t, *ids);
    KB_RETURN_IF_ERROR(AbandonTopic(t, change, change == "recreated" ? ids->at(t.name) : ""));
  }
  report_.resumed_from_checkpoint = static_cast<int64_t>(journal.last_sequence);
  spdlog::info("backup {}: resuming from checkpoint {} ({} records in {} segments already stored)", config_.backup_id,
               journal.last_sequence, records, keep.size());
  return RemoveOrphans(keep);
}

Status BackupRun::RemoveOrphans(const std::set<std::string>& keep) {
  std::string prefix = storage::layout::DataPrefix(config_.backup_id);
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(*store_, prefix));
  size_t removed = 0;
  for (const auto& o : objects) {
    if (keep.contains(o.key)) continue;
    KB_RETURN_IF_ERROR(store_->Delete(o.key));
    ++removed;
  }
  KB_RETURN_IF_ERROR(store_->AbortIncomplete(prefix));
  if (removed > 0) spdlog::info("removed {} segments an interrupted run stored after its last checkpoint", removed);
  return Status::Ok();
}

}  // namespace kafka_backup::backup
