// Producer: the transactional producer a restore writes with (delivery
// reports, transactions with the offsets they commit, produce with headers and
// exact timestamps, flush).
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kafka/client.h"
#include "kafka/client_internal.h"
#include "util/strings.h"

namespace kafka_backup::kafka {

using namespace internal;  // NOLINT(google-build-using-namespace): this component's own helpers

namespace internal {

void DeliveryCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  static_cast<Producer*>(opaque)->OnDelivery(m->err, m->err ? rd_kafka_topic_name(m->rkt) : "", m->partition, m->offset,
                                             m->_private);
}

}  // namespace internal

Result<std::unique_ptr<Producer>> Producer::Connect(const KafkaConfig& config, const std::string& transactional_id,
                                                    int queue_kbytes) {
  std::unique_ptr<Producer> p(new Producer());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!transactional_id.empty()) {
    Status s = SetProp(conf, "transactional.id", transactional_id);
    if (s.ok()) s = SetProp(conf, "transaction.timeout.ms", "300000");
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  // enable.sparse.connections=false: connected to every broker from the
  // start, a transactional producer asks for its coordinator as soon as a
  // broker is up; sparse, it often waits for librdkafka's 500 ms coordinator
  // query timer (InitTransactions took 10-30 ms against 0.5 s here).
  for (auto [k, v] :
       std::initializer_list<std::pair<const char*, const char*>>{{"enable.idempotence", "true"},
                                                                  {"acks", "all"},
                                                                  {"linger.ms", "20"},
                                                                  {"batch.size", "1000000"},
                                                                  {"compression.codec", "lz4"},
                                                                  {"message.max.bytes", "16777216"},
                                                                  {"message.timeout.ms", "300000"},
                                                                  {"enable.sparse.connections", "false"}}) {
    Status s = SetProp(conf, k, v);
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  if (Status s = SetProp(conf, "queue.buffering.max.kbytes", std::to_string(queue_kbytes)); !s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCallback);
  KB_RETURN_IF_ERROR(p->Init(config, RD_KAFKA_PRODUCER, conf));
  return p;
}

Producer::~Producer() {
  for (rd_kafka_topic_t* rkt : topics_) rd_kafka_topic_destroy(rkt);
}

Status Producer::LoadTopics(const std::vector<std::string>& topics) {
  for (const auto& topic : topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (!rkt) return ErrorStatus(rd_kafka_last_error(), fmt::format("cannot use topic {}", topic));
    topics_.push_back(rkt);
  }
  if (topics.empty()) return Status::Ok();
  // One topic is asked for alone; several, with the cluster's whole list (a
  // metadata response updates every topic the producer knows).
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_, topics.size() > 1 ? 1 : 0, topics.size() > 1 ? nullptr : topics_.back(), &md, timeout_ms_);
  if (md) rd_kafka_metadata_destroy(md);
  if (err) return ErrorStatus(err, fmt::format("cannot read the metadata of the topics to write ({})", topics.front()));
  return Status::Ok();
}

void Producer::OnDelivery(int err, const char* topic, int32_t partition, int64_t offset, void* opaque) {
  auto slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(opaque) - 1);
  SendTag tag = send_tags_[slot];
  free_send_tags_.push_back(slot);
  if (err && first_failure_.ok()) {
    first_failure_ = ErrorStatus(err, fmt::format("cannot write to {}[{}]", topic, partition));
  }
  if (!err && on_delivered_) on_delivered_(Delivery{tag.tag, tag.source_offset, partition, offset});
  delivered_.fetch_add(1);
}

void Producer::Poll() {
  rd_kafka_poll(rk_, 0);
}

namespace {

// Takes ownership of a librdkafka error object and turns it into a Status.
// A transaction that did not commit is aborted by the next run, which resumes
// from the last committed one.
Status TxnError(const Client& client, rd_kafka_error_t* error, const std::string& what) {
  if (!error) return Status::Ok();
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  std::string msg =
      fmt::format("{}: {}{}", what, rd_kafka_error_string(error), rd_kafka_error_is_fatal(error) ? " (fatal)" : "");
  rd_kafka_error_destroy(error);
  return client.ErrorStatus(code, msg);
}

// KAFKA_BACKUP_TEST_KILL_AFTER_COMMITS=N: the process dies (exit 137, as if
// killed) right after its Nth transaction commit, counted over all its
// producers; for the tests of a crash between two producers' commits. Never
// set it in production.
void DieAfterCommitsForTest() {
  static const uint64_t kill_after =
      std::strtoull(util::Env("KAFKA_BACKUP_TEST_KILL_AFTER_COMMITS").c_str(), nullptr, 10);
  static std::atomic<uint64_t> commits{0};
  if (kill_after != 0 && ++commits == kill_after) {
    spdlog::default_logger()->flush();
    std::_Exit(137);
  }
}

}  // namespace

int64_t Producer::TransactionTimeoutMs() const {
  char value[32];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(rd_kafka_conf(rk_), "transaction.timeout.ms", value, &size) != RD_KAFKA_CONF_OK) return 60000;
  return util::ParseDecimal<int64_t>(value).value_or(60000);
}

Status Producer::InitTransactions() {
  return TxnError(*this, rd_kafka_init_transactions(rk_, timeout_ms_), "cannot initialise transactions");
}

Status Producer::BeginTransaction() {
  return TxnError(*this, rd_kafka_begin_transaction(rk_), "cannot begin a transaction");
}

Status Producer::CommitTransaction(const std::string& group, const std::vector<TopicPartitionOffset>& offsets) {
  if (!offsets.empty()) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& o : offsets) {
      rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
      tp->offset = o.offset;
      if (!o.metadata.empty()) {
        tp->metadata = std::malloc(o.metadata.size());  // freed with the list
        std::memcpy(tp->metadata, o.metadata.data(), o.metadata.size());
        tp->metadata_size = o.metadata.size();
      }
    }
    rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata_new(group.c_str());
    rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(rk_, list, cgmd, timeout_ms_);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(list);
    KB_RETURN_IF_ERROR(TxnError(*this, error, "cannot add the restore's progress to the transaction"));
  }
  KB_RETURN_IF_ERROR(TxnError(*this, rd_kafka_commit_transaction(rk_, timeout_ms_), "cannot commit a transaction"));
  DieAfterCommitsForTest();
  return first_failure_;
}

namespace {

// Adds headers (format::RecordHeader or HeaderView) to a librdkafka list,
// which copies them.
template <typename Headers>
void AddHeaders(rd_kafka_headers_t* hdrs, const Headers& headers) {
  static const char kEmpty = 0;
  for (const auto& h : headers) {
    const void* value = h.value ? (h.value->empty() ? &kEmpty : h.value->data()) : nullptr;
    rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), value,
                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
  }
}

}  // namespace

Status Producer::Send(const std::string& topic, int32_t partition, const format::RecordView& r,
                      const std::vector<format::RecordHeader>& extra_headers, uint64_t tag) {
  if (!first_failure_.ok()) return first_failure_;
  static const char kEmpty = 0;
  rd_kafka_headers_t* hdrs = nullptr;
  if (!r.headers.empty() || !extra_headers.empty()) {
    hdrs = rd_kafka_headers_new(r.headers.size() + extra_headers.size());
    AddHeaders(hdrs, r.headers);
    AddHeaders(hdrs, extra_headers);
  }
  // Null stays null; empty must be a non-null pointer with length 0.
  void* key = r.key ? const_cast<char*>(r.key->empty() ? &kEmpty : r.key->data()) : nullptr;
  void* value = r.value ? const_cast<char*>(r.value->empty() ? &kEmpty : r.value->data()) : nullptr;
  size_t key_len = r.key ? r.key->size() : 0;
  size_t value_len = r.value ? r.value->size() : 0;
  // librdkafka sends a timestamp of 0 as "now"; our build of it (patched by
  // scripts/setup.sh, scripts/patches/librdkafka-create-time-zero.patch)
  // sends INT64_MIN as CreateTime 0 itself.
  int64_t timestamp = r.timestamp == 0 ? INT64_MIN : r.timestamp;
  // A slot for the delivery report; given back if the record is not queued.
  uint32_t slot = 0;
  if (free_send_tags_.empty()) {
    slot = static_cast<uint32_t>(send_tags_.size());
    send_tags_.push_back({tag, r.offset});
  } else {
    slot = free_send_tags_.back();
    free_send_tags_.pop_back();
    send_tags_[slot] = {tag, r.offset};
  }
  // The message's opaque carries the slot's index, not a pointer (the slots
  // move as they grow).
  void* opaque = reinterpret_cast<void*>(uintptr_t{slot} + 1);  // NOLINT(performance-no-int-to-ptr)
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                                                RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_TIMESTAMP(timestamp),
                                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (while_waiting_) while_waiting_();
      rd_kafka_poll(rk_, while_waiting_ ? 10 : 50);
      if (!first_failure_.ok()) {
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        free_send_tags_.push_back(slot);
        return first_failure_;
      }
      continue;
    }
    if (err) {
      if (hdrs) rd_kafka_headers_destroy(hdrs);
      free_send_tags_.push_back(slot);
      return ErrorStatus(
          err, fmt::format("cannot queue a record for {}[{}] (offset {} in the backup)", topic, partition, r.offset));
    }
    ++sent_;
    return Status::Ok();
  }
}

Status Producer::Flush(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (in_flight() > 0 && first_failure_.ok()) {
    rd_kafka_poll(rk_, 100);
    if (Clock::now() > deadline) {
      return Status::Unavailable(fmt::format("{} records were not acknowledged by Kafka at {} within {}s", in_flight(),
                                             bootstrap_, timeout_ms / 1000));
    }
  }
  return first_failure_;
}

}  // namespace kafka_backup::kafka
