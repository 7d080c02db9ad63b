// Compresses blocks and stores segments on worker threads, so that the thread
// reading Kafka only encodes records.
//
// Each open segment is a queue of tasks (encode a block and stream it to the
// store; seal: write the index, commit the object) that run in order, one at a
// time; different segments run in parallel on the workers. Memory is bounded:
// Submit waits while more than `max_pending_bytes` of raw blocks are queued,
// or while segments sealed but not yet stored hold more than
// `max_sealing_bytes` in their object writers (a slow store slows the reading
// instead of filling memory); an object writer holds at most one part (see
// storage::OpenWriter).
// After the first failure every queued task is dropped (its object is never
// committed) and every later call returns that failure.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "format/manifest.h"
#include "format/segment.h"
#include "storage/object_store.h"

namespace kafka_backup {

class SegmentPipeline {
 public:
  class Segment;

  // A segment stored and committed: where it belongs and what it holds.
  struct Sealed {
    std::string topic;
    int32_t partition = 0;
    format::SegmentRef ref;
    format::SegmentSummary summary;
  };

  SegmentPipeline(storage::ObjectStore& store, format::Codec codec, int level, int threads, size_t max_pending_bytes,
                  size_t max_sealing_bytes = 64u << 20);
  ~SegmentPipeline();  // drops what is queued and joins the workers
  SegmentPipeline(const SegmentPipeline&) = delete;
  SegmentPipeline& operator=(const SegmentPipeline&) = delete;

  // Starts the segment object `key` (nothing is stored until its first block).
  std::shared_ptr<Segment> Open(std::string key, std::string topic, int32_t partition);
  // Queues a block for `segment`, after its earlier blocks.
  Status Add(const std::shared_ptr<Segment>& segment, format::RawBlock&& block);
  // Queues the end of `segment`: the index and trailer are written and the
  // object committed; then it appears in Take().
  Status Seal(const std::shared_ptr<Segment>& segment, const format::SegmentSummary& summary);

  // Bytes `segment` has stored or holds in flight (compressed blocks so far,
  // raw blocks still queued): what its size limit is compared with.
  static uint64_t EstimatedSize(const Segment& segment);
  // Bytes its object writer holds in memory waiting for an upload.
  static uint64_t Buffered(const Segment& segment);

  // Called every 200 ms while Add or Seal wait for room (a slow store), on
  // the waiting thread, with no lock held: a caller whose only thread is the
  // one submitting keeps its periodic work (checkpoints) going. Set before
  // the first Add.
  void SetWaitTick(std::function<void()> tick) { wait_tick_ = std::move(tick); }
  // Segments opened afterwards are encrypted with `key` (each with a data key
  // of its own, wrapped with it: docs/format/segment.md, "Encryption"). Set
  // before the first Open.
  void SetEncryptionKey(const format::EncryptionKey& key) { key_ = key; }

  // Waits until every queued task has run; the first failure, if any.
  // `tick`, when given, is called every 200 ms while waiting.
  Status Wait(const std::function<void()>& tick = {});
  // The segments sealed since the last call, in no particular order.
  std::vector<Sealed> Take();

 private:
  struct Task {
    std::function<Status(Segment&)> run;
    size_t bytes = 0;   // raw bytes the task holds, counted against the budget
    bool seal = false;  // the segment's last task: it commits the object
  };
  Status Submit(const std::shared_ptr<Segment>& segment, Task task);
  void Work();

  storage::ObjectStore& store_;
  format::Codec codec_;
  int level_;
  std::optional<format::EncryptionKey> key_;
  size_t max_pending_bytes_;
  size_t max_sealing_bytes_;
  std::function<void()> wait_tick_;

  std::mutex mu_;
  std::condition_variable ready_cv_;  // a segment has a task, or stopping
  std::condition_variable space_cv_;  // pending bytes went down, or a task finished
  std::deque<std::shared_ptr<Segment>> ready_;
  size_t pending_bytes_ = 0;
  size_t pending_tasks_ = 0;
  Status error_;
  bool stopping_ = false;
  std::vector<Sealed> sealed_;
  std::vector<std::shared_ptr<Segment>> sealing_;  // a Seal queued or running
  uint64_t SealingBytes() const;                   // their writers' buffers; under mu_
  std::vector<std::thread> workers_;
};

class SegmentPipeline::Segment {
 public:
  Segment(std::string key, std::string topic, int32_t partition, format::Codec codec, int level,
          const format::EncryptionKey* encryption_key)
      : key_(std::move(key)),
        topic_(std::move(topic)),
        partition_(partition),
        encoder_(topic_, partition, codec, level, encryption_key) {}

 private:
  friend class SegmentPipeline;
  std::string key_;
  std::string topic_;
  int32_t partition_;
  format::SegmentEncoder encoder_;                 // workers only, one at a time
  std::unique_ptr<storage::ObjectWriter> writer_;  // workers only, one at a time
  std::deque<Task> tasks_;                         // guarded by the pipeline's mu_
  bool scheduled_ = false;                         // in ready_ or running; guarded by mu_
  std::atomic<uint64_t> stored_{0};
  std::atomic<uint64_t> queued_raw_{0};
  std::atomic<uint64_t> buffered_{0};
};

}  // namespace kafka_backup
