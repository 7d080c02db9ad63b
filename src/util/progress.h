// Progress of a long operation (backup, restore, validate), counted by the
// engine and handed as a ProgressSnapshot to RunOptions::on_progress: at most
// every 200 ms while data moves, when a note changes, and once at the end
// (final). The library draws nothing: the command line draws the snapshots
// (src/cli/progress_display.h). Used from one thread.
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

  // `total_records` may be 0 when unknown. Without options.on_progress every
  // call is a few loads and stores.
  Progress(std::string label, uint64_t total_records, const RunOptions& options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Declares a topic; returns its index for UpdateTopic.
  size_t AddTopic(std::string name, uint64_t total_records);
  // Per-topic counts; cheap (stores them), sent with the next snapshot.
  void UpdateTopic(size_t topic, uint64_t records, uint64_t bytes);
  // Marks a topic finished, whatever its count (a time window may select fewer).
  void FinishTopic(size_t topic);
  // The totals; a snapshot when one is due (one clock read otherwise).
  void Update(uint64_t records, uint64_t bytes);
  // True when the next Update sends a snapshot: callers whose per-topic
  // counts cost something to gather ask first.
  bool Due() const;
  // A few words shown after the totals ("storing the last segments"); sent at once.
  void SetNote(std::string note);
  // The final snapshot (once; the destructor calls it too).
  void Finish();

  static std::string HumanBytes(double bytes);

 private:
  struct Topic {
    std::string name;
    uint64_t total = 0;
    uint64_t records = 0;
    uint64_t bytes = 0;
    std::optional<Clock::time_point> first_seen{};  // when its first record was counted
    std::optional<Clock::time_point> done_at{};
    bool finished = false;
  };
  void Notify(bool final);

  std::string label_;
  std::string note_;
  uint64_t total_records_;
  std::function<void(const ProgressSnapshot&)> observer_;
  std::vector<Topic> topics_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  Clock::time_point start_;
  Clock::time_point last_notified_{};
  bool finished_ = false;
};

}  // namespace kafka_backup
