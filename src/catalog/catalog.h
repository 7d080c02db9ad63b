// What a storage root holds: the committed backups (their manifests) and the
// records of their segments. Shared by restore, validate, list and describe,
// so that every reader of a backup goes through the same checks.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/segment_reader.h"
#include "format/catalog_index.h"
#include "format/checkpoint.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/run_status.h"
#include "kafka_backup/catalog.h"
#include "kafka_backup/status.h"
#include "storage/object_store.h"

namespace kafka_backup::catalog {

// A backup whose manifest or checkpoint journal cannot be read
// (kafka_backup/catalog.h).
using ::kafka_backup::DamagedBackup;

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

// The segments a backup's own run stored (storage::layout::IsOwnSegment), and
// their bytes; the rest of what its manifest lists is inherited from earlier
// backups (an incremental one).
uint64_t OwnSegments(const format::Manifest& manifest);
uint64_t OwnStoredBytes(const format::Manifest& manifest);

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

}  // namespace kafka_backup::catalog
