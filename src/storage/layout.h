// Object keys of a backup, built and parsed only here
// (docs/format/manifest.md, "Keys").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kafka_backup/status.h"

namespace kafka_backup::storage::layout {

inline constexpr std::string_view kManifestPrefix = "manifests/";
inline constexpr std::string_view kManifestSuffix = ".json";

// "manifests/production-20261125T105538Z.json"
std::string ManifestKey(std::string_view backup_id);
// "data/production-20261125T105538Z/" — every segment of a backup is under it.
std::string DataPrefix(std::string_view backup_id);
// True for a segment key a backup's own run stored (under its DataPrefix);
// an incremental backup's manifest also lists segments of its ancestors.
bool IsOwnSegment(std::string_view backup_id, std::string_view key);
// "data/production-20261125T105538Z/orders/3/00000000000000001000.kbseg"
std::string SegmentKey(std::string_view backup_id, std::string_view topic, int32_t partition, int64_t first_offset);
// "restores/production-20261125T105538Z/" — every restore of that backup is under it.
std::string RestorePrefix(std::string_view backup_id);
// "restores/production-20261125T105538Z/dr-20261125T120000Z/offset-map.json"
std::string OffsetMapKey(std::string_view backup_id, std::string_view restore_id);
// True for a key OffsetMapKey builds (not the parts or snapshots beside it).
bool IsOffsetMapKey(std::string_view key);

// "restores/<backup_id>/<restore_id>/parts/" — offset-map parts of transactions in progress.
std::string OffsetMapPartsPrefix(std::string_view backup_id, std::string_view restore_id);
// "restores/<backup_id>/<restore_id>/parts/0000000042.json"
std::string OffsetMapPartKey(std::string_view backup_id, std::string_view restore_id, uint64_t sequence);
// "restores/<backup_id>/<restore_id>/offset-snapshots/" — what offset-reset execute found, for offset-rollback.
std::string OffsetSnapshotPrefix(std::string_view backup_id, std::string_view restore_id);
// "restores/<backup_id>/<restore_id>/offset-snapshots/<snapshot_id>.json"
std::string OffsetSnapshotKey(std::string_view backup_id, std::string_view restore_id, std::string_view snapshot_id);

// "index/catalog.json" — the catalog index (format/catalog_index.h); never a commit point.
std::string CatalogIndexKey();

// "status/production-20261125T105538Z.json" — the backup run's status document.
std::string RunStatusKey(std::string_view backup_id);
// "status/_latest.json" — a copy of the status most recently written by any run.
std::string LatestRunStatusKey();

inline constexpr std::string_view kCheckpointPrefix = "checkpoints/";
// "checkpoints/production-20261125T105538Z/" — the backup's checkpoint journal.
std::string CheckpointPrefix(std::string_view backup_id);
// "checkpoints/production-20261125T105538Z/0000000042.json"
std::string CheckpointKey(std::string_view backup_id, uint64_t sequence);
// The backup id and sequence of a checkpoint key, or nullopt if the key is not one.
std::optional<std::pair<std::string, uint64_t>> ParseCheckpointKey(std::string_view key);

inline constexpr std::string_view kLeasePrefix = "leases/";
// "leases/production-20261125T105538Z/" — the run leases of a backup id.
std::string LeasePrefix(std::string_view backup_id);
// "leases/production-20261125T105538Z/0000000003.json" — generation 3.
std::string LeaseKey(std::string_view backup_id, uint64_t generation);
// The generation of a key under LeasePrefix, or nullopt if the key is not one.
std::optional<uint64_t> ParseLeaseGeneration(std::string_view backup_id, std::string_view key);

// Restore drills (docs/drills.md): their evidence, and the marker of a drill
// still running (its scratch topics and groups), so the next drill removes
// what a killed one left. Owned by no backup: prune leaves them.
inline constexpr std::string_view kDrillPrefix = "drills/";
std::string DrillReportKey(std::string_view backup_id, std::string_view drill_id);
std::string DrillPendingKey(std::string_view backup_id, std::string_view drill_id);
std::string DrillHtmlKey(std::string_view backup_id, std::string_view drill_id);
inline constexpr std::string_view kDrillPendingSuffix = ".pending.json";

inline constexpr std::string_view kDataPrefix = "data/";
inline constexpr std::string_view kRunStatusPrefix = "status/";
inline constexpr std::string_view kRestorePrefix = "restores/";
// The backup a key of the layout belongs to: "data/<id>/...",
// "checkpoints/<id>/...", "restores/<id>/...", "status/<id>.json",
// "manifests/<id>.json"; nullopt for any other key (status/_latest.json).
std::optional<std::string> OwnerBackupId(std::string_view key);

// The backup id of a manifest key, or nullopt if the key is not one.
std::optional<std::string> BackupIdFromManifestKey(std::string_view key);

// OK if `id` may name a backup: [A-Za-z0-9][A-Za-z0-9._-]*, at most 200
// characters, not "latest".
Status ValidateBackupId(std::string_view id);

}  // namespace kafka_backup::storage::layout
