#include "progress_display.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kafka_backup/text.h"

namespace kafka_backup::cli {
namespace {

constexpr size_t kMaxTopicLines = 8;
constexpr size_t kMaxNameWidth = 32;
constexpr auto kLogInterval = std::chrono::seconds(30);

using Topic = ProgressSnapshot::Topic;

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

std::string Fit(std::string line, size_t width) {
  if (line.size() > width) line.resize(width);
  return line;
}

size_t TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 100;
}

std::string TopicState(const Topic& t, double now) {
  if (t.Done()) return fmt::format("done  {} records  {}", t.records, HumanBytes(static_cast<double>(t.bytes)));
  if (t.records == 0) return fmt::format("waiting  {} records", t.total);
  double secs = now - t.started_seconds.value_or(0);
  double rate = secs > 0 ? static_cast<double>(t.bytes) / secs : 0;
  double rec_rate = secs > 0 ? static_cast<double>(t.records) / secs : 0;
  return fmt::format("{}/{}  {}/s{}", t.records, t.total, HumanBytes(rate), Eta(t.records, t.total, rec_rate));
}

}  // namespace

std::vector<std::string> ProgressDisplayer::Render(const ProgressSnapshot& s, size_t width) {
  std::vector<std::string> lines;
  double secs = s.seconds;
  double rate = secs > 0 ? static_cast<double>(s.bytes) / secs : 0;
  double rec_rate = secs > 0 ? static_cast<double>(s.records) / secs : 0;
  std::string count =
      s.total_records > 0 ? fmt::format("{}/{}", s.records, s.total_records) : std::to_string(s.records);
  lines.push_back(Fit(fmt::format("{} {} {}  {} records  {}  {}/s{}", s.label, Bar(s.records, s.total_records, 24),
                                  Percent(s.records, s.total_records), count, HumanBytes(static_cast<double>(s.bytes)),
                                  HumanBytes(rate), Eta(s.records, s.total_records, rec_rate)) +
                          (s.note.empty() ? "" : "  " + s.note),
                      width));

  // Unfinished topics first (those moving, then those waiting), then the finished.
  std::vector<const Topic*> order;
  for (const auto& t : s.topics) order.push_back(&t);
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
    uint64_t done = t.Done() ? 1 : t.records;  // a finished topic shows a full bar
    uint64_t of = t.Done() ? 1 : t.total;
    lines.push_back(Fit(
        fmt::format("  {:<{}} {} {}  {}", name, name_width, Bar(done, of, 12), Percent(done, of), TopicState(t, secs)),
        width));
  }
  if (shown < order.size()) {
    size_t done = 0;
    for (size_t i = shown; i < order.size(); ++i) done += rank(order[i]) == 2 ? 1 : 0;
    lines.push_back(Fit(fmt::format("  ... {} more topics ({} done)", order.size() - shown, done), width));
  }
  return lines;
}

ProgressDisplayer::~ProgressDisplayer() {
  Clear();
}

void ProgressDisplayer::Show(const ProgressSnapshot& s) {
  if (display_ == ProgressDisplay::kNone) return;
  if (s.final) {
    Clear();
    return;
  }
  if (display_ == ProgressDisplay::kLog) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_log_ < kLogInterval) return;
    last_log_ = now;
    spdlog::info("{}", Render(s, SIZE_MAX).front());
    return;
  }
  Draw(s);
}

void ProgressDisplayer::Draw(const ProgressSnapshot& s) {
  std::string out;
  if (lines_drawn_ > 1) out += fmt::format("\033[{}A", lines_drawn_ - 1);  // back to the block's first line
  out += "\r\033[J";                                                       // and clear it
  auto lines = Render(s, TerminalWidth() - 1);
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  lines_drawn_ = lines.size();
}

void ProgressDisplayer::Clear() {
  if (lines_drawn_ == 0) return;
  std::string out;
  if (lines_drawn_ > 1) out += fmt::format("\033[{}A", lines_drawn_ - 1);
  out += "\r\033[J";
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  lines_drawn_ = 0;
}

std::function<void(const ProgressSnapshot&)> ProgressDrawer(ProgressDisplay display) {
  if (display == ProgressDisplay::kNone) return nullptr;
  auto displayer = std::make_shared<ProgressDisplayer>(display);
  return [displayer](const ProgressSnapshot& s) { displayer->Show(s); };
}

}  // namespace kafka_backup::cli
