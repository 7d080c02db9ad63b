// Options every long-running engine (backup, restore, validate) takes.
#pragma once

namespace kafka_backup {

enum class ProgressDisplay {
  kNone,      // nothing
  kLog,       // a plain log line every 30 s (stdout or stderr is not a terminal)
  kTerminal,  // a redrawn display on stderr: a total bar and one line per topic
};

struct RunOptions {
  ProgressDisplay progress = ProgressDisplay::kLog;
};

}  // namespace kafka_backup
