// `kafka-backup restore --config FILE [--path URL] [--backup-id ID] [--dry-run]`
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "kafka_backup/restore.h"
#include "util/progress.h"

namespace kafka_backup::cli {

void AddRestoreCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto dry_run = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Restore a backup (default: latest) into the target cluster. restore.time_window_start/end are epoch "
      "milliseconds, both inclusive. A target topic that already holds data is refused unless "
      "restore.on_existing_data is append.");
  cmd->add_option("-c,--config", flags->config, "YAML configuration (mode: restore)")->required();
  cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest', overrides backup_id in the config");
  cmd->add_flag("--dry-run", *dry_run, "Report what would be restored; write nothing");
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags, dry_run] {
    *action = [flags, dry_run] {
      auto config = LoadConfig(*flags, true);
      if (!config.ok()) return Fail(config.status());
      if (*dry_run) config->restore.dry_run = true;
      auto report = RunRestore(*config, RunOptions{ShowProgress()});
      if (!report.ok()) return Fail(report.status());
      const RestoreReport& r = *report;
      if (flags->format == "json") {
        nlohmann::json topics = nlohmann::json::array();
        for (const auto& t : r.topics) {
          topics.push_back({{"name", t.name},
                            {"source_name", t.source_name},
                            {"created", t.created},
                            {"records", t.records},
                            {"bytes", t.bytes}});
        }
        nlohmann::json j{{"backup_id", r.backup_id},
                         {"dry_run", r.dry_run},
                         {"records", r.records},
                         {"bytes", r.bytes},
                         {"bytes_fetched", r.bytes_fetched},
                         {"seconds", r.seconds},
                         {"zero_timestamp_records", r.zero_timestamp_records},
                         {"topics", topics}};
        fmt::print("{}\n", j.dump());
      } else {
        fmt::print("{} backup {}: {} records, {} in {:.1f}s\n", r.dry_run ? "would restore" : "restored", r.backup_id,
                   r.records, Progress::HumanBytes(static_cast<double>(r.bytes)), r.seconds);
        for (const auto& t : r.topics) {
          std::string name = t.source_name == t.name ? t.name : t.source_name + " -> " + t.name;
          const char* created = !t.created ? "" : t.dry_run ? "  (topic would be created)" : "  (topic created)";
          fmt::print("  {:<40} {:>12} records{}\n", name, t.records, created);
        }
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
