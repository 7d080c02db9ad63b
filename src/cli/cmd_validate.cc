// `kafka-backup validate --path URL --backup-id ID|latest [--deep] [--verbose] [--encryption-key-file PATH]
// [--format json]`
#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common.h"
#include "kafka_backup/text.h"
#include "kafka_backup/validate.h"

namespace kafka_backup::cli {

namespace {

nlohmann::json OptionalJson(const std::optional<int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

void PrintJson(const ValidateReport& r) {
  nlohmann::json issues = nlohmann::json::array();
  for (const auto& i : r.issues) {
    nlohmann::json issue{{"topic", i.topic}, {"partition", i.partition}, {"object", i.object}, {"message", i.message}};
    if (i.unreadable) {
      issue["unreadable"] = {{"position", i.unreadable->position},
                             {"first_offset", i.unreadable->first_offset},
                             {"last_offset", i.unreadable->last_offset},
                             {"records", i.unreadable->records}};
    }
    issues.push_back(std::move(issue));
  }
  nlohmann::json partitions = nlohmann::json::array();
  for (const auto& p : r.partition_results) {
    partitions.push_back({{"topic", p.topic},
                          {"partition", p.partition},
                          {"ok", p.ok()},
                          {"segments", p.segments},
                          {"records", p.records},
                          {"records_checked", p.records_checked},
                          {"records_unreadable", p.records_unreadable},
                          {"first_offset", OptionalJson(p.first_offset)},
                          {"last_offset", OptionalJson(p.last_offset)},
                          {"min_timestamp", OptionalJson(p.min_timestamp)},
                          {"max_timestamp", OptionalJson(p.max_timestamp)},
                          {"issues", p.issues}});
  }
  nlohmann::json j{{"backup_id", r.backup_id},
                   {"deep", r.deep},
                   {"ok", r.ok()},
                   {"topics", r.topics},
                   {"partitions", r.partitions},
                   {"segments", r.segments},
                   {"records_checked", r.records_checked},
                   {"bytes_read", r.bytes_read},
                   {"partition_results", partitions},
                   {"issues", issues}};
  fmt::print("{}\n", j.dump());
}

// "orders[3] FAILED: 2 segments, 1180 of 1200 records read, offsets 0..1199, times
// 2026-11-25T10:00:00.000Z..2026-11-25T11:00:00.000Z; 1 problem, 20 records unreadable"
std::string PartitionLine(const ValidatePartition& p, bool deep) {
  std::string records =
      deep ? fmt::format("{} of {} records read", p.records_checked, p.records) : fmt::format("{} records", p.records);
  std::string ranges;
  if (p.first_offset) {
    ranges = fmt::format(", offsets {}..{}, times {}..{}", *p.first_offset, *p.last_offset,
                         FormatTime(*p.min_timestamp), FormatTime(*p.max_timestamp));
  }
  std::string problems;
  if (!p.ok()) {
    problems = fmt::format("; {} problem{}", p.issues, p.issues == 1 ? "" : "s");
    if (p.records_unreadable > 0) problems += fmt::format(", {} records unreadable", p.records_unreadable);
  }
  return fmt::format("{}[{}] {}: {} segment{}, {}{}{}", p.topic, p.partition, p.ok() ? "ok" : "FAILED", p.segments,
                     p.segments == 1 ? "" : "s", records, ranges, problems);
}

void PrintText(const ValidateReport& r, bool verbose) {
  for (const auto& i : r.issues) {
    spdlog::error("problem: {}[{}] {}: {}", i.topic, i.partition, i.object, i.message);
  }
  // A line per partition with problems (per partition with --verbose): a
  // thousand sound partitions print nothing.
  size_t failed = 0;
  for (const auto& p : r.partition_results) {
    if (!p.ok()) ++failed;
    if (verbose || !p.ok()) fmt::print("  {}\n", PartitionLine(p, r.deep));
  }
  fmt::print("{} {} validation of backup {}: {} topics, {} partitions, {} segments{}\n",
             r.ok() ? "passed:" : "FAILED:", r.deep ? "deep" : "shallow", r.backup_id, r.topics, r.partitions,
             r.segments,
             r.deep ? fmt::format(", {} records checked ({} read)", r.records_checked,
                                  HumanBytes(static_cast<double>(r.bytes_read)))
                    : "");
  if (!r.ok()) {
    uint64_t unreadable = 0;
    for (const auto& p : r.partition_results) unreadable += p.records_unreadable;
    fmt::print("{} problem{} found, in {} of {} partitions{}\n", r.issues.size(), r.issues.size() == 1 ? "" : "s",
               failed, r.partitions, unreadable > 0 ? fmt::format("; {} records cannot be read", unreadable) : "");
  }
}

}  // namespace

void AddValidateCommand(CLI::App& app, Action* action) {
  auto flags = std::make_shared<StorageFlags>();
  auto deep = std::make_shared<bool>(false);
  auto verbose = std::make_shared<bool>(false);
  flags->backup_id = "latest";
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check a backup: the manifest and that every segment exists with its size; with --deep, read every "
      "block and check checksums, offsets, counts and time ranges, going on past damage to report all of it. "
      "Prints a line per partition with problems and a summary. Exit code 4 if a problem is found.");
  cmd->add_option("--path", flags->path, "Storage location (directory or file:// URL)");
  cmd->add_option("-c,--config", flags->config, "Take the storage location from this configuration");
  cmd->add_option("--backup-id", flags->backup_id, "Backup id or 'latest'")->capture_default_str();
  cmd->add_flag("--deep", *deep, "Read and check every record");
  cmd->add_flag("-v,--verbose", *verbose, "A line for every partition, not only those with problems");
  AddEncryptionKeyFlag(cmd, flags.get(), false);
  AddFormatFlag(cmd, &flags->format);
  cmd->callback([action, flags, deep, verbose] {
    *action = [flags, deep, verbose] {
      auto url = StorageUrl(*flags);
      if (!url.ok()) return Fail(url.status());
      auto config = LoadConfig(*flags, false);  // its encryption section (--deep reads the records)
      if (!config.ok()) return Fail(config.status());
      auto report = RunValidate(*url, flags->backup_id, *deep, EngineOptions(), config->encryption);
      if (!report.ok()) return Fail(report.status());
      uint64_t records = 0;
      for (const auto& p : report->partition_results) records += p.records;
      AddSummary({{"backup_id", report->backup_id},
                  {"valid", report->ok()},
                  {"deep", report->deep},
                  {"partitions", report->partitions},
                  {"records", records},
                  {"records_checked", report->records_checked},
                  {"problems", report->issues.size()}});
      if (!report->ok()) {
        const ValidateIssue& first = report->issues.front();
        SetSummaryError(fmt::format("backup {}: {} problem{}; the first: {}[{}] {}: {}", report->backup_id,
                                    report->issues.size(), report->issues.size() == 1 ? "" : "s", first.topic,
                                    first.partition, first.object, first.message));
      }
      if (flags->format == "json") {
        PrintJson(*report);
      } else {
        PrintText(*report, *verbose);
      }
      return report->ok() ? static_cast<int>(kExitOk) : static_cast<int>(kExitCorruption);
    };
  });
}

}  // namespace kafka_backup::cli
