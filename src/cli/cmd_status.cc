// `kafka-backup status --path URL [--backup-id ID|latest] [--format json] [--watch [--interval SECS]]`

#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/clock.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {
namespace {

std::string Ago(int64_t ms) {
  int64_t secs = std::max<int64_t>(0, ms / 1000);
  if (secs < 120) return fmt::format("{}s ago", secs);
  if (secs < 7200) return fmt::format("{}m ago", secs / 60);
  return fmt::format("{}h ago", secs / 3600);
}

nlohmann::json TimeOrNull(int64_t ms) {
  return ms > 0 ? nlohmann::json(FormatTime(ms)) : nlohmann::json(nullptr);
}

void PrintJson(const RunStatus& s, const std::string& url, bool from_manifest, int64_t now) {
  nlohmann::json topics = nlohmann::json::array();
  for (const auto& t : s.topics) {
    topics.push_back(
        {{"name", t.name}, {"partitions", t.partitions}, {"records", t.records}, {"bytes", t.bytes}, {"lag", t.lag}});
  }
  nlohmann::json j{{"storage", url},
                   {"from", from_manifest ? "manifest" : "run-status"},
                   {"backup_id", s.backup_id},
                   {"state", s.state},
                   {"stale", RunIsStale(s, now)},
                   {"host", s.host},
                   {"pid", s.pid},
                   {"tool_version", s.tool_version},
                   {"started_at", TimeOrNull(s.started_at_ms)},
                   {"updated_at", TimeOrNull(s.updated_at_ms)},
                   {"seconds_since_update", std::max<int64_t>(0, (now - s.updated_at_ms) / 1000)},
                   {"finished_at", TimeOrNull(s.finished_at_ms)},
                   {"last_checkpoint_at", TimeOrNull(s.last_checkpoint_ms)},
                   {"update_interval_secs", s.update_interval_secs},
                   {"error", s.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.error)},
                   {"records", s.records},
                   {"bytes", s.bytes},
                   {"stored_bytes", s.stored_bytes},
                   {"segments", s.segments},
                   {"topics", topics}};
  fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void PrintText(const RunStatus& s, bool from_manifest, int64_t now) {
  std::string where = s.host.empty() ? "" : fmt::format(" on {} (pid {})", s.host, s.pid);
  if (s.state == "running") {
    fmt::print("backup {}: running{}, started {}, last update {} ({})\n", s.backup_id, where,
               FormatTime(s.started_at_ms), FormatTime(s.updated_at_ms), Ago(now - s.updated_at_ms));
    if (RunIsStale(s, now)) {
      fmt::print(
          "  STALE: no update for much longer than its interval ({}s): the process may have died; a new run "
          "with the same backup id starts over\n",
          s.update_interval_secs);
    }
  } else if (s.state == "failed") {
    fmt::print("backup {}: failed{}, started {}, failed {}: {}\n", s.backup_id, where, FormatTime(s.started_at_ms),
               FormatTime(s.finished_at_ms), s.error);
  } else if (s.state == "stopped" || s.state == "interrupted") {
    fmt::print("backup {}: {}{}, started {}, {} {} ({}); everything read is checkpointed{}\n", s.backup_id, s.state,
               where, FormatTime(s.started_at_ms), s.state, FormatTime(s.finished_at_ms), Ago(now - s.finished_at_ms),
               s.state == "stopped" ? "" : ": run the same command again to resume it");
  } else {
    fmt::print("backup {}: completed{}, started {}, completed {} ({}){}\n", s.backup_id, where,
               FormatTime(s.started_at_ms), FormatTime(s.finished_at_ms), Ago(now - s.finished_at_ms),
               from_manifest ? "; from its manifest (no run status recorded)" : "");
  }
  std::string checkpoint = s.last_checkpoint_ms > 0 ? FormatTime(s.last_checkpoint_ms)
                                                    : "none yet (a one-shot backup commits once, at its end)";
  fmt::print("  {} records, {} read; {} segments, {} stored; last checkpoint: {}\n", s.records,
             HumanBytes(static_cast<double>(s.bytes)), s.segments, HumanBytes(static_cast<double>(s.stored_bytes)),
             checkpoint);
  fmt::print("{:<40} {:>10} {:>14} {:>10} {:>12}\n", "TOPIC", "PARTITIONS", "RECORDS", "BYTES", "LAG");
  for (const auto& t : s.topics) {
    fmt::print("{:<40} {:>10} {:>14} {:>10} {:>12}\n", t.name, t.partitions, t.records,
               HumanBytes(static_cast<double>(t.bytes)), t.lag);
  }
}

// One line of `status --watch` when not on a terminal.
void PrintLine(const RunStatus& s, int64_t now) {
  int64_t lag = 0;
  for (const auto& t : s.topics) lag += t.lag;
  fmt::print("{} backup {}: {}{}, {} records, {} read, {} segments, lag {}, last checkpoint {}\n", FormatTime(now),
             s.backup_id, s.state, RunIsStale(s, now) ? " (STALE)" : "", s.records,
             HumanBytes(static_cast<double>(s.bytes)), s.segments, lag,
             s.last_checkpoint_ms > 0 ? FormatTime(s.last_checkpoint_ms) : "none yet");
}

// Shows the status every `interval_secs` until the run is no longer running:
// redrawn in place on a terminal, a line (text) or a JSON document (json) per
// interval otherwise.
int Watch(const StorageFlags& flags, BackupCatalog& catalog, int interval_secs) {
  bool redraw = flags.format == "text" && ::isatty(STDOUT_FILENO) == 1;
  for (;;) {
    auto reading = catalog.ReadRunStatus(flags.backup_id);
    int64_t now = NowMs();
    if (reading.ok()) {
      const RunStatus& status = reading->status;
      if (flags.format == "json") {
        PrintJson(status, catalog.url(), reading->from_manifest, now);
      } else if (redraw) {
        fmt::print("\x1b[H\x1b[2J");  // home, clear
        PrintText(status, reading->from_manifest, now);
        fmt::print("\n(every {}s until the run ends; Ctrl-C to stop watching)\n", interval_secs);
      } else {
        PrintLine(status, now);
      }
      std::fflush(stdout);
      if (status.state != "running") return static_cast<int>(kExitOk);
    } else {
      // The backup goes on whatever we read; a failed read is tried again.
      spdlog::warn("cannot read the status of backup '{}': {}; trying again in {}s", flags.backup_id,
                   reading.status().ToString(), interval_secs);
    }
    std::this_thread::sleep_for(std::chrono::seconds(interval_secs));
  }
}

}  // namespace

void AddStatusCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  flags->backup_id = "latest";
  CLI::App* cmd = app.add_subcommand(
      "status",
      "What a running backup has done so far, or what the last run did: state, records, bytes, lag and last "
      "checkpoint per topic. Read from storage, so it works from any machine while the backup runs");
  cmd->add_option("--path", flags->path, "Storage location (directory or URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id, or 'latest': the run that wrote its status last")
      ->capture_default_str();
  AddFormatFlag(cmd, &flags->format);
  auto watch = std::make_shared<bool>(false);
  auto interval = std::make_shared<int>(5);
  CLI::Option* watch_flag = cmd->add_flag(
      "-w,--watch", *watch,
      "Show the status again every --interval seconds until the run ends: redrawn in place on a terminal, "
      "a line per interval otherwise (with --format json, one JSON document per line)");
  cmd->add_option("--interval", *interval, "Seconds between two looks with --watch")
      ->check(CLI::Range(1, 3600))
      ->needs(watch_flag)
      ->capture_default_str();
  cmd->callback([action, flags, watch, interval] {
    *action = [flags, watch, interval] {
      auto catalog = OpenCatalog(*flags);
      if (!catalog.ok()) return Fail(catalog.status());
      if (*watch) {
        // The first look must work: a wrong path or id is an error, not a wait.
        auto first = (*catalog)->ReadRunStatus(flags->backup_id);
        if (!first.ok()) return Fail(first.status());
        return Watch(*flags, **catalog, *interval);
      }
      auto reading = (*catalog)->ReadRunStatus(flags->backup_id);
      if (!reading.ok()) return Fail(reading.status());
      int64_t now = NowMs();
      if (flags->format == "json") {
        PrintJson(reading->status, (*catalog)->url(), reading->from_manifest, now);
      } else {
        PrintText(reading->status, reading->from_manifest, now);
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
