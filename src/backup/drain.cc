// The reading loop, the backup's hot path: each polled record is appended to
// its partition's open block; full blocks go to the segment pipeline, full
// segments are sealed; memory is bounded across partitions. Between batches
// of records: the display, checkpoints when due, gauges and lag, and the stall
// watch.
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/backup_run.h"
#include "metrics/metrics.h"
#include "storage/layout.h"
#include "util/progress.h"

namespace kafka_backup::backup {

struct BackupRun::DrainLoop {
  DrainLoop(BackupRun& run, uint64_t total, size_t open)
      : run(run), open(open), progress("backup", total, run.options_), gauges("backup", total) {
    AddLines();
    run.display_tick_ = tick;  // the pipeline's wait tick calls it (Run)
  }
  ~DrainLoop() { run.display_tick_ = nullptr; }  // it refers to this loop
  DrainLoop(const DrainLoop&) = delete;
  DrainLoop& operator=(const DrainLoop&) = delete;

  // A line in the display for each topic that has none yet.
  void AddLines() {
    std::map<std::string, uint64_t> totals;
    for (const auto& [_, p] : run.partitions_) {
      totals[p.topic] += run.continuous_ ? 0 : static_cast<uint64_t>(p.cut - p.manifest.start_offset);
    }
    for (const auto& [topic, n] : totals) {
      if (!lines.contains(topic)) lines[topic] = progress.AddTopic(topic, n);
    }
  }
  // Redraws the display when due.
  void Tick() {
    if (progress.Due()) run.ShowTopics(progress, lines);
    progress.Update(run.report_.records, run.report_.bytes);
  }

  BackupRun& run;
  size_t open;  // partitions not done
  Progress progress;
  std::map<std::string, size_t> lines;  // topic -> its line in the display
  metrics::RunGauges gauges;
  const std::function<void()> tick = [this] { Tick(); };
  Clock::time_point last_lag = Clock::now() - std::chrono::seconds(10);
  // Give up if nothing arrives for this long while partitions are still open
  // (one-shot runs: a continuous run waits for records as long as it runs).
  const std::chrono::seconds stall_limit{std::max(60, run.config_.source.connect_timeout_secs * 2)};
  Clock::time_point last_progress = Clock::now();
  Status last_transient;
  uint64_t polled = 0;
  bool progressed = false;  // a record arrived since last_progress was set
};

Status BackupRun::Drain() {
  uint64_t total = 0;  // offsets to read; unknown (0) for a continuous run
  size_t open = 0;
  for (auto& [_, p] : partitions_) {
    if (!p.done) {
      if (!continuous_) total += static_cast<uint64_t>(p.cut - p.read_upto);
      ++open;
    }
  }
  DrainLoop loop(*this, total, open);
  while ((continuous_ || loop.open > 0) && !StopRequested()) {
    auto item = consumer_->Poll(200);
    if (!item.ok()) {
      Status s = item.status();
      if (s.code() != Status::Code::kUnavailable) return s;
      if (loop.last_transient.ToString() != s.ToString()) spdlog::warn("{} (retrying)", s.ToString());
      loop.last_transient = s;
    } else if (item->kind != kafka::ConsumedItem::Kind::kNothing) {
      bool abandoned = false;
      KB_RETURN_IF_ERROR(Consume(*item, loop, &abandoned));
      if (abandoned) continue;
    }
    // The clock is read once per batch of records, not per record.
    bool idle = !item.ok() || item->kind != kafka::ConsumedItem::Kind::kRecord;
    if (++loop.polled % 256 != 0 && !idle) continue;
    KB_RETURN_IF_ERROR(BetweenBatches(loop));
  }
  return FinishDrain(loop);
}

Status BackupRun::Consume(const kafka::ConsumedItem& item, DrainLoop& loop, bool* abandoned) {
  auto it = partitions_.find({item.topic, item.partition});
  if (it == partitions_.end() || it->second.done) return Status::Ok();
  PartitionState& p = it->second;
  bool finished = false;
  if (item.kind == kafka::ConsumedItem::Kind::kRecord) {
    loop.progressed = true;
    if (item.record.offset < p.cut) {
      int64_t offset = item.record.offset;
      KB_RETURN_IF_ERROR(Append(p, item.record));
      finished = offset + 1 >= p.cut;
    } else {
      finished = true;
    }
  } else if (item.kind == kafka::ConsumedItem::Kind::kOffsetOutOfRange) {
    KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin_->QueryWatermarks(p.topic, p.partition));
    if (w.high < p.Position()) {
      // Offsets went backwards: the topic may have been deleted and created again.
      KB_RETURN_IF_ERROR(CheckTopicIds());
      loop.open = static_cast<size_t>(
          std::count_if(partitions_.begin(), partitions_.end(), [](const auto& e) { return !e.second.done; }));
      if (p.done) {
        *abandoned = true;
        return Status::Ok();
      }
    }
    report_.deleted_offsets += p.SkipDeleted(w.low);
    KB_RETURN_IF_ERROR(consumer_->Seek(p.topic, p.partition, p.Position()));
    finished = p.Position() >= p.cut;
  } else {
    p.read_upto = std::max(p.read_upto, std::min(item.next_offset, p.cut));
    finished = item.next_offset >= p.cut;
  }
  if (finished) {
    p.done = true;
    --loop.open;
    KB_RETURN_IF_ERROR(SealSegment(p));
    KB_RETURN_IF_ERROR(consumer_->Unassign(p.topic, p.partition));
  }
  return Status::Ok();
}

Status BackupRun::BetweenBatches(DrainLoop& loop) {
  loop.Tick();
  size_t known = partitions_.size();
  KB_RETURN_IF_ERROR(waiting_error_);
  KB_RETURN_IF_ERROR(CheckpointIfDue(loop.tick));
  if (partitions_.size() != known) loop.AddLines();
  loop.gauges.Publish(report_.records, report_.bytes);  // (this point is reached once per 256 records)
  auto now = Clock::now();
  if (now - loop.last_lag >= std::chrono::seconds(1)) {
    PublishLag();
    loop.last_lag = now;
  }
  if (loop.progressed) loop.last_progress = now;
  loop.progressed = false;
  if (!continuous_ && now - loop.last_progress > loop.stall_limit) return Stalled(loop);
  return Status::Ok();
}

Status BackupRun::Stalled(const DrainLoop& loop) const {
  std::string stuck;
  for (const auto& [_, p] : partitions_) {
    if (!p.done) stuck += fmt::format(" {}[{}] (cut {})", p.topic, p.partition, p.cut);
  }
  std::string cause =
      loop.last_transient.ok()
          ? "the brokers answered but sent none of their records (the cut is at each partition's last stable "
            "offset, so no open transaction holds them); check the partition leaders' health, then run the "
            "command again: it resumes from its last checkpoint"
          : loop.last_transient.ToString();
  return Status::Unavailable(
      fmt::format("no progress for {}s reading partitions:{}; {}", loop.stall_limit.count(), stuck, cause));
}

Status BackupRun::FinishDrain(DrainLoop& loop) {
  // Every record is read (or a stop was asked for); the display stays up
  // while the last segments are stored.
  loop.progress.SetNote("storing the last segments");
  KB_RETURN_IF_ERROR(StoreEverything([&] {
    loop.Tick();
    if (Clock::now() - last_status_ >= std::chrono::seconds(config_.backup.checkpoint_interval_secs)) {
      WriteStatus("running");
    }
  }));
  loop.progress.Finish();
  loop.gauges.Publish(report_.records, report_.bytes);
  PublishLag();
  return Status::Ok();
}

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

void BackupRun::ShowTopics(Progress& progress, const std::map<std::string, size_t>& lines) const {
  std::map<std::string, std::pair<uint64_t, uint64_t>> read;  // topic -> offsets read, payload bytes
  for (const auto& [_, p] : partitions_) {
    auto& [offsets, bytes] = read[p.topic];
    offsets += static_cast<uint64_t>(std::max<int64_t>(0, p.Position() - p.manifest.start_offset));
    bytes += p.payload_bytes;
  }
  for (const auto& [topic, r] : read) progress.UpdateTopic(lines.at(topic), r.first, r.second);
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

}  // namespace kafka_backup::backup
