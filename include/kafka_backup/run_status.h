// The status a backup run writes as it goes (docs/format/manifest.md, "Run
// status"), as BackupCatalog::ReadRunStatus returns it, and the liveness rule
// `status`, `prune` and the run lease share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kafka_backup {

// What a backup run has done so far, or what the last run did
// (docs/format/manifest.md, "Run status"). Informational: a restore trusts
// only the manifest.
struct RunStatus {
  std::string backup_id;
  // "running"; "completed" (committed), "failed", "stopped" (a continuous
  // run ended by SIGTERM, checkpointed) or "interrupted" (a one-shot run
  // stopped before its end, checkpointed: running it again resumes).
  std::string state;
  std::string host;
  int64_t pid = 0;
  std::string tool_version;
  int64_t started_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t finished_at_ms = 0;      // 0 while running
  int64_t last_checkpoint_ms = 0;  // the last commit point (a one-shot backup: its manifest); 0 if none yet
  int update_interval_secs = 0;    // how often a running backup rewrites this document
  std::string error;               // "failed": what stopped it
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t stored_bytes = 0;
  uint64_t segments = 0;  // segments stored
  struct Topic {
    std::string name;
    int32_t partitions = 0;
    uint64_t records = 0;  // read by this run
    uint64_t bytes = 0;    // record payload bytes read
    int64_t lag = 0;       // offsets still to read up to the run's cut
  };
  std::vector<Topic> topics;
};

// The liveness rule `status`, `prune` and the run lease share: a run is
// presumed alive while its last update is no older than twice its update
// interval plus a minute.
inline int64_t LivenessWindowSecs(int64_t update_interval_secs) {
  return 2 * update_interval_secs + 60;
}
// True when `s` says "running" and it was updated within that window.
inline bool RunningAndFresh(const RunStatus& s, int64_t now_ms) {
  return s.state == "running" && now_ms - s.updated_at_ms <= LivenessWindowSecs(s.update_interval_secs) * 1000;
}
// Says "running" but has not been updated within the window: the process has
// probably died.
inline bool RunIsStale(const RunStatus& s, int64_t now_ms) {
  return s.state == "running" && !RunningAndFresh(s, now_ms);
}

}  // namespace kafka_backup
