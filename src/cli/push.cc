// metrics.pushgateway_url for the CLI: which config and command a run pushes
// for, kept from LoadConfig and main until the command ends; the push itself
// is the library's (kafka_backup/metrics.h).
#include <chrono>
#include <mutex>
#include <string>

#include "common.h"
#include "kafka_backup/metrics.h"

namespace kafka_backup::cli {
namespace {

struct PushTarget {
  std::mutex mu;
  MetricsConfig config;  // pushgateway_url empty: no push
  std::string command;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
};

PushTarget& Target() {
  static PushTarget* target = new PushTarget();
  return *target;
}

}  // namespace

void SetPushTarget(const MetricsConfig& config) {
  std::lock_guard lock(Target().mu);
  Target().config = config;
}

void SetPushCommand(std::string command) {
  std::lock_guard lock(Target().mu);
  Target().command = std::move(command);
}

void PushMetrics(int exit_code) {
  PushTarget& t = Target();
  std::lock_guard lock(t.mu);
  ::kafka_backup::PushMetrics(t.config, t.command, exit_code, t.started);
}

}  // namespace kafka_backup::cli
