// Prometheus metrics of the running process (prometheus-cpp), served over
// HTTP when --metrics-port is given: /metrics in the text exposition format,
// /health for liveness. The names are listed in docs/metrics.md.
//
// The instruments always exist (updating them is a few atomic operations);
// Serve only makes them reachable. Hot loops update them in batches, never per
// record.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "kafka_backup/status.h"

namespace prometheus {
class Exposer;
}

namespace kafka_backup::metrics {

class Metrics {
 public:
  // The process-wide instance.
  static Metrics& Get();

  // Serves /metrics and /health on `bind_address` ("0.0.0.0:9464").
  Status Serve(const std::string& bind_address);
  // The port actually bound (for a requested port 0), or 0 when not serving.
  int port() const;
  // Every metric of the run in the text exposition format (what /metrics
  // serves, without the server's own exposer_* metrics).
  std::string Text() const;

  // `operation` is "backup", "restore" or "validate".
  prometheus::Counter& Records(std::string_view operation);
  prometheus::Counter& PayloadBytes(std::string_view operation);
  // Bytes written to (backup) or read from (restore, validate) storage.
  prometheus::Counter& StoredBytes(std::string_view operation);
  prometheus::Gauge& Progress(std::string_view operation);  // 0..1
  prometheus::Gauge& Eta(std::string_view operation);       // seconds, -1 when unknown
  prometheus::Gauge& Lag(const std::string& topic);         // records left to read, per topic
  // Per partition too, for backups of at most kMaxPartitionSeries partitions
  // (the label count stays bounded).
  static constexpr size_t kMaxPartitionSeries = 256;
  prometheus::Gauge& PartitionLag(const std::string& topic, int32_t partition);
  prometheus::Gauge& CompressionRatio();  // stored / payload bytes of the backup
  prometheus::Gauge& CheckpointTime();    // unix seconds of the last commit point
  // A drill's outcome (docs/drills.md): its RTO (restore seconds) and RPO
  // (seconds, when the backup holds a record); the time of the last success
  // is set only when it passed.
  void DrillResult(bool passed, int64_t finished_at_ms, double rto_seconds, std::optional<double> rpo_seconds);
  // One storage request: its operation ("put", "get", ...), outcome
  // ("ok", "not_found", "unavailable", "auth", "corruption", "other") and duration.
  void StorageRequest(std::string_view operation, const Status& outcome, std::chrono::duration<double> took);

 private:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Registry> health_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>& records_;
  prometheus::Family<prometheus::Counter>& payload_bytes_;
  prometheus::Family<prometheus::Counter>& stored_bytes_;
  prometheus::Family<prometheus::Gauge>& progress_;
  prometheus::Family<prometheus::Gauge>& eta_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& partition_lag_;
  prometheus::Family<prometheus::Gauge>& compression_ratio_;
  prometheus::Family<prometheus::Gauge>& checkpoint_time_;
  prometheus::Family<prometheus::Gauge>& drill_success_time_;
  prometheus::Family<prometheus::Gauge>& drill_rto_;
  prometheus::Family<prometheus::Gauge>& drill_rpo_;
  prometheus::Family<prometheus::Counter>& storage_requests_;
  prometheus::Family<prometheus::Histogram>& storage_duration_;
};

// Publishes a run's running totals (records, payload bytes, progress, ETA).
// Update is cheap enough to call per record: it acts once per 1,024 calls.
class RunGauges {
 public:
  RunGauges(std::string operation, uint64_t total_records);
  void Update(uint64_t records, uint64_t payload_bytes) {
    if (++calls_ % 1024 == 0) Publish(records, payload_bytes);
  }
  // Publishes now (at the end of a run, or on an idle tick).
  void Publish(uint64_t records, uint64_t payload_bytes);

 private:
  std::string operation_;
  uint64_t total_;
  uint64_t calls_ = 0;
  uint64_t published_records_ = 0;
  uint64_t published_bytes_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace kafka_backup::metrics
