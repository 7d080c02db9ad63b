// `kafka-backup prune --path URL [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N]
//  [--keep-monthly N] [--max-age 30d] [--min-keep N] [--backup-prefix P] [--dry-run] [--format json]`
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/prune.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {

namespace {

struct PruneFlags {
  StorageFlags storage;
  int keep_last = -1, keep_hourly = -1, keep_daily = -1, keep_weekly = -1, keep_monthly = -1, min_keep = -1;
  std::string max_age;
  std::string backup_prefix;
  bool dry_run = false;
};

std::string Human(uint64_t bytes) {
  return HumanBytes(static_cast<double>(bytes));
}

void PrintJson(const PruneReport& r, const RetentionConfig& policy) {
  nlohmann::json backups = nlohmann::json::array();
  for (const auto& b : r.backups) {
    backups.push_back({{"backup_id", b.backup_id},
                       {"state", b.state},
                       {"created_at", FormatTime(b.created_at_ms)},
                       {"action", b.keep ? "keep" : "prune"},
                       {"reasons", b.reasons},
                       {"objects", b.objects},
                       {"bytes", b.bytes},
                       {"referenced_objects", b.referenced_objects},
                       {"referenced_bytes", b.referenced_bytes}});
  }
  nlohmann::json p{{"keep_last", policy.keep_last},
                   {"keep_hourly", policy.keep_hourly},
                   {"keep_daily", policy.keep_daily},
                   {"keep_weekly", policy.keep_weekly},
                   {"keep_monthly", policy.keep_monthly},
                   {"max_age_secs", policy.max_age_secs ? nlohmann::json(*policy.max_age_secs) : nlohmann::json()},
                   {"min_keep", policy.min_keep},
                   {"backup_prefix", policy.backup_prefix}};
  nlohmann::json j{{"storage", r.storage},
                   {"dry_run", r.dry_run},
                   {"policy", p},
                   {"backups", backups},
                   {"pruned", r.pruned},
                   {"orphans", r.orphans},
                   {"objects", r.objects},
                   {"bytes", r.bytes},
                   {"referenced_objects", r.referenced_objects},
                   {"referenced_bytes", r.referenced_bytes}};
  fmt::print("{}\n", j.dump());
}

void PrintText(const PruneReport& r) {
  fmt::print("prune {}{}\n", r.storage, r.dry_run ? " (dry run: nothing is deleted)" : "");
  for (const auto& b : r.backups) {
    std::string reasons;
    for (const auto& why : b.reasons) reasons += (reasons.empty() ? "" : ", ") + why;
    std::string sizes;
    if (!b.keep) {
      sizes = fmt::format("; {} objects, {}", b.objects, Human(b.bytes));
      if (b.referenced_objects > 0) {
        sizes += fmt::format(" ({} objects, {} stay: kept backups reference them)", b.referenced_objects,
                             Human(b.referenced_bytes));
      }
    }
    fmt::print("{:<6} {:<40} {:<10} {:<25} {}{}\n", b.keep ? "KEEP" : "PRUNE", b.backup_id, b.state,
               FormatTime(b.created_at_ms), reasons, sizes);
  }
  fmt::print("{} {} backups and {} orphans: {} objects, {}; {} objects ({}) of them stay, referenced by kept backups\n",
             r.dry_run ? "would delete" : "deleted", r.pruned, r.orphans, r.objects, Human(r.bytes),
             r.referenced_objects, Human(r.referenced_bytes));
}

// The config's retention section with the flags over it.
Result<RetentionConfig> Policy(const PruneFlags& f) {
  KB_ASSIGN_OR_RETURN(Config config, LoadConfig(f.storage, false));
  RetentionConfig p = config.retention;
  auto over = [](int flag, int* into) {
    if (flag >= 0) *into = flag;
  };
  over(f.keep_last, &p.keep_last);
  over(f.keep_hourly, &p.keep_hourly);
  over(f.keep_daily, &p.keep_daily);
  over(f.keep_weekly, &p.keep_weekly);
  over(f.keep_monthly, &p.keep_monthly);
  over(f.min_keep, &p.min_keep);
  if (!f.max_age.empty()) {
    auto secs = ParseDurationSecs(f.max_age);
    if (!secs.ok()) return Status::InvalidArgument("--max-age: " + secs.status().message());
    p.max_age_secs = *secs;
  }
  if (!f.backup_prefix.empty()) p.backup_prefix = f.backup_prefix;
  return p;
}

}  // namespace

void AddPruneCommand(CLI::App& app, Action* action) {
  auto f = std::make_shared<PruneFlags>();
  CLI::App* cmd = app.add_subcommand(
      "prune",
      "Apply a retention policy: delete the committed backups it does not keep, and every object no kept, partial "
      "or continuous backup references (docs/retention.md). The flags override the config's retention section; "
      "with no rule at all prune refuses. --dry-run prints the same plan and deletes nothing.");
  cmd->add_option("--path", f->storage.path, "Storage location (directory or URL)");
  cmd->add_option("-c,--config", f->storage.config, "Take the storage location and retention policy from this file");
  auto count = [cmd](const char* name, int* into, const char* what) {
    cmd->add_option(name, *into, what)->check(CLI::Range(0, 1000000));
  };
  count("--keep-last", &f->keep_last, "Keep the N newest backups");
  count("--keep-hourly", &f->keep_hourly, "Keep the newest backup of each of the N most recent hours (UTC) with one");
  count("--keep-daily", &f->keep_daily, "... of each of the N most recent days (UTC)");
  count("--keep-weekly", &f->keep_weekly, "... of each of the N most recent ISO weeks");
  count("--keep-monthly", &f->keep_monthly, "... of each of the N most recent months");
  count("--min-keep", &f->min_keep, "Always keep the N newest candidates (default 1)");
  cmd->add_option("--max-age", f->max_age,
                  "Keep nothing created longer ago than this (30d, 12h, 90m, 45s, 2w), min-keep excepted");
  cmd->add_option("--backup-prefix", f->backup_prefix,
                  "Only backups whose id starts with this are candidates; the others are kept");
  cmd->add_flag("--dry-run", f->dry_run, "Print what would be deleted; delete nothing");
  AddFormatFlag(cmd, &f->storage.format);
  cmd->callback([action, f] {
    *action = [f] {
      auto url = StorageUrl(f->storage);
      if (!url.ok()) return Fail(url.status());
      auto policy = Policy(*f);
      if (!policy.ok()) return Fail(policy.status());
      auto report = RunPrune(*url, PruneOptions{*policy, f->dry_run});
      if (!report.ok()) return Fail(report.status());
      AddSummary({{"pruned", report->pruned},
                  {"orphans", report->orphans},
                  {"objects", report->objects},
                  {"bytes", report->bytes},
                  {"dry_run", report->dry_run}});
      if (f->storage.format == "json") {
        PrintJson(*report, *policy);
      } else {
        PrintText(*report);
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
