// The checkpoint writer: what becomes durable (segments stored, in order, per
// partition) and the checkpoint journal that records it, base entries and
// deltas (docs/format/checkpoint.md); the manifest a run would commit now.
#include <algorithm>
#include <chrono>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/backup_run.h"
#include "format/checkpoint.h"
#include "metrics/metrics.h"
#include "storage/layout.h"
#include "util/clock.h"

namespace kafka_backup::backup {
namespace {

// Every this many entries the journal starts again from a base entry, and
// the entries before it are deleted: a reader reads at most this many.
constexpr uint64_t kBaseEvery = 64;

}  // namespace

Status BackupRun::CollectSegments() {
  KB_RETURN_IF_ERROR(pipeline_->Wait());
  AbsorbSealed();
  return Status::Ok();
}

void BackupRun::AbsorbSealed() {
  std::vector<SegmentPipeline::Sealed> stored;
  if (pipeline_) stored = pipeline_->Take();  // (none before the pipeline starts)
  for (auto& s : stored) {
    PartitionState& p = partitions_.at({s.topic, s.partition});
    auto it = std::find_if(p.sealed.begin(), p.sealed.end(), [&](const auto& f) { return f.key == s.ref.key; });
    if (it == p.sealed.end()) {
      spdlog::error("{}: stored but never sealed (a bug); it is left out of the backup", s.ref.key);
      continue;
    }
    report_.stored_bytes += s.ref.size;
    report_.segments++;
    it->stored = true;
    it->bytes = s.summary.payload_bytes;
    it->ref = std::move(s.ref);
  }
  for (auto& [_, p] : partitions_) p.AdvanceDurable();
}

format::Manifest BackupRun::BuildManifest() const {
  format::Manifest m = meta_;
  m.missing_topics = missing_topics_;
  for (auto& t : m.topics) {
    t.partitions.clear();
    for (int32_t i = 0; i < t.partition_count; ++i) {
      auto it = partitions_.find({t.name, i});
      if (it != partitions_.end()) t.partitions.push_back(it->second.manifest);
    }
  }
  return m;
}

Status BackupRun::Checkpoint(bool base) {
  KB_RETURN_IF_ERROR(lease_error_);  // fenced: another run writes this backup id now
  auto started = Clock::now();
  AbsorbSealed();
  format::CheckpointEntry e;
  e.backup_id = config_.backup_id;
  e.sequence = next_sequence_;
  e.written_at_ms = NowMs();
  e.continuous = continuous_;
  base = base || force_base_ || next_sequence_ % kBaseEvery == 0;
  if (base) {
    e.base = BuildManifest();
    e.base->completed_at_ms = e.written_at_ms;
    if (!continuous_) {
      for (const auto& [key, p] : partitions_) e.cuts[key] = p.cut;
    }
  } else {
    for (const auto& [_, p] : partitions_) {
      if (p.delta.segments.empty() && p.delta.gaps.empty() && p.manifest.end_offset == p.journaled_end) continue;
      format::PartitionDelta d = p.delta;
      d.topic = p.topic;
      d.partition = p.partition;
      d.end_offset = p.manifest.end_offset;
      e.partitions.push_back(std::move(d));
    }
    if (groups_changed_) e.consumer_groups = meta_.consumer_groups;
    if (e.partitions.empty() && !e.consumer_groups) return Status::Ok();  // nothing new: nothing to write
  }
  std::string doc = format::SerializeCheckpoint(e);
  Status s = store_->Put(storage::layout::CheckpointKey(config_.backup_id, e.sequence), doc);
  if (!s.ok())
    return s.WithContext(fmt::format("cannot write checkpoint {} of backup '{}'", e.sequence, config_.backup_id));
  for (auto& [_, p] : partitions_) {
    p.delta = {};
    p.journaled_end = p.manifest.end_offset;
  }
  ++next_sequence_;
  force_base_ = false;
  groups_changed_ = false;
  report_.checkpoints++;
  report_.checkpoint_bytes += doc.size();
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  report_.checkpoint_max_ms = std::max(report_.checkpoint_max_ms, ms);
  metrics::Metrics::Get().CheckpointTime().SetToCurrentTime();
  status_.last_checkpoint_ms = e.written_at_ms;
  size_t added = 0;
  for (const auto& d : e.partitions) added += d.segments.size();
  spdlog::debug("checkpoint {} of {}: {}, {} segments stored in all ({} bytes, {:.1f} ms)", e.sequence,
                config_.backup_id, base ? "base" : fmt::format("{} new segments", added), report_.segments, doc.size(),
                ms);
  if (base && e.sequence > 0) {
    // The entries before a base are no longer read.
    auto old = storage::ListAll(*store_, storage::layout::CheckpointPrefix(config_.backup_id));
    if (old.ok()) {
      for (const auto& o : *old) {
        auto key = storage::layout::ParseCheckpointKey(o.key);
        if (key && key->second < e.sequence) (void)store_->Delete(o.key);
      }
    }
  }
  return Status::Ok();
}

Status BackupRun::StoreEverything(const std::function<void()>& tick) {
  for (auto& [_, p] : partitions_) KB_RETURN_IF_ERROR(SealSegment(p));
  KB_RETURN_IF_ERROR(pipeline_->Wait(tick));
  AbsorbSealed();
  return Status::Ok();
}

Status BackupRun::CheckpointIfDue(const std::function<void()>& tick) {
  auto now = Clock::now();
  if (now - last_checkpoint_ < std::chrono::seconds(config_.backup.checkpoint_interval_secs)) return Status::Ok();
  if (continuous_) {
    KB_RETURN_IF_ERROR(StoreEverything(tick));
    if (now - last_discovery_ >= std::chrono::seconds(std::max(10, config_.backup.checkpoint_interval_secs))) {
      KB_RETURN_IF_ERROR(DiscoverTopics());
      RefreshGroups();
    }
  }
  KB_RETURN_IF_ERROR(Checkpoint(false));
  last_checkpoint_ = Clock::now();
  WriteStatus("running");
  return lease_error_;
}

void BackupRun::CheckpointWhileWaiting() {
  if (waiting_checkpoint_ || !waiting_error_.ok()) return;
  auto now = Clock::now();
  if (now - last_checkpoint_ < std::chrono::seconds(config_.backup.checkpoint_interval_secs)) return;
  waiting_checkpoint_ = true;
  waiting_error_ = Checkpoint(false);
  last_checkpoint_ = Clock::now();
  if (waiting_error_.ok()) WriteStatus("running");
  waiting_checkpoint_ = false;
}

void BackupRun::DropJournal() {
  auto entries = storage::ListAll(*store_, storage::layout::CheckpointPrefix(config_.backup_id));
  if (!entries.ok()) return;
  for (const auto& o : *entries) (void)store_->Delete(o.key);
}

}  // namespace kafka_backup::backup
