// How the process's Prometheus metrics leave it (docs/metrics.md): served
// over HTTP while a command runs, or pushed to a Pushgateway when it ends.
// The engines update the metrics whether or not either happens.
#pragma once

#include <chrono>
#include <string>

#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup {

// Serves /metrics and /health on bind:port for the rest of the process (port
// 0: any free port), and logs where.
Status ServeMetrics(int port, const std::string& bind);
// The port the metrics are served on; 0 when they are not served.
int MetricsPort();

// Pushes the metrics, with the run's exit code, end time and duration, to
// the Pushgateway `config` names (nothing without pushgateway_url), grouped
// by job, command and the config's labels. POST: a failed run leaves the
// last success's timestamp in place. A push that fails is logged as a
// warning; the run's outcome stands.
void PushMetrics(const MetricsConfig& config, const std::string& command, int exit_code,
                 std::chrono::system_clock::time_point started);

}  // namespace kafka_backup
