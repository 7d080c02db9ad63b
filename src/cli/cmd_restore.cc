// `kafka-backup restore|three-phase-restore --config FILE [--path URL] [--backup-id ID] [--dry-run]
// [--skip-corrupt] [--encryption-key-file PATH]`
#include <fmt/format.h>

#include "common.h"
#include "kafka_backup/restore.h"

namespace kafka_backup::cli {

namespace {

void AddRestoreLikeCommand(CLI::App& app, Action* action, const std::string& name, const std::string& help,
                           bool phases) {
  auto flags = std::make_shared<StorageFlags>();
  auto dry_run = std::make_shared<bool>(false);
  auto skip_corrupt = std::make_shared<bool>(false);
  auto yes = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("-c,--config", flags->config, "YAML configuration (mode: restore)")->required();
  cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest', overrides backup_id in the config");
  cmd->add_flag("--dry-run", *dry_run, "Report what would be restored; write nothing");
  cmd->add_flag("--skip-corrupt", *skip_corrupt,
                "Leave out blocks and segments that cannot be read (restore.on_corruption: skip), restore the rest "
                "and list what was skipped; exit code 4 if anything was");
  cmd->add_flag("--yes", *yes,
                "Do not ask before deleting the records of existing target topics (restore.on_existing_data: "
                "purge); asked only when stdin is a terminal");
  auto window = std::make_shared<TimeWindowFlags>();
  AddTimeWindowFlags(cmd, window.get());
  AddEncryptionKeyFlag(cmd, flags.get(), false);
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags, window, dry_run, skip_corrupt, yes, phases] {
    *action = [flags, window, dry_run, skip_corrupt, yes, phases] {
      auto config = LoadConfig(*flags, true);
      if (!config.ok()) return Fail(config.status());
      if (Status s = SetTimeWindow(&config->restore, window->start, window->end); !s.ok()) return Fail(s);
      if (*dry_run) config->restore.dry_run = true;
      if (*skip_corrupt) config->restore.on_corruption = "skip";
      RunOptions options = EngineOptions();
      if (!*yes) options.confirm = ConfirmOnTerminal;
      auto report = RunRestore(*config, options);
      if (!report.ok()) return Fail(report.status());
      AddSummary({{"backup_id", report->backup_id},
                  {"records", report->records},
                  {"bytes", report->bytes},
                  {"records_skipped", report->records_skipped},
                  {"dry_run", report->dry_run},
                  {"seconds", report->seconds}});
      PrintRestoreReport(*report, flags->format, phases);
      // Completed, but without records the backup holds: corrupt data (4),
      // as validate reports it; the report lists what is missing.
      return static_cast<int>(report->skipped.empty() ? kExitOk : kExitCorruption);
    };
  });
}

}  // namespace

void AddThreePhaseRestoreCommand(CLI::App& app, Action* action) {
  AddRestoreLikeCommand(app, action, "three-phase-restore",
                        "Restore in three phases with a report for each: 1 the data, 2 the offset map (source -> "
                        "target offset of every record, stored beside the backup), 3 consumer group positions "
                        "(restore.consumer_group_strategy; committed when restore.reset_consumer_offsets is true)",
                        true);
}

void AddRestoreCommand(CLI::App& app, Action* action) {
  AddRestoreLikeCommand(app, action, "restore",
                        "Restore a backup (default: latest) into the target cluster. restore.time_window_start/end (or "
                        "--time-window-start/-end) are epoch milliseconds, RFC 3339 times or times before now (-2h), "
                        "both inclusive. A target topic that already holds data is refused unless "
                        "restore.on_existing_data is append, or purge (its records are deleted first; on a terminal "
                        "the restore asks, unless --yes).",
                        false);
}

}  // namespace kafka_backup::cli
