// Progress of a long operation (backup, restore, validate).
//
// On a terminal (ProgressDisplay::kTerminal) it redraws, at most every 200 ms,
// a block on stderr: a total bar with records, bytes, rate and ETA, then one
// line per topic with its own bar, rate and ETA (the unfinished ones first
// when there are more than fit). Otherwise (kLog) it writes a plain log line
// with the totals every 30 s, so logs stay quiet and machine-readable.
// Used from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kafka_backup/run_options.h"

namespace kafka_backup {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  // `total_records` may be 0 when unknown (no bar or ETA then).
  Progress(std::string label, uint64_t total_records, ProgressDisplay display);
  // Drawn as options.progress says, and handed to options.on_progress.
  Progress(std::string label, uint64_t total_records, const RunOptions& options)
      : Progress(std::move(label), total_records, options.progress) {
    observer_ = options.on_progress;
  }
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Also hands the figures to `observer` (RunOptions::on_progress), when set.
  void Observe(std::function<void(const ProgressSnapshot&)> observer) { observer_ = std::move(observer); }
  // Declares a topic line; returns its index for UpdateTopic.
  size_t AddTopic(std::string name, uint64_t total_records);
  // Per-topic counts; cheap (stores them), drawn at the next Update that is due.
  void UpdateTopic(size_t topic, uint64_t records, uint64_t bytes);
  // Marks a topic finished, whatever its count (a time window may select fewer).
  void FinishTopic(size_t topic);
  // The totals. Cheap when no redraw is due (one clock read).
  void Update(uint64_t records, uint64_t bytes);
  // True when the next Update would redraw: callers whose per-topic counts
  // cost something to gather ask first.
  bool Due() const;
  // A few words after the total line's figures ("storing the last segments").
  void SetNote(std::string note) { note_ = std::move(note); }
  // Clears the display; call before printing a summary.
  void Finish();

  static std::string HumanBytes(double bytes);
  // The lines the terminal display shows, `width` columns at most each.
  std::vector<std::string> Render(size_t width, Clock::time_point now) const;

 private:
  struct Topic {
    std::string name;
    uint64_t total = 0;
    uint64_t records = 0;
    uint64_t bytes = 0;
    Clock::time_point first_seen{};  // when its first record was counted
    std::optional<Clock::time_point> done_at{};
    bool finished = false;
    bool Done() const { return finished || records >= total; }
  };
  void Draw();
  void Clear();
  void Notify(bool final);

  std::string label_;
  std::string note_;
  uint64_t total_records_;
  ProgressDisplay display_;
  std::vector<Topic> topics_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  size_t lines_drawn_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  std::function<void(const ProgressSnapshot&)> observer_;
  Clock::time_point last_notified_;
  bool notified_final_ = false;
};

}  // namespace kafka_backup
