// The restore: and drill: sections: what a restore takes (topics, time
// window, partitions), where it writes (mappings, topic configs, existing
// data), consumer groups, rates; a drill's scratch topics and its checks.
// Also the time window given on the command line (SetTimeWindow).
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "config/sections.h"
#include "util/clock.h"
#include "util/time_point.h"

namespace kafka_backup::config {

void ReadRestore(MapReader& r, RestoreConfig* o, const std::string& file) {
  if (auto v = r.StringList("topics")) o->topics = *v;
  // Epoch ms, RFC 3339 or relative to now (util/time_point.h); a relative
  // time is resolved once, here.
  int64_t now_ms = NowMs();
  auto time_point = [&](const char* key) -> std::optional<int64_t> {
    std::optional<std::string> s = r.String(key);
    if (!s) return std::nullopt;
    auto v = util::ParseTimePoint(*s, now_ms);
    if (!v.ok()) r.FailKey(r.Get(key), key, v.status().message());
    return *v;
  };
  if (auto v = time_point("time_window_start")) o->time_window_start = *v;
  if (auto v = time_point("time_window_end")) o->time_window_end = *v;
  if (auto v = r.Bool("create_topics")) o->create_topics = *v;
  if (auto v = r.Int("default_replication_factor", 1, 32767)) o->default_replication_factor = static_cast<int32_t>(*v);
  if (auto v = r.String("on_existing_data")) {
    o->on_existing_data = *v;
    if (*v != "fail" && *v != "append" && *v != "purge") {
      r.FailKey(r.Get("on_existing_data"), "on_existing_data",
                fmt::format("expected fail, append or purge, got '{}'", *v));
    }
  }
  if (auto v = r.String("on_corruption")) {
    o->on_corruption = *v;
    if (*v != "fail" && *v != "skip") {
      r.FailKey(r.Get("on_corruption"), "on_corruption", fmt::format("expected fail or skip, got '{}'", *v));
    }
  }
  if (auto v = r.Bool("include_offset_headers")) o->include_offset_headers = *v;
  if (auto v = r.String("restore_id")) o->restore_id = *v;
  if (auto v = r.String("consumer_group_strategy")) {
    o->consumer_group_strategy = *v;
    static const std::set<std::string> kStrategies = {"skip", "exact", "header-based", "timestamp-based"};
    if (kStrategies.count(*v) == 0) {
      r.FailKey(r.Get("consumer_group_strategy"), "consumer_group_strategy",
                fmt::format("unknown strategy '{}': expected skip, exact, header-based or timestamp-based", *v));
    }
  }
  if (auto v = r.Bool("reset_consumer_offsets")) o->reset_consumer_offsets = *v;
  if (auto v = r.StringList("consumer_groups")) o->consumer_groups = *v;
  if (auto v = r.StringMap("topic_mapping")) o->topic_mapping = *v;
  if (auto v = r.StringMap("group_mapping")) {
    std::map<std::string, std::string> seen;  // target -> source
    for (const auto& [from, to] : *v) {
      if (to.empty()) r.FailKey(r.Get("group_mapping"), "group_mapping." + from, "expected a group name, got ''");
      if (auto [it, fresh] = seen.emplace(to, from); !fresh) {
        r.FailKey(r.Get("group_mapping"), "group_mapping." + from,
                  fmt::format("groups '{}' and '{}' are both mapped to '{}'; each target group takes one", it->second,
                              from, to));
      }
    }
    o->group_mapping = *v;
  }
  if (auto v = r.IntListMap("source_partitions")) o->source_partitions = *v;
  if (auto v = r.IntMapMap("partition_mapping")) o->partition_mapping = *v;
  if (auto v = r.IntMap("repartitioning", 1, 1 << 20)) o->repartitioning = *v;
  if (auto v = r.Bool("dry_run")) o->dry_run = *v;
  if (auto v = r.Int("max_records_per_sec", 0, INT64_MAX)) o->max_records_per_sec = static_cast<uint64_t>(*v);
  if (auto v = r.Int("max_bytes_per_sec", 0, INT64_MAX)) o->max_bytes_per_sec = static_cast<uint64_t>(*v);
  if (auto n = r.Get("topic_configs"); n && !n.IsNull()) {
    if (!n.IsMap()) r.FailKey(n, "topic_configs", "expected a map of topic: {config: value}");
    for (const auto& kv : n) {
      std::string topic = kv.first.as<std::string>();
      MapReader inner(kv.second, r.Join("topic_configs." + topic), file);
      for (const auto& c : kv.second) {
        std::string key = c.first.as<std::string>();
        if (auto v = inner.String(key)) o->topic_configs[topic][key] = *v;
      }
    }
  }
  if (auto v = r.Int("transaction_max_records", 1, 10000000)) o->transaction_max_records = static_cast<uint64_t>(*v);
  if (auto v = r.Int("producers", 1, 4)) o->producers = static_cast<int>(*v);
  r.CheckNoUnknownKeys();
  if (o->time_window_start && o->time_window_end && *o->time_window_end < *o->time_window_start) {
    r.FailKey(r.Get("time_window_end"), "time_window_end",
              fmt::format("{} ({}) is before time_window_start {} ({})", *o->time_window_end,
                          util::FormatRfc3339(*o->time_window_end), *o->time_window_start,
                          util::FormatRfc3339(*o->time_window_start)));
  }
}

void ReadDrill(MapReader& r, DrillConfig* o) {
  if (auto v = r.StringList("topics")) o->topics = *v;
  if (auto v = r.String("topic_prefix")) {
    o->topic_prefix = *v;
    if (o->topic_prefix.empty()) r.FailKey(r.Get("topic_prefix"), "topic_prefix", "must not be empty");
  }
  if (auto v = r.Bool("keep")) o->keep = *v;
  if (auto v = r.String("validate")) {
    o->validate = *v;
    if (*v != "deep" && *v != "shallow" && *v != "none") {
      r.FailKey(r.Get("validate"), "validate", fmt::format("expected deep, shallow or none, got '{}'", *v));
    }
  }
  if (auto v = r.Int("sample_partitions", 0, INT32_MAX)) o->sample_partitions = static_cast<int32_t>(*v);
  if (auto v = r.String("signing_key_file")) o->signing_key_file = *v;
  // A string is a shell command; a list is the program and its arguments.
  bool shell = r.Get("after_restore").IsScalar();
  if (auto v = r.StringList("after_restore")) {
    o->after_restore = shell ? std::vector<std::string>{"/bin/sh", "-c", v->front()} : *v;
    if (o->after_restore.empty() || o->after_restore.front().empty() || (shell && v->front().empty())) {
      r.FailKey(r.Get("after_restore"), "after_restore",
                "expected a command: a string, or a list of program and arguments");
    }
  }
  if (auto v = r.DurationSecs("after_restore_timeout")) o->after_restore_timeout_secs = *v;
  r.CheckNoUnknownKeys();
}

}  // namespace kafka_backup::config

namespace kafka_backup {

Status SetTimeWindow(RestoreConfig* restore, std::string_view start, std::string_view end) {
  int64_t now_ms = NowMs();
  for (auto [text, flag, into] : {std::tuple{start, "--time-window-start", &restore->time_window_start},
                                  std::tuple{end, "--time-window-end", &restore->time_window_end}}) {
    if (text.empty()) continue;
    auto v = util::ParseTimePoint(text, now_ms);
    if (!v.ok()) return Status::InvalidArgument(fmt::format("{}: {}", flag, v.status().message()));
    *into = *v;
  }
  if (restore->time_window_start && restore->time_window_end &&
      *restore->time_window_end < *restore->time_window_start) {
    return Status::InvalidArgument(
        fmt::format("the time window ends ({}) before it starts ({}): swap them, or check --time-window-start/-end and "
                    "restore.time_window_start/_end in the config",
                    util::FormatRfc3339(*restore->time_window_end), util::FormatRfc3339(*restore->time_window_start)));
  }
  return Status::Ok();
}

}  // namespace kafka_backup
