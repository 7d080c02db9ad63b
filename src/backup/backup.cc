#include "kafka_backup/backup.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/lease.h"
#include "backup/segment_pipeline.h"
#include "catalog/catalog.h"
#include "catalog/keys.h"
#include "format/checkpoint.h"
#include "format/digest.h"
#include "format/manifest.h"
#include "format/run_status.h"
#include "format/segment.h"
#include "format/topic_partition.h"
#include "kafka/client.h"
#include "metrics/metrics.h"
#include "storage/layout.h"
#include "storage/object_store.h"
#include "util/clock.h"
#include "util/cpus.h"
#include "util/glob.h"
#include "util/progress.h"
#include "util/version.h"

namespace kafka_backup {
namespace {

using Clock = std::chrono::steady_clock;

bool IsInternalTopic(const std::string& name) {
  return name == "__consumer_offsets" || name == "__transaction_state" || name == "_schemas" || name.starts_with("__");
}

// Topics of the cluster chosen by include/exclude globs. Internal topics are
// left out unless named literally in include or include_internal is set. A
// literal include that names no topic is an error (the user asked for it),
// or with on_missing: warn, a name added to `missing`.
Result<std::vector<kafka::TopicInfo>> SelectTopics(const kafka::ClusterInfo& cluster, const TopicSelection& sel,
                                                   bool include_internal, const std::string& bootstrap,
                                                   std::vector<std::string>* missing = nullptr) {
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

struct PartitionState;
using PartitionMap = std::map<format::TopicPartition, PartitionState>;

Result<std::vector<format::ConsumerGroupManifest>> CaptureGroups(kafka::Admin& admin,
                                                                 const std::vector<std::string>& patterns,
                                                                 const PartitionMap& partitions);

// A continuous run has no cut.
constexpr int64_t kNoCut = INT64_MAX;

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  int64_t cut = 0;        // records with offset < cut belong to this backup (kNoCut: continuous)
  int64_t high = -1;      // continuous: the high watermark last seen
  int64_t read_upto = 0;  // offsets below this were read (stored in a sealed segment or skipped)
  bool done = false;
  uint64_t records = 0;        // read by this run
  uint64_t payload_bytes = 0;  // read by this run
  // The open segment: its records so far, the block being filled, and the
  // object the pipeline is writing (null when no segment is open).
  std::shared_ptr<SegmentPipeline::Segment> segment;
  std::string segment_key;
  int64_t segment_from = 0;  // the position when it was opened
  format::SegmentSummary summary;
  format::ContentDigest digest;  // of the open segment's records
  format::BlockBuilder block;
  // Segments sealed, in order, until they are stored and every one before
  // them is: only then do they count as durable.
  struct Sealed {
    std::string key;
    int64_t covers_to = 0;  // the position after it
    bool stored = false;
    format::SegmentRef ref;
    uint64_t bytes = 0;
  };
  std::deque<Sealed> sealed;
  // What is durable: segments and end_offset (the durable position); what the
  // journal has of it is `journaled_end` plus `delta`, written at the next
  // checkpoint.
  format::PartitionManifest manifest;
  format::PartitionDelta delta;
  int64_t journaled_end = 0;

  // The next offset to read: past the open segment's last record, or what
  // sealed segments and skips covered; the cut once the partition is done.
  int64_t Position() const {
    if (done) return cut;
    return std::max(summary.record_count > 0 ? summary.last_offset + 1 : 0, read_upto);
  }
  // Offsets still to read up to the cut (continuous: up to the high watermark).
  int64_t Lag() const {
    int64_t upto = cut == kNoCut ? high : cut;
    return std::max<int64_t>(0, upto - Position());
  }
};

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

class BackupRun {
 public:
  BackupRun(const Config& config, const RunOptions& options) : config_(config), options_(options) {}

  Result<BackupReport> Run();

 private:
  // The steps of Run (with Resume, Drain and CollectSegments below).
  Status CheckRunnable() const;
  Status StartNew();
  void StartPipeline();
  Status CommitManifest(const std::string& manifest_key);
  Status Append(PartitionState& p, const format::RecordView& r);
  Status FlushBlock(PartitionState& p);
  Status SealSegment(PartitionState& p);
  Status EnforceMemoryBudget();
  Status Drain();
  // Stores what the open segments hold (continuous runs and an interrupted
  // run) and waits until it is stored.
  Status StoreEverything(const std::function<void()>& tick);
  // Moves a partition's stored segments, in order, into what is durable.
  void AdvanceDurable(PartitionState& p);
  // Writes a checkpoint entry with what became durable since the last one (a
  // base entry, with everything, every kBaseEvery entries or when `base`).
  Status Checkpoint(bool base);
  // At most every checkpoint_interval_secs: a checkpoint (a continuous run
  // stores its open segments first) and the run status.
  Status CheckpointIfDue(const std::function<void()>& tick);
  // The same while the reading thread waits for the pipeline: a checkpoint
  // of what is stored, nothing new stored (that is what is being waited
  // for); a failure is returned by the next Drain step.
  void CheckpointWhileWaiting();
  // Continuous runs: topics and partitions that appeared since the start.
  Status DiscoverTopics();
  // Continuous runs: the consumer groups' committed offsets read again; the
  // next checkpoint records them if they moved.
  void RefreshGroups();
  // Removes the journal of a committed backup; a failure only leaves garbage.
  void DropJournal();
  // The backup as far as it is durable.
  format::Manifest BuildManifest() const;
  // A fresh run: the cut, the topics and the groups (an incremental run
  // inherits what `parent_` holds); a resumed run: the journal.
  Status StartFresh(const std::vector<kafka::TopicInfo>& topics, const kafka::ClusterInfo& cluster);
  // backup.incremental: the newest committed backup of the same source in
  // this storage, if any (docs/format/manifest.md, "Incremental backups").
  Status FindParent(const kafka::ClusterInfo& cluster);
  // Takes over what the parent holds of a partition whose log starts at `low`
  // now; reading continues where the parent stopped.
  void Inherit(PartitionState& st, const format::PartitionManifest& from, int64_t low);
  // Where a backup that starts a chain begins each partition of a topic
  // (backup.start_offset), within [low, high] of `marks`.
  Result<std::vector<int64_t>> StartOffsets(const kafka::TopicInfo& t, const std::vector<kafka::Watermarks>& marks);
  // Topic ids now, by name (a topic that does not exist is left out);
  // nullopt (and a warning) when the broker cannot say.
  std::optional<std::map<std::string, std::string>> CurrentTopicIds(const std::vector<std::string>& names);
  // Topics followed whose id changed or that no longer exist: recorded as an
  // event, and their partitions are read no further (docs/format/manifest.md,
  // "Topics deleted or created again during a run").
  Status CheckTopicIds();
  // Records `event` on the topic and stops reading its partitions.
  Status AbandonTopic(format::TopicManifest& topic, const std::string& event, const std::string& new_id);
  Status Resume(const format::Journal& journal);
  Status RemoveOrphans(const std::set<std::string>& keep);
  // The broker deleted offsets of `p` the backup had not read (retention,
  // delete-records): records them as a gap and moves past them.
  Status SkipDeleted(PartitionState& p, int64_t low);
  // The run lease's ttl: the run status's liveness rule (two status
  // intervals and a minute), so `status` and the lease agree on who is alive.
  int64_t LeaseTtlSecs() const { return format::LivenessWindowSecs(config_.backup.checkpoint_interval_secs); }
  bool StopRequested() const { return options_.stop && options_.stop->load(); }
  void PublishLag();
  // Each topic's line of the progress display: offsets read of those to read.
  void ShowTopics(Progress& progress, const std::map<std::string, size_t>& lines) const;
  // Waits for the pipeline and puts the stored segments into the manifests.
  Status CollectSegments();
  // Puts the segments stored so far into the manifests (without waiting).
  void AbsorbSealed();
  // Writes the run status document (status/<backup_id>.json and the latest
  // copy); a failure to write it is logged, never fatal: it is informational.
  void WriteStatus(const std::string& state, const Status& error = Status::Ok());

 public:
  // After a failed Run: records the failure, if this run wrote a status.
  void RecordFailure(const Status& error) {
    if (status_started_) WriteStatus("failed", error);
  }

 private:
  const Config& config_;
  const RunOptions& options_;
  std::unique_ptr<storage::ObjectStore> store_;
  std::unique_ptr<backup::Lease> lease_;       // after store_: released before it goes
  Status lease_error_;                         // a Renew that found this run fenced
  std::function<void()> display_tick_;         // redraws the progress display; set while Drain runs
  std::unique_ptr<SegmentPipeline> pipeline_;  // after store_: stops before it goes
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Admin> admin_;
  PartitionMap partitions_;
  format::Manifest meta_;                    // the backup's fields and topics; partitions come from partitions_
  std::optional<format::Manifest> parent_;   // an incremental run's parent
  std::vector<std::string> missing_topics_;  // source.topics.on_missing: warn
  bool continuous_ = false;
  uint64_t next_sequence_ = 0;   // of the next checkpoint entry
  bool force_base_ = true;       // the next entry must be a base (a topic appeared, or none written yet)
  bool groups_changed_ = false;  // meta_.consumer_groups moved since the last entry
  Clock::time_point last_checkpoint_{};
  Clock::time_point last_status_{};
  bool waiting_checkpoint_ = false;  // CheckpointWhileWaiting is running
  Status waiting_error_;
  Clock::time_point last_discovery_{};
  format::Codec codec_ = format::Codec::kZstd;
  // encryption.key_file/key_env: the key the segments are encrypted with.
  std::optional<format::EncryptionKey> key_;
  uint64_t raw_bytes_ = 0;  // in the partitions' open blocks
  BackupReport report_;
  format::RunStatus status_;
  bool status_started_ = false;
};

// Every this many entries the journal starts again from a base entry, and
// the entries before it are deleted: a reader reads at most this many.
constexpr uint64_t kBaseEvery = 64;

Status BackupRun::Append(PartitionState& p, const format::RecordView& r) {
  if (p.summary.record_count > 0 && r.offset <= p.summary.last_offset) {
    return Status::Internal(fmt::format("{}[{}]: offset {} after {}: the consumer went backwards", p.topic, p.partition,
                                        r.offset, p.summary.last_offset));
  }
  if (!p.segment) {
    p.segment_key = storage::layout::SegmentKey(config_.backup_id, p.topic, p.partition, r.offset);
    p.segment_from = p.read_upto;
    p.segment = pipeline_->Open(p.segment_key, p.topic, p.partition);
    p.summary = {};
    p.digest.Reset();
  }
  report_.records++;
  report_.bytes += r.PayloadBytes();
  p.records++;
  p.payload_bytes += r.PayloadBytes();
  size_t before = p.block.size();
  p.block.Append(r);
  format::AddToSummary(r, &p.summary);
  p.digest.Add(r);
  raw_bytes_ += p.block.size() - before;
  bool flushed = p.block.size() >= config_.backup.block_size_bytes;
  if (flushed) KB_RETURN_IF_ERROR(FlushBlock(p));
  bool full = SegmentPipeline::EstimatedSize(*p.segment) + p.block.size() >= config_.backup.segment_max_bytes ||
              (config_.backup.segment_max_records > 0 && p.summary.record_count >= config_.backup.segment_max_records);
  if (full) return SealSegment(p);
  // Upload parts waiting in object writers count too: checked at each new block.
  if (flushed || raw_bytes_ > config_.backup.max_buffered_bytes) return EnforceMemoryBudget();
  return Status::Ok();
}

Status BackupRun::FlushBlock(PartitionState& p) {
  if (p.block.empty()) return Status::Ok();
  raw_bytes_ -= p.block.size();
  KB_RETURN_IF_ERROR(pipeline_->Add(p.segment, p.block.Take()));
  return Status::Ok();
}

Status BackupRun::SealSegment(PartitionState& p) {
  if (!p.segment) return Status::Ok();
  KB_RETURN_IF_ERROR(FlushBlock(p));
  p.summary.digest = p.digest.Value();
  KB_RETURN_IF_ERROR(pipeline_->Seal(p.segment, p.summary));
  p.read_upto = p.summary.last_offset + 1;
  PartitionState::Sealed sealed;
  sealed.key = p.segment_key;
  sealed.covers_to = p.read_upto;
  p.sealed.push_back(std::move(sealed));
  p.segment.reset();
  p.summary = {};
  return Status::Ok();
}

// Memory is bounded across partitions: past the budget, the partition holding
// the most stores its open block early (a smaller block), or, when most of it
// is an upload part waiting in its object writer, its whole segment (a smaller
// segment). Never a lost record.
Status BackupRun::EnforceMemoryBudget() {
  uint64_t writers = 0;
  for (const auto& [_, p] : partitions_) {
    if (p.segment) writers += SegmentPipeline::Buffered(*p.segment);
  }
  while (raw_bytes_ + writers > config_.backup.max_buffered_bytes) {
    PartitionState* largest = nullptr;
    uint64_t most = 0;
    for (auto& [_, p] : partitions_) {
      if (!p.segment) continue;
      uint64_t held = p.block.size() + SegmentPipeline::Buffered(*p.segment);
      if (held > most) {
        most = held;
        largest = &p;
      }
    }
    if (!largest) break;
    uint64_t buffered = SegmentPipeline::Buffered(*largest->segment);
    if (buffered > largest->block.size()) {
      writers -= std::min(writers, buffered);
      KB_RETURN_IF_ERROR(SealSegment(*largest));
    } else {
      raw_bytes_ -= largest->block.size();
      KB_RETURN_IF_ERROR(pipeline_->Add(largest->segment, largest->block.Take()));
    }
  }
  return Status::Ok();
}

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
  for (auto& [_, p] : partitions_) AdvanceDurable(p);
}

void BackupRun::AdvanceDurable(PartitionState& p) {
  // Segments of a partition are stored in parallel and may finish out of
  // order; they become durable in order.
  while (!p.sealed.empty() && p.sealed.front().stored) {
    PartitionState::Sealed& f = p.sealed.front();
    format::PartitionDelta one;
    one.end_offset = f.covers_to;
    one.bytes = f.bytes;
    one.segments.push_back(f.ref);
    format::ApplyDelta(one, &p.manifest);
    p.delta.segments.push_back(std::move(f.ref));
    p.delta.bytes += f.bytes;
    p.sealed.pop_front();
  }
  if (!p.sealed.empty()) return;
  // Nothing in flight: everything read before the open segment (or, with
  // none open, everything read) is stored; offsets in between hold no
  // committed record (compaction, transaction markers).
  int64_t durable = p.done ? p.cut : p.segment ? p.segment_from : std::min(p.Position(), p.cut);
  p.manifest.end_offset = std::max(p.manifest.end_offset, durable);
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

Status BackupRun::Drain() {
  uint64_t total = 0;  // offsets to read; unknown (0) for a continuous run
  size_t open = 0;
  for (auto& [_, p] : partitions_) {
    if (!p.done) {
      if (!continuous_) total += static_cast<uint64_t>(p.cut - p.read_upto);
      ++open;
    }
  }
  Progress progress("backup", total, options_);
  std::map<std::string, size_t> lines;  // topic -> its line in the display
  auto add_lines = [&] {
    std::map<std::string, uint64_t> totals;
    for (const auto& [_, p] : partitions_) {
      totals[p.topic] += continuous_ ? 0 : static_cast<uint64_t>(p.cut - p.manifest.start_offset);
    }
    for (const auto& [topic, n] : totals) {
      if (!lines.contains(topic)) lines[topic] = progress.AddTopic(topic, n);
    }
  };
  add_lines();
  metrics::RunGauges gauges("backup", total);
  auto tick = [&] {
    if (progress.Due()) ShowTopics(progress, lines);
    progress.Update(report_.records, report_.bytes);
  };
  display_tick_ = tick;  // the pipeline's wait tick calls it (Run)
  struct ClearDisplayTick {
    std::function<void()>* display_tick;
    ~ClearDisplayTick() { *display_tick = nullptr; }  // it refers to this frame
  } clear_display_tick{&display_tick_};
  auto last_lag = Clock::now() - std::chrono::seconds(10);
  // Give up if nothing arrives for this long while partitions are still open
  // (one-shot runs: a continuous run waits for records as long as it runs).
  const auto stall_limit = std::chrono::seconds(std::max(60, config_.source.connect_timeout_secs * 2));
  auto last_progress = Clock::now();
  Status last_transient;
  uint64_t polled = 0;
  bool progressed = false;  // a record arrived since last_progress was set
  while ((continuous_ || open > 0) && !StopRequested()) {
    auto item = consumer_->Poll(200);
    if (!item.ok()) {
      Status s = item.status();
      if (s.code() != Status::Code::kUnavailable) return s;
      if (last_transient.ToString() != s.ToString()) spdlog::warn("{} (retrying)", s.ToString());
      last_transient = s;
    } else if (item->kind != kafka::ConsumedItem::Kind::kNothing) {
      auto it = partitions_.find({item->topic, item->partition});
      if (it != partitions_.end() && !it->second.done) {
        PartitionState& p = it->second;
        bool finished = false;
        if (item->kind == kafka::ConsumedItem::Kind::kRecord) {
          progressed = true;
          if (item->record.offset < p.cut) {
            int64_t offset = item->record.offset;
            KB_RETURN_IF_ERROR(Append(p, item->record));
            finished = offset + 1 >= p.cut;
          } else {
            finished = true;
          }
        } else if (item->kind == kafka::ConsumedItem::Kind::kOffsetOutOfRange) {
          KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(p.topic, p.partition));
          if (w.high < p.Position()) {
            // Offsets went backwards: the topic may have been deleted and created again.
            KB_RETURN_IF_ERROR(CheckTopicIds());
            open = static_cast<size_t>(
                std::count_if(partitions_.begin(), partitions_.end(), [](const auto& e) { return !e.second.done; }));
            if (p.done) continue;
          }
          KB_RETURN_IF_ERROR(SkipDeleted(p, w.low));
          KB_RETURN_IF_ERROR(consumer_->Seek(p.topic, p.partition, p.Position()));
          finished = p.Position() >= p.cut;
        } else {
          p.read_upto = std::max(p.read_upto, std::min(item->next_offset, p.cut));
          finished = item->next_offset >= p.cut;
        }
        if (finished) {
          p.done = true;
          --open;
          KB_RETURN_IF_ERROR(SealSegment(p));
          KB_RETURN_IF_ERROR(consumer_->Unassign(p.topic, p.partition));
        }
      }
    }
    // The clock is read once per batch of records, not per record.
    bool idle = !item.ok() || item->kind != kafka::ConsumedItem::Kind::kRecord;
    if (++polled % 256 != 0 && !idle) continue;
    tick();
    size_t known = partitions_.size();
    KB_RETURN_IF_ERROR(waiting_error_);
    KB_RETURN_IF_ERROR(CheckpointIfDue(tick));
    if (partitions_.size() != known) add_lines();
    gauges.Publish(report_.records, report_.bytes);  // (this point is reached once per 256 records)
    auto now = Clock::now();
    if (now - last_lag >= std::chrono::seconds(1)) {
      PublishLag();
      last_lag = now;
    }
    if (progressed) last_progress = now;
    progressed = false;
    if (!continuous_ && now - last_progress > stall_limit) {
      std::string stuck;
      for (const auto& [_, p] : partitions_) {
        if (!p.done) stuck += fmt::format(" {}[{}] (cut {})", p.topic, p.partition, p.cut);
      }
      std::string cause =
          last_transient.ok()
              ? "the brokers answered but sent none of their records (the cut is at each partition's last stable "
                "offset, so no open transaction holds them); check the partition leaders' health, then run the "
                "command again: it resumes from its last checkpoint"
              : last_transient.ToString();
      return Status::Unavailable(fmt::format("no progress for {}s reading partitions:{}; {}",
                                             std::chrono::duration_cast<std::chrono::seconds>(stall_limit).count(),
                                             stuck, cause));
    }
  }
  // Every record is read (or a stop was asked for); the display stays up
  // while the last segments are stored.
  progress.SetNote("storing the last segments");
  KB_RETURN_IF_ERROR(StoreEverything([&] {
    tick();
    if (Clock::now() - last_status_ >= std::chrono::seconds(config_.backup.checkpoint_interval_secs)) {
      WriteStatus("running");
    }
  }));
  progress.Finish();
  gauges.Publish(report_.records, report_.bytes);
  PublishLag();
  return Status::Ok();
}

void BackupRun::ShowTopics(Progress& progress, const std::map<std::string, size_t>& lines) const {
  std::map<std::string, std::pair<uint64_t, uint64_t>> read;  // topic -> offsets read, payload bytes
  for (const auto& [_, p] : partitions_) {
    auto& [offsets, bytes] = read[p.topic];
    offsets += static_cast<uint64_t>(std::max<int64_t>(0, p.Position() - p.manifest.start_offset));
    bytes += p.payload_bytes;
  }
  for (const auto& [topic, r] : read) progress.UpdateTopic(lines.at(topic), r.first, r.second);
}

void BackupRun::WriteStatus(const std::string& state, const Status& error) {
  last_status_ = Clock::now();
  status_started_ = true;
  format::RunStatus& s = status_;
  s.backup_id = config_.backup_id;
  s.state = state;
  if (s.host.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    s.host = host;
  }
  s.pid = ::getpid();
  s.tool_version = kVersion;
  s.updated_at_ms = NowMs();
  s.finished_at_ms = state == "running" ? 0 : s.updated_at_ms;
  s.update_interval_secs = config_.backup.checkpoint_interval_secs;
  s.error = error.ok() ? "" : error.ToString();
  s.records = report_.records;
  s.bytes = report_.bytes;
  s.stored_bytes = report_.stored_bytes;
  s.segments = report_.segments;
  s.topics.clear();
  for (const auto& [_, p] : partitions_) {
    if (s.topics.empty() || s.topics.back().name != p.topic) s.topics.push_back({p.topic});
    format::TopicRunStatus& t = s.topics.back();
    t.partitions++;
    t.records += p.records;
    t.bytes += p.payload_bytes;
    t.lag += p.Lag();
  }
  if (state == "running" && lease_ && lease_error_.ok()) {
    Status renewed = lease_->Renew();
    if (renewed.code() == Status::Code::kConflict) {
      lease_error_ = renewed;
      return;  // the status is the other run's to write now
    }
    if (!renewed.ok()) spdlog::warn("backup {}: cannot renew the run lease: {}", config_.backup_id, renewed.ToString());
  }
  std::string doc = format::SerializeRunStatus(s);
  for (const auto& key : {storage::layout::RunStatusKey(config_.backup_id), storage::layout::LatestRunStatusKey()}) {
    Status put = store_->Put(key, doc);
    if (!put.ok()) spdlog::warn("cannot write the run status {}: {}", key, put.ToString());
  }
}

void BackupRun::PublishLag() {
  auto& m = metrics::Metrics::Get();
  bool per_partition = partitions_.size() <= metrics::Metrics::kMaxPartitionSeries;
  std::map<std::string, int64_t> lag;
  for (auto& [_, p] : partitions_) {
    if (continuous_ && consumer_) p.high = std::max(p.high, consumer_->CachedHighWatermark(p.topic, p.partition));
    int64_t left = p.Lag();
    lag[p.topic] += left;
    if (per_partition) m.PartitionLag(p.topic, p.partition).Set(static_cast<double>(left));
  }
  for (const auto& [topic, records] : lag) m.Lag(topic).Set(static_cast<double>(records));
  double payload = m.PayloadBytes("backup").Value();
  if (payload > 0) m.CompressionRatio().Set(m.StoredBytes("backup").Value() / payload);
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

Status BackupRun::StartFresh(const std::vector<kafka::TopicInfo>& topics, const kafka::ClusterInfo& cluster) {
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
  std::vector<std::string> names;
  names.reserve(topics.size());
  for (const auto& t : topics) names.push_back(t.name);
  std::map<std::string, std::string> ids = CurrentTopicIds(names).value_or(std::map<std::string, std::string>{});
  // The cut: each partition's last stable offset now (Watermarks::high), the
  // high watermark unless a transaction is open. A transaction still open is
  // not waited for (it may stay open for transaction.max.timeout.ms): the
  // offsets from its first record on are held back, reported, and left to the
  // next backup. Aborted records never arrive (read_committed). A continuous
  // run has no cut.
  for (const auto& t : topics) {
    format::TopicManifest tm;
    tm.name = t.name;
    tm.topic_id = ids.contains(t.name) ? ids[t.name] : "";
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
    // What the parent holds of the topic, unless the topic is not the one
    // the parent saw: another id, or offsets the parent read that no longer exist.
    const format::TopicManifest* inherited = parent_ ? parent_->FindTopic(t.name) : nullptr;
    if (inherited) {
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
      if (!why.empty()) {
        spdlog::warn("topic {} was deleted and created again since backup '{}' ({}): copied whole, not inherited",
                     t.name, parent_->backup_id, why);
        tm.events.push_back({NowMs(), "recreated", tm.topic_id,
                             fmt::format("deleted and created again since backup '{}' ({}); this backup holds the "
                                         "new topic only",
                                         parent_->backup_id, why)});
        inherited = nullptr;
      }
    }
    m.topics.push_back(std::move(tm));
    KB_ASSIGN_OR_RETURN(std::vector<int64_t> first, StartOffsets(t, marks));
    for (int32_t p = 0; p < t.partition_count; ++p) {
      const kafka::Watermarks& w = marks[p];
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
      st.read_upto = first[p];
      st.manifest.partition = p;
      st.manifest.start_offset = first[p];
      st.manifest.end_offset = first[p];
      st.journaled_end = first[p];
      if (inherited) {
        auto from = std::find_if(inherited->partitions.begin(), inherited->partitions.end(),
                                 [&](const auto& pm) { return pm.partition == p; });
        if (from != inherited->partitions.end()) Inherit(st, *from, w.low);
      }
      st.done = !continuous_ && st.read_upto >= w.high;
    }
  }
  // Consumer groups' committed offsets, read right after the cut so that
  // restored data and restored positions agree.
  KB_ASSIGN_OR_RETURN(m.consumer_groups, CaptureGroups(*admin_, config_.backup.consumer_groups, partitions_));
  // Segments of an earlier run of this id that died before its first checkpoint.
  KB_RETURN_IF_ERROR(RemoveOrphans({}));
  // The journal exists from here on: a run killed later resumes from it.
  return Checkpoint(true);
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
                 parent_->backup_id, parent_->RecordCount(), parent_->OwnSegments());
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

void BackupRun::Inherit(PartitionState& st, const format::PartitionManifest& from, int64_t low) {
  format::PartitionManifest& pm = st.manifest;
  // Segments wholly below the log start hold only records deleted since.
  for (const auto& seg : from.segments) {
    if (seg.last_offset >= low) pm.segments.push_back(seg);
  }
  pm.start_offset = std::max(from.start_offset, pm.segments.empty() ? low : std::min(low, pm.segments[0].first_offset));
  for (auto gap : from.gaps) {
    if (gap.last_offset < pm.start_offset) continue;
    gap.first_offset = std::max(gap.first_offset, pm.start_offset);
    pm.gaps.push_back(std::move(gap));
  }
  pm.end_offset = std::max(from.end_offset, low);
  pm.record_count = 0;
  pm.bytes = 0;
  for (const auto& seg : pm.segments) {
    pm.record_count += seg.record_count;
    pm.bytes += seg.bytes;
    pm.min_timestamp = std::min(pm.min_timestamp.value_or(seg.min_timestamp), seg.min_timestamp);
    pm.max_timestamp = std::max(pm.max_timestamp.value_or(seg.max_timestamp), seg.max_timestamp);
  }
  // Manifests written before segments recorded their payload: the parent's
  // figure, exact when every segment is inherited.
  if (pm.segments.size() == from.segments.size()) pm.bytes = from.bytes;
  st.read_upto = pm.end_offset;
  st.journaled_end = pm.end_offset;
  report_.inherited_segments += pm.segments.size();
  report_.inherited_records += pm.record_count;
}

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
      format::OffsetGap gap{position, p.cut - 1, fmt::format("topic {} before it was read", event)};
      p.manifest.gaps.push_back(gap);
      p.delta.gaps.push_back(std::move(gap));
      p.read_upto = p.cut;
      report_.deleted_offsets += static_cast<uint64_t>(p.cut - position);
    }
    p.done = true;
    KB_RETURN_IF_ERROR(SealSegment(p));
    if (consumer_) (void)consumer_->Unassign(p.topic, p.partition);
  }
  return Status::Ok();
}

// What became of a topic this backup holds, by the cluster's topic ids now:
// "" (nothing), "deleted" or "recreated". A topic recorded without an id
// (a broker that did not give one) is never reported.
std::string TopicChange(const format::TopicManifest& t, const std::map<std::string, std::string>& ids) {
  if (t.topic_id.empty()) return "";
  auto now = ids.find(t.name);
  if (now == ids.end()) return "deleted";
  return now->second == t.topic_id ? "" : "recreated";
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
        KB_RETURN_IF_ERROR(SkipDeleted(st, w.low));
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

Status BackupRun::SkipDeleted(PartitionState& p, int64_t low) {
  int64_t from = p.Position();
  int64_t to = std::min(low, p.cut);  // exclusive
  if (to <= from) return Status::Ok();
  format::OffsetGap gap{from, to - 1, "deleted by the broker (retention or delete-records) before it was read"};
  spdlog::warn("{}[{}]: offsets {}..{} were deleted by the broker before this backup read them; recorded as a gap",
               p.topic, p.partition, gap.first_offset, gap.last_offset);
  p.manifest.gaps.push_back(gap);
  p.delta.gaps.push_back(std::move(gap));
  p.read_upto = to;
  report_.deleted_offsets += static_cast<uint64_t>(to - from);
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

}  // namespace

Result<BackupReport> RunBackup(const Config& config, const RunOptions& options) {
  BackupRun run(config, options);
  auto report = run.Run();
  if (!report.ok()) run.RecordFailure(report.status());
  return report;
}

}  // namespace kafka_backup
