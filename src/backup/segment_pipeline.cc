#include "backup/segment_pipeline.h"

#include "metrics/metrics.h"

#include <pthread.h>

#include <fmt/format.h>

namespace kafka_backup {

SegmentPipeline::SegmentPipeline(storage::ObjectStore& store, format::Codec codec, int level, int threads,
                                 size_t max_pending_bytes, size_t max_sealing_bytes)
    : store_(store),
      codec_(codec),
      level_(level),
      max_pending_bytes_(max_pending_bytes),
      max_sealing_bytes_(max_sealing_bytes) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    workers_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "kb:segments");
      Work();
    });
  }
}

SegmentPipeline::~SegmentPipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = Status::Internal("the backup stopped before this segment was stored");
    stopping_ = true;
  }
  ready_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

std::shared_ptr<SegmentPipeline::Segment> SegmentPipeline::Open(std::string key, std::string topic, int32_t partition) {
  return std::make_shared<Segment>(std::move(key), std::move(topic), partition, codec_, level_,
                                   key_ ? &*key_ : nullptr);
}

uint64_t SegmentPipeline::EstimatedSize(const Segment& segment) {
  return segment.stored_.load(std::memory_order_relaxed) + segment.queued_raw_.load(std::memory_order_relaxed);
}

uint64_t SegmentPipeline::Buffered(const Segment& segment) {
  return segment.buffered_.load(std::memory_order_relaxed);
}

Status SegmentPipeline::Add(const std::shared_ptr<Segment>& segment, format::RawBlock&& block) {
  size_t bytes = block.bytes.size();
  segment->queued_raw_ += bytes;
  auto shared = std::make_shared<format::RawBlock>(std::move(block));
  return Submit(segment, {[this, shared](Segment& s) -> Status {
                            if (!s.writer_) {
                              s.writer_ = storage::OpenWriter(store_, s.key_);
                              KB_RETURN_IF_ERROR(s.writer_->Write(s.encoder_.header()));
                              metrics::Metrics::Get().StoredBytes("backup").Increment(
                                  static_cast<double>(s.encoder_.header().size()));
                            }
                            KB_ASSIGN_OR_RETURN(std::string stored, s.encoder_.EncodeBlock(*shared));
                            s.queued_raw_ -= shared->bytes.size();
                            KB_RETURN_IF_ERROR(s.writer_->Write(stored));
                            metrics::Metrics::Get().StoredBytes("backup").Increment(static_cast<double>(stored.size()));
                            s.stored_ = s.encoder_.size();
                            s.buffered_ = s.writer_->buffered();
                            return Status::Ok();
                          },
                          bytes});
}

Status SegmentPipeline::Seal(const std::shared_ptr<Segment>& segment, const format::SegmentSummary& summary) {
  return Submit(segment,
                {[this, summary](Segment& s) -> Status {
                   if (!s.writer_) return Status::Internal(fmt::format("segment {} has no block", s.key_));
                   std::string tail = s.encoder_.Tail(summary.record_count);
                   KB_RETURN_IF_ERROR(s.writer_->Write(tail));
                   metrics::Metrics::Get().StoredBytes("backup").Increment(static_cast<double>(tail.size()));
                   Status committed = s.writer_->Commit();
                   if (!committed.ok()) {
                     return committed.WithContext(fmt::format("cannot store segment {} in {}", s.key_, store_.Url()));
                   }
                   s.writer_.reset();
                   s.buffered_ = 0;
                   Sealed out;
                   out.topic = s.topic_;
                   out.partition = s.partition_;
                   out.summary = summary;
                   out.ref.key = s.key_;
                   out.ref.size = s.encoder_.size() + tail.size();
                   out.ref.first_offset = summary.first_offset;
                   out.ref.last_offset = summary.last_offset;
                   out.ref.record_count = summary.record_count;
                   out.ref.min_timestamp = summary.min_timestamp;
                   out.ref.max_timestamp = summary.max_timestamp;
                   out.ref.bytes = summary.payload_bytes;
                   out.ref.digest = summary.digest;
                   std::lock_guard<std::mutex> lock(mu_);
                   sealed_.push_back(std::move(out));
                   return Status::Ok();
                 },
                 0, true});
}

uint64_t SegmentPipeline::SealingBytes() const {
  uint64_t total = 0;
  for (const auto& s : sealing_) total += s->buffered_.load(std::memory_order_relaxed);
  return total;
}

Status SegmentPipeline::Submit(const std::shared_ptr<Segment>& segment, Task task) {
  std::unique_lock<std::mutex> lock(mu_);
  // Back-pressure: wait for room, but never refuse a task when nothing is
  // pending (a block larger than the budget still goes through, alone).
  auto room = [&] {
    // (A seal never waits: it is what frees the buffers waited for.)
    return !error_.ok() || task.bytes == 0 ||
           ((pending_bytes_ == 0 || pending_bytes_ + task.bytes <= max_pending_bytes_) &&
            SealingBytes() <= max_sealing_bytes_);
  };
  while (!space_cv_.wait_for(lock, std::chrono::milliseconds(200), room)) {
    if (wait_tick_) {
      lock.unlock();
      wait_tick_();
      lock.lock();
    }
  }
  if (!error_.ok()) return error_;
  if (task.seal) sealing_.push_back(segment);
  pending_bytes_ += task.bytes;
  ++pending_tasks_;
  segment->tasks_.push_back(std::move(task));
  if (!segment->scheduled_) {
    segment->scheduled_ = true;
    ready_.push_back(segment);
    ready_cv_.notify_one();
  }
  return Status::Ok();
}

void SegmentPipeline::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ready_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping, nothing left
    std::shared_ptr<Segment> segment = std::move(ready_.front());
    ready_.pop_front();
    Task task = std::move(segment->tasks_.front());
    segment->tasks_.pop_front();
    bool skip = !error_.ok();
    lock.unlock();
    Status s = skip ? Status::Ok() : task.run(*segment);
    if (!s.ok()) segment->writer_.reset();  // never committed: the store drops what it holds
    size_t bytes = task.bytes;
    task = Task{};  // frees the block before the lock is taken
    lock.lock();
    if (!s.ok() && error_.ok()) error_ = s;
    pending_bytes_ -= bytes;
    --pending_tasks_;
    if (!segment->tasks_.empty()) {
      ready_.push_back(segment);
      ready_cv_.notify_one();
    } else {
      segment->scheduled_ = false;
      if (!error_.ok()) segment->writer_.reset();
    }
    if (!segment->writer_ && segment->tasks_.empty()) {  // stored or dropped: no longer holds a buffer
      segment->buffered_ = 0;
      std::erase(sealing_, segment);
    }
    space_cv_.notify_all();
  }
}

Status SegmentPipeline::Wait(const std::function<void()>& tick) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!space_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return pending_tasks_ == 0; })) {
    if (tick) {
      lock.unlock();
      tick();
      lock.lock();
    }
  }
  return error_;
}

std::vector<SegmentPipeline::Sealed> SegmentPipeline::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(sealed_);
}

}  // namespace kafka_backup
