// `kafka-backup drill --config FILE [--backup-id ID] [--keep] [--html FILE] [--format json]`,
// `kafka-backup drill verify REPORT [--public-key PEM]` and
// `kafka-backup drills --path URL [--backup-id ID] [--format json]`
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/drill.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {

namespace {

std::string Seconds(const std::optional<double>& s) {
  return s ? fmt::format("{:.1f} s", *s) : std::string("-");
}

void PrintDrill(const DrillReport& r) {
  for (const auto& c : r.cleaned_up) fmt::print("  cleaned up what an earlier drill left: {}\n", c);
  if (r.validate) {
    fmt::print("  validation ({}): {}, {} records checked\n", r.validation, r.validate->ok() ? "passed" : "FAILED",
               r.validate->records_checked);
  }
  for (const auto& p : r.partitions) {
    if (!p.ok) fmt::print("  {}[{}] FAILED: {}\n", p.topic, p.partition, p.problem);
  }
  for (const auto& g : r.groups) {
    if (!g.ok) fmt::print("  group {} {}[{}] FAILED: expected {}\n", g.group_id, g.topic, g.partition, g.expected);
  }
  for (const auto& n : r.not_checked) fmt::print("  not checked: {}\n", n);
  size_t matched = 0;
  for (const auto& p : r.partitions) matched += p.digest == "match" ? 1 : 0;
  double rate = r.restore_seconds > 0 ? static_cast<double>(r.bytes) / r.restore_seconds : 0;
  fmt::print("{} drill {} of backup {}: {} partitions read back ({} digests match), {} groups checked\n",
             r.ok() ? "passed:" : "FAILED:", r.drill_id, r.backup_id, r.partitions.size(), matched, r.groups.size());
  fmt::print("  RTO: restore {:.1f} s for {} records, {} ({}/s)\n", r.restore_seconds, r.records,
             HumanBytes(static_cast<double>(r.bytes)), HumanBytes(rate));
  fmt::print(
      "  RPO: newest record {} ago{}\n", Seconds(r.rpo_seconds),
      r.checkpoint_age_seconds ? fmt::format(", last checkpoint {} ago", Seconds(r.checkpoint_age_seconds)) : "");
  fmt::print("  scratch topics ({}*) {}; evidence: {} ({}), page: {}\n", r.topic_prefix, r.kept ? "kept" : "deleted",
             r.evidence_key,
             r.signing_key_id.empty() ? "unsigned: no drill.signing_key_file" : "signed by " + r.signing_key_id,
             r.html_key);
}

// A whole file, or stdin for "-"; false (and *error) when it cannot be read.
bool ReadInput(const std::string& path, std::string* out, std::string* error) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      *error = fmt::format("{}: cannot be read", path);
      return false;
    }
    text << in.rdbuf();
  }
  *out = text.str();
  return true;
}

void AddVerifyCommand(CLI::App* drill, Action* action) {
  auto report = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("text");
  CLI::App* cmd = drill->add_subcommand(
      "verify",
      "Check a drill report's Ed25519 signature: that it was signed (drill.signing_key_file) and not changed since. "
      "With --public-key, also that the holder of that key signed it. Exit code 0 when it verifies, 4 when not");
  cmd->add_option("report", *report,
                  "The report: a file (drills/<backup>/<drill>.json, or drill --format json's "
                  "output), or - for stdin")
      ->required();
  cmd->add_option("--public-key", *key, "PEM file of the signer's key (public, or the private key itself)");
  AddFormatFlag(cmd, format.get());
  cmd->callback([action, report, key, format] {
    *action = [report, key, format] {
      std::string text, pem, error;
      if (!ReadInput(*report, &text, &error)) return Fail(Status::NotFound(error));
      if (!key->empty() && !ReadInput(*key, &pem, &error)) {
        return Fail(Status::InvalidArgument("--public-key " + error));
      }
      DrillVerification v = VerifyDrillReport(text, pem);
      if (*format == "json") {
        fmt::print("{}\n", nlohmann::json{{"report", *report},
                                          {"ok", v.ok},
                                          {"pinned", v.pinned},
                                          {"drill_id", v.drill_id},
                                          {"backup_id", v.backup_id},
                                          {"key_id", v.key_id},
                                          {"problem", v.problem}}
                               .dump());
      } else if (v.ok) {
        fmt::print("verified: drill {} of backup {}, signed by key {}{}\n", v.drill_id, v.backup_id, v.key_id,
                   v.pinned ? " (the key given)"
                            : "; pass --public-key to check that it is your key, not only one that the report names");
      } else {
        fmt::print("NOT verified: {}: {}\n", *report, v.problem);
      }
      if (!v.ok) SetSummaryError("drill verify: " + v.problem);
      return v.ok ? static_cast<int>(kExitOk) : static_cast<int>(kExitCorruption);
    };
  });
}

nlohmann::json SummaryJson(const DrillSummary& d) {
  double rate = d.restore_seconds > 0 ? static_cast<double>(d.bytes) / 1e6 / d.restore_seconds : 0;
  return {{"drill_id", d.drill_id},
          {"backup_id", d.backup_id},
          {"ok", d.ok},
          {"finished_at_ms", d.finished_at_ms},
          {"restore_seconds", d.restore_seconds},
          {"records", d.records},
          {"bytes", d.bytes},
          {"mb_per_sec", rate},
          {"rpo_seconds", d.rpo_seconds ? nlohmann::json(*d.rpo_seconds) : nlohmann::json()},
          {"failures", d.failures},
          {"evidence_key", d.evidence_key}};
}

void PrintDrills(const std::vector<DrillSummary>& drills) {
  if (drills.empty()) {
    fmt::print("no drill reports (kafka-backup drill stores one per drill: docs/drills.md)\n");
    return;
  }
  fmt::print("{:<24} {:<32} {:<7} {:>10} {:>12} {:>12} {}\n", "DRILL", "BACKUP", "RESULT", "RTO", "RATE", "RPO",
             "FINISHED");
  for (const auto& d : drills) {
    double rate = d.restore_seconds > 0 ? static_cast<double>(d.bytes) / d.restore_seconds : 0;
    fmt::print("{:<24} {:<32} {:<7} {:>10} {:>12} {:>12} {}\n", d.drill_id, d.backup_id, d.ok ? "passed" : "FAILED",
               fmt::format("{:.1f} s", d.restore_seconds), HumanBytes(rate) + "/s", Seconds(d.rpo_seconds),
               FormatTime(d.finished_at_ms));
  }
}

}  // namespace

void AddDrillsCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  CLI::App* cmd = app.add_subcommand(
      "drills", "List the stored drill reports (kafka-backup drill), oldest first: result, RTO, restore rate, RPO");
  cmd->add_option("--path", flags->path, "Storage location (directory or URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  cmd->add_option("--backup-id", flags->backup_id, "Only the drills of this backup");
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags] {
    *action = [flags] {
      auto url = StorageUrl(*flags);
      if (!url.ok()) return Fail(url.status());
      auto drills = ListDrills(*url, flags->backup_id);
      if (!drills.ok()) return Fail(drills.status());
      if (flags->format == "json") {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& d : *drills) list.push_back(SummaryJson(d));
        fmt::print("{}\n", nlohmann::json{{"storage", *url}, {"drills", list}}.dump());
      } else {
        PrintDrills(*drills);
      }
      return static_cast<int>(kExitOk);
    };
  });
}

void AddDrillCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto keep = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "drill",
      "Prove a backup restores: validate it, restore it into scratch topics (drill.topic_prefix, default "
      "drill-<id>-) on the target cluster, read them back and check every partition's record count and content "
      "digest against the manifest and the consumer-group positions the restore committed, measure RTO and "
      "RPO, delete the scratch topics and store the report beside the backup (drills/<backup>/<drill>.json). "
      "Exit code 4 if a check fails, naming the partitions.");
  cmd->add_option("-c,--config", flags->config, "YAML configuration (mode: drill; storage, target, drill)");
  cmd->add_option("--path", flags->path, "Storage location, overrides storage in the config");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest', overrides backup_id in the config");
  cmd->add_flag("--keep", *keep, "Leave the scratch topics and groups (drill.keep: true)");
  auto html = std::make_shared<std::string>();
  cmd->add_option("--html", *html,
                  "Also write the report's page (stored as drills/<backup>/<drill>.html) to this file");
  AddEncryptionKeyFlag(cmd, flags.get(), false);
  AddFormatFlag(cmd, &flags->format);
  AddVerifyCommand(cmd, action);
  cmd->callback([cmd, action, flags, keep, html] {
    if (cmd->got_subcommand("verify")) return;  // its own action
    *action = [flags, keep, html] {
      if (flags->config.empty()) {
        return Fail(Status::InvalidArgument(
            "drill needs --config FILE (mode: drill; docs/drills.md), or: drill verify REPORT"));
      }
      auto config = LoadConfig(*flags, true);
      if (!config.ok()) return Fail(config.status());
      if (*keep) config->drill.keep = true;
      auto report = RunDrill(*config, EngineOptions());
      if (!report.ok()) return Fail(report.status());
      std::vector<std::string> failures = report->Failures();
      AddSummary({{"drill_id", report->drill_id},
                  {"backup_id", report->backup_id},
                  {"passed", report->ok()},
                  {"restore_seconds", report->restore_seconds},
                  {"records", report->records},
                  {"failures", failures.size()}});
      if (!failures.empty()) {
        SetSummaryError(fmt::format("drill of backup {}: {} check{} failed; the first: {}", report->backup_id,
                                    failures.size(), failures.size() == 1 ? "" : "s", failures.front()));
        for (const auto& f : failures) spdlog::error("drill: {}", f);
      }
      if (!html->empty()) {
        std::ofstream out(*html, std::ios::binary);
        out << DrillReportHtml(*report);
        if (!out) spdlog::error("drill: cannot write the page to {}", *html);
      }
      if (flags->format == "json") {
        fmt::print("{}\n", report->stored_json);
      } else {
        PrintDrill(*report);
      }
      return report->ok() ? static_cast<int>(kExitOk) : static_cast<int>(kExitCorruption);
    };
  });
}

}  // namespace kafka_backup::cli
