// The config file: ParseConfig reads the top level (mode, backup_id, and one
// section reader per map, sections.h) and turns a ConfigError into a Status;
// the value formats shared by sections and the CLI (durations, ${TIMESTAMP}).
#include "kafka_backup/config.h"

#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config/map_reader.h"
#include "config/sections.h"

namespace kafka_backup {

Result<int64_t> ParseDurationSecs(std::string_view text) {
  auto bad = [text] {
    return Status::InvalidArgument(fmt::format(
        "expected a duration such as 30d, 12h, 90m, 45s or 2w (a positive integer and a unit), got '{}'", text));
  };
  if (text.size() < 2) return bad();
  std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) return bad();
  int64_t n = std::stoll(std::string(digits));
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = int64_t{7} * 86400;
      break;
    default:
      return bad();
  }
  if (n <= 0) return bad();
  return n * unit;
}

std::string FormatDurationSecs(int64_t secs) {
  for (auto [unit, name] : {std::pair<int64_t, char>{7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}}) {
    if (secs > 0 && secs % unit == 0) return fmt::format("{}{}", secs / unit, name);
  }
  return fmt::format("{}s", secs);
}

const std::string& ProcessTimestamp() {
  static const std::string ts = [] {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &utc);
    return std::string(buf);
  }();
  return ts;
}

Result<Config> ParseConfig(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}:{}: not valid YAML: {}", name, e.mark.line + 1, e.msg));
  }
  if (!root || root.IsNull()) return Status::InvalidArgument(fmt::format("{}: the file is empty", name));
  Config c;
  c.source_file = name;
  try {
    config::RejectDuplicateKeys(root, "", name);
    config::MapReader top(root, "", name);
    if (auto v = top.String("mode")) {
      c.mode = *v;
      if (c.mode != "backup" && c.mode != "restore" && c.mode != "drill") {
        top.FailKey(top.Get("mode"), "mode", fmt::format("expected backup, restore or drill, got '{}'", *v));
      }
    }
    if (auto v = top.String("backup_id")) c.backup_id = *v;
    if (auto m = top.Map("source")) {
      config::ReadKafka(*m, &c.source);
      c.has_source = true;
    }
    if (auto m = top.Map("target")) {
      config::ReadKafka(*m, &c.target);
      c.has_target = true;
    }
    if (auto m = top.Map("storage")) config::ReadStorage(*m, &c.storage);
    if (auto m = top.Map("backup")) config::ReadBackup(*m, &c.backup);
    if (auto m = top.Map("restore")) config::ReadRestore(*m, &c.restore, name);
    if (auto m = top.Map("metrics")) config::ReadMetrics(*m, &c.metrics);
    if (auto m = top.Map("encryption")) config::ReadEncryption(*m, top.Get("encryption"), &c.encryption);
    if (auto m = top.Map("retention")) config::ReadRetention(*m, &c.retention);
    if (auto m = top.Map("drill")) config::ReadDrill(*m, &c.drill);
    top.CheckNoUnknownKeys();
  } catch (const config::ConfigError& e) {
    return Status::InvalidArgument(e.message);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}:{}: {}", name, e.mark.line + 1, e.msg));
  }
  return c;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Status::InvalidArgument(fmt::format("cannot read config file '{}': {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace kafka_backup
