// `kafka-backup offset-reset plan|execute|script --config FILE [--restore-id ID]`
// `kafka-backup offset-rollback --config FILE [--restore-id ID] [--snapshot ID] [--dry-run]`
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "kafka_backup/offsets.h"

namespace kafka_backup::cli {
namespace {

std::string OptionalOffset(const std::optional<int64_t>& o) {
  return o ? std::to_string(*o) : "-";
}

// `snapshot`: the id of the snapshot an execute took (what offset-rollback takes).
void PrintPlan(const OffsetResetPlan& plan, const std::string& format, const std::string& snapshot = "") {
  if (format == "json") {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& e : plan.entries) {
      entries.push_back({{"group_id", e.group_id},
                         {"topic", e.topic},
                         {"partition", e.partition},
                         {"current", e.current ? nlohmann::json(*e.current) : nlohmann::json(nullptr)},
                         {"new", e.target ? nlohmann::json(*e.target) : nlohmann::json(nullptr)},
                         {"from", e.from}});
    }
    nlohmann::json out{{"backup_id", plan.backup_id}, {"restore_id", plan.restore_id}, {"entries", entries}};
    if (!snapshot.empty()) out["snapshot_id"] = snapshot;
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("backup {}, restore {}\n", plan.backup_id, plan.restore_id);
  fmt::print("{:<30} {:<40} {:>9} {:>12} {:>12}  {}\n", "GROUP", "TOPIC", "PARTITION", "CURRENT", "NEW", "FROM");
  for (const auto& e : plan.entries) {
    fmt::print("{:<30} {:<40} {:>9} {:>12} {:>12}  {}\n", e.group_id, e.topic, e.partition, OptionalOffset(e.current),
               OptionalOffset(e.target), e.from);
  }
}

// The same change with Kafka's own tool, one command per group and partition.
void PrintScript(const OffsetResetPlan& plan) {
  fmt::print("#!/bin/sh\n# Consumer group offsets for restore {} of backup {}\nset -e\n", plan.restore_id,
             plan.backup_id);
  for (const auto& e : plan.entries) {
    if (!e.target) continue;
    fmt::print(
        "kafka-consumer-groups --bootstrap-server '{}' --group '{}' --reset-offsets --topic '{}:{}' --to-offset {} "
        "--execute\n",
        plan.bootstrap, e.group_id, e.topic, e.partition, *e.target);
  }
}

}  // namespace

void AddOffsetCommands(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto restore_id = std::make_shared<std::string>();
  CLI::App* reset = app.add_subcommand(
      "offset-reset",
      "Move the consumer groups recorded in a backup to their exact positions on the target, through the offset "
      "map of a restore: plan (show current -> new), execute (snapshot, then commit), script (print the "
      "equivalent kafka-consumer-groups commands)");
  reset->require_subcommand(1);
  for (const char* mode : {"plan", "execute", "script"}) {
    CLI::App* cmd = reset->add_subcommand(mode, std::string(mode) == "plan" ? "Show current -> new offsets"
                                                : std::string(mode) == "execute"
                                                    ? "Snapshot the current offsets, then commit the new ones"
                                                    : "Print kafka-consumer-groups commands");
    cmd->add_option("-c,--config", flags->config, "YAML configuration (target, storage, restore.consumer_groups)")
        ->required();
    cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
    cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest'");
    cmd->add_option("--restore-id", *restore_id, "Which restore's offset map (default: the newest)");
    if (std::string(mode) != "script") AddFormatFlag(cmd, &flags->format);  // script prints a shell script
    std::string m = mode;
    cmd->callback([action, flags, restore_id, m] {
      *action = [flags, restore_id, m] {
        auto config = LoadConfig(*flags, true);
        if (!config.ok()) return Fail(config.status());
        auto plan = PlanOffsetReset(*config, *restore_id);
        if (!plan.ok()) return Fail(plan.status());
        if (m == "script") {
          PrintScript(*plan);
          return static_cast<int>(kExitOk);
        }
        std::string snapshot_id;
        if (m == "execute") {
          auto snapshot = ExecuteOffsetReset(*config, *plan);
          if (!snapshot.ok()) return Fail(snapshot.status());
          snapshot_id = *snapshot;
          if (flags->format != "json") fmt::print("snapshot {} taken; offsets committed:\n", *snapshot);
        }
        PrintPlan(*plan, flags->format, snapshot_id);
        return static_cast<int>(kExitOk);
      };
    });
  }

  auto rb_flags = std::make_shared<StorageFlags>();
  auto rb_restore = std::make_shared<std::string>();
  auto snapshot = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  CLI::App* rollback = app.add_subcommand(
      "offset-rollback", "Put consumer group offsets back as they were before an offset-reset execute (its snapshot)");
  rollback->add_option("-c,--config", rb_flags->config, "YAML configuration (target, storage)")->required();
  rollback->add_option("--path", rb_flags->path, "Storage location, overrides storage in the config");
  rollback->add_option("--backup-id", rb_flags->backup_id, "Backup id or 'latest'");
  rollback->add_option("--restore-id", *rb_restore, "Which restore (default: the newest)");
  rollback->add_option("--snapshot", *snapshot, "Snapshot id (default: the newest)");
  rollback->add_flag("--dry-run", *dry_run, "Show what would be put back; change nothing");
  AddFormatFlag(rollback, &rb_flags->format);
  rollback->callback([action, rb_flags, rb_restore, snapshot, dry_run] {
    *action = [rb_flags, rb_restore, snapshot, dry_run] {
      auto config = LoadConfig(*rb_flags, true);
      if (!config.ok()) return Fail(config.status());
      auto plan = PlanRollback(*config, *rb_restore, *snapshot);
      if (!plan.ok()) return Fail(plan.status());
      if (!*dry_run) {
        Status s = ApplyRollback(*config, *plan);
        if (!s.ok()) return Fail(s);
      }
      PrintPlan(*plan, rb_flags->format);
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
