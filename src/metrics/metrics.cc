#include "metrics/metrics.h"

#include "kafka_backup/metrics.h"

#include <fmt/format.h>
#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace kafka_backup::metrics {
namespace {

std::string OutcomeOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kNotFound:
      return "not_found";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kAuth:
      return "auth";
    case Status::Code::kCorruption:
      return "corruption";
    default:
      return "other";
  }
}

}  // namespace

std::string Metrics::Text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

Metrics& Metrics::Get() {
  static Metrics* instance = new Metrics();  // never destroyed: instruments outlive every caller
  return *instance;
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      health_(std::make_shared<prometheus::Registry>()),
      records_(prometheus::BuildCounter()
                   .Name("kafka_backup_records_total")
                   .Help("Records read from Kafka (backup), written to Kafka (restore) or checked (validate)")
                   .Register(*registry_)),
      payload_bytes_(prometheus::BuildCounter()
                         .Name("kafka_backup_payload_bytes_total")
                         .Help("Record payload bytes (keys, values, headers) of those records")
                         .Register(*registry_)),
      stored_bytes_(prometheus::BuildCounter()
                        .Name("kafka_backup_storage_bytes_total")
                        .Help("Segment bytes written to storage (backup) or read from it (restore, validate)")
                        .Register(*registry_)),
      progress_(prometheus::BuildGauge()
                    .Name("kafka_backup_progress_ratio")
                    .Help("Fraction of the run's records done, 0 to 1")
                    .Register(*registry_)),
      eta_(prometheus::BuildGauge()
               .Name("kafka_backup_eta_seconds")
               .Help("Estimated seconds until the run completes; -1 when unknown")
               .Register(*registry_)),
      lag_(prometheus::BuildGauge()
               .Name("kafka_backup_consumer_lag_records")
               .Help("Records of the topic the backup has still to read up to its cut")
               .Register(*registry_)),
      partition_lag_(prometheus::BuildGauge()
                         .Name("kafka_backup_partition_lag_records")
                         .Help("Records of the partition the backup has still to read up to its cut (backups of at "
                               "most 256 partitions)")
                         .Register(*registry_)),
      compression_ratio_(prometheus::BuildGauge()
                             .Name("kafka_backup_compression_ratio")
                             .Help("Stored bytes over payload bytes of the backup so far")
                             .Register(*registry_)),
      checkpoint_time_(prometheus::BuildGauge()
                           .Name("kafka_backup_last_commit_timestamp_seconds")
                           .Help("Unix time of the last commit point (backup manifest, restore transaction)")
                           .Register(*registry_)),
      drill_success_time_(prometheus::BuildGauge()
                              .Name("kafka_backup_drill_last_success_timestamp_seconds")
                              .Help("Unix time a restore drill last passed")
                              .Register(*registry_)),
      drill_rto_(prometheus::BuildGauge()
                     .Name("kafka_backup_drill_rto_seconds")
                     .Help("Wall time of the last drill's restore")
                     .Register(*registry_)),
      drill_rpo_(prometheus::BuildGauge()
                     .Name("kafka_backup_drill_rpo_seconds")
                     .Help("Age of the newest record of the backup the last drill restored")
                     .Register(*registry_)),
      storage_requests_(prometheus::BuildCounter()
                            .Name("kafka_backup_storage_requests_total")
                            .Help("Storage requests by operation and outcome (each retry counts)")
                            .Register(*registry_)),
      storage_duration_(prometheus::BuildHistogram()
                            .Name("kafka_backup_storage_request_duration_seconds")
                            .Help("Duration of storage requests by operation")
                            .Register(*registry_)) {
  prometheus::BuildGauge().Name("kafka_backup_up").Help("1 while the process runs").Register(*health_).Add({}).Set(1);
}

Status Metrics::Serve(const std::string& bind_address) {
  if (exposer_) return Status::Ok();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(bind_address, 1);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format(
        "cannot serve metrics on {}: {} (is the port in use? choose another --metrics-port or metrics.port)",
        bind_address, e.what()));
  }
  exposer_->RegisterCollectable(registry_, "/metrics");
  exposer_->RegisterCollectable(health_, "/health");
  return Status::Ok();
}

int Metrics::port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

prometheus::Counter& Metrics::Records(std::string_view operation) {
  return records_.Add({{"operation", std::string(operation)}});
}
prometheus::Counter& Metrics::PayloadBytes(std::string_view operation) {
  return payload_bytes_.Add({{"operation", std::string(operation)}});
}
prometheus::Counter& Metrics::StoredBytes(std::string_view operation) {
  return stored_bytes_.Add({{"operation", std::string(operation)}});
}
prometheus::Gauge& Metrics::Progress(std::string_view operation) {
  return progress_.Add({{"operation", std::string(operation)}});
}
prometheus::Gauge& Metrics::Eta(std::string_view operation) {
  return eta_.Add({{"operation", std::string(operation)}});
}
prometheus::Gauge& Metrics::PartitionLag(const std::string& topic, int32_t partition) {
  return partition_lag_.Add({{"topic", topic}, {"partition", std::to_string(partition)}});
}

prometheus::Gauge& Metrics::Lag(const std::string& topic) {
  return lag_.Add({{"topic", topic}});
}
prometheus::Gauge& Metrics::CompressionRatio() {
  return compression_ratio_.Add({});
}
prometheus::Gauge& Metrics::CheckpointTime() {
  return checkpoint_time_.Add({});
}

void Metrics::DrillResult(bool passed, int64_t finished_at_ms, double rto_seconds, std::optional<double> rpo_seconds) {
  if (passed) drill_success_time_.Add({}).Set(static_cast<double>(finished_at_ms) / 1000.0);
  drill_rto_.Add({}).Set(rto_seconds);
  if (rpo_seconds) drill_rpo_.Add({}).Set(*rpo_seconds);
}

RunGauges::RunGauges(std::string operation, uint64_t total_records)
    : operation_(std::move(operation)), total_(total_records) {
  Metrics::Get().Progress(operation_).Set(0);
  Metrics::Get().Eta(operation_).Set(-1);
}

void RunGauges::Publish(uint64_t records, uint64_t payload_bytes) {
  Metrics& m = Metrics::Get();
  if (records > published_records_) m.Records(operation_).Increment(static_cast<double>(records - published_records_));
  if (payload_bytes > published_bytes_) {
    m.PayloadBytes(operation_).Increment(static_cast<double>(payload_bytes - published_bytes_));
  }
  published_records_ = std::max(published_records_, records);
  published_bytes_ = std::max(published_bytes_, payload_bytes);
  if (total_ == 0) return;
  double done = std::min(1.0, static_cast<double>(records) / static_cast<double>(total_));
  m.Progress(operation_).Set(done);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  m.Eta(operation_).Set(done > 0 && elapsed > 0 ? elapsed * (1 - done) / done : -1);
}

void Metrics::StorageRequest(std::string_view operation, const Status& outcome, std::chrono::duration<double> took) {
  storage_requests_.Add({{"operation", std::string(operation)}, {"outcome", OutcomeOf(outcome)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25,
                                                                   0.5,   1,     2.5,  5,    10,  30};
  storage_duration_.Add({{"operation", std::string(operation)}}, kBuckets).Observe(took.count());
}

}  // namespace kafka_backup::metrics

namespace kafka_backup {

Status ServeMetrics(int port, const std::string& bind) {
  auto& metrics = metrics::Metrics::Get();
  KB_RETURN_IF_ERROR(metrics.Serve(fmt::format("{}:{}", bind, port)));
  spdlog::info("metrics on http://{}:{}/metrics", bind, metrics.port());
  return Status::Ok();
}

int MetricsPort() {
  return metrics::Metrics::Get().port();
}

}  // namespace kafka_backup
