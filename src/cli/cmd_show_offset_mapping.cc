// `kafka-backup show-offset-mapping --path URL --backup-id ID [--restore-id ID] [--format text|json|csv]`
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common.h"

namespace kafka_backup::cli {
void AddShowOffsetMappingCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto restore_id = std::make_shared<std::string>();
  flags->backup_id = "latest";
  CLI::App* cmd = app.add_subcommand("show-offset-mapping",
                                     "Show where a restore put each record: runs of source offsets and the target "
                                     "partition and offsets they landed at");
  cmd->add_option("--path", flags->path, "Storage location (directory or file:// URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest'")->capture_default_str();
  cmd->add_option("--restore-id", *restore_id, "Which restore of the backup (default: the newest)");
  cmd->add_option("--format", flags->format, "Output format")
      ->check(CLI::IsMember({"text", "json", "csv"}))
      ->capture_default_str();
  cmd->callback([action, flags, restore_id] {
    *action = [flags, restore_id] {
      auto catalog = OpenCatalog(*flags);
      if (!catalog.ok()) return Fail(catalog.status());
      auto map = (*catalog)->ReadOffsetMapping(flags->backup_id, *restore_id);
      if (!map.ok()) return Fail(map.status());
      if (flags->format == "json") {
        fmt::print("{}", map->json);
        return static_cast<int>(kExitOk);
      }
      if (flags->format == "csv") {
        fmt::print("source_topic,source_partition,source_offset,target_topic,target_partition,target_offset,count\n");
      } else {
        fmt::print("restore {} of backup {} into cluster {} at {}\n", map->restore_id, map->backup_id,
                   map->target_cluster_id, FormatTime(map->created_at_ms));
      }
      for (const auto& t : map->topics) {
        for (const auto& p : t.partitions) {
          for (const auto& r : p.runs) {
            if (flags->format == "csv") {
              fmt::print("{},{},{},{},{},{},{}\n", t.source_topic, p.source_partition, r.source_offset, t.target_topic,
                         r.target_partition, r.target_offset, r.count);
            } else {
              fmt::print("  {}[{}] {}..{} -> {}[{}] {}..{}\n", t.source_topic, p.source_partition, r.source_offset,
                         r.source_offset + r.count - 1, t.target_topic, r.target_partition, r.target_offset,
                         r.target_offset + r.count - 1);
            }
          }
        }
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
