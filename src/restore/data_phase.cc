// Restore phase 1: the data, in transactions that also commit the restore's
// progress (the next source offset of every partition) as offsets of a group
// named after the restore: data and progress become visible together, so a
// rerun after a crash starts exactly where the last committed transaction
// ended. Each transaction's part of the offset map is stored before it
// commits; parts of transactions that did not commit are trimmed on resume
// (resume.cc).
//
// Several partitions are read ahead at once, each on its own thread, and
// produced a chunk of each in turn (restore/read_ahead.h). The producing, the
// commits and the progress run on the restore's thread; only damage (with
// restore.on_corruption: skip) is reported from the readers' threads.
#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include <spdlog/spdlog.h>

#include "metrics/metrics.h"
#include "restore/read_ahead.h"
#include "restore/restore_run.h"
#include "storage/layout.h"
#include "util/clock.h"
#include "util/progress.h"

namespace kafka_backup::restore {
namespace {

// A transaction holds at most this much (and restore.transaction_max_records)
// and is committed once it is this old. Each commit drains the producer, so
// transactions are large: with 64 KiB records and 128 MiB transactions the
// restore spent a fifth of its time draining (bench/RESULTS.md). The age bound
// keeps a crash's resend short and a throttled restore well inside the
// producer's transaction.timeout.ms (300 s; a third of it when that is set
// lower). The age is checked every 1,024 records, and at every record when
// throttled, where 1,024 records may take longer than the timeout.
constexpr uint64_t kTransactionBytes = uint64_t{1} << 30;
constexpr auto kTransactionMaxAge = std::chrono::seconds(30);
// Partitions read ahead at once, the record payload each may hold queued, and
// the largest GET each makes: memory bounded whatever the number of partitions
// (~14 MiB per reader; with 8 MiB GETs the restore's peak RSS was 320 MiB, with
// 1 MiB 210 MiB at the same speed; bench/RESULTS.md). Eight partitions spread
// the producer's requests as well as kcat's eight-partition produce.
constexpr size_t kReadAheadPartitions = 8;
constexpr uint64_t kReadAheadBytes = uint64_t{2} << 20;
constexpr uint64_t kReadAheadMaxRangedRead = uint64_t{1} << 20;

// Keeps a rate at or below records/s and bytes/s (0: no limit), sleeping as needed.
class Throttle {
 public:
  Throttle(uint64_t records_per_sec, uint64_t bytes_per_sec)
      : records_per_sec_(records_per_sec), bytes_per_sec_(bytes_per_sec), start_(Clock::now()) {}

  bool limited() const { return records_per_sec_ > 0 || bytes_per_sec_ > 0; }

  void Wait(uint64_t records, uint64_t bytes) {
    if (!limited()) return;  // no clock read per record
    records_ += records;
    bytes_ += bytes;
    double due = 0;  // seconds since start by which this much may have been sent
    if (records_per_sec_ > 0) due = std::max(due, static_cast<double>(records_) / records_per_sec_);
    if (bytes_per_sec_ > 0) due = std::max(due, static_cast<double>(bytes_) / bytes_per_sec_);
    double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (due > elapsed) std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed));
  }

 private:
  uint64_t records_per_sec_;
  uint64_t bytes_per_sec_;
  Clock::time_point start_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
};

// Committed by age well inside the broker's transaction timeout, which
// client_properties may have lowered below kTransactionMaxAge.
Clock::duration MaxTransactionAge(const std::vector<std::unique_ptr<kafka::Producer>>& producers) {
  auto max_age = std::chrono::duration_cast<Clock::duration>(kTransactionMaxAge);
  for (const auto& producer : producers) {
    max_age = std::min<Clock::duration>(
        max_age, std::chrono::milliseconds(std::max<int64_t>(1, producer->TransactionTimeoutMs() / 3)));
  }
  return max_age;
}

}  // namespace

// One RestoreData call: the lanes read ahead and produced, the open
// transaction's size and age, and the counts shown as progress.
class RestoreRun::DataPhase {
 public:
  // The producers' first transactions are begun.
  DataPhase(RestoreRun& run, const DataPhaseInput& in, std::vector<int64_t>& next, RestoreReport& report);

  // Every lane read and its records produced, a chunk of each of up to
  // kReadAheadPartitions lanes in turn, committing as transactions fill.
  Status ProduceAll();
  // The last transaction committed, the deferred topic configs set and the
  // report completed.
  Status Finish();

 private:
  // Declares each plan's target topic to `progress`; per plan, the lanes not yet restored.
  static std::vector<size_t> DeclareTopics(const RestoreRun& run, Progress& progress);
  // A reader of the lane's segments from its next offset within the time
  // window; nullptr when none is left to read.
  std::unique_ptr<PartitionReader> ReaderFor(size_t li);
  // restore.on_corruption: skip: damage in a lane's segment, logged and
  // reported; called on the reader's thread.
  Status SkipDamage(size_t li, const format::SegmentRef& seg, const catalog::SegmentDamage& d);
  // One record counted and, unless a dry run, sent; commits when the
  // transaction is full or old. Called per record: inlined into the chunk
  // loop of ProduceAll (no call per record).
  [[gnu::always_inline]] inline Status RestoreRecord(size_t li, const format::RecordView& r);
  // Ends the open transaction: the producers drained, the offset-map part
  // stored, each producer's transaction committed with its lanes' progress;
  // unless `last`, the next transactions begun.
  Status Commit(bool last);
  // The part of the offset map the delivery reports since the last commit
  // make, stored under the next sequence (nothing when nothing was delivered).
  Status StorePart();
  void FinishLane(size_t li);

  RestoreRun& run_;
  const DataPhaseInput& in_;
  const RestoreConfig& rc_;
  std::vector<int64_t>& next_;  // per lane: source offsets below are restored
  RestoreReport& report_;
  Progress progress_;
  std::vector<size_t> lanes_left_;  // per plan: lanes not yet restored
  metrics::RunGauges gauges_;
  uint64_t fetched_published_ = 0;
  catalog::ReadStats stats_;
  std::vector<format::RecordHeader> extra_;  // the offset headers of the record being sent
  Throttle throttle_;
  // The open transaction.
  uint64_t batch_records_ = 0;
  uint64_t batch_bytes_ = 0;
  Clock::time_point batch_started_;
  const Clock::duration max_age_;
  // Parts are ordered by a sequence that only grows, whatever the machine's
  // clock says: on from the last part committed. A run killed or fenced
  // before its commit stored at most the part after that one, perhaps only
  // now (a fenced run may still be writing): this run starts past it, so no
  // two runs ever write one key, and the chain of previous_part leaves it out.
  uint64_t part_sequence_;
  // Damage is reported from the readers' threads.
  std::mutex skipped_mu_;
};

Status RestoreRun::RestoreData(const DataPhaseInput& in, std::vector<int64_t>* next_offsets, RestoreReport* out) {
  for (auto& producer : producers_) KB_RETURN_IF_ERROR(producer->BeginTransaction());
  DataPhase phase(*this, in, *next_offsets, *out);
  KB_RETURN_IF_ERROR(phase.ProduceAll());
  return phase.Finish();
}

RestoreRun::DataPhase::DataPhase(RestoreRun& run, const DataPhaseInput& in, std::vector<int64_t>& next,
                                 RestoreReport& report)
    : run_(run),
      in_(in),
      rc_(run.config_.restore),
      next_(next),
      report_(report),
      progress_("restore", in.total, run.options_),
      lanes_left_(DeclareTopics(run, progress_)),
      gauges_("restore", in.total),
      throttle_(rc_.max_records_per_sec, rc_.max_bytes_per_sec),
      batch_started_(Clock::now()),
      max_age_(MaxTransactionAge(run.producers_)),
      part_sequence_(run.committed_part_ + 2) {}

std::vector<size_t> RestoreRun::DataPhase::DeclareTopics(const RestoreRun& run, Progress& progress) {
  std::vector<size_t> lanes_left(run.plans_.size(), 0);
  for (const auto& plan : run.plans_) {
    uint64_t records = 0;
    for (const auto* p : plan.partitions) records += p->record_count;
    progress.AddTopic(plan.target, records);
  }
  for (const auto& lane : run.lanes_) ++lanes_left[lane.plan];
  return lanes_left;
}

Status RestoreRun::DataPhase::ProduceAll() {
  std::deque<std::pair<size_t, std::unique_ptr<PartitionReader>>> reading;
  size_t next_lane = 0;
  while (next_lane < run_.lanes_.size() || !reading.empty()) {
    while (reading.size() < kReadAheadPartitions && next_lane < run_.lanes_.size()) {
      size_t li = next_lane++;
      auto reader = ReaderFor(li);
      if (reader) {
        reading.emplace_back(li, std::move(reader));
      } else {
        FinishLane(li);
      }
    }
    if (reading.empty()) continue;
    auto [li, reader] = std::move(reading.front());
    reading.pop_front();
    KB_ASSIGN_OR_RETURN(PartitionReader::Chunk chunk, reader->Next());
    stats_.bytes_fetched += chunk.bytes_fetched;
    for (const auto& r : chunk.records) KB_RETURN_IF_ERROR(RestoreRecord(li, r));
    progress_.Update(report_.records, report_.bytes);
    if (chunk.last) {
      FinishLane(li);
    } else {
      reading.emplace_back(li, std::move(reader));
    }
  }
  return Status::Ok();
}

Status RestoreRun::DataPhase::Finish() {
  if (!run_.producers_.empty()) KB_RETURN_IF_ERROR(Commit(true));
  progress_.Finish();
  gauges_.Publish(report_.records, report_.bytes);
  for (const auto& [topic, configs] : run_.deferred_configs_) {
    KB_RETURN_IF_ERROR(run_.admin_->SetTopicConfigs(topic, configs));
  }
  report_.bytes_fetched = stats_.bytes_fetched;
  // Partitions are read side by side, so damage turns up in no set order:
  // the report lists it by topic, partition and offset, as validate does.
  std::sort(report_.skipped.begin(), report_.skipped.end(), [](const SkippedRange& a, const SkippedRange& b) {
    return std::tie(a.topic, a.partition, a.first_offset, a.position) <
           std::tie(b.topic, b.partition, b.first_offset, b.position);
  });
  return Status::Ok();
}

std::unique_ptr<PartitionReader> RestoreRun::DataPhase::ReaderFor(size_t li) {
  const Lane& lane = run_.lanes_[li];
  const catalog::RecordFilter& filter = in_.filter;
  PartitionReadPlan read;
  read.filter = filter;
  if (next_[li] > lane.partition->start_offset) read.filter.min_offset = next_[li];
  read.key = run_.key_ ? &*run_.key_ : nullptr;
  read.max_ranged_read = kReadAheadMaxRangedRead;
  for (const auto& seg : lane.partition->segments) {
    if (seg.last_offset < next_[li]) continue;
    // A segment wholly outside the time window is not even opened.
    bool has_times = seg.record_count > 0 && seg.max_timestamp >= seg.min_timestamp;
    if (has_times && ((filter.min_timestamp && seg.max_timestamp < *filter.min_timestamp) ||
                      (filter.max_timestamp && seg.min_timestamp > *filter.max_timestamp))) {
      continue;
    }
    read.segments.push_back(&seg);
  }
  if (read.segments.empty()) return nullptr;
  // With on_corruption: skip, what cannot be read is left out and reported.
  if (rc_.on_corruption == "skip") {
    read.on_damage = [this, li](const format::SegmentRef& seg, const catalog::SegmentDamage& d) {
      return SkipDamage(li, seg, d);
    };
  }
  return std::make_unique<PartitionReader>(in_.store, std::move(read), kReadAheadBytes);
}

Status RestoreRun::DataPhase::SkipDamage(size_t li, const format::SegmentRef& seg, const catalog::SegmentDamage& d) {
  const Lane& damaged = run_.lanes_[li];
  const std::string& topic = run_.plans_[damaged.plan].source->name;
  if (d.records == 0) {
    spdlog::warn("{} (no record is lost)", d.status.ToString());
    return Status::Ok();
  }
  spdlog::warn("skipping offsets {}..{} of {}[{}] ({} records): {}", d.first_offset, d.last_offset, topic,
               damaged.partition->partition, d.records, d.status.ToString());
  std::lock_guard lock(skipped_mu_);
  report_.skipped.push_back({topic, damaged.partition->partition, seg.key, d.position, d.first_offset, d.last_offset,
                             d.records, d.status.message()});
  report_.records_skipped += d.records;
  return Status::Ok();
}

Status RestoreRun::DataPhase::RestoreRecord(size_t li, const format::RecordView& r) {
  const Lane& lane = run_.lanes_[li];
  const TopicPlan& plan = run_.plans_[lane.plan];
  RestoreTopicReport& tr = report_.topics[lane.plan];
  tr.records++;
  tr.bytes += r.PayloadBytes();
  report_.records++;
  report_.bytes += r.PayloadBytes();
  progress_.UpdateTopic(lane.plan, tr.records, tr.bytes);
  // Unthrottled, the display is updated per chunk (a clock read per record
  // cost more than the rest of this function with 100 B records); throttled,
  // per record, as a chunk may take long.
  if (throttle_.limited()) progress_.Update(report_.records, report_.bytes);
  gauges_.Update(report_.records, report_.bytes);
  if (report_.dry_run) return Status::Ok();
  extra_.clear();
  if (in_.offset_headers) {
    extra_.push_back({kHeaderOriginalOffset, std::to_string(r.offset)});
    extra_.push_back({kHeaderOriginalTimestamp, std::to_string(r.timestamp)});
    extra_.push_back({kHeaderSourceCluster, in_.source_cluster_id});
  }
  batch_bytes_ += r.PayloadBytes();
  throttle_.Wait(1, r.PayloadBytes());
  KB_RETURN_IF_ERROR(
      run_.producers_[lane.producer]->Send(plan.target, plan.TargetPartition(*lane.partition, r), r, extra_, li));
  next_[li] = r.offset + 1;
  if (++batch_records_ >= rc_.transaction_max_records || batch_bytes_ >= kTransactionBytes ||
      ((throttle_.limited() || batch_records_ % 1024 == 0) && Clock::now() - batch_started_ > max_age_)) {
    return Commit(false);
  }
  return Status::Ok();
}

Status RestoreRun::DataPhase::Commit(bool last) {
  for (auto& producer : run_.producers_) {
    KB_RETURN_IF_ERROR(producer->Flush(300 * 1000).WithContext("restore did not complete"));
  }
  KB_RETURN_IF_ERROR(StorePart());
  // A crash between two producers_' commits leaves some lanes' progress at
  // this part and others' at the one before: each lane resumes from its
  // own, and the part's records past a lane's progress are trimmed then.
  for (size_t k = 0; k < run_.producers_.size(); ++k) {
    KB_RETURN_IF_ERROR(run_.producers_[k]->CommitTransaction(in_.txn_id, run_.ProgressOffsets(next_, k)));
  }
  metrics::Metrics::Get().CheckpointTime().SetToCurrentTime();
  metrics::Metrics::Get().StoredBytes("restore").Increment(
      static_cast<double>(stats_.bytes_fetched - fetched_published_));
  fetched_published_ = stats_.bytes_fetched;
  batch_records_ = 0;
  batch_bytes_ = 0;
  batch_started_ = Clock::now();
  if (!last) {
    for (auto& producer : run_.producers_) KB_RETURN_IF_ERROR(producer->BeginTransaction());
  }
  return Status::Ok();
}

Status RestoreRun::DataPhase::StorePart() {
  format::OffsetMap part;
  part.restore_id = in_.restore_id;
  part.backup_id = in_.backup_id;
  part.target_cluster_id = in_.cluster_id;
  part.created_at_ms = NowMs();
  part.previous_part = run_.committed_part_;
  format::TopicOffsetMap* topic = nullptr;
  for (auto& lane : run_.lanes_) {
    if (lane.delivered.empty()) continue;
    std::vector<format::OffsetRun> runs = format::MergeRuns(std::move(lane.delivered));
    lane.delivered = {};
    lane.map.runs.insert(lane.map.runs.end(), runs.begin(), runs.end());
    const TopicPlan& plan = run_.plans_[lane.plan];
    if (!topic || topic->source_topic != plan.source->name) {
      part.topics.push_back({plan.source->name, plan.target, {}});
      topic = &part.topics.back();
    }
    topic->partitions.push_back({lane.partition->partition, std::move(runs)});
  }
  if (!part.topics.empty()) {
    uint64_t sequence = part_sequence_++;
    KB_RETURN_IF_ERROR(in_.store.Put(storage::layout::OffsetMapPartKey(in_.backup_id, in_.restore_id, sequence),
                                     format::SerializeOffsetMap(part)));
    run_.committed_part_ = sequence;  // committed with the transaction Commit ends next, or discarded on resume
  }
  return Status::Ok();
}

void RestoreRun::DataPhase::FinishLane(size_t li) {
  next_[li] = std::max(next_[li], run_.lanes_[li].partition->end_offset);
  if (--lanes_left_[run_.lanes_[li].plan] == 0) progress_.FinishTopic(run_.lanes_[li].plan);
}

}  // namespace kafka_backup::restore
