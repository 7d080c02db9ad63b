// Shared pieces of the subcommands: exit codes, error reporting, config
// loading with command-line overrides. Exit codes are documented in
// docs/exit-codes.md; keep the two in step.
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "kafka_backup/catalog.h"
#include "kafka_backup/config.h"
#include "kafka_backup/restore.h"
#include "kafka_backup/status.h"

namespace kafka_backup::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // internal error
  kExitUsage = 2,        // bad flags, bad config
  kExitNotFound = 3,     // backup, topic, object not found
  kExitCorruption = 4,   // stored data failed a check (validate found problems)
  kExitUnavailable = 5,  // broker or storage unreachable; retry later
  kExitAuth = 6,         // credentials refused
  kExitConflict = 7,     // backup id exists, target topic holds data
  kExitIo = 8,           // local I/O failure (permissions, disk full)
};

int ExitCodeFor(const Status& status);
// Prints "error: <message>" on stderr and returns the exit code.
int Fail(const Status& status);

// --summary-file: one compact JSON object written when the command ends, for
// a supervisor that reads a file rather than stdout (a Kubernetes pod's
// termination message, /dev/termination-log; the operator reads it). It holds
// the command, its exit code, the error when it failed, and the headline
// figures the command recorded with AddSummary; never a secret (errors are
// masked before they reach Fail). At most kSummaryMaxBytes, Kubernetes's limit.
inline constexpr size_t kSummaryMaxBytes = 4096;
void SetSummaryFile(std::string path, std::string command);
// Merges fields into the summary (numbers and strings; later keys win).
void AddSummary(const nlohmann::json& fields);
// Records the error the summary reports (Fail and PrintError call it).
void SetSummaryError(const std::string& message);
// Writes the summary, if --summary-file was given; a failure to write is
// logged, and leaves exit_code as it is.
void WriteSummary(int exit_code);

// metrics.pushgateway_url (src/cli/push.cc): LoadConfig records the config's
// target, main the command's name; PushMetrics pushes when the command ends
// (nothing without a target).
void SetPushTarget(const MetricsConfig& config);
void SetPushCommand(std::string command);
void PushMetrics(int exit_code);

// A subcommand's action, run after parsing.
using Action = std::function<int()>;

// RunOptions::confirm for the CLI: on a terminal (stdin and stderr), prints
// `what` and asks; true only for "yes". Not on a terminal: true (the
// configuration asked for it; --yes is for the terminal).
bool ConfirmOnTerminal(const std::string& what);

struct StorageFlags {
  std::string config;     // --config
  std::string path;       // --path (URL or directory)
  std::string backup_id;  // --backup-id
  // --encryption-key-file: over the config's encryption section.
  std::string encryption_key_file;
  std::string format = "text";
};

// Loads --config (if given) and applies --path / --backup-id over it; starts
// the metrics server its metrics section asks for.
Result<Config> LoadConfig(const StorageFlags& flags, bool config_required);
// The storage URL from --path, or else from the config's storage section.
Result<std::string> StorageUrl(const StorageFlags& flags);
void AddFormatFlag(CLI::App* cmd, std::string* format);
// --format text|json|yaml, for commands that print one document (describe).
void AddFormatFlagWithYaml(CLI::App* cmd, std::string* format);
// `doc` as block YAML (keys in the JSON's order; strings quoted where YAML
// would read them as something else).
std::string JsonToYaml(const nlohmann::json& doc);
std::string JsonToYaml(const nlohmann::ordered_json& doc);  // keys in insertion order
// --encryption-key-file, into flags->encryption_key_file (LoadConfig applies
// it). `writing`: the key encrypts (backup), else it reads.
void AddEncryptionKeyFlag(CLI::App* cmd, StorageFlags* flags, bool writing);

// --time-window-start / --time-window-end: over restore.time_window_* in the
// config (SetTimeWindow applies them after LoadConfig).
struct TimeWindowFlags {
  std::string start;
  std::string end;
};
void AddTimeWindowFlags(CLI::App* cmd, TimeWindowFlags* flags);

// The storage location named by --path or the config, for the commands that
// read it (list, describe, status, show-offset-mapping).
Result<std::unique_ptr<BackupCatalog>> OpenCatalog(const StorageFlags& flags);

std::string FormatTime(int64_t epoch_ms);  // "2026-11-25T10:55:38.000Z", or "-" for 0
// How engines show progress: a redrawn display when stdout and stderr are
// terminals, plain log lines every 30 s otherwise, none with --no-progress.
RunOptions EngineOptions();
void SetProgressWanted(bool wanted);

void PrintRestoreReport(const RestoreReport& report, const std::string& format, bool phases);

void AddBackupCommand(CLI::App& app, Action* action);
void AddThreePhaseRestoreCommand(CLI::App& app, Action* action);
void AddValidateRestoreCommand(CLI::App& app, Action* action);
void AddShowOffsetMappingCommand(CLI::App& app, Action* action);
void AddOffsetCommands(CLI::App& app, Action* action);
void AddConfigCommand(CLI::App& app, Action* action);
void AddCompletionCommand(CLI::App& app, Action* action);
void AddRestoreCommand(CLI::App& app, Action* action);
void AddListCommand(CLI::App& app, Action* action);
void AddDescribeCommand(CLI::App& app, Action* action);
void AddValidateCommand(CLI::App& app, Action* action);
void AddStatusCommand(CLI::App& app, Action* action);
void AddPruneCommand(CLI::App& app, Action* action);
void AddDrillCommand(CLI::App& app, Action* action);
void AddDrillsCommand(CLI::App& app, Action* action);

}  // namespace kafka_backup::cli
