// What the files of the Kafka client share (client.cc, errors.cc, admin.cc,
// consumer.cc, producer.cc): the librdkafka settings every client gets, the
// error table, and the callbacks. Private to src/kafka.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kafka/client.h"
#include "kafka/msk_iam.h"  // (Client owns one: its destructor needs the type)

namespace kafka_backup::kafka::internal {

using Clock = std::chrono::steady_clock;

// ---- client.cc: settings and callbacks
std::string JoinServers(const std::vector<std::string>& servers);
// The admin handle has no poll loop: the error callback runs only when its
// main queue is served, so every admin error path serves it first.
void ServeErrors(rd_kafka_t* rk);
Status SetProp(rd_kafka_conf_t* conf, const std::string& name, const std::string& value, bool secret = false);
// Builds the librdkafka configuration shared by every client.
Status ApplyCommon(const KafkaConfig& config, rd_kafka_conf_t* conf);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const {
    if (c) rd_kafka_conf_destroy(c);
  }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// ---- errors.cc: librdkafka errors as Status
Status Classify(rd_kafka_resp_err_t err, const std::string& message);
bool Contains(const std::string& s, const char* needle);
// A group coordinator still loading or moving: worth another try.
bool CoordinatorBusy(rd_kafka_resp_err_t err);

// ---- producer.cc
void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

}  // namespace kafka_backup::kafka::internal
