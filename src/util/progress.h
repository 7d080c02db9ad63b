// Progress of a long operation. On a terminal (stderr is a TTY) it redraws
// one status line at most every 200 ms: records, bytes, rate and ETA. When
// stderr is not a terminal it writes a plain log line every 30 s, so logs
// stay quiet and machine-readable. Used from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kafka_backup {

class Progress {
 public:
  // `total_records` may be 0 when unknown (no ETA then).
  Progress(std::string label, uint64_t total_records, bool enabled = true);
  ~Progress();

  void Update(uint64_t records, uint64_t bytes);
  // Clears the status line; call before printing a summary.
  void Finish();

  static std::string HumanBytes(double bytes);

 private:
  void Draw(bool final);

  std::string label_;
  uint64_t total_records_;
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace kafka_backup
