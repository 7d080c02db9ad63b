// The run from end to end (backup_run.h names the files of its steps): the
// lease, a start or a resume, the drain, and the commit point, the manifest
// written only after every segment is stored.
#include "kafka_backup/backup.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/backup_run.h"
#include "backup/lease.h"
#include "backup/topic_selection.h"
#include "catalog/catalog.h"
#include "catalog/keys.h"
#include "format/codec.h"
#include "format/manifest.h"
#include "metrics/metrics.h"
#include "storage/layout.h"
#include "util/clock.h"
#include "util/cpus.h"

namespace kafka_backup {
namespace backup {

// The config backs up, from a source cluster, under a valid backup id.
Status BackupRun::CheckRunnable() const {
  if (!config_.mode.empty() && config_.mode != "backup") {
    return Status::InvalidArgument(
        fmt::format("{}: mode is '{}', but this command backs up (mode: backup)", config_.source_file, config_.mode));
  }
  if (!config_.has_source || config_.source.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: no source cluster: set source.bootstrap_servers", config_.source_file));
  }
  if (config_.backup_id.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{}: no backup id: set backup_id (e.g. \"daily-${{TIMESTAMP}}\") or pass --backup-id", config_.source_file));
  }
  return storage::layout::ValidateBackupId(config_.backup_id);
}

// A run with no journal to resume: selects the topics, finds the parent of an
// incremental backup and starts every partition (a full backup instead when
// the parent is pruned meanwhile).
Status BackupRun::StartNew() {
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin_->Describe());
  std::vector<std::string> missing;
  KB_ASSIGN_OR_RETURN(auto topics, SelectTopics(cluster, config_.source.topics, config_.backup.include_internal_topics,
                                                admin_->bootstrap(), &missing));
  for (const auto& name : missing) {
    spdlog::warn(
        "backup {}: topic '{}' (source.topics.include) does not exist in the source cluster at {}; "
        "backing up the others (source.topics.on_missing: warn)",
        config_.backup_id, name, admin_->bootstrap());
  }
  missing_topics_ = missing;  // the first checkpoint keeps them for a resumed run
  report_.missing_topics = missing;
  if (config_.backup.incremental) KB_RETURN_IF_ERROR(FindParent(cluster));
  KB_RETURN_IF_ERROR(StartFresh(topics, cluster));
  if (parent_) {
    // A prune that deleted the parent after we read it may delete the
    // segments we inherit, unless it saw our journal (written above) before
    // it swept: the parent's manifest still being there says it will.
    auto still = store_->Head(storage::layout::ManifestKey(parent_->backup_id));
    if (!still.ok() && still.status().code() != Status::Code::kNotFound) return still.status();
    if (!still.ok()) {
      spdlog::warn("backup {}: parent '{}' was pruned while this run started; taking a full backup instead",
                   config_.backup_id, parent_->backup_id);
      parent_.reset();
      partitions_.clear();
      meta_ = {};
      report_.parent_backup_id.clear();
      report_.inherited_segments = 0;
      report_.inherited_records = 0;
      next_sequence_ = 0;
      force_base_ = true;
      KB_RETURN_IF_ERROR(StartFresh(topics, cluster));
    }
  }
  return Status::Ok();
}

// Compression and storage on workers, one per core; the queue of raw blocks
// waiting for them is a few blocks per worker.
void BackupRun::StartPipeline() {
  int threads = std::clamp(UsableCpus(), 1, 16);
  size_t max_pending = std::max<size_t>(8u << 20, 4 * static_cast<size_t>(threads) * config_.backup.block_size_bytes);
  // Segments sealed but not yet stored may hold half the memory budget: past
  // it, a slow store slows the reading instead of filling memory.
  pipeline_ = std::make_unique<SegmentPipeline>(*store_, codec_, config_.backup.compression_level, threads, max_pending,
                                                config_.backup.max_buffered_bytes / 2);
  // With slow storage the reading spends most of its time waiting for room
  // in the upload pipeline: checkpoints are due and the display moves on
  // while it waits.
  pipeline_->SetWaitTick([this] {
    CheckpointWhileWaiting();
    if (display_tick_) display_tick_();
  });
  if (key_) pipeline_->SetEncryptionKey(*key_);
}

// The commit point: the manifest, written only after every segment is
// stored, by the run that still holds the lease, and only if no manifest is
// there; then the journal goes.
Status BackupRun::CommitManifest(const std::string& manifest_key) {
  format::Manifest manifest = BuildManifest();
  manifest.completed_at_ms = NowMs();
  KB_RETURN_IF_ERROR(lease_->Renew());
  std::string manifest_text = format::SerializeManifest(manifest);
  Status s = storage::CreateOnce(*store_, manifest_key, manifest_text);
  if (s.code() == Status::Code::kAlreadyExists) {
    return Status::AlreadyExists(
        fmt::format("backup '{}' was committed by another run while this one ran; its "
                    "manifest is left as it is",
                    config_.backup_id));
  }
  if (!s.ok()) return s.WithContext(fmt::format("cannot commit the manifest of backup '{}'", config_.backup_id));
  catalog::RecordCommitted(*store_, manifest, manifest_text.size());
  DropJournal();
  metrics::Metrics::Get().CheckpointTime().SetToCurrentTime();
  status_.last_checkpoint_ms = manifest.completed_at_ms;
  WriteStatus("completed");
  report_.committed = true;
  for (const auto& t : manifest.topics) {
    for (const auto& p : t.partitions) {
      if (p.held_back > 0) report_.held_back.push_back({t.name, p.partition, p.end_offset, p.held_back});
    }
  }
  return Status::Ok();
}

Result<BackupReport> BackupRun::Run() {
  auto started = Clock::now();
  KB_RETURN_IF_ERROR(CheckRunnable());
  KB_ASSIGN_OR_RETURN(codec_, format::ParseCodec(config_.backup.compression));
  KB_ASSIGN_OR_RETURN(key_, catalog::LoadKey(config_.encryption));
  KB_ASSIGN_OR_RETURN(store_, storage::OpenStore(config_.storage.Url()));
  continuous_ = config_.backup.continuous;
  report_.backup_id = config_.backup_id;
  report_.storage_url = store_->Url();

  std::string manifest_key = storage::layout::ManifestKey(config_.backup_id);
  auto existing = store_->Head(manifest_key);
  if (existing.ok()) {
    return Status::AlreadyExists(
        fmt::format("backup '{}' already exists in {}; choose another backup_id (e.g. \"name-${{TIMESTAMP}}\")",
                    config_.backup_id, store_->Url()));
  }
  if (existing.status().code() != Status::Code::kNotFound) return existing.status();
  // Before anything is written or cleaned: of two runs of this id, only the
  // one that takes the lease goes on.
  KB_ASSIGN_OR_RETURN(lease_, backup::Lease::Acquire(*store_, config_.backup_id, LeaseTtlSecs()));

  KB_ASSIGN_OR_RETURN(admin_, kafka::Admin::Connect(config_.source));
  auto journal = catalog::LoadJournal(*store_, config_.backup_id);
  if (journal.ok()) {
    KB_RETURN_IF_ERROR(Resume(*journal));
  } else if (journal.status().code() == Status::Code::kNotFound) {
    KB_RETURN_IF_ERROR(StartNew());
  } else {
    return journal.status();
  }
  last_checkpoint_ = Clock::now();
  last_discovery_ = Clock::now();
  report_.topics = static_cast<int>(meta_.topics.size());
  report_.partitions = static_cast<int>(partitions_.size());
  spdlog::info("backup {}: {} topics, {} partitions from {} into {}{}", config_.backup_id, report_.topics,
               report_.partitions, admin_->bootstrap(), store_->Url(),
               continuous_ ? " (continuous: until stopped)" : "");
  status_.started_at_ms = NowMs();
  WriteStatus("running");

  StartPipeline();
  std::vector<kafka::Consumer::Start> starts;
  for (const auto& [_, p] : partitions_) {
    if (!p.done) starts.push_back({p.topic, p.partition, p.read_upto});
  }
  if (!starts.empty() || continuous_) {
    KB_ASSIGN_OR_RETURN(consumer_, kafka::Consumer::Connect(config_.source));
    KB_RETURN_IF_ERROR(consumer_->Assign(starts));
    KB_RETURN_IF_ERROR(Drain());
  }
  KB_RETURN_IF_ERROR(CollectSegments());

  bool complete = !continuous_ && std::all_of(partitions_.begin(), partitions_.end(), [](const auto& e) {
    return e.second.done && e.second.manifest.end_offset == e.second.cut;
  });
  if (!complete) {
    // Stopped (continuous) or interrupted (one-shot): everything read is
    // stored; the checkpoint says so.
    KB_RETURN_IF_ERROR(Checkpoint(false));
    report_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (continuous_) {
      WriteStatus("stopped");
      return report_;
    }
    WriteStatus("interrupted");
    return Status::Unavailable(fmt::format(
        "backup '{}' was interrupted after storing {} records; what it stored is checkpointed: run the same "
        "command with --backup-id {} to resume",
        config_.backup_id, report_.records, config_.backup_id));
  }
  KB_RETURN_IF_ERROR(CommitManifest(manifest_key));
  report_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report_;
}

}  // namespace backup

Result<BackupReport> RunBackup(const Config& config, const RunOptions& options) {
  backup::BackupRun run(config, options);
  auto report = run.Run();
  if (!report.ok()) run.RecordFailure(report.status());
  return report;
}

}  // namespace kafka_backup
