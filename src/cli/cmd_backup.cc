// `kafka-backup backup --config FILE [--path URL] [--backup-id ID]`
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "kafka_backup/backup.h"
#include "util/progress.h"

namespace kafka_backup::cli {

void AddBackupCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  CLI::App* cmd = app.add_subcommand("backup",
                                     "Back up topics from the source cluster (one-shot: up to the offsets "
                                     "seen at start), committing a manifest last");
  cmd->add_option("-c,--config", flags->config, "YAML configuration (mode: backup)")->required();
  cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id, overrides backup_id in the config");
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags] {
    *action = [flags] {
      auto config = LoadConfig(*flags, true);
      if (!config.ok()) return Fail(config.status());
      auto report = RunBackup(*config, EngineOptions());
      if (!report.ok()) return Fail(report.status());
      const BackupReport& r = *report;
      if (flags->format == "json") {
        nlohmann::json j{{"backup_id", r.backup_id},       {"storage", r.storage_url}, {"topics", r.topics},
                         {"partitions", r.partitions},     {"records", r.records},     {"bytes", r.bytes},
                         {"stored_bytes", r.stored_bytes}, {"segments", r.segments},   {"seconds", r.seconds}};
        fmt::print("{}\n", j.dump());
      } else {
        fmt::print(
            "backup {} committed to {}: {} topics, {} partitions, {} records, {} ({} stored in {} segments) "
            "in {:.1f}s\n",
            r.backup_id, r.storage_url, r.topics, r.partitions, r.records,
            Progress::HumanBytes(static_cast<double>(r.bytes)),
            Progress::HumanBytes(static_cast<double>(r.stored_bytes)), r.segments, r.seconds);
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
