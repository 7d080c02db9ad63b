// Options every long-running engine (backup, restore, validate) takes.
#pragma once

#include <atomic>
#include <functional>
#include <string>

namespace kafka_backup {

enum class ProgressDisplay {
  kNone,      // nothing
  kLog,       // a plain log line every 30 s (stdout or stderr is not a terminal)
  kTerminal,  // a redrawn display on stderr: a total bar and one line per topic
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
};

}  // namespace kafka_backup
