// Options every long-running engine (backup, restore, validate) takes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kafka_backup {

// Where a run's data phase stands, as RunOptions::on_progress receives it.
struct ProgressSnapshot {
  std::string label;   // "backup", "restore", "validate"
  std::string note;    // a few words on what it is doing ("storing the last segments"), or empty
  double seconds = 0;  // since the data phase started
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t total_records = 0;  // 0: not known
  struct Topic {
    std::string name;
    uint64_t total = 0;  // records to go through
    uint64_t records = 0;
    uint64_t bytes = 0;
    bool finished = false;                  // declared done, whatever its count
    std::optional<double> started_seconds;  // when its first record was counted
    std::optional<double> done_seconds;     // when it finished, if it did
    bool Done() const { return finished || records >= total; }
  };
  std::vector<Topic> topics;
  bool final = false;  // the last snapshot of the phase
};

struct RunOptions {
  // When set (by a SIGTERM/SIGINT handler), a backup stores what it holds,
  // writes a checkpoint and returns.
  const std::atomic<bool>* stop = nullptr;
  // Asked, with what it would delete, before a step that deletes data in a
  // cluster (restore.on_existing_data: purge); false stops the command
  // (Conflict) before anything is deleted. Unset: go on, the configuration
  // asked for it.
  std::function<bool(const std::string& what)> confirm;
  // Where a run stands, called from the run's thread at most every 200 ms
  // while data moves, and once at the end of its data phase (final). The
  // library draws nothing itself; kafka-backup draws these on a terminal, or
  // logs a line every 30 s. Unset: no progress at all.
  std::function<void(const ProgressSnapshot&)> on_progress;
};

}  // namespace kafka_backup
