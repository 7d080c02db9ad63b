// `kafka-backup list --path URL [--format json]`
#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {

void AddListCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  CLI::App* cmd = app.add_subcommand("list", "List the backups in a storage location, oldest first");
  cmd->add_option("--path", flags->path, "Storage location (directory or file:// URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags] {
    *action = [flags] {
      auto catalog = OpenCatalog(*flags);
      if (!catalog.ok()) return Fail(catalog.status());
      auto listing = (*catalog)->List();
      if (!listing.ok()) return Fail(listing.status());
      const auto* all = &listing->backups;
      // A damaged backup is listed (last: its times are unknown) and warned
      // of; the others are listed as usual.
      const auto& damaged = listing->damaged;
      for (const auto& d : damaged) {
        spdlog::warn("backup '{}' is damaged: {}; `kafka-backup validate --backup-id {}` reports it", d.backup_id,
                     d.reason.ToString(), d.backup_id);
      }
      if (flags->format == "json") {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& m : *all) {
          arr.push_back({{"backup_id", m.backup_id},
                         {"state", m.state},
                         {"created_at", FormatTime(m.created_at_ms)},
                         {"completed_at", FormatTime(m.completed_at_ms)},
                         {"source_cluster_id", m.source_cluster_id},
                         {"topics", m.topics.size()},
                         {"records", m.records},
                         {"bytes", m.bytes},
                         {"stored_bytes", m.stored_bytes},
                         {"own_stored_bytes", m.own_stored_bytes}});
          if (!m.parent_backup_id.empty()) arr.back()["parent_backup_id"] = m.parent_backup_id;
        }
        for (const auto& d : damaged) {
          arr.push_back({{"backup_id", d.backup_id}, {"state", "damaged"}, {"error", d.reason.ToString()}});
        }
        fmt::print("{}\n", nlohmann::json{{"storage", listing->storage_url}, {"backups", arr}}.dump());
        return static_cast<int>(kExitOk);
      }
      if (all->empty() && damaged.empty()) {
        fmt::print("no backups in {}\n", listing->storage_url);
        return static_cast<int>(kExitOk);
      }
      // SIZE: every segment the backup lists; NEW: those its own run stored
      // (an incremental backup inherits the rest from PARENT and its ancestors).
      fmt::print("{:<40} {:<11} {:<25} {:<20} {:>6} {:>14} {:>10} {:>10}  {}\n", "BACKUP ID", "STATE", "CREATED",
                 "SOURCE CLUSTER", "TOPICS", "RECORDS", "SIZE", "NEW", "PARENT");
      for (const auto& m : *all) {
        fmt::print("{:<40} {:<11} {:<25} {:<20} {:>6} {:>14} {:>10} {:>10}  {}\n", m.backup_id, m.state,
                   FormatTime(m.created_at_ms), m.source_cluster_id, m.topics.size(), m.records,
                   HumanBytes(static_cast<double>(m.stored_bytes)), HumanBytes(static_cast<double>(m.own_stored_bytes)),
                   m.parent_backup_id.empty() ? "-" : m.parent_backup_id);
      }
      for (const auto& d : damaged) {
        fmt::print("{:<40} {:<11} {}\n", d.backup_id, "damaged", d.reason.ToString());
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
