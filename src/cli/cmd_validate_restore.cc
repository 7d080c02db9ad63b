// `kafka-backup validate-restore --config FILE [--format json]`: a preflight that writes nothing.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/restore.h"

namespace kafka_backup::cli {

void AddValidateRestoreCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  CLI::App* cmd = app.add_subcommand(
      "validate-restore",
      "Check a restore configuration without writing anything: the backup exists, the target is reachable and "
      "authenticated, topics exist or can be created, partition counts fit the mappings, target topics are empty "
      "(or on_existing_data allows data), groups to reset are inactive, the time window selects data. Exit code 0 "
      "when every check passes, 2 when a check fails (each failure is listed), 3 when the backup is not found, 4 "
      "when the data to restore cannot be read (restore.on_corruption: fail), 5 or 6 when storage or the target "
      "cannot be reached or refuses the credentials");
  cmd->add_option("-c,--config", flags->config, "YAML configuration (mode: restore)")->required();
  cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest', overrides backup_id in the config");
  auto window = std::make_shared<TimeWindowFlags>();
  AddTimeWindowFlags(cmd, window.get());
  AddEncryptionKeyFlag(cmd, flags.get(), false);
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags, window] {
    *action = [flags, window] {
      auto config = LoadConfig(*flags, true);
      if (!config.ok()) return Fail(config.status());
      if (Status s = SetTimeWindow(&config->restore, window->start, window->end); !s.ok()) return Fail(s);
      auto report = RunPreflight(*config);
      if (!report.ok()) return Fail(report.status());
      if (flags->format == "json") {
        nlohmann::json checks = nlohmann::json::array();
        for (const auto& c : report->checks) checks.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
        fmt::print("{}\n",
                   nlohmann::json{{"backup_id", report->backup_id}, {"ok", report->ok()}, {"checks", checks}}.dump());
      } else {
        for (const auto& c : report->checks) fmt::print("{:<6} {:<30} {}\n", c.ok ? "ok" : "FAIL", c.name, c.detail);
        fmt::print("{}\n", report->ok() ? "restore configuration is valid" : "restore configuration has problems");
      }
      // A check that failed because something is missing, unreachable or
      // corrupt keeps that exit code (3, 4, 5, 6); any other failed check
      // means the configuration would not restore: 2.
      AddSummary({{"backup_id", report->backup_id}, {"valid", report->ok()}});
      for (const auto& c : report->checks) {
        if (c.ok) continue;
        SetSummaryError(fmt::format("{}: {}", c.name, c.detail));
        auto code = c.status.code();
        bool keeps = code == Status::Code::kNotFound || code == Status::Code::kAuth ||
                     code == Status::Code::kUnavailable || code == Status::Code::kCorruption;
        return keeps ? ExitCodeFor(c.status) : static_cast<int>(kExitUsage);
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
