// Admin: metadata, topic configs and ids, watermarks, offsets for times,
// consumer groups (list, describe, offsets, commit, delete) and DeleteRecords,
// each bounded by connect_timeout_secs and retried while a coordinator loads.
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kafka/client.h"
#include "kafka/client_internal.h"
#include "util/strings.h"

namespace kafka_backup::kafka {

using namespace internal;  // NOLINT(google-build-using-namespace): this component's own helpers

namespace {

struct AdminCall {
  rd_kafka_queue_t* queue = nullptr;
  rd_kafka_AdminOptions_t* options = nullptr;
  rd_kafka_event_t* event = nullptr;
  AdminCall(rd_kafka_t* rk, rd_kafka_admin_op_t op, int timeout_ms) {
    queue = rd_kafka_queue_new(rk);
    options = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETERECORDS) {
      rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof(errstr));
    }
  }
  ~AdminCall() {
    if (event) rd_kafka_event_destroy(event);
    if (options) rd_kafka_AdminOptions_destroy(options);
    if (queue) rd_kafka_queue_destroy(queue);
  }
  AdminCall(const AdminCall&) = delete;
  AdminCall& operator=(const AdminCall&) = delete;

  // Waits for the result event; a request-level error becomes a Status.
  Status Wait(const Client& client, int timeout_ms, const std::string& what) {
    event = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    ServeErrors(client.handle());
    if (!event) return client.ErrorStatus(RD_KAFKA_RESP_ERR__TIMED_OUT, what);
    if (rd_kafka_event_error(event)) {
      return client.ErrorStatus(rd_kafka_event_error(event),
                                fmt::format("{}: {}", what, rd_kafka_event_error_string(event)));
    }
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<Admin>> Admin::Connect(const KafkaConfig& config) {
  std::unique_ptr<Admin> admin(new Admin());
  KB_RETURN_IF_ERROR(admin->Init(config, RD_KAFKA_PRODUCER, rd_kafka_conf_new()));
  return admin;
}

Result<ClusterInfo> Admin::Describe() {
  const rd_kafka_metadata_t* md = nullptr;
  // In slices of at most a second, so that a refused authentication (which
  // librdkafka would retry until the timeout) ends the wait at once.
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    err = rd_kafka_metadata(rk_, 1, nullptr, &md, static_cast<int>(std::clamp<int64_t>(left, 1, 1000)));
    if (!err) break;
    ServeErrors(rk_);
    Status refused = ErrorStatus(err, "cannot read cluster metadata");
    if (refused.code() == Status::Code::kAuth) return refused;
    bool waiting = err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                   err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
    if (!waiting || Clock::now() >= deadline) {
      return ErrorStatus(err, fmt::format("cannot read cluster metadata within {}s", timeout_ms_ / 1000));
    }
  }
  ClusterInfo info;
  info.broker_count = md->broker_cnt;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err) continue;
    TopicInfo ti;
    ti.name = t.topic;
    ti.partition_count = t.partition_cnt;
    for (int p = 0; p < t.partition_cnt; ++p)
      ti.replication_factor = std::max(ti.replication_factor, t.partitions[p].replica_cnt);
    info.topics.push_back(std::move(ti));
  }
  rd_kafka_metadata_destroy(md);
  std::sort(info.topics.begin(), info.topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (char* id = rd_kafka_clusterid(rk_, timeout_ms_)) {
    info.cluster_id = id;
    rd_kafka_mem_free(rk_, id);
  }
  return info;
}

Result<std::map<std::string, std::string>> Admin::TopicConfigs(const std::string& topic) {
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms_);
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_DescribeConfigs(rk_, &res, 1, call.options, call.queue);
  rd_kafka_ConfigResource_destroy(res);
  std::string what = fmt::format("cannot describe the configuration of topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(call.event);
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(result, &count);
  std::map<std::string, std::string> configs;
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i])) {
      return ErrorStatus(rd_kafka_ConfigResource_error(resources[i]),
                         fmt::format("{}: {}", what, rd_kafka_ConfigResource_error_string(resources[i])));
    }
    size_t n = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &n);
    for (size_t e = 0; e < n; ++e) {
      if (rd_kafka_ConfigEntry_source(entries[e]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) continue;
      if (rd_kafka_ConfigEntry_is_sensitive(entries[e])) continue;
      const char* value = rd_kafka_ConfigEntry_value(entries[e]);
      configs[rd_kafka_ConfigEntry_name(entries[e])] = value ? value : "";
    }
  }
  return configs;
}

Result<std::map<std::string, std::string>> Admin::TopicIds(const std::vector<std::string>& topics) {
  std::map<std::string, std::string> ids;
  if (topics.empty()) return ids;
  std::vector<const char*> names;
  names.reserve(topics.size());
  for (const auto& t : topics) names.push_back(t.c_str());
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBETOPICS, timeout_ms_);
  rd_kafka_TopicCollection_t* collection = rd_kafka_TopicCollection_of_topic_names(names.data(), names.size());
  rd_kafka_DescribeTopics(rk_, collection, call.options, call.queue);
  rd_kafka_TopicCollection_destroy(collection);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, "cannot describe topics"));
  size_t count = 0;
  const rd_kafka_TopicDescription_t** described =
      rd_kafka_DescribeTopics_result_topics(rd_kafka_event_DescribeTopics_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_error_t* error = rd_kafka_TopicDescription_error(described[i]);
    if (error && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    if (error) {
      return ErrorStatus(rd_kafka_error_code(error),
                         fmt::format("cannot describe topic '{}': {}", rd_kafka_TopicDescription_name(described[i]),
                                     rd_kafka_error_string(error)));
    }
    const rd_kafka_Uuid_t* id = rd_kafka_TopicDescription_topic_id(described[i]);
    if (id) ids[rd_kafka_TopicDescription_name(described[i])] = rd_kafka_Uuid_base64str(id);
  }
  return ids;
}

Status Admin::CreateTopic(const std::string& topic, int32_t partitions, int32_t replication_factor,
                          const std::map<std::string, std::string>& configs) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, errstr, sizeof(errstr));
  if (!nt) return Status::InvalidArgument(fmt::format("cannot create topic '{}': {}", topic, errstr));
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms_);
  rd_kafka_CreateTopics(rk_, &nt, 1, call.options, call.queue);
  rd_kafka_NewTopic_destroy(nt);
  std::string what = fmt::format("cannot create topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_topic_result_error(results[i])) {
      const char* detail = rd_kafka_topic_result_error_string(results[i]);
      return ErrorStatus(rd_kafka_topic_result_error(results[i]), fmt::format("{}: {}", what, detail ? detail : ""));
    }
  }
  return Status::Ok();
}

Status Admin::DeleteTopic(const std::string& topic) {
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms_);
  rd_kafka_DeleteTopics(rk_, &dt, 1, call.options, call.queue);
  rd_kafka_DeleteTopic_destroy(dt);
  std::string what = fmt::format("cannot delete topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;  // gone already
    if (err) {
      const char* detail = rd_kafka_topic_result_error_string(results[i]);
      return ErrorStatus(err, fmt::format("{}: {}", what, detail ? detail : ""));
    }
  }
  return Status::Ok();
}

Status Admin::DeleteGroup(const std::string& group) {
  rd_kafka_DeleteGroup_t* dg = rd_kafka_DeleteGroup_new(group.c_str());
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DELETEGROUPS, timeout_ms_);
  rd_kafka_DeleteGroups(rk_, &dg, 1, call.options, call.queue);
  rd_kafka_DeleteGroup_destroy(dg);
  std::string what = fmt::format("cannot delete consumer group '{}'", group);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_group_result_t** results =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i]);
    if (!e || rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
    return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
  }
  return Status::Ok();
}

Status Admin::SetTopicConfigs(const std::string& topic, const std::map<std::string, std::string>& configs) {
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_ms_);
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [k, v] : configs) rd_kafka_ConfigResource_set_config(res, k.c_str(), v.c_str());
  rd_kafka_AlterConfigs(rk_, &res, 1, call.options, call.queue);
  rd_kafka_ConfigResource_destroy(res);
  std::string what = fmt::format("cannot set the configuration of topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i])) {
      return ErrorStatus(rd_kafka_ConfigResource_error(resources[i]),
                         fmt::format("{}: {}", what, rd_kafka_ConfigResource_error_string(resources[i])));
    }
  }
  return Status::Ok();
}

Result<Watermarks> Admin::QueryWatermarks(const std::string& topic, int32_t partition) {
  Watermarks w;
  // A just-created topic may not have a leader yet: retry briefly.
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &w.low, &w.high, timeout_ms_);
    if (!err) return w;
    bool transient = err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                     err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                     err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!transient || Clock::now() > deadline) {
      ServeErrors(rk_);
      return ErrorStatus(err, fmt::format("cannot read the offsets of {}[{}]", topic, partition));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<std::vector<int64_t>> Admin::HighWatermarks(const std::string& topic, int32_t partitions) {
  return ListOffsets(topic, partitions, RD_KAFKA_OFFSET_SPEC_LATEST, false,
                     fmt::format("cannot read the high watermarks of topic {}", topic));
}

Result<std::vector<int64_t>> Admin::LowWatermarks(const std::string& topic, int32_t partitions) {
  return ListOffsets(topic, partitions, RD_KAFKA_OFFSET_SPEC_EARLIEST, false,
                     fmt::format("cannot read the log start offsets of topic {}", topic));
}

Result<std::vector<int64_t>> Admin::OffsetsForTime(const std::string& topic, int32_t partitions, int64_t timestamp_ms) {
  return ListOffsets(topic, partitions, timestamp_ms, true,
                     fmt::format("cannot look up the offsets of topic {} at time {}", topic, timestamp_ms));
}

Result<std::vector<int64_t>> Admin::ListOffsets(const std::string& topic, int32_t partitions, int64_t spec,
                                                bool read_committed, const std::string& what) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = spec;
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_LISTOFFSETS, timeout_ms_);
  if (rd_kafka_error_t* e = rd_kafka_AdminOptions_set_isolation_level(
          call.options,
          read_committed ? RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED : RD_KAFKA_ISOLATION_LEVEL_READ_UNCOMMITTED)) {
    rd_kafka_error_destroy(e);  // (only refused for an operation that takes no isolation level)
  }
  rd_kafka_ListOffsets(rk_, list, call.options, call.queue);
  rd_kafka_topic_partition_list_destroy(list);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_ListOffsetsResultInfo_t** infos =
      rd_kafka_ListOffsets_result_infos(rd_kafka_event_ListOffsets_result(call.event), &count);
  // -1 stays for a partition with no answer, and (a timestamp) for one with no
  // record at or after it.
  std::vector<int64_t> offsets(static_cast<size_t>(partitions), -1);
  std::vector<bool> answered(static_cast<size_t>(partitions), false);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_topic_partition_t* tp = rd_kafka_ListOffsetsResultInfo_topic_partition(infos[i]);
    if (tp->err) return ErrorStatus(tp->err, fmt::format("{} (partition {})", what, tp->partition));
    if (tp->partition >= 0 && tp->partition < partitions) {
      offsets[static_cast<size_t>(tp->partition)] = tp->offset;
      answered[static_cast<size_t>(tp->partition)] = true;
    }
  }
  for (int32_t p = 0; p < partitions; ++p) {
    bool missing = !answered[static_cast<size_t>(p)] || (spec < 0 && offsets[static_cast<size_t>(p)] < 0);
    if (missing) return Status::Unavailable(fmt::format("{}: no answer for partition {}", what, p));
  }
  return offsets;
}

Result<std::vector<std::string>> Admin::ListGroups() {
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout_ms_);
  rd_kafka_ListConsumerGroups(rk_, call.options, call.queue);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, "cannot list consumer groups"));
  size_t count = 0;
  const rd_kafka_ConsumerGroupListing_t** groups =
      rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(call.event), &count);
  std::vector<std::string> ids;
  for (size_t i = 0; i < count; ++i) ids.emplace_back(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<TopicPartitionOffset>> Admin::GroupOffsets(const std::string& group, bool require_stable) {
  std::string what = fmt::format("cannot read the committed offsets of consumer group '{}'", group);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    // librdkafka 2.0.2 (and later, confluentinc/librdkafka#5040) crashes
    // when an admin ListConsumerGroupOffsets meets NOT_COORDINATOR: it
    // dereferences the consumer-group state a non-consumer handle lacks. A
    // describe first waits until the coordinator answers, which closes that
    // window in practice (it opens when __consumer_offsets is still loading).
    KB_RETURN_IF_ERROR(DescribeGroup(group).status());
    AdminCall call(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms_);
    // Stable: offsets committed inside a transaction whose markers are still
    // being written are waited for, never reported as the older value.
    if (rd_kafka_error_t* e = rd_kafka_AdminOptions_set_require_stable_offsets(call.options, require_stable)) {
      rd_kafka_error_destroy(e);
    }
    rd_kafka_ListConsumerGroupOffsets_t* req = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
    rd_kafka_ListConsumerGroupOffsets(rk_, &req, 1, call.options, call.queue);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    Status waited = call.Wait(*this, timeout_ms_, what);
    if (!waited.ok()) {
      // A group coordinator still loading (a broker just started) answers soon.
      if (call.event && CoordinatorBusy(rd_kafka_event_error(call.event)) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      return waited;
    }
    size_t count = 0;
    const rd_kafka_group_result_t** results = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(call.event), &count);
    std::vector<TopicPartitionOffset> out;
    bool unstable = false;
    for (size_t i = 0; i < count; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i])) {
        if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT ||
            CoordinatorBusy(rd_kafka_error_code(e))) {
          unstable = true;
          continue;
        }
        return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
      }
      const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(results[i]);
      for (int p = 0; parts && p < parts->cnt; ++p) {
        const auto& e = parts->elems[p];
        if (e.err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT) unstable = true;
        if (e.err) {
          if (e.err != RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT) {
            return ErrorStatus(e.err, fmt::format("{} on {}[{}]", what, e.topic, e.partition));
          }
          continue;
        }
        if (e.offset < 0) continue;
        std::string metadata = e.metadata ? std::string(static_cast<const char*>(e.metadata), e.metadata_size) : "";
        out.push_back({e.topic, e.partition, e.offset, std::move(metadata)});
      }
    }
    if (unstable) {
      if (Clock::now() > deadline) return Status::Unavailable(what + ": a transaction holding its offsets is pending");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
    });
    return out;
  }
}

Result<GroupInfo> Admin::DescribeGroup(const std::string& group) {
  std::string what = fmt::format("cannot describe consumer group '{}'", group);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms_);
    const char* groups[] = {group.c_str()};
    rd_kafka_DescribeConsumerGroups(rk_, groups, 1, call.options, call.queue);
    Status waited = call.Wait(*this, timeout_ms_, what);
    bool busy = false;
    if (!waited.ok()) {
      busy = call.event && CoordinatorBusy(rd_kafka_event_error(call.event));
      if (!busy) return waited;
    }
    GroupInfo info;
    info.group_id = group;
    info.state = "Dead";
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** descs =
        busy ? nullptr
             : rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(call.event),
                                                             &count);
    for (size_t i = 0; i < count; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(descs[i])) {
        if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
        if (CoordinatorBusy(rd_kafka_error_code(e))) {
          busy = true;
          break;
        }
        return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
      }
      info.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(descs[i]));
      info.members = rd_kafka_ConsumerGroupDescription_member_count(descs[i]);
    }
    if (!busy) return info;
    // The group's coordinator is still loading (a broker just started, or
    // the coordinator moved): it answers soon.
    if (Clock::now() > deadline) return Status::Unavailable(what + ": its group coordinator is not ready");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status Admin::CommitGroupOffsets(const std::string& group, const std::vector<TopicPartitionOffset>& offsets) {
  if (offsets.empty()) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets)
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
  rd_kafka_AlterConsumerGroupOffsets_t* req = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_ms_);
  rd_kafka_AlterConsumerGroupOffsets(rk_, &req, 1, call.options, call.queue);
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  std::string what = fmt::format("cannot commit offsets for consumer group '{}'", group);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i])) {
      return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(results[i]);
    for (int p = 0; parts && p < parts->cnt; ++p) {
      if (parts->elems[p].err) {
        return ErrorStatus(parts->elems[p].err,
                           fmt::format("{} on {}[{}]", what, parts->elems[p].topic, parts->elems[p].partition));
      }
    }
  }
  return Status::Ok();
}

Status Admin::DeleteGroupOffsets(const std::string& group, const std::vector<TopicPartitionOffset>& partitions) {
  if (partitions.empty()) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& o : partitions) rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
  rd_kafka_DeleteConsumerGroupOffsets_t* req = rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, timeout_ms_);
  rd_kafka_DeleteConsumerGroupOffsets(rk_, &req, 1, call.options, call.queue);
  rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
  std::string what = fmt::format("cannot delete offsets of consumer group '{}'", group);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
      rd_kafka_event_DeleteConsumerGroupOffsets_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i])) {
      return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
    }
  }
  return Status::Ok();
}

Status Admin::DeleteRecords(const std::string& topic, const std::vector<int32_t>& partitions) {
  if (partitions.empty()) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_DeleteRecords_t* req = rd_kafka_DeleteRecords_new(list);
  rd_kafka_topic_partition_list_destroy(list);
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout_ms_);
  rd_kafka_DeleteRecords(rk_, &req, 1, call.options, call.queue);
  rd_kafka_DeleteRecords_destroy(req);
  std::string what = fmt::format("cannot delete the records of topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  const rd_kafka_topic_partition_list_t* done =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(call.event));
  if (!done) return Status::Unavailable(fmt::format("{}: no answer", what));
  for (int i = 0; i < done->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = done->elems[i];
    if (tp.err == RD_KAFKA_RESP_ERR_POLICY_VIOLATION) {
      return Status::Conflict(fmt::format(
          "{} (partition {}): the broker refuses DeleteRecords on it ({}); a topic whose cleanup.policy is only "
          "compact cannot be emptied this way: delete the topic, or use restore.on_existing_data: append",
          what, tp.partition, rd_kafka_err2str(tp.err)));
    }
    if (tp.err) return ErrorStatus(tp.err, fmt::format("{} (partition {})", what, tp.partition));
  }
  return Status::Ok();
}

}  // namespace kafka_backup::kafka
