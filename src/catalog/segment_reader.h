// Reading the records of one stored segment (docs/format/segment.md): ranged
// GETs of the trailer, the index and only the blocks a filter may match, every
// check of the format applied, and damage reported to a handler that may go on
// past it. Restore, validate and the drill read every record through here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "format/manifest.h"
#include "format/segment.h"
#include "kafka_backup/status.h"
#include "storage/object_store.h"

namespace kafka_backup::catalog {

// Which records to read from a segment. Bounds are inclusive.
struct RecordFilter {
  std::optional<int64_t> min_offset;
  std::optional<int64_t> max_offset;
  std::optional<int64_t> min_timestamp;
  std::optional<int64_t> max_timestamp;

  bool BlockMayMatch(const format::BlockInfo& b) const;
  bool Matches(const format::RecordView& r) const;
};

struct ReadStats {
  uint64_t blocks_read = 0;
  uint64_t blocks_skipped = 0;
  uint64_t bytes_fetched = 0;
};

// Damage found in a segment: what is wrong, and which records it costs.
struct SegmentDamage {
  Status status;          // Corruption naming the object, the byte position and the offsets
  uint64_t position = 0;  // where in the object the unreadable part starts
  // The offsets (inclusive) the unreadable records lie in and how many the
  // index or the manifest records there. records == 0: the damage costs no
  // record (a damaged index or trailer, every block read without it).
  int64_t first_offset = 0;
  int64_t last_offset = -1;
  uint64_t records = 0;
};
// Told of each damage; a non-OK return stops the read with that status.
using DamageHandler = std::function<Status(const SegmentDamage&)>;

// Adjacent wanted blocks are fetched together up to this many bytes.
inline constexpr uint64_t kDefaultMaxRangedRead = uint64_t{8} << 20;

// Reads the records of one segment with ranged GETs: trailer and index
// first, then only the blocks the filter may match (adjacent ones in one GET
// of up to `max_ranged_read` bytes, or one block, whichever is larger). Every check of
// docs/format/segment.md is applied. The sink sees a block's records only
// once the whole block has passed its checks.
//
// Without `on_damage`, the first damage is returned: Corruption naming the
// object, the byte position and the offsets of the block. With it, each
// damage is reported there and the read goes on (docs/format/segment.md,
// "Damaged segments"): a corrupt block is skipped whole; a missing segment,
// or one whose header cannot be read, is one damage covering all its
// records; a segment whose trailer or index cannot be read (truncated,
// overwritten) is read block by block from its start, and everything after
// the first block that fails is one damage. Failures that are not about the
// stored bytes (storage unavailable, access refused) are returned either way.
//
// An encrypted segment is read with `key` (catalog/keys.h): without one the
// read fails with InvalidArgument, with another key (its id differs) with
// Auth; neither is damage. A block or a wrapped data key that fails its
// authentication tag is damage, like a checksum failure.
Status ReadSegment(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                   const std::function<Status(format::Record&&)>& sink, ReadStats* stats = nullptr,
                   const DamageHandler& on_damage = {}, const format::EncryptionKey* key = nullptr,
                   uint64_t max_ranged_read = kDefaultMaxRangedRead);

// Told of each record read in place, and of the block it was decoded from:
// its bytes are valid during the call, or while a copy of `block` is kept
// (format::BlockDecoder::Hold).
using RecordViewSink =
    std::function<Status(const format::RecordView& record, const std::shared_ptr<const format::DecodedBlock>& block)>;
// ReadSegment without a copy of each record, for readers that look at the
// records (validate) or keep their blocks (the restore): the same reads and
// checks.
Status ReadSegmentViews(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                        const RecordViewSink& sink, ReadStats* stats = nullptr, const DamageHandler& on_damage = {},
                        const format::EncryptionKey* key = nullptr, uint64_t max_ranged_read = kDefaultMaxRangedRead);

}  // namespace kafka_backup::catalog
