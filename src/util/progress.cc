#include "util/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kafka_backup {
namespace {

constexpr size_t kMaxTopicLines = 8;
constexpr size_t kMaxNameWidth = 32;

std::string Bar(uint64_t done, uint64_t total, size_t width) {
  size_t filled = total == 0 ? 0 : static_cast<size_t>(static_cast<double>(std::min(done, total)) / total * width);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

std::string Percent(uint64_t done, uint64_t total) {
  if (total == 0) return "   ";
  return fmt::format("{:3}%", static_cast<int>(static_cast<double>(std::min(done, total)) * 100 / total));
}

std::string Eta(uint64_t done, uint64_t total, double per_sec) {
  if (total == 0 || per_sec <= 0 || done >= total) return "";
  auto left = static_cast<int64_t>(static_cast<double>(total - done) / per_sec);
  if (left >= 3600) return fmt::format("  ETA {}:{:02}:{:02}", left / 3600, left / 60 % 60, left % 60);
  return fmt::format("  ETA {}:{:02}", left / 60, left % 60);
}

double Seconds(Progress::Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string Fit(std::string line, size_t width) {
  if (line.size() > width) line.resize(width);
  return line;
}

size_t TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 100;
}

}  // namespace

Progress::Progress(std::string label, uint64_t total_records, ProgressDisplay display)
    : label_(std::move(label)),
      total_records_(total_records),
      display_(display),
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

size_t Progress::AddTopic(std::string name, uint64_t total_records) {
  topics_.push_back(Topic{std::move(name), total_records});
  return topics_.size() - 1;
}

void Progress::UpdateTopic(size_t topic, uint64_t records, uint64_t bytes) {
  Topic& t = topics_[topic];
  if (t.records == 0 && records > 0) t.first_seen = Clock::now();
  t.records = records;
  t.bytes = bytes;
  if (!t.done_at && t.total > 0 && records >= t.total) t.done_at = Clock::now();
}

void Progress::FinishTopic(size_t topic) {
  Topic& t = topics_[topic];
  t.finished = true;
  if (!t.done_at) t.done_at = Clock::now();
}

bool Progress::Due() const {
  if (display_ == ProgressDisplay::kNone) return false;
  auto interval = display_ == ProgressDisplay::kTerminal ? std::chrono::milliseconds(200) : std::chrono::seconds(30);
  return Clock::now() - last_draw_ >= interval;
}

void Progress::Update(uint64_t records, uint64_t bytes) {
  records_ = records;
  bytes_ = bytes;
  if (observer_ && Clock::now() - last_notified_ >= std::chrono::milliseconds(200)) Notify(false);
  if (!Due()) return;
  last_draw_ = Clock::now();
  Draw();
}

std::vector<std::string> Progress::Render(size_t width, Clock::time_point now) const {
  std::vector<std::string> lines;
  double secs = Seconds(now - start_);
  double rate = secs > 0 ? static_cast<double>(bytes_) / secs : 0;
  double rec_rate = secs > 0 ? static_cast<double>(records_) / secs : 0;
  std::string count = total_records_ > 0 ? fmt::format("{}/{}", records_, total_records_) : std::to_string(records_);
  lines.push_back(Fit(fmt::format("{} {} {}  {} records  {}  {}/s{}", label_, Bar(records_, total_records_, 24),
                                  Percent(records_, total_records_), count, HumanBytes(static_cast<double>(bytes_)),
                                  HumanBytes(rate), Eta(records_, total_records_, rec_rate)) +
                          (note_.empty() ? "" : "  " + note_),
                      width));

  // Unfinished topics first (those moving, then those waiting), then the finished.
  std::vector<const Topic*> order;
  for (const auto& t : topics_) order.push_back(&t);
  auto rank = [](const Topic* t) {
    if (t->Done()) return 2;
    return t->records > 0 ? 0 : 1;
  };
  if (order.size() > kMaxTopicLines) {
    std::stable_sort(order.begin(), order.end(), [&](const Topic* a, const Topic* b) { return rank(a) < rank(b); });
  }
  size_t shown = order.size() > kMaxTopicLines ? kMaxTopicLines - 1 : order.size();
  size_t name_width = 0;
  for (size_t i = 0; i < shown; ++i) name_width = std::max(name_width, std::min(order[i]->name.size(), kMaxNameWidth));
  for (size_t i = 0; i < shown; ++i) {
    const Topic& t = *order[i];
    std::string name = t.name.size() > kMaxNameWidth ? t.name.substr(0, kMaxNameWidth - 3) + "..." : t.name;
    std::string state;
    if (t.Done()) {
      state = fmt::format("done  {} records  {}", t.records, HumanBytes(static_cast<double>(t.bytes)));
    } else if (t.records == 0) {
      state = fmt::format("waiting  {} records", t.total);
    } else {
      double tsecs = Seconds(now - t.first_seen);
      double trate = tsecs > 0 ? static_cast<double>(t.bytes) / tsecs : 0;
      double trec_rate = tsecs > 0 ? static_cast<double>(t.records) / tsecs : 0;
      state = fmt::format("{}/{}  {}/s{}", t.records, t.total, HumanBytes(trate), Eta(t.records, t.total, trec_rate));
    }
    uint64_t done = t.Done() ? 1 : t.records;  // a finished topic shows a full bar
    uint64_t of = t.Done() ? 1 : t.total;
    lines.push_back(
        Fit(fmt::format("  {:<{}} {} {}  {}", name, name_width, Bar(done, of, 12), Percent(done, of), state), width));
  }
  if (shown < order.size()) {
    size_t done = 0;
    for (size_t i = shown; i < order.size(); ++i) done += rank(order[i]) == 2 ? 1 : 0;
    lines.push_back(Fit(fmt::format("  ... {} more topics ({} done)", order.size() - shown, done), width));
  }
  return lines;
}

void Progress::Draw() {
  if (display_ == ProgressDisplay::kLog) {
    auto lines = Render(SIZE_MAX, Clock::now());
    spdlog::info("{}", lines.front());
    return;
  }
  std::string out;
  if (lines_drawn_ > 1) out += fmt::format("\033[{}A", lines_drawn_ - 1);  // back to the block's first line
  out += "\r\033[J";                                                       // and clear it
  auto lines = Render(TerminalWidth() - 1, Clock::now());
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  lines_drawn_ = lines.size();
}

void Progress::Clear() {
  if (lines_drawn_ == 0) return;
  std::string out;
  if (lines_drawn_ > 1) out += fmt::format("\033[{}A", lines_drawn_ - 1);
  out += "\r\033[J";
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  lines_drawn_ = 0;
}

void Progress::Notify(bool final) {
  last_notified_ = Clock::now();
  ProgressSnapshot s;
  s.seconds = Seconds(last_notified_ - start_);
  s.records = records_;
  s.bytes = bytes_;
  s.total_records = total_records_;
  s.final = final;
  for (const auto& t : topics_) {
    std::optional<double> done;
    if (t.done_at) done = Seconds(*t.done_at - start_);
    s.topics.push_back({t.name, t.records, t.bytes, done});
  }
  observer_(s);
}

void Progress::Finish() {
  Clear();
  if (observer_ && !notified_final_) {
    notified_final_ = true;
    Notify(true);
  }
}

}  // namespace kafka_backup
