// What a storage root holds: the committed backups (their manifests) and the
// records of their segments. Shared by restore, validate, list and describe,
// so that every reader of a backup goes through the same checks.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "format/catalog_index.h"
#include "format/checkpoint.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/run_status.h"
#include "format/segment.h"
#include "kafka_backup/status.h"
#include "storage/object_store.h"

namespace kafka_backup::catalog {

// A backup whose manifest or checkpoint journal cannot be read (truncated,
// overwritten, not a manifest): it is listed as damaged, never "latest" and
// never a parent, and every other backup stays readable.
struct DamagedBackup {
  std::string backup_id;
  Status reason;  // Corruption naming the object
};

// Every backup of a storage root, readable or not.
struct Listing {
  std::vector<format::Manifest> backups;  // sorted by id
  std::vector<DamagedBackup> damaged;     // sorted by id
};

// The committed backups as the catalog index records them.
struct CommittedBackups {
  std::vector<format::IndexEntry> backups;  // readable manifests, sorted by id
  std::vector<DamagedBackup> damaged;       // sorted by id
};

class Catalog {
 public:
  explicit Catalog(storage::ObjectStore& store) : store_(store) {}

  // Ids of the backups stored: committed ones and those with only a
  // checkpoint journal (running, interrupted or continuous), sorted by name.
  Result<std::vector<std::string>> BackupIds();
  // "latest" resolves to the committed or continuous backup whose last commit
  // or checkpoint is newest (an interrupted one-shot run is never "latest";
  // a damaged one is skipped with a warning naming it); any other id must
  // exist, damaged or not (LoadManifest then says what is wrong). NotFound
  // lists the ids that do.
  Result<std::string> Resolve(const std::string& id_or_latest);
  // The committed manifest, else the backup as its checkpoint journal
  // describes it (manifest.state says which).
  Result<format::Manifest> LoadManifest(const std::string& backup_id);
  // Every backup; only storage failures (unavailable, access refused) fail
  // it, damage is reported per backup.
  Result<Listing> LoadAll();
  // Ids of the committed backups (those with a manifest), sorted by name.
  Result<std::vector<std::string>> CommittedIds();
  // Every committed backup through the catalog index: a listing of the
  // manifests and one read of the index, plus a read of each manifest the
  // index lacks or holds at another size. A stale index is written again
  // (best effort: without write access the next reader pays the same reads).
  Result<CommittedBackups> LoadCommitted();

  storage::ObjectStore& store() { return store_; }

 private:
  storage::ObjectStore& store_;
};

// Adds a manifest just committed to the catalog index (best effort: the next
// reader adds what is missing).
void RecordCommitted(storage::ObjectStore& store, const format::Manifest& manifest, uint64_t manifest_size);

// The checkpoint journal of a backup (format/checkpoint.h): its newest base
// entry with the deltas after it applied. NotFound if it has none.
Result<format::Journal> LoadJournal(storage::ObjectStore& store, const std::string& backup_id);

// What a backup run did: its run status document (status/<id>.json), or for
// "latest" the one written most recently by any run. A committed backup
// without one (written by an older version) is described from its manifest.
// `from_manifest` tells which.
Result<format::RunStatus> LoadRunStatus(storage::ObjectStore& store, const std::string& id_or_latest,
                                        bool* from_manifest);

// The offset map of restore `restore_id` of a backup; with an empty id, the
// newest restore of it. NotFound says the backup was not restored yet.
Result<format::OffsetMap> LoadOffsetMap(storage::ObjectStore& store, const std::string& backup_id,
                                        const std::string& restore_id);

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
