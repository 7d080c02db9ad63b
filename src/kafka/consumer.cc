// Consumer: the read_committed consumer a backup reads with (assign, seek,
// poll, cached watermarks, offsets for times).
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "kafka/client.h"
#include "kafka/client_internal.h"
#include "util/strings.h"

namespace kafka_backup::kafka {

using namespace internal;  // NOLINT(google-build-using-namespace): this component's own helpers

Result<std::unique_ptr<Consumer>> Consumer::Connect(const KafkaConfig& config) {
  std::unique_ptr<Consumer> c(new Consumer());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Defaults first; client_properties (applied in Init) may override them.
  // fetch.max.bytes: a response is held whole while it is parsed, on top of
  // the queue of fetched messages (queued.max.messages.kbytes), so it stays
  // small; larger ones bought no speed on the bench and cost 60 MiB of RSS.
  for (auto [k, v] :
       std::initializer_list<std::pair<const char*, const char*>>{{"group.id", "kafka-backup"},
                                                                  {"enable.auto.commit", "false"},
                                                                  {"enable.auto.offset.store", "false"},
                                                                  {"enable.partition.eof", "true"},
                                                                  {"isolation.level", "read_committed"},
                                                                  // Never skip silently: a position the broker
                                                                  // deleted is reported (kOffsetOutOfRange).
                                                                  {"auto.offset.reset", "error"},
                                                                  {"fetch.max.bytes", "16777216"},
                                                                  {"max.partition.fetch.bytes", "8388608"},
                                                                  {"queued.max.messages.kbytes", "65536"},
                                                                  // When that queue is full, fetch again as soon as
                                                                  // it drains (the default waits a whole second).
                                                                  {"fetch.queue.backoff.ms", "10"},
                                                                  {"fetch.wait.max.ms", "100"}}) {
    Status s = SetProp(conf, k, v);
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  KB_RETURN_IF_ERROR(c->Init(config, RD_KAFKA_CONSUMER, conf));
  rd_kafka_poll_set_consumer(c->rk_);
  c->queue_ = rd_kafka_queue_get_consumer(c->rk_);
  if (!c->queue_) return Status::Internal("the Kafka consumer has no consumer queue");
  return c;
}

Consumer::~Consumer() {
  // Before Client's destructor: the client may not go while messages and
  // queue handles are held.
  DropBuffered(nullptr, 0);
  if (queue_) rd_kafka_queue_destroy(queue_);
}

rd_kafka_message_t* Consumer::Next(int timeout_ms) {
  constexpr size_t kBatch = 1024;
  if (next_ == batch_.size()) {
    batch_.resize(kBatch);
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch_.data(), kBatch);
    batch_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    next_ = 0;
  }
  if (next_ < batch_.size()) return std::exchange(batch_[next_++], nullptr);
  // Nothing fetched yet: wait for the first message (a batch call would wait
  // for a whole batch or the timeout).
  return rd_kafka_consumer_poll(rk_, timeout_ms);
}

void Consumer::DropBuffered(const std::string* topic, int32_t partition) {
  size_t kept = next_;
  for (size_t i = next_; i < batch_.size(); ++i) {
    rd_kafka_message_t* m = batch_[i];
    bool drop = !topic || (m->partition == partition && m->rkt && *topic == rd_kafka_topic_name(m->rkt));
    if (drop) {
      rd_kafka_message_destroy(m);
    } else {
      batch_[kept++] = m;
    }
  }
  batch_.resize(kept);
}

Status Consumer::Assign(const std::vector<Start>& starts) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(starts.size()));
  for (const auto& s : starts) rd_kafka_topic_partition_list_add(list, s.topic.c_str(), s.partition)->offset = s.offset;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) return ErrorStatus(err, "cannot assign partitions to the consumer");
  DropBuffered(nullptr, 0);
  assigned_ = starts;
  return Status::Ok();
}

Status Consumer::AssignMore(const std::vector<Start>& starts) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(starts.size()));
  for (const auto& s : starts) rd_kafka_topic_partition_list_add(list, s.topic.c_str(), s.partition)->offset = s.offset;
  rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string msg = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::Internal(fmt::format("cannot add partitions to the consumer: {}", msg));
  }
  assigned_.insert(assigned_.end(), starts.begin(), starts.end());
  return Status::Ok();
}

Status Consumer::Seek(const std::string& topic, int32_t partition, int64_t offset) {
  // After an offset-out-of-range error (auto.offset.reset=error) librdkafka
  // has stopped fetching the partition and refuses a seek ("Erroneous
  // state"): the partition is assigned again at the new offset instead.
  std::string what = fmt::format("cannot move {}[{}] to offset {}", topic, partition, offset);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, list);
  if (!error) error = rd_kafka_incremental_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string msg = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::Internal(fmt::format("{}: {}", what, msg));
  }
  DropBuffered(&topic, partition);
  for (auto& s : assigned_) {
    if (s.topic == topic && s.partition == partition) s.offset = offset;
  }
  return Status::Ok();
}

int64_t Consumer::CachedHighWatermark(const std::string& topic, int32_t partition) {
  int64_t low = -1;
  int64_t high = -1;
  if (rd_kafka_get_watermark_offsets(rk_, topic.c_str(), partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

Status Consumer::Unassign(const std::string& topic, int32_t partition) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string msg = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::Internal(fmt::format("cannot unassign {}[{}]: {}", topic, partition, msg));
  }
  DropBuffered(&topic, partition);
  return Status::Ok();
}

Result<ConsumedItem> Consumer::Poll(int timeout_ms) {
  ConsumedItem item;
  rd_kafka_message_t* m = Next(timeout_ms);
  if (!m) return item;
  item.message_ = {m, &rd_kafka_message_destroy};
  if (m->rkt) item.topic = rd_kafka_topic_name(m->rkt);
  item.partition = m->partition;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    item.kind = ConsumedItem::Kind::kPartitionEnd;
    item.next_offset = m->offset;
    return item;
  }
  if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && m->rkt) {
    item.kind = ConsumedItem::Kind::kOffsetOutOfRange;
    item.next_offset = m->offset;
    return item;
  }
  if (m->err) {
    std::string what = item.topic.empty() ? std::string("consumer error")
                                          : fmt::format("error reading {}[{}]", item.topic, item.partition);
    Status s = ErrorStatus(m->err, fmt::format("{}: {}", what, rd_kafka_message_errstr(m)));
    // Transport hiccups are retried by librdkafka itself; report them so the
    // caller can decide (it keeps going until its stall deadline).
    return s;
  }
  item.kind = ConsumedItem::Kind::kRecord;
  format::RecordView& r = item.record;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  r.timestamp = rd_kafka_message_timestamp(m, &tstype);
  r.timestamp_type = tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? format::TimestampType::kLogAppendTime
                     : tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME   ? format::TimestampType::kCreateTime
                                                                  : format::TimestampType::kNotAvailable;
  if (m->key) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) r.value.emplace(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
    size_t n = rd_kafka_header_cnt(hdrs);
    item.headers_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_header_get_all(hdrs, i, &name, &value, &size)) break;
      format::HeaderView& h = item.headers_.emplace_back();
      h.name = name;
      if (value) h.value.emplace(static_cast<const char*>(value), size);
    }
    r.headers = item.headers_;
  }
  return item;
}

Result<int64_t> Consumer::OffsetForTime(const std::string& topic, int32_t partition, int64_t timestamp_ms) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = timestamp_ms;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list, timeout_ms_);
  int64_t offset = list->elems[0].offset;
  rd_kafka_resp_err_t perr = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  if (err || perr) {
    return ErrorStatus(err ? err : perr, fmt::format("cannot look up offsets by time in {}[{}]", topic, partition));
  }
  if (offset < 0) {  // no record at or after the time: the end of the partition
    int64_t low = 0;
    int64_t high = 0;
    err = rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &low, &high, timeout_ms_);
    if (err) return ErrorStatus(err, fmt::format("cannot read the offsets of {}[{}]", topic, partition));
    return high;
  }
  return offset;
}

}  // namespace kafka_backup::kafka
