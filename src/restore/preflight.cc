// RunPreflight (kafka_backup/restore.h): a restore's checks without writing:
// storage, the backup and its manifest, the time window, then the restore
// itself as a dry run, each result one PreflightCheck.
#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "catalog/catalog.h"
#include "kafka_backup/restore.h"
#include "restore/restore_run.h"
#include "storage/object_store.h"
#include "util/glob.h"

namespace kafka_backup {

Result<PreflightReport> RunPreflight(const Config& config) {
  PreflightReport report;
  auto check = [&](std::string name, const Status& s, std::string ok_detail) {
    report.checks.push_back({std::move(name), s.ok(), s.ok() ? std::move(ok_detail) : s.ToString(), s});
    return s.ok();
  };
  auto store = storage::OpenStore(config.storage.Url());
  if (!check("storage", store.status(), config.storage.Url())) return report;
  catalog::Catalog cat(**store);
  auto id = cat.Resolve(config.backup_id.empty() ? "latest" : config.backup_id);
  if (!check("backup", id.status(), id.ok() ? *id : "")) return report;
  report.backup_id = *id;
  auto manifest = cat.LoadManifest(*id);
  if (!check("manifest", manifest.status(), fmt::format("{} topics", manifest.ok() ? manifest->topics.size() : 0))) {
    return report;
  }
  const RestoreConfig& rc = config.restore;
  if (rc.time_window_start || rc.time_window_end) {
    int64_t start = rc.time_window_start.value_or(INT64_MIN);
    int64_t end = rc.time_window_end.value_or(INT64_MAX);
    uint64_t partitions = 0;
    for (const auto& t : manifest->topics) {
      if (!rc.topics.empty() && !MatchesAny(rc.topics, t.name)) continue;
      for (const auto& p : t.partitions) {
        if (p.min_timestamp && *p.min_timestamp <= end && *p.max_timestamp >= start) ++partitions;
      }
    }
    check("time window",
          partitions > 0 ? Status::Ok()
                         : Status::InvalidArgument(fmt::format(
                               "no record of the selected topics has a timestamp in [{}, {}]: the restore would "
                               "write nothing",
                               start, end)),
          fmt::format("[{}, {}] selects data in {} partitions", start, end, partitions));
  }
  // The rest is exactly what a restore checks before writing: run it as a dry run.
  Config dry = config;
  dry.restore.dry_run = true;
  dry.backup_id = *id;
  RunOptions quiet;  // no on_progress: a dry run shows nothing
  restore::RestoreRun run(dry, quiet);
  auto planned = run.Run();
  if (planned.ok()) {
    bool window_failed = std::any_of(report.checks.begin(), report.checks.end(),
                                     [](const PreflightCheck& c) { return c.name == "time window" && !c.ok; });
    if ((rc.time_window_start || rc.time_window_end) && planned->records == 0 && !window_failed) {
      check("time window",
            Status::InvalidArgument(fmt::format(
                "no backed-up record of the selected topics has a timestamp in [{}, {}] (inclusive): the restore "
                "would write nothing; widen restore.time_window_start/time_window_end",
                rc.time_window_start.value_or(INT64_MIN), rc.time_window_end.value_or(INT64_MAX))),
            "");
    }
    for (const auto& t : planned->topics) {
      std::string what = t.created              ? "will be created"
                         : t.purged_offsets > 0 ? fmt::format(
                                                      "exists; its {} offsets will be deleted first "
                                                      "(restore.on_existing_data: purge)",
                                                      t.purged_offsets)
                                                : "exists and may be written";
      check("topic " + t.name, Status::Ok(), fmt::format("{}; {} records to restore", what, t.records));
    }
    if (!planned->skipped.empty()) {
      check("data", Status::Ok(),
            fmt::format("{} records in {} range{} cannot be read and will be skipped (restore.on_corruption: skip); "
                        "`validate --deep` lists them",
                        planned->records_skipped, planned->skipped.size(), planned->skipped.size() == 1 ? "" : "s"));
    }
    check("target", Status::Ok(), fmt::format("{} reachable", fmt::join(config.target.bootstrap_servers, ",")));
  } else {
    check("restore plan", planned.status(), "");
  }
  return report;
}

}  // namespace kafka_backup
