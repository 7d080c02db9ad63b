#include "util/progress.h"

#include <fmt/format.h>

#include "kafka_backup/text.h"

namespace kafka_backup {
namespace {

constexpr auto kInterval = std::chrono::milliseconds(200);

double Seconds(Progress::Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Progress::Progress(std::string label, uint64_t total_records, const RunOptions& options)
    : label_(std::move(label)), total_records_(total_records), observer_(options.on_progress), start_(Clock::now()) {}

Progress::~Progress() {
  Finish();
}

std::string Progress::HumanBytes(double bytes) {
  return ::kafka_backup::HumanBytes(bytes);
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.1f} {}", bytes, units[u]);
}

size_t Progress::AddTopic(std::string name, uint64_t total_records) {
  Topic t;
  t.name = std::move(name);
  t.total = total_records;
  topics_.push_back(std::move(t));
  return topics_.size() - 1;
}

void Progress::UpdateTopic(size_t topic, uint64_t records, uint64_t bytes) {
  Topic& t = topics_[topic];
  if (!t.first_seen && records > 0) t.first_seen = Clock::now();
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
  return observer_ && Clock::now() - last_notified_ >= kInterval;
}

void Progress::Update(uint64_t records, uint64_t bytes) {
  records_ = records;
  bytes_ = bytes;
  if (Due()) Notify(false);
}

void Progress::SetNote(std::string note) {
  note_ = std::move(note);
  if (observer_) Notify(false);
}

void Progress::Notify(bool final) {
  last_notified_ = Clock::now();
  ProgressSnapshot s;
  s.label = label_;
  s.note = note_;
  s.seconds = Seconds(last_notified_ - start_);
  s.records = records_;
  s.bytes = bytes_;
  s.total_records = total_records_;
  s.final = final;
  s.topics.reserve(topics_.size());
  for (const auto& t : topics_) {
    ProgressSnapshot::Topic& out = s.topics.emplace_back();
    out.name = t.name;
    out.total = t.total;
    out.records = t.records;
    out.bytes = t.bytes;
    out.finished = t.finished;
    if (t.first_seen) out.started_seconds = Seconds(*t.first_seen - start_);
    if (t.done_at) out.done_seconds = Seconds(*t.done_at - start_);
  }
  observer_(s);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (observer_) Notify(true);
}

}  // namespace kafka_backup
