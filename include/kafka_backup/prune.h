// Retention: `prune` applies a retention policy (kafka_backup/config.h,
// RetentionConfig) to a storage location and deletes what it drops, by mark
// and sweep (docs/retention.md): the manifests of the committed backups the
// policy prunes first (the commit point: from then on they are gone), then
// every object under data/ that no kept, partial or continuous backup
// references, then the pruned backups' run status, checkpoint leftovers and
// restore offset maps. A crash at any step leaves garbage the next prune
// sweeps, never a manifest naming a missing object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

struct PruneOptions {
  RetentionConfig policy;
  bool dry_run = false;  // plan only: delete nothing
};

struct PruneBackup {
  std::string backup_id;
  std::string state;  // committed, partial, continuous; orphan: objects of a backup with no manifest nor journal
  int64_t created_at_ms = 0;  // 0 for an orphan
  bool keep = false;
  std::vector<std::string> reasons;  // the rules that keep it, or why it goes (retention/policy.h)
  // What goes (pruned and orphans): its manifest, its data objects no kept
  // backup references, its run status, checkpoint leftovers and restores.
  uint64_t objects = 0;
  uint64_t bytes = 0;
  // Its data objects that stay because a kept backup references them.
  uint64_t referenced_objects = 0;
  uint64_t referenced_bytes = 0;
};

struct PruneReport {
  std::string storage;  // the URL
  bool dry_run = false;
  // Committed, partial and continuous backups newest first, then orphans by id.
  std::vector<PruneBackup> backups;
  uint64_t pruned = 0;   // committed backups pruned
  uint64_t orphans = 0;  // orphan ids swept
  uint64_t objects = 0;  // deleted (a dry run: would be)
  uint64_t bytes = 0;
  uint64_t referenced_objects = 0;  // of pruned backups and orphans, kept because referenced
  uint64_t referenced_bytes = 0;
};

// InvalidArgument when the policy has no rule. Storage errors stop the run
// where they happen (what is already deleted stays deleted; run it again).
// Corruption when a manifest or journal cannot be read: what it references
// is unknown, so nothing is deleted.
Result<PruneReport> RunPrune(const std::string& storage_url, const PruneOptions& options);

}  // namespace kafka_backup
