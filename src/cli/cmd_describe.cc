// `kafka-backup describe --path URL --backup-id ID|latest [--format json|yaml]`
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/drill.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {
namespace {

nlohmann::json GapsJson(const std::vector<BackupGap>& gaps) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& g : gaps) {
    arr.push_back({{"first_offset", g.first_offset}, {"last_offset", g.last_offset}, {"reason", g.reason}});
  }
  return arr;
}

nlohmann::json OptionalTime(const std::optional<int64_t>& t) {
  return t ? nlohmann::json(*t) : nlohmann::json(nullptr);
}

// What the stored drills say about a backup: its last drill, and the restore
// time the drills of this storage measured for its size.
struct DrillFacts {
  std::optional<DrillSummary> last;
  std::optional<double> expected_restore_seconds;
};

DrillFacts LoadDrillFacts(const std::string& url, const BackupInfo& m) {
  DrillFacts facts;
  auto all = ListDrills(url);
  if (!all.ok()) {
    spdlog::warn("cannot read the drill reports: {}", all.status().ToString());
    return facts;
  }
  for (const auto& d : *all) {
    if (d.backup_id == m.backup_id) facts.last = d;
  }
  facts.expected_restore_seconds = EstimateRestoreSeconds(*all, m.bytes);
  return facts;
}

nlohmann::json DrillJson(const DrillFacts& facts) {
  if (!facts.last) return nullptr;
  const DrillSummary& d = *facts.last;
  return {{"drill_id", d.drill_id},
          {"ok", d.ok},
          {"finished_at", FormatTime(d.finished_at_ms)},
          {"restore_seconds", d.restore_seconds},
          {"rpo_seconds", d.rpo_seconds ? nlohmann::json(*d.rpo_seconds) : nlohmann::json()},
          {"evidence_key", d.evidence_key}};
}

nlohmann::json DescribeJson(const BackupInfo& m, const DrillFacts& drills) {
  nlohmann::json topics = nlohmann::json::array();
  for (const auto& t : m.topics) {
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : t.partitions) {
      nlohmann::json part{{"partition", p.partition},
                          {"start_offset", p.start_offset},
                          {"end_offset", p.end_offset},
                          {"records", p.records},
                          {"bytes", p.bytes},
                          {"segments", p.segments},
                          {"min_timestamp", OptionalTime(p.min_timestamp)},
                          {"max_timestamp", OptionalTime(p.max_timestamp)}};
      if (!p.gaps.empty()) part["gaps"] = GapsJson(p.gaps);
      if (p.held_back > 0) part["held_back"] = p.held_back;
      parts.push_back(std::move(part));
    }
    topics.push_back({{"name", t.name},
                      {"partition_count", t.partition_count},
                      {"replication_factor", t.replication_factor},
                      {"configs", t.configs},
                      {"records", t.records},
                      {"bytes", t.bytes},
                      {"partitions", parts}});
    if (!t.topic_id.empty()) topics.back()["topic_id"] = t.topic_id;
    for (const auto& e : t.events) {
      topics.back()["events"].push_back(
          {{"at", FormatTime(e.at_ms)}, {"event", e.event}, {"topic_id", e.topic_id}, {"detail", e.detail}});
    }
  }
  nlohmann::json j{
      {"backup_id", m.backup_id},
      {"state", m.state},
      {"created_at", FormatTime(m.created_at_ms)},
      {"completed_at", FormatTime(m.completed_at_ms)},
      {"source_cluster_id", m.source_cluster_id},
      {"kafka_cluster_id", m.kafka_cluster_id},
      {"compression", m.compression},
      {"records", m.records},
      {"bytes", m.bytes},
      {"stored_bytes", m.stored_bytes},
      {"own_stored_bytes", m.own_stored_bytes},
      {"last_drill", DrillJson(drills)},
      {"expected_restore_seconds",
       drills.expected_restore_seconds ? nlohmann::json(*drills.expected_restore_seconds) : nlohmann::json()},
      {"topics", topics}};
  if (!m.parent_backup_id.empty()) j["parent_backup_id"] = m.parent_backup_id;
  if (!m.missing_topics.empty()) j["missing_topics"] = m.missing_topics;
  if (m.encryption) {
    j["encryption"] = {{"algorithm", m.encryption->algorithm}, {"key_id", m.encryption->key_id}};
  }
  return j;
}

void PrintDescription(const BackupInfo& m, const DrillFacts& drills) {
  fmt::print("backup:          {}\n", m.backup_id);
  fmt::print("created:         {}\n", FormatTime(m.created_at_ms));
  if (m.committed()) {
    fmt::print("completed:       {}\n", FormatTime(m.completed_at_ms));
  } else {
    fmt::print("state:           {} (no manifest yet: what its last checkpoint, at {}, says is stored)\n",
               m.state == "continuous" ? "continuous backup" : "partial: running or interrupted",
               FormatTime(m.completed_at_ms));
  }
  fmt::print("source cluster:  {} (Kafka cluster id {})\n", m.source_cluster_id, m.kafka_cluster_id);
  fmt::print("compression:     {}\n", m.compression);
  if (m.encryption) {
    fmt::print("encryption:      {} (key id {})\n", m.encryption->algorithm, m.encryption->key_id);
  }
  fmt::print("records:         {} ({}, {} stored)\n", m.records, HumanBytes(static_cast<double>(m.bytes)),
             HumanBytes(static_cast<double>(m.stored_bytes)));
  if (!m.parent_backup_id.empty()) {
    fmt::print("incremental:     parent {}; this run stored {} of {} segments ({}), the rest are inherited\n",
               m.parent_backup_id, m.own_segments, m.segments, HumanBytes(static_cast<double>(m.own_stored_bytes)));
  }
  if (!m.missing_topics.empty()) {
    fmt::print("missing topics:  {} (named in source.topics.include, absent from the source; on_missing: warn)\n",
               fmt::join(m.missing_topics, ", "));
  }
  if (drills.last) {
    const DrillSummary& d = *drills.last;
    fmt::print("last drill:      {} {} at {} (restore {:.1f} s; evidence {})\n", d.drill_id, d.ok ? "passed" : "FAILED",
               FormatTime(d.finished_at_ms), d.restore_seconds, d.evidence_key);
  } else {
    fmt::print("last drill:      none (kafka-backup drill proves it restores: docs/drills.md)\n");
  }
  if (drills.expected_restore_seconds) {
    fmt::print("expected restore: {:.0f} s, at the median rate the drills of this storage measured\n",
               *drills.expected_restore_seconds);
  } else {
    fmt::print("expected restore: unknown until a drill has measured a restore rate\n");
  }
  for (const auto& t : m.topics) {
    fmt::print("\ntopic {} ({} partitions, replication factor {}, {} records{})\n", t.name, t.partition_count,
               t.replication_factor, t.records, t.topic_id.empty() ? "" : ", topic id " + t.topic_id);
    for (const auto& e : t.events) fmt::print("  {} at {}: {}\n", e.event, FormatTime(e.at_ms), e.detail);
    for (const auto& [k, v] : t.configs) fmt::print("  config {}={}\n", k, v);
    for (const auto& p : t.partitions) {
      fmt::print("  partition {:>4}: offsets [{}, {})  {} records  {}  {} .. {}\n", p.partition, p.start_offset,
                 p.end_offset, p.records, HumanBytes(static_cast<double>(p.bytes)),
                 FormatTime(p.min_timestamp.value_or(0)), FormatTime(p.max_timestamp.value_or(0)));
      for (const auto& g : p.gaps) {
        fmt::print("    gap: offsets {}..{} not in the backup: {}\n", g.first_offset, g.last_offset, g.reason);
      }
      if (p.held_back > 0) {
        fmt::print(
            "    held back: offsets {}..{} were in a transaction still open at the cut; the next backup "
            "takes them\n",
            p.end_offset, p.end_offset + p.held_back - 1);
      }
    }
  }
}

}  // namespace

void AddDescribeCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  flags->backup_id = "latest";
  CLI::App* cmd = app.add_subcommand("describe", "Show one backup: topics, partitions, offsets, counts, time ranges");
  cmd->add_option("--path", flags->path, "Storage location (directory or file:// URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest'")->capture_default_str();
  AddFormatFlagWithYaml(cmd, &flags->format);
  cmd->callback([action, flags] {
    *action = [flags] {
      auto catalog = OpenCatalog(*flags);
      if (!catalog.ok()) return Fail(catalog.status());
      auto m = (*catalog)->Describe(flags->backup_id);
      if (!m.ok()) return Fail(m.status());
      auto url = StorageUrl(*flags);
      if (!url.ok()) return Fail(url.status());
      DrillFacts drills = LoadDrillFacts(*url, *m);
      if (flags->format == "json" || flags->format == "yaml") {
        nlohmann::json j = DescribeJson(*m, drills);
        if (flags->format == "yaml") {
          fmt::print("{}", JsonToYaml(j));
        } else {
          fmt::print("{}\n", j.dump(2));
        }
        return static_cast<int>(kExitOk);
      }
      PrintDescription(*m, drills);
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
