// The only code that talks to librdkafka: an admin client, a consumer that
// drains assigned partitions, and an idempotent producer. Everything above
// this folder sees Status values and format::Record (or RecordView), never
// librdkafka types.
//
// None of these classes is thread-safe; each is used by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "format/record.h"
#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

struct rd_kafka_s;
struct rd_kafka_conf_s;
struct rd_kafka_message_s;
struct rd_kafka_queue_s;
struct rd_kafka_topic_s;

namespace kafka_backup::kafka {

class MskIamAuth;

struct TopicInfo {
  std::string name;
  int32_t partition_count = 0;
  int32_t replication_factor = 0;
};

struct ClusterInfo {
  std::string cluster_id;
  int broker_count = 0;
  std::vector<TopicInfo> topics;  // sorted by name
  const TopicInfo* Find(const std::string& name) const;
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string metadata;  // the commit's metadata string
  bool operator==(const TopicPartitionOffset&) const = default;
};

struct GroupInfo {
  std::string group_id;
  std::string state;  // "Empty", "Stable", ... as the broker reports it
  size_t members = 0;
};

struct Watermarks {
  int64_t low = 0;  // log start offset
  // The end of the log as read_committed sees it (librdkafka's default
  // isolation level): the last stable offset, which is the high watermark
  // unless a transaction is open (then: the first offset it holds).
  int64_t high = 0;
};

// Shared by the clients: the connection, its callbacks and the last error a
// broker connection reported (used to explain timeouts).
class Client {
 public:
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  rd_kafka_s* handle() const { return rk_; }
  const std::string& bootstrap() const { return bootstrap_; }
  // Turns a librdkafka error into a Status, adding what the error callback saw.
  Status ErrorStatus(int err, const std::string& what) const;

 protected:
  Client() = default;
  Status Init(const KafkaConfig& config, int type, rd_kafka_conf_s* conf);

  rd_kafka_s* rk_ = nullptr;
  std::string bootstrap_;
  int timeout_ms_ = 30000;

 public:
  // Called from librdkafka's threads.
  void OnError(int err, const std::string& reason);
  // sasl_mechanism AWS_MSK_IAM: hands librdkafka a freshly signed token.
  void OnTokenRefresh(rd_kafka_s* rk);

 private:
  mutable std::mutex errors_mu_;
  int last_error_code_ = 0;
  std::string last_error_;
  bool auth_failed_ = false;
  std::unique_ptr<MskIamAuth> msk_iam_;  // set for AWS_MSK_IAM only
  std::string oidc_endpoint_;            // set for OAUTHBEARER (OIDC) only
  std::string kerberos_service_;         // set for GSSAPI only
};

class Admin : public Client {
 public:
  static Result<std::unique_ptr<Admin>> Connect(const KafkaConfig& config);

  // Fails with Unavailable (bounded by connect_timeout_secs) when no broker
  // answers, Auth when credentials are refused.
  Result<ClusterInfo> Describe();
  // Non-default configs set on each topic (DescribeConfigs, source DYNAMIC_TOPIC_CONFIG).
  Result<std::map<std::string, std::string>> TopicConfigs(const std::string& topic);
  // Each topic's id (base64, as Kafka's tools print it), by name
  // (DescribeTopics); a topic that does not exist is left out.
  Result<std::map<std::string, std::string>> TopicIds(const std::vector<std::string>& topics);
  Status CreateTopic(const std::string& topic, int32_t partitions, int32_t replication_factor,
                     const std::map<std::string, std::string>& configs);
  // Deletes the topic (DeleteTopics); one that does not exist is no error.
  Status DeleteTopic(const std::string& topic);
  // Deletes the group and its committed offsets (DeleteGroups); the broker
  // refuses a group with members. One it does not know is no error.
  Status DeleteGroup(const std::string& group);
  // Replaces the topic's dynamic configs with `configs` (AlterConfigs).
  Status SetTopicConfigs(const std::string& topic, const std::map<std::string, std::string>& configs);
  Result<Watermarks> QueryWatermarks(const std::string& topic, int32_t partition);
  // Each partition's high watermark, the next offset to be written, past any
  // open transaction (ListOffsets, read_uncommitted).
  Result<std::vector<int64_t>> HighWatermarks(const std::string& topic, int32_t partitions);
  // Each partition's log start offset (ListOffsets, earliest).
  Result<std::vector<int64_t>> LowWatermarks(const std::string& topic, int32_t partitions);
  // Each partition's first offset whose record's timestamp is at or after
  // `timestamp_ms` (ListOffsets by time, read_committed), -1 where no record is.
  Result<std::vector<int64_t>> OffsetsForTime(const std::string& topic, int32_t partitions, int64_t timestamp_ms);

  // Consumer groups known to the cluster, sorted.
  Result<std::vector<std::string>> ListGroups();
  // The group's committed offsets (partitions without a commit are left out).
  // With `require_stable`, offsets an open transaction holds are waited for
  // (until the timeout); without, the last committed ones are reported.
  Result<std::vector<TopicPartitionOffset>> GroupOffsets(const std::string& group, bool require_stable = true);
  // NotFound-free: a group the broker does not know is reported as "Dead" with no members.
  Result<GroupInfo> DescribeGroup(const std::string& group);
  // Commits offsets for a group with no active members (the broker refuses otherwise).
  Status CommitGroupOffsets(const std::string& group, const std::vector<TopicPartitionOffset>& offsets);
  // Removes the group's committed offsets for these partitions (offset field ignored).
  Status DeleteGroupOffsets(const std::string& group, const std::vector<TopicPartitionOffset>& partitions);
  // Deletes every record of these partitions below their high watermark
  // (DeleteRecords): the log start moves to the end; offsets are not reused.
  Status DeleteRecords(const std::string& topic, const std::vector<int32_t>& partitions);

 private:
  // ListOffsets of every partition at `spec` (a timestamp, or an
  // RD_KAFKA_OFFSET_SPEC_*); `what` begins the error message.
  Result<std::vector<int64_t>> ListOffsets(const std::string& topic, int32_t partitions, int64_t spec,
                                           bool read_committed, const std::string& what);
};

// What the consumer yields: a record of a partition, or the end of a partition
// (the next fetch offset reached the end of the log as read_committed sees it).
struct ConsumedItem {
  // kOffsetOutOfRange: the partition's next offset is gone (the broker
  // deleted it); the consumer stops fetching it until Seek.
  enum class Kind { kRecord, kPartitionEnd, kOffsetOutOfRange, kNothing } kind = Kind::kNothing;
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;  // kPartitionEnd: where the end was seen
  // kRecord: read in place from the client's buffer, which the item holds:
  // valid while the item lives.
  format::RecordView record;

 private:
  friend class Consumer;
  std::unique_ptr<rd_kafka_message_s, void (*)(rd_kafka_message_s*)> message_{nullptr, nullptr};
  std::vector<format::HeaderView> headers_;  // record.headers points here
};

class Consumer : public Client {
 public:
  // read_committed, no group membership, no commits.
  static Result<std::unique_ptr<Consumer>> Connect(const KafkaConfig& config);

  struct Start {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
  };
  Status Assign(const std::vector<Start>& starts);
  // Adds partitions to the assignment (a topic found while running).
  Status AssignMore(const std::vector<Start>& starts);
  // The partition's high watermark as last seen in fetch responses (no
  // request); -1 before the first fetch.
  int64_t CachedHighWatermark(const std::string& topic, int32_t partition);
  // Moves an assigned partition's position (after kOffsetOutOfRange).
  Status Seek(const std::string& topic, int32_t partition, int64_t offset);
  // Removes one partition from the assignment (it is complete).
  Status Unassign(const std::string& topic, int32_t partition);
  // Waits up to `timeout_ms` for the next item.
  Result<ConsumedItem> Poll(int timeout_ms);
  // The earliest offset whose timestamp is >= `timestamp_ms`, or the end offset if none.
  Result<int64_t> OffsetForTime(const std::string& topic, int32_t partition, int64_t timestamp_ms);

  ~Consumer();

 private:
  Consumer() = default;
  // The next fetched message, from batch_ (refilled without waiting) or else
  // waiting up to `timeout_ms` for one; null when none came.
  rd_kafka_message_s* Next(int timeout_ms);
  // Drops the fetched messages not yet yielded of one partition, or of all
  // partitions when `topic` is null: a partition moved or removed must yield
  // nothing from before.
  void DropBuffered(const std::string* topic, int32_t partition);

  std::vector<Start> assigned_;
  // Messages are taken from librdkafka in batches: one call per batch, not
  // per record, spares a queue lock and two clock reads per record.
  rd_kafka_queue_s* queue_ = nullptr;
  std::vector<rd_kafka_message_s*> batch_;  // fetched, in order; yielded ones are null
  size_t next_ = 0;                         // the next of batch_ to yield
};

class Producer : public Client {
 public:
  // Idempotent (acks=all, ordered, no duplicates on retry). With a
  // transactional id, records become visible only through CommitTransaction,
  // and a new producer with the same id fences and aborts an older one's open
  // transaction (InitTransactions).
  // `queue_kbytes` bounds the records queued and in flight.
  static Result<std::unique_ptr<Producer>> Connect(const KafkaConfig& config, const std::string& transactional_id = "",
                                                   int queue_kbytes = 65536);

  ~Producer();

  // Fetches the metadata of `topics` now, in one request. Without it,
  // librdkafka learns of a topic at its first record and asks for the topic's
  // partitions only at its next periodic scan, up to a second later; the
  // records wait meanwhile.
  Status LoadTopics(const std::vector<std::string>& topics);

  // The transaction.timeout.ms in effect (client_properties may set it): the
  // broker aborts a transaction open longer than this.
  int64_t TransactionTimeoutMs() const;

  Status InitTransactions();
  Status BeginTransaction();
  // Commits the open transaction together with `offsets` committed for
  // `group`: data and progress become visible atomically.
  Status CommitTransaction(const std::string& group, const std::vector<TopicPartitionOffset>& offsets);

  // Where a delivered record landed, with the tag given to Send().
  struct Delivery {
    uint64_t tag = 0;
    int64_t source_offset = 0;
    int32_t partition = 0;
    int64_t offset = 0;
  };
  // Called (from Send, Poll or Flush, on the caller's thread) for every record
  // Kafka acknowledged.
  void OnDelivered(std::function<void(const Delivery&)> callback) { on_delivered_ = std::move(callback); }

  // Queues a copy of a record; blocks (serving delivery reports) while the
  // local queue is full. Fails fast once any earlier delivery failed. `tag`
  // and the record's offset come back in the Delivery.
  Status Send(const std::string& topic, int32_t partition, const format::RecordView& record,
              const std::vector<format::RecordHeader>& extra_headers, uint64_t tag = 0);
  // Called while Send waits for room in the queue (to serve other producers'
  // delivery reports meanwhile).
  void WhileWaiting(std::function<void()> callback) { while_waiting_ = std::move(callback); }
  // Serves delivery reports without blocking.
  void Poll();
  // Waits until every queued record is acknowledged, or the first failure.
  Status Flush(int timeout_ms);

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t in_flight() const { return sent_ - delivered_.load(); }

  // Called from librdkafka's delivery report callback.
  void OnDelivery(int err, const char* topic, int32_t partition, int64_t offset, void* opaque);

 private:
  std::function<void(const Delivery&)> on_delivered_;
  std::function<void()> while_waiting_;
  uint64_t sent_ = 0;
  std::atomic<uint64_t> delivered_{0};
  Status first_failure_;
  std::vector<rd_kafka_topic_s*> topics_;  // LoadTopics' handles, kept for the producer's life
  // What each queued record's delivery report returns (its tag and source
  // offset), in reused slots: a record's message carries its slot's index
  // plus one. Send and the delivery reports run on the caller's thread.
  struct SendTag {
    uint64_t tag;
    int64_t source_offset;
  };
  std::vector<SendTag> send_tags_;
  std::vector<uint32_t> free_send_tags_;
};

}  // namespace kafka_backup::kafka
