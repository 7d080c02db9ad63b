// The backup: section: compression, segment and block sizes, checkpoints,
// continuous and incremental runs, consumer groups, and where a backup that
// starts a chain begins (start_offset, start_offset_topics; StartOffset).
#include <fmt/format.h>

#include "config/sections.h"
#include "util/clock.h"
#include "util/glob.h"
#include "util/time_point.h"

namespace kafka_backup::config {
namespace {

// earliest | latest | a point in time (util/time_point.h), resolved now.
StartOffset ReadStartOffset(MapReader& r, const YAML::Node& n, const std::string& key, int64_t now_ms) {
  std::string text = r.Expand(n, key);
  StartOffset o;
  if (text == "earliest") return o;
  if (text == "latest") {
    o.kind = StartOffset::Kind::kLatest;
    return o;
  }
  auto t = util::ParseTimePoint(text, now_ms);
  if (!t.ok()) r.FailKey(n, key, fmt::format("expected earliest, latest or a point in time: {}", t.status().message()));
  o.kind = StartOffset::Kind::kTime;
  o.time_ms = *t;
  return o;
}

void ReadStartOffsets(MapReader& r, BackupConfig* b) {
  int64_t now_ms = NowMs();
  if (YAML::Node n = r.Get("start_offset"); n) {
    if (!n.IsScalar()) r.FailKey(n, "start_offset", "expected earliest, latest or a point in time");
    b->start_offset = ReadStartOffset(r, n, "start_offset", now_ms);
  }
  YAML::Node n = r.Get("start_offset_topics");
  if (!n || n.IsNull()) return;
  if (!n.IsMap()) r.FailKey(n, "start_offset_topics", "expected a map of topic (or glob): start offset");
  for (const auto& kv : n) {
    std::string topic = kv.first.as<std::string>();
    std::string at = "start_offset_topics." + topic;
    if (!kv.second.IsScalar()) r.FailKey(kv.second, at, "expected earliest, latest or a point in time");
    b->start_offset_topics.emplace_back(topic, ReadStartOffset(r, kv.second, at, now_ms));
  }
}

}  // namespace

void ReadBackup(MapReader& r, BackupConfig* b) {
  if (auto v = r.String("compression")) {
    b->compression = *v;
    if (b->compression != "zstd" && b->compression != "lz4" && b->compression != "none") {
      r.FailKey(r.Get("compression"), "compression",
                fmt::format("unknown compression '{}': expected zstd, lz4 or none", *v));
    }
  }
  if (auto v = r.Int("compression_level", 1, 19)) b->compression_level = static_cast<int>(*v);
  if (auto v = r.Int("checkpoint_interval_secs", 1, 86400)) b->checkpoint_interval_secs = static_cast<int>(*v);
  if (auto v = r.Bool("continuous")) b->continuous = *v;
  if (auto v = r.Bool("incremental")) b->incremental = *v;
  if (auto v = r.Bool("include_offset_headers")) b->include_offset_headers = *v;
  if (auto v = r.String("source_cluster_id")) b->source_cluster_id = *v;
  if (auto v = r.Int("segment_max_bytes", 1 << 16, int64_t{4} << 30)) b->segment_max_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.Int("max_buffered_bytes", 1 << 20, int64_t{64} << 30))
    b->max_buffered_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.Int("segment_max_records", 0, INT64_MAX)) b->segment_max_records = static_cast<uint64_t>(*v);
  if (auto v = r.Int("block_size_bytes", 1 << 12, 64 << 20)) b->block_size_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.Bool("include_internal_topics")) b->include_internal_topics = *v;
  if (auto v = r.StringList("consumer_groups")) b->consumer_groups = *v;
  ReadStartOffsets(r, b);
  r.CheckNoUnknownKeys();
}

}  // namespace kafka_backup::config

namespace kafka_backup {

std::string StartOffset::ToString() const {
  switch (kind) {
    case Kind::kEarliest:
      return "earliest";
    case Kind::kLatest:
      return "latest";
    case Kind::kTime:
      break;
  }
  return util::FormatRfc3339(time_ms);
}

const StartOffset& BackupConfig::StartOffsetFor(const std::string& topic) const {
  for (const auto& [name, offset] : start_offset_topics) {
    if (name == topic) return offset;
  }
  for (const auto& [pattern, offset] : start_offset_topics) {
    if (GlobMatch(pattern, topic)) return offset;
  }
  return start_offset;
}

}  // namespace kafka_backup
