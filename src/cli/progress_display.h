// How kafka-backup shows an engine's progress (RunOptions::on_progress).
//
// On a terminal (kTerminal) each snapshot redraws a block on stderr: a total
// bar with records, bytes, rate and ETA, then one line per topic with its own
// bar, rate and ETA (the unfinished ones first when there are more than fit);
// the final snapshot clears it, before the command prints its summary.
// Otherwise (kLog) a plain log line with the totals every 30 s, so logs stay
// quiet and machine-readable.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "kafka_backup/run_options.h"

namespace kafka_backup::cli {

enum class ProgressDisplay {
  kNone,      // nothing (--no-progress)
  kLog,       // a plain log line every 30 s (stdout or stderr is not a terminal)
  kTerminal,  // a redrawn display on stderr: a total bar and one line per topic
};

class ProgressDisplayer {
 public:
  explicit ProgressDisplayer(ProgressDisplay display) : display_(display) {}
  ~ProgressDisplayer();
  ProgressDisplayer(const ProgressDisplayer&) = delete;
  ProgressDisplayer& operator=(const ProgressDisplayer&) = delete;

  void Show(const ProgressSnapshot& snapshot);

  // The lines the terminal display shows for `s`, `width` columns at most each.
  static std::vector<std::string> Render(const ProgressSnapshot& s, size_t width);

 private:
  void Draw(const ProgressSnapshot& s);
  void Clear();

  ProgressDisplay display_;
  size_t lines_drawn_ = 0;
  std::chrono::steady_clock::time_point last_log_ = std::chrono::steady_clock::now();
};

// The on_progress that draws with `display` (unset for kNone).
std::function<void(const ProgressSnapshot&)> ProgressDrawer(ProgressDisplay display);

}  // namespace kafka_backup::cli
