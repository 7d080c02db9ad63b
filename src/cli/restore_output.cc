// Text and JSON output of a restore, shared by `restore` and `three-phase-restore`.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {

namespace {

void PrintRestoreJson(const RestoreReport& r) {
  nlohmann::json topics = nlohmann::json::array();
  for (const auto& t : r.topics) {
    topics.push_back({{"name", t.name},
                      {"source_name", t.source_name},
                      {"created", t.created},
                      {"purged_offsets", t.purged_offsets},
                      {"records", t.records},
                      {"bytes", t.bytes}});
  }
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : r.group_positions) {
    groups.push_back({{"group_id", g.group_id},
                      {"topic", g.topic},
                      {"partition", g.partition},
                      {"offset", g.offset},
                      {"from", g.from}});
  }
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& k : r.skipped) {
    skipped.push_back({{"topic", k.topic},
                       {"partition", k.partition},
                       {"object", k.object},
                       {"position", k.position},
                       {"first_offset", k.first_offset},
                       {"last_offset", k.last_offset},
                       {"records", k.records},
                       {"reason", k.reason}});
  }
  nlohmann::json j{{"backup_id", r.backup_id},
                   {"restore_id", r.restore_id},
                   {"dry_run", r.dry_run},
                   {"records", r.records},
                   {"bytes", r.bytes},
                   {"bytes_fetched", r.bytes_fetched},
                   {"seconds", r.seconds},
                   {"records_skipped", r.records_skipped},
                   {"skipped", skipped},
                   {"offset_map", r.offset_map_key},
                   {"consumer_group_strategy", r.group_strategy},
                   {"consumer_group_offsets", groups},
                   {"consumer_group_offsets_committed", r.groups_committed},
                   {"topics", topics}};
  fmt::print("{}\n", j.dump());
}

}  // namespace

void PrintRestoreReport(const RestoreReport& r, const std::string& format, bool phases) {
  if (format == "json") {
    PrintRestoreJson(r);
    return;
  }
  if (phases) fmt::print("phase 1 (data):\n");
  fmt::print("{} backup {}: {} records, {} in {:.1f}s\n", r.dry_run ? "would restore" : "restored", r.backup_id,
             r.records, HumanBytes(static_cast<double>(r.bytes)), r.seconds);
  for (const auto& t : r.topics) {
    std::string name = t.source_name == t.name ? t.name : t.source_name + " -> " + t.name;
    const char* created = !t.created ? "" : t.dry_run ? "  (topic would be created)" : "  (topic created)";
    std::string purged = t.purged_offsets == 0 ? ""
                         : t.dry_run           ? fmt::format("  ({} offsets would be purged first)", t.purged_offsets)
                                               : fmt::format("  ({} offsets purged first)", t.purged_offsets);
    fmt::print("  {:<40} {:>12} records{}{}\n", name, t.records, created, purged);
  }
  if (!r.skipped.empty()) {
    fmt::print("  SKIPPED {} records that cannot be read, in {} range{} (on_corruption: skip):\n", r.records_skipped,
               r.skipped.size(), r.skipped.size() == 1 ? "" : "s");
    for (const auto& k : r.skipped) {
      fmt::print("    {}[{}] offsets {}..{} ({} records) in {} at byte {}: {}\n", k.topic, k.partition, k.first_offset,
                 k.last_offset, k.records, k.object, k.position, k.reason);
    }
  }
  if (phases || !r.offset_map_key.empty()) {
    if (phases) fmt::print("phase 2 (offset mapping):\n");
    fmt::print("  offset map of restore {}: {}\n", r.restore_id,
               r.offset_map_key.empty() ? "not written (dry run)" : r.offset_map_key);
  }
  if (phases || r.group_strategy != "skip") {
    if (phases) fmt::print("phase 3 (consumer groups):\n");
    if (r.group_strategy == "skip") {
      fmt::print("  skipped (consumer_group_strategy: skip)\n");
    } else {
      fmt::print("  strategy {}: {} positions, {}\n", r.group_strategy, r.group_positions.size(),
                 r.groups_committed ? "committed on the target" : "not committed (reset_consumer_offsets is false)");
      for (const auto& g : r.group_positions) {
        fmt::print("  {:<30} {}[{}] -> offset {}  (from {})\n", g.group_id, g.topic, g.partition, g.offset, g.from);
      }
    }
  }
}

}  // namespace kafka_backup::cli
