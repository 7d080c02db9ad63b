// `kafka-backup list --path URL [--format json]`
#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "cli/common.h"
#include "storage/object_store.h"
#include "util/progress.h"

namespace kafka_backup::cli {

void AddListCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  CLI::App* cmd = app.add_subcommand("list", "List the backups in a storage location, oldest first");
  cmd->add_option("--path", flags->path, "Storage location (directory or file:// URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags] {
    *action = [flags] {
      auto store = OpenStorage(*flags);
      if (!store.ok()) return Fail(store.status());
      catalog::Catalog cat(**store);
      auto listing = cat.LoadAll();
      if (!listing.ok()) return Fail(listing.status());
      auto* all = &listing->backups;
      std::sort(all->begin(), all->end(),
                [](const auto& a, const auto& b) { return a.completed_at_ms < b.completed_at_ms; });
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
                         {"state", m.committed() ? "committed" : m.state},
                         {"created_at", FormatTime(m.created_at_ms)},
                         {"completed_at", FormatTime(m.completed_at_ms)},
                         {"source_cluster_id", m.source_cluster_id},
                         {"topics", m.topics.size()},
                         {"records", m.RecordCount()},
                         {"bytes", m.Bytes()},
                         {"stored_bytes", m.StoredBytes()},
                         {"own_stored_bytes", m.OwnStoredBytes()}});
          if (!m.parent_backup_id.empty()) arr.back()["parent_backup_id"] = m.parent_backup_id;
        }
        for (const auto& d : damaged) {
          arr.push_back({{"backup_id", d.backup_id}, {"state", "damaged"}, {"error", d.reason.ToString()}});
        }
        fmt::print("{}\n", nlohmann::json{{"storage", (*store)->Url()}, {"backups", arr}}.dump());
        return static_cast<int>(kExitOk);
      }
      if (all->empty() && damaged.empty()) {
        fmt::print("no backups in {}\n", (*store)->Url());
        return static_cast<int>(kExitOk);
      }
      // SIZE: every segment the backup lists; NEW: those its own run stored
      // (an incremental backup inherits the rest from PARENT and its ancestors).
      fmt::print("{:<40} {:<11} {:<25} {:<20} {:>6} {:>14} {:>10} {:>10}  {}\n", "BACKUP ID", "STATE", "CREATED",
                 "SOURCE CLUSTER", "TOPICS", "RECORDS", "SIZE", "NEW", "PARENT");
      for (const auto& m : *all) {
        fmt::print("{:<40} {:<11} {:<25} {:<20} {:>6} {:>14} {:>10} {:>10}  {}\n", m.backup_id,
                   m.committed() ? "committed" : m.state, FormatTime(m.created_at_ms), m.source_cluster_id,
                   m.topics.size(), m.RecordCount(), Progress::HumanBytes(static_cast<double>(m.StoredBytes())),
                   Progress::HumanBytes(static_cast<double>(m.OwnStoredBytes())),
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
