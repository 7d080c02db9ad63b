#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kafka_backup {

using Clock = std::chrono::steady_clock;

Progress::Progress(std::string label, uint64_t total_records, bool enabled)
    : label_(std::move(label)),
      total_records_(total_records),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_draw_(Clock::now()) {}

Progress::~Progress() {
  Finish();
}

std::string Progress::HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.1f} {}", bytes, units[u]);
}

void Progress::Update(uint64_t records, uint64_t bytes) {
  records_ = records;
  bytes_ = bytes;
  if (!enabled_) return;
  auto now = Clock::now();
  auto interval = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(30000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  Draw(false);
}

void Progress::Draw(bool final) {
  double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(bytes_) / secs : 0;
  double rec_rate = secs > 0 ? static_cast<double>(records_) / secs : 0;
  std::string eta;
  if (total_records_ > 0 && rec_rate > 0 && records_ < total_records_) {
    auto left = static_cast<int64_t>(static_cast<double>(total_records_ - records_) / rec_rate);
    eta = fmt::format("  ETA {}:{:02}", left / 60, left % 60);
  }
  std::string total = total_records_ > 0 ? fmt::format("/{}", total_records_) : "";
  std::string line = fmt::format("{}: {}{} records  {}  {}/s{}", label_, records_, total,
                                 HumanBytes(static_cast<double>(bytes_)), HumanBytes(rate), eta);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else if (!final) {
    spdlog::info("{}", line);
  }
}

void Progress::Finish() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace kafka_backup
