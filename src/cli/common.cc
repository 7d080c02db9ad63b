#include "common.h"

#include "progress_display.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <regex>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "kafka_backup/metrics.h"
#include "logging.h"

namespace kafka_backup::cli {

int ExitCodeFor(const Status& status) {
  using C = Status::Code;
  switch (status.code()) {
    case C::kOk:
      return kExitOk;
    case C::kInvalidArgument:
      return kExitUsage;
    case C::kNotFound:
      return kExitNotFound;
    case C::kCorruption:
      return kExitCorruption;
    case C::kUnavailable:
      return kExitUnavailable;
    case C::kAuth:
      return kExitAuth;
    case C::kAlreadyExists:
    case C::kConflict:
      return kExitConflict;
    case C::kIoError:
      return kExitIo;
    case C::kInternal:
      return kExitFailure;
  }
  return kExitFailure;
}

int Fail(const Status& status) {
  int code = ExitCodeFor(status);
  PrintError(status.ToString(), code);
  return code;
}

namespace {
struct Summary {
  std::string path;
  nlohmann::json fields = nlohmann::json::object();
  std::string error;
};
Summary& TheSummary() {
  static Summary summary;
  return summary;
}
}  // namespace

void SetSummaryFile(std::string path, std::string command) {
  TheSummary().path = std::move(path);
  TheSummary().fields["command"] = std::move(command);
}

void AddSummary(const nlohmann::json& fields) {
  TheSummary().fields.update(fields);
}

void SetSummaryError(const std::string& message) {
  if (TheSummary().error.empty()) TheSummary().error = message;
}

void WriteSummary(int exit_code) {
  Summary& s = TheSummary();
  if (s.path.empty()) return;
  nlohmann::json j = s.fields;
  j["exit_code"] = exit_code;
  auto dump = [&j] { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
  std::string out = dump();
  if (!s.error.empty()) {
    // The figures first, then as much of the error as the limit leaves room for.
    size_t room = kSummaryMaxBytes - std::min(kSummaryMaxBytes, out.size() + 64);
    j["error"] = s.error.size() <= room ? s.error : s.error.substr(0, room) + "...";
    out = dump();
    // Escaping can grow the error; shorten until it fits.
    while (out.size() > kSummaryMaxBytes && room > 0) {
      room /= 2;
      j["error"] = s.error.substr(0, room) + "...";
      out = dump();
    }
  }
  out += '\n';
  std::FILE* f = std::fopen(s.path.c_str(), "w");
  bool ok = f != nullptr && std::fwrite(out.data(), 1, out.size(), f) == out.size();
  if (f != nullptr && std::fclose(f) != 0) ok = false;
  if (!ok) spdlog::warn("cannot write the summary to {}: {}", s.path, std::strerror(errno));
}

Result<Config> LoadConfig(const StorageFlags& flags, bool config_required) {
  Config config;
  if (!flags.config.empty()) {
    KB_ASSIGN_OR_RETURN(config, LoadConfigFile(flags.config));
  } else if (config_required) {
    return Status::InvalidArgument("no configuration: pass --config FILE (see docs/config.md)");
  }
  SetPushTarget(config.metrics);
  // The config's metrics section, unless --metrics-port already serves them.
  if (config.metrics.port && MetricsPort() == 0) {
    KB_RETURN_IF_ERROR(ServeMetrics(*config.metrics.port, config.metrics.bind));
  }
  if (!flags.path.empty()) {
    config.storage = StorageConfig{};
    config.storage.path = flags.path;
  }
  if (!flags.backup_id.empty()) config.backup_id = flags.backup_id;
  if (!flags.encryption_key_file.empty()) {
    config.encryption = EncryptionConfig{};
    config.encryption.key_file = flags.encryption_key_file;
  }
  return config;
}

Result<std::string> StorageUrl(const StorageFlags& flags) {
  KB_ASSIGN_OR_RETURN(Config config, LoadConfig(flags, false));
  std::string url = config.storage.Url();
  if (url.empty()) {
    return Status::InvalidArgument("no storage location: pass --path (a directory or file:// URL) or --config");
  }
  return url;
}

Result<std::unique_ptr<BackupCatalog>> OpenCatalog(const StorageFlags& flags) {
  KB_ASSIGN_OR_RETURN(std::string url, StorageUrl(flags));
  return BackupCatalog::Open(url);
}

void AddFormatFlag(CLI::App* cmd, std::string* format) {
  cmd->add_option("--format", *format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
}

void AddFormatFlagWithYaml(CLI::App* cmd, std::string* format) {
  cmd->add_option("--format", *format, "Output format")
      ->check(CLI::IsMember({"text", "json", "yaml"}))
      ->capture_default_str();
}

namespace {

template <typename Json>
void EmitYaml(YAML::Emitter& out, const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key << k << YAML::Value;
        EmitYaml(out, v);
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& v : j) EmitYaml(out, v);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string: {
      // Quoted when a YAML reader would take it for a number, a boolean, null
      // or (YAML 1.1) a timestamp ("20261125", "on", "~", "2026-12-07T10:00:00Z");
      // the emitter quotes other special text.
      const std::string& v = j.template get_ref<const std::string&>();
      static const std::regex kNotAString(
          R"(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N|)"
          R"([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(inf|Inf|INF)|)"
          R"(\.(nan|NaN|NAN)|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt \t].*)?)");
      if (std::regex_match(v, kNotAString)) {
        out << YAML::DoubleQuoted << v;
      } else {
        out << v;
      }
      break;
    }
    case Json::value_t::null:
      out << YAML::Null;
      break;
    case Json::value_t::boolean:
      out << j.template get<bool>();
      break;
    default:
      out << j.dump();  // numbers as JSON writes them
  }
}

}  // namespace

std::string JsonToYaml(const nlohmann::json& doc) {
  YAML::Emitter out;
  EmitYaml(out, doc);
  return std::string(out.c_str()) + "\n";
}

std::string JsonToYaml(const nlohmann::ordered_json& doc) {
  YAML::Emitter out;
  EmitYaml(out, doc);
  return std::string(out.c_str()) + "\n";
}

void AddEncryptionKeyFlag(CLI::App* cmd, StorageFlags* flags, bool writing) {
  cmd->add_option("--encryption-key-file", flags->encryption_key_file,
                  writing ? "Encrypt the backup (AES-256-GCM) with the 32-byte key in this file (64 hex digits or "
                            "base64); overrides encryption.key_file/key_env in the config. Keep the key: the backup "
                            "cannot be read without it"
                          : "The key an encrypted backup was made with: a file holding it (64 hex digits or base64); "
                            "overrides encryption.key_file/key_env in the config, and "
                            "KAFKA_BACKUP_ENCRYPTION_KEY is read when neither is given");
}

void AddTimeWindowFlags(CLI::App* cmd, TimeWindowFlags* flags) {
  const char* forms = "epoch milliseconds, RFC 3339 (2026-12-01T10:00:00Z) or a time before now (-2h, -1d)";
  cmd->add_option(
      "--time-window-start", flags->start,
      fmt::format("Restore only records at or after this time: {}; overrides restore.time_window_start", forms));
  cmd->add_option("--time-window-end", flags->end,
                  fmt::format("Restore only records at or before this time (point-in-time recovery): {}; overrides "
                              "restore.time_window_end",
                              forms));
}

std::string FormatTime(int64_t epoch_ms) {
  if (epoch_ms <= 0) return "-";
  std::time_t secs = epoch_ms / 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", buf, epoch_ms % 1000);
}

namespace {
bool progress_wanted = true;
}

void SetProgressWanted(bool wanted) {
  progress_wanted = wanted;
}

bool ConfirmOnTerminal(const std::string& what) {
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDERR_FILENO) != 1) return true;
  fmt::print(stderr, "{}.\nType yes to go on (or run with --yes): ", what);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

RunOptions EngineOptions() {
  RunOptions options;
  ProgressDisplay display = ProgressDisplay::kLog;
  if (!progress_wanted) {
    display = ProgressDisplay::kNone;
  } else if (::isatty(STDOUT_FILENO) == 1 && ::isatty(STDERR_FILENO) == 1 && !JsonLogs()) {
    display = ProgressDisplay::kTerminal;
  }
  options.on_progress = ProgressDrawer(display);
  return options;
}

}  // namespace kafka_backup::cli
