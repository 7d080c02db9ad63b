// kafka-backup: the command-line client of the library. It parses arguments,
// calls the library and maps errors to exit codes (docs/exit-codes.md).
#include <malloc.h>

#include <fmt/format.h>

#include "common.h"
#include "kafka_backup/metrics.h"
#include "kafka_backup/version.h"
#include "logging.h"

namespace {

// Serves metrics when asked, then runs the subcommand: its exit code.
int Run(const kafka_backup::cli::Action& action, int metrics_port, const std::string& metrics_bind) {
  using namespace kafka_backup::cli;
  if (metrics_port >= 0) {
    kafka_backup::Status s = kafka_backup::ServeMetrics(metrics_port, metrics_bind);
    if (!s.ok()) return Fail(s);
  }
  try {
    return action();
  } catch (const std::exception& e) {
    // Every expected failure is a Status; an exception here is a bug.
    PrintError(fmt::format("internal error (a bug; please report it with this message): {}", e.what()), kExitFailure);
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kafka_backup::cli;
  // Blocks and segment buffers are megabytes each and come and go all the
  // time: keep freed memory for reuse instead of returning it to the kernel
  // (glibc would mmap and munmap each one, a page fault per 4 KiB).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{
      "kafka-backup: back up Kafka topics to storage and restore them.\n"
      "Storage is a directory (/var/backups/kafka or file:///var/backups/kafka).\n"
      "Exit codes: 0 ok, 1 internal error, 2 bad input, 3 not found, 4 corrupt data,\n"
      "5 unavailable (retry), 6 authentication, 7 conflict, 8 local I/O error."};
  app.set_version_flag("--version", std::string(kafka_backup::kVersion));
  app.require_subcommand(1);
  // The global flags are accepted after the subcommand as well: a subcommand
  // hands the options it does not know to this parent (and each subcommand
  // inherits the setting when it is added).
  app.fallthrough();
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "Log lines on stderr as text, or as JSON objects (time, level, message; errors add exit_code)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress,
               "No progress display on a terminal, nor progress log lines every 30 s otherwise");
  int metrics_port = -1;
  std::string metrics_bind = "0.0.0.0";
  app.add_option("--metrics-port", metrics_port,
                 "Serve Prometheus metrics on this port while the command runs: /metrics, and /health for "
                 "liveness (docs/metrics.md); 0 picks a free port. Overrides the config's metrics.port")
      ->check(CLI::Range(0, 65535));
  app.add_option("--metrics-bind", metrics_bind, "Address the metrics server listens on")->capture_default_str();
  std::string summary_file;
  app.add_option("--summary-file", summary_file,
                 "When the command ends, write one JSON object to this file: command, exit_code, error, and its "
                 "headline figures (backup_id, records, bytes, seconds); at most 4096 bytes. For a Kubernetes "
                 "pod: /dev/termination-log, its termination message");

  Action action;
  AddBackupCommand(app, &action);
  AddRestoreCommand(app, &action);
  AddListCommand(app, &action);
  AddDescribeCommand(app, &action);
  AddValidateCommand(app, &action);
  AddStatusCommand(app, &action);
  AddPruneCommand(app, &action);
  AddDrillCommand(app, &action);
  AddDrillsCommand(app, &action);
  AddValidateRestoreCommand(app, &action);
  AddThreePhaseRestoreCommand(app, &action);
  AddShowOffsetMappingCommand(app, &action);
  AddOffsetCommands(app, &action);
  AddConfigCommand(app, &action);
  AddCompletionCommand(app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  SetUpLogging(log_level, log_format);
  SetProgressWanted(!no_progress);
  std::string command;
  for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
    sub = sub->get_subcommands().front();
    command += (command.empty() ? "" : " ") + sub->get_name();
  }
  if (!summary_file.empty()) SetSummaryFile(summary_file, command);
  SetPushCommand(command);
  int rc = Run(action, metrics_port, metrics_bind);
  PushMetrics(rc);
  WriteSummary(rc);
  return rc;
}
