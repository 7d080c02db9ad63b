// PushMetrics (kafka_backup/metrics.h): the metrics pushed to a Prometheus
// Pushgateway when a command ends (docs/metrics.md, "Pushgateway"), so that a
// CronJob run's figures and its outcome outlive the pod.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "kafka_backup/metrics.h"
#include "metrics/metrics.h"
#include "storage/http.h"
#include "util/crypto.h"
#include "util/strings.h"

namespace kafka_backup {
namespace {

// One path element of the grouping key: name/value, or name@base64/value
// when the value holds anything a URL path element would mangle.
std::string Grouping(const std::string& name, const std::string& value) {
  bool plain = std::all_of(value.begin(), value.end(),
                           [](unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.'; });
  if (plain) return fmt::format("/{}/{}", name, value);
  std::string b64 = util::Base64UrlEncode(value);
  return fmt::format("/{}@base64/{}", name, b64.empty() ? "=" : b64);
}

double Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

void PushMetrics(const MetricsConfig& config, const std::string& command, int exit_code,
                 std::chrono::system_clock::time_point started) {
  if (config.pushgateway_url.empty()) return;
  auto now = std::chrono::system_clock::now();
  std::string base = config.pushgateway_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/metrics" + Grouping("job", config.pushgateway_job) +
                    Grouping("command", command.empty() ? "none" : command);
  for (const auto& [name, value] : config.pushgateway_labels) url += Grouping(name, value);
  // POST replaces the metrics of these names in the group and keeps the
  // others: a failed run leaves the last success's timestamp in place.
  std::string body = metrics::Metrics::Get().Text();
  body += fmt::format(
      "# HELP kafka_backup_last_run_exit_code The exit code of the last run (docs/exit-codes.md)\n"
      "# TYPE kafka_backup_last_run_exit_code gauge\nkafka_backup_last_run_exit_code {}\n"
      "# HELP kafka_backup_last_run_timestamp_seconds When the last run ended (unix time)\n"
      "# TYPE kafka_backup_last_run_timestamp_seconds gauge\nkafka_backup_last_run_timestamp_seconds {:.3f}\n"
      "# HELP kafka_backup_last_run_duration_seconds How long the last run took\n"
      "# TYPE kafka_backup_last_run_duration_seconds gauge\nkafka_backup_last_run_duration_seconds {:.3f}\n",
      exit_code, Seconds(now), std::chrono::duration<double>(now - started).count());
  if (exit_code == 0) {
    body += fmt::format(
        "# HELP kafka_backup_last_success_timestamp_seconds When the last run that exited 0 ended (unix time)\n"
        "# TYPE kafka_backup_last_success_timestamp_seconds gauge\n"
        "kafka_backup_last_success_timestamp_seconds {:.3f}\n",
        Seconds(now));
  }
  storage::HttpOptions options;
  options.connect_timeout_secs = 5;
  options.stall_timeout_secs = 15;
  storage::HttpClient http(options);
  storage::HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
  request.body = body;
  auto response = http.Send(request);
  std::string shown = util::WithoutUserinfo(url);
  if (!response.ok()) {
    spdlog::warn("cannot push the metrics to the Pushgateway at {}: {}", shown, response.status().message());
  } else if (response->status / 100 != 2) {
    std::string said = response->body.substr(0, 300);
    spdlog::warn("the Pushgateway at {} refused the metrics: HTTP {}{}", shown, response->status,
                 said.empty() ? "" : ": " + util::Trim(said));
  } else {
    spdlog::info("metrics pushed to {}", shown);
  }
}

}  // namespace kafka_backup
