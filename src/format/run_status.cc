#include "format/run_status.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "format/json_numbers.h"

namespace kafka_backup::format {

using nlohmann::json;

std::string SerializeRunStatus(const RunStatus& s) {
  json topics = json::array();
  for (const auto& t : s.topics) {
    topics.push_back(
        {{"name", t.name}, {"partitions", t.partitions}, {"records", t.records}, {"bytes", t.bytes}, {"lag", t.lag}});
  }
  json j{{"format", kRunStatusFormatName},
         {"format_version", kRunStatusFormatVersion},
         {"backup_id", s.backup_id},
         {"state", s.state},
         {"host", s.host},
         {"pid", s.pid},
         {"tool_version", s.tool_version},
         {"started_at_ms", s.started_at_ms},
         {"updated_at_ms", s.updated_at_ms},
         {"finished_at_ms", s.finished_at_ms},
         {"last_checkpoint_ms", s.last_checkpoint_ms},
         {"update_interval_secs", s.update_interval_secs},
         {"records", s.records},
         {"bytes", s.bytes},
         {"stored_bytes", s.stored_bytes},
         {"segments", s.segments},
         {"topics", topics}};
  if (!s.error.empty()) j["error"] = s.error;
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<RunStatus> ParseRunStatus(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  // value() with a json default: a "format" that is not a string is no error here.
  if (j.is_discarded() || !j.is_object() || j.value("format", json()) != std::string(kRunStatusFormatName)) {
    return Status::Corruption("not a kafka-backup run status document (field 'format')");
  }
  if (auto where = FindFractionalNumber(j)) {
    return Status::Corruption(fmt::format("run status document is malformed: {} is not an integer", *where));
  }
  try {
    if (int v = j.at("format_version").get<int>(); v != kRunStatusFormatVersion) {
      return Status::Corruption(
          fmt::format("run status format version {} is not supported (this build reads version {}); use a newer "
                      "kafka-backup",
                      v, kRunStatusFormatVersion));
    }
    RunStatus s;
    s.backup_id = j.at("backup_id").get<std::string>();
    s.state = j.at("state").get<std::string>();
    s.host = j.at("host").get<std::string>();
    s.pid = j.at("pid").get<int64_t>();
    s.tool_version = j.at("tool_version").get<std::string>();
    s.started_at_ms = j.at("started_at_ms").get<int64_t>();
    s.updated_at_ms = j.at("updated_at_ms").get<int64_t>();
    s.finished_at_ms = j.at("finished_at_ms").get<int64_t>();
    s.last_checkpoint_ms = j.at("last_checkpoint_ms").get<int64_t>();
    s.update_interval_secs = j.at("update_interval_secs").get<int>();
    s.error = j.value("error", "");
    s.records = j.at("records").get<uint64_t>();
    s.bytes = j.at("bytes").get<uint64_t>();
    s.stored_bytes = j.at("stored_bytes").get<uint64_t>();
    s.segments = j.at("segments").get<uint64_t>();
    for (const auto& tj : j.at("topics")) {
      TopicRunStatus t;
      t.name = tj.at("name").get<std::string>();
      t.partitions = tj.at("partitions").get<int32_t>();
      t.records = tj.at("records").get<uint64_t>();
      t.bytes = tj.at("bytes").get<uint64_t>();
      t.lag = tj.at("lag").get<int64_t>();
      s.topics.push_back(std::move(t));
    }
    if (s.state != "running" && s.state != "completed" && s.state != "failed" && s.state != "stopped" &&
        s.state != "interrupted") {
      return Status::Corruption(fmt::format("run status has an unknown state '{}'", s.state));
    }
    return s;
  } catch (const json::exception& e) {
    return Status::Corruption(fmt::format("run status document is malformed: {}", e.what()));
  }
}

}  // namespace kafka_backup::format
