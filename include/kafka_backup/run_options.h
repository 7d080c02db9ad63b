// Options every long-running engine (backup, restore, validate) takes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kafka_backup {

enum class ProgressDisplay {
  kNone,      // nothing
  kLog,       // a plain log line every 30 s (stdout or stderr is not a terminal)
  kTerminal,  // a redrawn display on stderr: a total bar and one line per topic
};

// Where a run's data phase stands, as RunOptions::on_progress receives it.
struct ProgressSnapshot {
  double seconds = 0;  // since the data phase started
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t total_records = 0;  // 0: not known
  struct Topic {
    std::string name;
    uint64_t records = 0;
    uint64_t bytes = 0;
    std::optional<double> done_seconds;  // when it finished, if it did
  };
  std::vector<Topic> topics;
  bool final = false;  // the last snapshot of the phase
};

struct RunOptions {
  ProgressDisplay progress = ProgressDisplay::kLog;
  // When set (by a SIGTERM/SIGINT handler), a backup stores what it holds,
  // writes a checkpoint and returns.
  const std::atomic<bool>* stop = nullptr;
  // Asked, with what it would delete, before a step that deletes data in a
  // cluster (restore.on_existing_data: purge); false stops the command
  // (Conflict) before anything is deleted. Unset: go on, the configuration
  // asked for it.
  std::function<bool(const std::string& what)> confirm;
  // Called from the run's thread at most every 200 ms while data moves, and
  // once at the end of the data phase (final), whatever `progress` says.
  std::function<void(const ProgressSnapshot&)> on_progress;
};

}  // namespace kafka_backup
