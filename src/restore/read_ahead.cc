#include "restore/read_ahead.h"

#include <utility>

namespace kafka_backup::restore {
namespace {

// Records are handed over in chunks of about this much payload: large enough
// that the hand-over costs nothing per record, small enough that the restore
// turns to the next partition before the producer's batch for this one fills.
constexpr uint64_t kChunkBytes = uint64_t{256} * 1024;

}  // namespace

PartitionReader::PartitionReader(storage::ObjectStore& store, PartitionReadPlan plan, uint64_t max_buffered_bytes)
    : store_(store), plan_(std::move(plan)), max_buffered_bytes_(max_buffered_bytes) {
  thread_ = std::thread([this] { Run(); });
}

PartitionReader::~PartitionReader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool PartitionReader::Push(bool last) {
  pending_.last = last;
  std::unique_lock lock(mu_);
  // One chunk always fits, however large its records: the bound holds back
  // the reader, never blocks it for good.
  cv_.wait(lock, [&] { return stop_ || queue_.empty() || queued_bytes_ + pending_bytes_ <= max_buffered_bytes_; });
  if (stop_) return false;
  pending_.payload_bytes = std::exchange(pending_bytes_, 0);
  queued_bytes_ += pending_.payload_bytes;
  size_t count = pending_.records.size();
  queue_.push_back(std::exchange(pending_, {}));
  pending_.records.reserve(count);  // the next chunk is likely alike
  if (last) finished_ = true;
  cv_.notify_all();
  return true;
}

void PartitionReader::Run() {
  catalog::ReadStats stats;
  uint64_t fetched_reported = 0;
  bool stopped = false;
  auto sink = [&](const format::RecordView& r, const std::shared_ptr<const format::DecodedBlock>& block) -> Status {
    pending_bytes_ += r.PayloadBytes();
    pending_.records.push_back(r);
    if (pending_.blocks.empty() || pending_.blocks.back() != block) pending_.blocks.push_back(block);
    if (pending_bytes_ < kChunkBytes) return Status::Ok();
    pending_.bytes_fetched = stats.bytes_fetched - std::exchange(fetched_reported, stats.bytes_fetched);
    if (Push(false)) return Status::Ok();
    stopped = true;
    return Status::Internal("stopped");  // ends ReadSegment; nobody reads this
  };
  Status status;
  for (const format::SegmentRef* segment : plan_.segments) {
    catalog::DamageHandler on_damage;
    if (plan_.on_damage) on_damage = [&](const catalog::SegmentDamage& d) { return plan_.on_damage(*segment, d); };
    status = catalog::ReadSegmentViews(store_, *segment, plan_.filter, sink, &stats, on_damage, plan_.key,
                                       plan_.max_ranged_read);
    if (!status.ok()) break;
  }
  if (status.ok()) {
    pending_.bytes_fetched = stats.bytes_fetched - fetched_reported;
    Push(true);
    return;
  }
  if (stopped) return;
  // The records read before the failure are delivered first, then the error.
  std::lock_guard lock(mu_);
  if (!pending_.records.empty()) {
    pending_.payload_bytes = std::exchange(pending_bytes_, 0);
    queued_bytes_ += pending_.payload_bytes;
    queue_.push_back(std::exchange(pending_, {}));
  }
  status_ = std::move(status);
  finished_ = true;
  cv_.notify_all();
}

Result<PartitionReader::Chunk> PartitionReader::Next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || finished_; });
  if (queue_.empty()) {
    if (!status_.ok()) return status_;
    return Status::Internal("partition reader: read past its last chunk");
  }
  Chunk chunk = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= chunk.payload_bytes;
  cv_.notify_all();
  return chunk;
}

}  // namespace kafka_backup::restore
