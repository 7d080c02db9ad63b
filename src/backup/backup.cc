#include "kafka_backup/backup.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/segment_pipeline.h"
#include "format/manifest.h"
#include "format/run_status.h"
#include "format/segment.h"
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
// literal include that names no topic is an error: the user asked for it.
Result<std::vector<kafka::TopicInfo>> SelectTopics(const kafka::ClusterInfo& cluster, const TopicSelection& sel,
                                                   bool include_internal, const std::string& bootstrap) {
  std::vector<std::string> include = sel.include.empty() ? std::vector<std::string>{"*"} : sel.include;
  for (const auto& pattern : include) {
    if (!IsGlob(pattern) && !cluster.Find(pattern)) {
      return Status::NotFound(
          fmt::format("topic '{}' (source.topics.include) does not exist in the source cluster at {}; "
                      "check the name, or use a glob such as '{}*' to match topics that may be absent",
                      pattern, bootstrap, pattern));
    }
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
using PartitionMap = std::map<std::pair<std::string, int32_t>, PartitionState>;

Result<std::vector<format::ConsumerGroupManifest>> CaptureGroups(kafka::Admin& admin,
                                                                 const std::vector<std::string>& patterns,
                                                                 const PartitionMap& partitions);

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  int64_t cut = 0;        // records with offset < cut belong to this backup
  int64_t read_upto = 0;  // offsets below this were read (stored in a sealed segment or skipped)
  bool done = false;
  uint64_t records = 0;        // read by this run
  uint64_t payload_bytes = 0;  // read by this run
  // The open segment: its records so far, the block being filled, and the
  // object the pipeline is writing (null when no segment is open).
  std::shared_ptr<SegmentPipeline::Segment> segment;
  format::SegmentSummary summary;
  format::BlockBuilder block;
  format::PartitionManifest manifest;

  // The next offset to read: past the open segment's last record, or what
  // sealed segments and skips covered; the cut once the partition is done.
  int64_t Position() const {
    if (done) return cut;
    return std::max(summary.record_count > 0 ? summary.last_offset + 1 : 0, read_upto);
  }
  // Offsets still to read up to the cut.
  int64_t Lag() const { return std::max<int64_t>(0, cut - Position()); }
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
  Status Append(PartitionState& p, format::Record&& r);
  Status FlushBlock(PartitionState& p);
  Status SealSegment(PartitionState& p);
  Status EnforceMemoryBudget();
  Status Drain();
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
  void WriteStatusIfDue();

 public:
  // After a failed Run: records the failure, if this run wrote a status.
  void RecordFailure(const Status& error) {
    if (status_started_) WriteStatus("failed", error);
  }

 private:
  const Config& config_;
  const RunOptions& options_;
  std::unique_ptr<storage::ObjectStore> store_;
  std::unique_ptr<SegmentPipeline> pipeline_;  // after store_: stops before it goes
  std::unique_ptr<kafka::Consumer> consumer_;
  PartitionMap partitions_;
  format::Codec codec_ = format::Codec::kZstd;
  uint64_t raw_bytes_ = 0;  // in the partitions' open blocks
  BackupReport report_;
  format::RunStatus status_;
  bool status_started_ = false;
  Clock::time_point last_status_{};
};

Status BackupRun::Append(PartitionState& p, format::Record&& r) {
  if (p.summary.record_count > 0 && r.offset <= p.summary.last_offset) {
    return Status::Internal(fmt::format("{}[{}]: offset {} after {}: the consumer went backwards", p.topic, p.partition,
                                        r.offset, p.summary.last_offset));
  }
  if (!p.segment) {
    p.segment = pipeline_->Open(storage::layout::SegmentKey(config_.backup_id, p.topic, p.partition, r.offset), p.topic,
                                p.partition);
    p.summary = {};
  }
  report_.records++;
  report_.bytes += r.PayloadBytes();
  p.records++;
  p.payload_bytes += r.PayloadBytes();
  size_t before = p.block.size();
  p.block.Append(r);
  format::AddToSummary(r, &p.summary);
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
  KB_RETURN_IF_ERROR(pipeline_->Seal(p.segment, p.summary));
  p.read_upto = p.summary.last_offset + 1;
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
  // Segments of a partition are stored in parallel and may finish out of order.
  for (auto& [_, p] : partitions_) {
    std::sort(p.manifest.segments.begin(), p.manifest.segments.end(),
              [](const auto& a, const auto& b) { return a.first_offset < b.first_offset; });
  }
  return Status::Ok();
}

void BackupRun::AbsorbSealed() {
  for (auto& s : pipeline_->Take()) {
    auto& m = partitions_.at({s.topic, s.partition}).manifest;
    const format::SegmentSummary& sum = s.summary;
    m.record_count += sum.record_count;
    m.bytes += sum.payload_bytes;
    m.min_timestamp = m.min_timestamp ? std::min(*m.min_timestamp, sum.min_timestamp) : sum.min_timestamp;
    m.max_timestamp = m.max_timestamp ? std::max(*m.max_timestamp, sum.max_timestamp) : sum.max_timestamp;
    report_.stored_bytes += s.ref.size;
    report_.segments++;
    m.segments.push_back(std::move(s.ref));
  }
}

Status BackupRun::Drain() {
  uint64_t total = 0;
  size_t open = 0;
  for (auto& [_, p] : partitions_) {
    if (!p.done) {
      total += static_cast<uint64_t>(p.cut - p.manifest.start_offset);
      ++open;
    }
  }
  Progress progress("backup", total, options_.progress);
  std::map<std::string, size_t> lines;  // topic -> its line in the display
  {
    std::map<std::string, uint64_t> totals;
    for (const auto& [_, p] : partitions_) totals[p.topic] += static_cast<uint64_t>(p.cut - p.manifest.start_offset);
    for (const auto& [topic, n] : totals) lines[topic] = progress.AddTopic(topic, n);
  }
  metrics::RunGauges gauges("backup", total);
  auto last_lag = Clock::now() - std::chrono::seconds(10);
  // Give up if nothing arrives for this long while partitions are still open.
  const auto stall_limit = std::chrono::seconds(std::max(60, config_.source.connect_timeout_secs * 2));
  auto last_progress = Clock::now();
  Status last_transient;
  uint64_t polled = 0;
  bool progressed = false;  // a record arrived since last_progress was set
  while (open > 0) {
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
            KB_RETURN_IF_ERROR(Append(p, std::move(item->record)));
            finished = offset + 1 >= p.cut;
          } else {
            finished = true;
          }
        } else {
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
    if (progress.Due()) ShowTopics(progress, lines);
    progress.Update(report_.records, report_.bytes);
    WriteStatusIfDue();
    gauges.Publish(report_.records, report_.bytes);  // (this point is reached once per 256 records)
    auto now = Clock::now();
    if (now - last_lag >= std::chrono::seconds(1)) {
      PublishLag();
      last_lag = now;
    }
    if (progressed) last_progress = now;
    progressed = false;
    if (now - last_progress > stall_limit) {
      std::string stuck;
      for (const auto& [_, p] : partitions_) {
        if (!p.done) stuck += fmt::format(" {}[{}] (cut {})", p.topic, p.partition, p.cut);
      }
      std::string cause =
          last_transient.ok() ? "an open transaction may hold back the last stable offset" : last_transient.ToString();
      return Status::Unavailable(fmt::format("no progress for {}s reading partitions:{}; {}",
                                             std::chrono::duration_cast<std::chrono::seconds>(stall_limit).count(),
                                             stuck, cause));
    }
  }
  // Every record is read; the display stays up while the last segments are stored.
  progress.SetNote("storing the last segments");
  KB_RETURN_IF_ERROR(pipeline_->Wait([&] {
    if (progress.Due()) ShowTopics(progress, lines);
    progress.Update(report_.records, report_.bytes);
    WriteStatusIfDue();
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

void BackupRun::WriteStatusIfDue() {
  auto now = Clock::now();
  if (now - last_status_ < std::chrono::seconds(config_.backup.checkpoint_interval_secs)) return;
  AbsorbSealed();
  WriteStatus("running");
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
  for (const auto& [_, p] : partitions_) {
    int64_t left = p.Lag();
    lag[p.topic] += left;
    if (per_partition) m.PartitionLag(p.topic, p.partition).Set(static_cast<double>(left));
  }
  for (const auto& [topic, records] : lag) m.Lag(topic).Set(static_cast<double>(records));
  double payload = m.PayloadBytes("backup").Value();
  if (payload > 0) m.CompressionRatio().Set(m.StoredBytes("backup").Value() / payload);
}

Result<BackupReport> BackupRun::Run() {
  auto started = Clock::now();
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
  KB_RETURN_IF_ERROR(storage::layout::ValidateBackupId(config_.backup_id));
  KB_ASSIGN_OR_RETURN(codec_, format::ParseCodec(config_.backup.compression));
  KB_ASSIGN_OR_RETURN(store_, storage::OpenStore(config_.storage.Url()));
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

  int64_t created_at = NowMs();
  KB_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Connect(config_.source));
  KB_ASSIGN_OR_RETURN(kafka::ClusterInfo cluster, admin->Describe());
  KB_ASSIGN_OR_RETURN(auto topics, SelectTopics(cluster, config_.source.topics, config_.backup.include_internal_topics,
                                                admin->bootstrap()));

  format::Manifest manifest;
  manifest.backup_id = config_.backup_id;
  manifest.tool_version = kVersion;
  manifest.created_at_ms = created_at;
  manifest.kafka_cluster_id = cluster.cluster_id;
  manifest.source_cluster_id =
      config_.backup.source_cluster_id.empty() ? cluster.cluster_id : config_.backup.source_cluster_id;
  manifest.compression = format::CodecName(codec_);
  manifest.compression_level = codec_ == format::Codec::kZstd ? config_.backup.compression_level : 0;
  manifest.include_offset_headers = config_.backup.include_offset_headers;

  // The cut: each partition's high watermark now. Read committed stops at the
  // last stable offset, so records of transactions still open at the cut are
  // waited for, and aborted ones never arrive.
  std::vector<kafka::Consumer::Start> starts;
  for (const auto& t : topics) {
    format::TopicManifest tm;
    tm.name = t.name;
    tm.partition_count = t.partition_count;
    tm.replication_factor = t.replication_factor;
    KB_ASSIGN_OR_RETURN(tm.configs, admin->TopicConfigs(t.name));
    manifest.topics.push_back(std::move(tm));
    for (int32_t p = 0; p < t.partition_count; ++p) {
      KB_ASSIGN_OR_RETURN(kafka::Watermarks w, admin->QueryWatermarks(t.name, p));
      PartitionState& st = partitions_[{t.name, p}];
      st.topic = t.name;
      st.partition = p;
      st.cut = w.high;
      st.read_upto = w.low;
      st.manifest.partition = p;
      st.manifest.start_offset = w.low;
      st.manifest.end_offset = w.high;
      st.done = w.low >= w.high;
      if (!st.done) starts.push_back({t.name, p, w.low});
    }
  }
  // Consumer groups' committed offsets, read right after the cut so that
  // restored data and restored positions agree.
  KB_ASSIGN_OR_RETURN(manifest.consumer_groups, CaptureGroups(*admin, config_.backup.consumer_groups, partitions_));
  report_.topics = static_cast<int>(topics.size());
  report_.partitions = static_cast<int>(partitions_.size());
  spdlog::info("backup {}: {} topics, {} partitions from {} into {}", config_.backup_id, report_.topics,
               report_.partitions, admin->bootstrap(), store_->Url());

  // Segments left by an earlier run of this id that died before its manifest.
  KB_ASSIGN_OR_RETURN(auto leftovers, storage::ListAll(*store_, storage::layout::DataPrefix(config_.backup_id)));
  for (const auto& o : leftovers) KB_RETURN_IF_ERROR(store_->Delete(o.key));
  KB_RETURN_IF_ERROR(store_->AbortIncomplete(storage::layout::DataPrefix(config_.backup_id)));
  if (!leftovers.empty()) spdlog::info("removed {} segments left by an interrupted run", leftovers.size());
  status_.started_at_ms = created_at;
  WriteStatus("running");

  // Compression and storage on workers, one per core; the queue of raw
  // blocks waiting for them is a few blocks per worker.
  int threads = std::clamp(UsableCpus(), 1, 16);
  size_t max_pending = std::max<size_t>(8u << 20, 4 * static_cast<size_t>(threads) * config_.backup.block_size_bytes);
  // Segments sealed but not yet stored may hold half the memory budget: past
  // it, a slow store slows the reading instead of filling memory.
  pipeline_ = std::make_unique<SegmentPipeline>(*store_, codec_, config_.backup.compression_level, threads, max_pending,
                                                config_.backup.max_buffered_bytes / 2);
  if (!starts.empty()) {
    KB_ASSIGN_OR_RETURN(consumer_, kafka::Consumer::Connect(config_.source));
    KB_RETURN_IF_ERROR(consumer_->Assign(starts));
    KB_RETURN_IF_ERROR(Drain());
  }
  KB_RETURN_IF_ERROR(CollectSegments());

  for (auto& tm : manifest.topics) {
    for (int32_t p = 0; p < tm.partition_count; ++p)
      tm.partitions.push_back(std::move(partitions_[{tm.name, p}].manifest));
  }
  manifest.completed_at_ms = NowMs();
  // The commit point: written only after every segment above is stored.
  Status s = store_->Put(manifest_key, format::SerializeManifest(manifest));
  if (!s.ok()) return s.WithContext(fmt::format("cannot commit the manifest of backup '{}'", config_.backup_id));
  metrics::Metrics::Get().CheckpointTime().SetToCurrentTime();
  status_.last_checkpoint_ms = manifest.completed_at_ms;
  WriteStatus("completed");
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
