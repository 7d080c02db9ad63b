// `kafka-backup backup --config FILE [--path URL] [--backup-id ID] [--continuous]`
#include <signal.h>

#include <atomic>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/backup.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {
namespace {

std::atomic<bool> g_stop{false};

// The first SIGTERM or SIGINT asks the backup to store what it holds and
// checkpoint; a second one ends the process at once (a checkpoint still
// leaves the backup resumable).
extern "C" void OnStopSignal(int signo) {
  g_stop.store(true);
  ::signal(signo, SIG_DFL);
}

void InstallStopHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

nlohmann::json BackupJson(const BackupReport& r) {
  nlohmann::json j{{"backup_id", r.backup_id},
                   {"storage", r.storage_url},
                   {"state", r.committed ? "committed" : "stopped"},
                   {"topics", r.topics},
                   {"partitions", r.partitions},
                   {"records", r.records},
                   {"bytes", r.bytes},
                   {"stored_bytes", r.stored_bytes},
                   {"segments", r.segments},
                   {"checkpoints", r.checkpoints},
                   {"checkpoint_bytes", r.checkpoint_bytes},
                   {"checkpoint_max_ms", r.checkpoint_max_ms},
                   {"deleted_offsets", r.deleted_offsets},
                   {"seconds", r.seconds}};
  if (r.resumed_from_checkpoint >= 0) j["resumed_from_checkpoint"] = r.resumed_from_checkpoint;
  if (!r.missing_topics.empty()) j["missing_topics"] = r.missing_topics;
  if (!r.held_back.empty()) {
    int64_t total = 0;
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& h : r.held_back) {
      total += h.offsets;
      parts.push_back(
          {{"topic", h.topic}, {"partition", h.partition}, {"stable_offset", h.stable_offset}, {"offsets", h.offsets}});
    }
    j["held_back_offsets"] = total;
    j["held_back"] = parts;
  }
  if (!r.parent_backup_id.empty()) {
    j["parent_backup_id"] = r.parent_backup_id;
    j["inherited_segments"] = r.inherited_segments;
    j["inherited_records"] = r.inherited_records;
  }
  return j;
}

void PrintBackupReport(const BackupReport& r) {
  fmt::print("backup {} {} {}: {} topics, {} partitions, {} records, {} ({} stored in {} segments) in {:.1f}s{}\n",
             r.backup_id, r.committed ? "committed to" : "stopped (continuous; checkpointed) in", r.storage_url,
             r.topics, r.partitions, r.records, HumanBytes(static_cast<double>(r.bytes)),
             HumanBytes(static_cast<double>(r.stored_bytes)), r.segments, r.seconds,
             r.resumed_from_checkpoint >= 0 ? fmt::format(", resumed from checkpoint {}", r.resumed_from_checkpoint)
                                            : std::string());
  if (!r.parent_backup_id.empty()) {
    fmt::print("incremental: {} records in {} segments inherited from backup {}\n", r.inherited_records,
               r.inherited_segments, r.parent_backup_id);
  }
  if (!r.missing_topics.empty()) {
    fmt::print("warning: {} topic{} named in source.topics.include did not exist and {} not backed up: {}\n",
               r.missing_topics.size(), r.missing_topics.size() == 1 ? "" : "s",
               r.missing_topics.size() == 1 ? "was" : "were", fmt::join(r.missing_topics, ", "));
  }
  if (!r.held_back.empty()) {
    int64_t total = 0;
    for (const auto& h : r.held_back) total += h.offsets;
    fmt::print(
        "note: {} offsets in {} partition{} were held back by transactions still open at the cut; the backup "
        "ends at their last stable offset and the next backup takes them (kafka-backup describe shows them)\n",
        total, r.held_back.size(), r.held_back.size() == 1 ? "" : "s");
  }
  if (r.deleted_offsets > 0) {
    fmt::print(
        "warning: {} offsets were deleted by the broker before they were read; they are recorded as gaps "
        "(kafka-backup describe shows them)\n",
        r.deleted_offsets);
  }
}

}  // namespace

void AddBackupCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto continuous = std::make_shared<bool>(false);
  auto incremental = std::make_shared<bool>(false);
  auto full = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Back up topics from the source cluster. One-shot: up to the offsets seen at start, then the manifest is "
      "committed. Continuous (--continuous or backup.continuous): follows the topics until SIGTERM/SIGINT. Both "
      "checkpoint every backup.checkpoint_interval_secs; running the same backup id again resumes an "
      "interrupted run from its last checkpoint");
  cmd->add_option("-c,--config", flags->config, "YAML configuration (mode: backup)")->required();
  cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
  cmd->add_option("--backup-id", flags->backup_id,
                  "Backup id, overrides backup_id in the config (give an interrupted run's id to resume it)");
  cmd->add_flag("--continuous", *continuous, "Follow the topics until stopped (backup.continuous: true)");
  AddEncryptionKeyFlag(cmd, flags.get(), true);
  auto* inc = cmd->add_flag("--incremental", *incremental,
                            "Store only what is new since the newest committed backup of the same source in this "
                            "storage; its segments are inherited, and the new backup still restores on its own "
                            "(backup.incremental: true)");
  cmd->add_flag("--full", *full, "Copy everything even if backup.incremental is set")->excludes(inc);
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags, continuous, incremental, full] {
    *action = [flags, continuous, incremental, full] {
      auto config = LoadConfig(*flags, true);
      if (!config.ok()) return Fail(config.status());
      if (*continuous) config->backup.continuous = true;
      if (*incremental) config->backup.incremental = true;
      if (*full) config->backup.incremental = false;
      InstallStopHandlers();
      RunOptions options = EngineOptions();
      options.stop = &g_stop;
      auto report = RunBackup(*config, options);
      if (!report.ok()) return Fail(report.status());
      const BackupReport& r = *report;
      AddSummary({{"backup_id", r.backup_id},
                  {"state", r.committed ? "committed" : "stopped"},
                  {"records", r.records},
                  {"bytes", r.bytes},
                  {"stored_bytes", r.stored_bytes},
                  {"seconds", r.seconds}});
      int64_t held_back = 0;
      for (const auto& h : r.held_back) held_back += h.offsets;
      if (held_back > 0) AddSummary({{"held_back_offsets", held_back}});
      if (!r.missing_topics.empty()) AddSummary({{"missing_topics", r.missing_topics}});
      if (flags->format == "json") {
        fmt::print("{}\n", BackupJson(r).dump());
      } else {
        PrintBackupReport(r);
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
