// `kafka-backup validate --path URL --backup-id ID|latest [--deep] [--format json]`
#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "kafka_backup/validate.h"
#include "util/progress.h"

namespace kafka_backup::cli {

void AddValidateCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto deep = std::make_shared<bool>(false);
  flags->backup_id = "latest";
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check a backup: the manifest and that every segment exists with its size; with --deep, read every "
      "block and check checksums, offsets, counts and time ranges. Exit code 4 if a problem is found.");
  cmd->add_option("--path", flags->path, "Storage location (directory or file:// URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest'")->capture_default_str();
  cmd->add_flag("--deep", *deep, "Read and check every record");
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags, deep] {
    *action = [flags, deep] {
      auto url = StorageUrl(*flags);
      if (!url.ok()) return Fail(url.status());
      auto report = RunValidate(*url, flags->backup_id, *deep, EngineOptions());
      if (!report.ok()) return Fail(report.status());
      const ValidateReport& r = *report;
      if (flags->format == "json") {
        nlohmann::json issues = nlohmann::json::array();
        for (const auto& i : r.issues) {
          issues.push_back(
              {{"topic", i.topic}, {"partition", i.partition}, {"object", i.object}, {"message", i.message}});
        }
        nlohmann::json j{{"backup_id", r.backup_id},
                         {"deep", r.deep},
                         {"ok", r.ok()},
                         {"topics", r.topics},
                         {"partitions", r.partitions},
                         {"segments", r.segments},
                         {"records_checked", r.records_checked},
                         {"bytes_read", r.bytes_read},
                         {"issues", issues}};
        fmt::print("{}\n", j.dump());
      } else {
        for (const auto& i : r.issues) {
          spdlog::error("problem: {}[{}] {}: {}", i.topic, i.partition, i.object, i.message);
        }
        fmt::print("{} {} validation of backup {}: {} topics, {} partitions, {} segments{}\n",
                   r.ok() ? "passed:" : "FAILED:", r.deep ? "deep" : "shallow", r.backup_id, r.topics, r.partitions,
                   r.segments,
                   r.deep ? fmt::format(", {} records checked ({} read)", r.records_checked,
                                        Progress::HumanBytes(static_cast<double>(r.bytes_read)))
                          : "");
        if (!r.ok()) fmt::print("{} problems found\n", r.issues.size());
      }
      return r.ok() ? static_cast<int>(kExitOk) : static_cast<int>(kExitCorruption);
    };
  });
}

}  // namespace kafka_backup::cli
