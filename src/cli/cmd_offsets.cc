// `kafka-backup offset-reset plan|execute|script --config FILE [--restore-id ID]
//  [--to-earliest | --to-latest | --to-datetime T | --to-offset N]`
// `kafka-backup offset-rollback --config FILE [--restore-id ID] [--snapshot ID] [--dry-run]`
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/clock.h"
#include "kafka_backup/offsets.h"
#include "kafka_backup/time_point.h"

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

struct ResetToFlags {
  bool earliest = false;
  bool latest = false;
  std::string datetime;
  std::optional<int64_t> offset;

  Result<ResetTo> Parse() const {
    ResetTo to;
    if (earliest) to.kind = ResetTo::Kind::kEarliest;
    if (latest) to.kind = ResetTo::Kind::kLatest;
    if (offset) {
      to.kind = ResetTo::Kind::kOffset;
      to.value = *offset;
    }
    if (!datetime.empty()) {
      auto t = ParseTimePoint(datetime, NowMs());
      if (!t.ok()) return Status::InvalidArgument(fmt::format("--to-datetime: {}", t.status().message()));
      to.kind = ResetTo::Kind::kTime;
      to.value = *t;
    }
    return to;
  }
};

void AddResetToFlags(CLI::App* cmd, ResetToFlags* to) {
  auto* e = cmd->add_flag("--to-earliest", to->earliest, "Every partition's log start (reprocess everything)");
  auto* l = cmd->add_flag("--to-latest", to->latest, "Every partition's end (skip everything restored)");
  auto* d = cmd->add_option("--to-datetime", to->datetime,
                            "The first record at or after this time: RFC 3339 (2026-12-01T10:00:00Z), epoch ms or "
                            "before now (-2h); the end where there is none");
  auto* o = cmd->add_option("--to-offset", to->offset, "This offset of every partition (clamped to its range)")
                ->check(CLI::NonNegativeNumber);
  std::vector<CLI::Option*> all{e, l, d, o};
  for (auto* a : all) {
    for (auto* b : all) {
      if (a != b) a->excludes(b);
    }
  }
}

}  // namespace

void AddOffsetCommands(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto restore_id = std::make_shared<std::string>();
  auto to = std::make_shared<ResetToFlags>();
  CLI::App* reset = app.add_subcommand(
      "offset-reset",
      "Move the consumer groups recorded in a backup (restore.consumer_groups; renamed by restore.group_mapping) "
      "to their exact positions on the target, through the offset map of a restore, or with --to-earliest, "
      "--to-latest, --to-datetime or --to-offset to that position of every partition of the restored topics they "
      "consumed: plan (show current -> new), execute (snapshot, then commit), script (print the equivalent "
      "kafka-consumer-groups commands). Groups are read, checked and committed 8 at a time");
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
    AddResetToFlags(cmd, to.get());
    std::string m = mode;
    cmd->callback([action, flags, restore_id, to, m] {
      *action = [flags, restore_id, to, m] {
        auto config = LoadConfig(*flags, true);
        if (!config.ok()) return Fail(config.status());
        auto where = to->Parse();
        if (!where.ok()) return Fail(where.status());
        auto plan = PlanOffsetReset(*config, *restore_id, *where);
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
