// Reads one partition's segments on a thread of its own, a bounded number of
// bytes ahead of the restore that consumes them.
//
// The restore keeps several of these open and takes a chunk from each in
// turn, so the producer holds records of several partitions at once and each
// ProduceRequest carries batches for several of them (one partition at a time
// costs librdkafka's producer thread ~40% more CPU per GB, bench/RESULTS.md),
// and the storage reads of one partition overlap the producing of the others.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "format/encryption.h"
#include "format/manifest.h"
#include "format/segment.h"
#include "kafka_backup/status.h"
#include "storage/object_store.h"

namespace kafka_backup::restore {

// Told, on the reader's thread, of damage in `segment`; as catalog::DamageHandler.
using SegmentDamageHandler = std::function<Status(const format::SegmentRef& segment, const catalog::SegmentDamage&)>;

struct PartitionReadPlan {
  std::vector<const format::SegmentRef*> segments;  // in offset order; outlive the reader
  catalog::RecordFilter filter;
  SegmentDamageHandler on_damage;  // empty: the first damage ends the read with its error
  const format::EncryptionKey* key = nullptr;
  uint64_t max_ranged_read = catalog::kDefaultMaxRangedRead;  // see catalog::ReadSegment
};

class PartitionReader {
 public:
  // Starts reading at once. At most `max_buffered_bytes` of record payload
  // wait in the queue (plus the chunk being filled).
  PartitionReader(storage::ObjectStore& store, PartitionReadPlan plan, uint64_t max_buffered_bytes);
  // Stops the read and joins its thread.
  ~PartitionReader();
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  // Records read in place, and the blocks that keep their bytes: the only
  // copy of a record on its way to Kafka is the producer's.
  struct Chunk {
    std::vector<format::RecordView> records;                          // the next ones, in offset order
    std::vector<std::shared_ptr<const format::DecodedBlock>> blocks;  // every block they point into
    uint64_t payload_bytes = 0;                                       // Record::PayloadBytes summed
    uint64_t bytes_fetched = 0;                                       // storage bytes read for them
    bool last = false;                                                // nothing follows
  };
  // Waits for the next chunk. The read's error, if it failed, comes after
  // every record read before it.
  Result<Chunk> Next();

 private:
  void Run();
  // Queues `pending_`; false once the reader is stopped.
  bool Push(bool last);

  storage::ObjectStore& store_;
  const PartitionReadPlan plan_;
  const uint64_t max_buffered_bytes_;

  Chunk pending_;  // filled on the reader's thread
  uint64_t pending_bytes_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  uint64_t queued_bytes_ = 0;
  bool finished_ = false;  // the reader pushed its last chunk, or failed
  Status status_;          // why it failed
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kafka_backup::restore
