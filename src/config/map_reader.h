// The strict YAML walker the section readers use: each key is asked for by
// name and type, `${VAR}` is expanded in every scalar, and a key nobody asked
// for, a wrong type or a key given twice is an error naming file:line and the
// key's dotted path.
//
// Owns: ConfigError (thrown inside the parser, turned into a Status by
// ParseConfig, config.cc) and the checks that do not depend on a section.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace kafka_backup::config {

// Raised inside the parser and turned into a Status at the boundary; the
// message already carries file, line and key.
struct ConfigError {
  std::string message;
};

// "a map", "a list", ... for messages.
const char* KindName(const YAML::Node& n);

// Walks one YAML map, checking each key against what the caller asks for.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path, const std::string& file)
      : node_(node), path_(std::move(path)), file_(file) {
    if (!node_.IsMap()) Fail(node_, fmt::format("expected a map, got {}", KindName(node_)));
  }

  [[noreturn]] void Fail(const YAML::Node& at, const std::string& what) const {
    throw ConfigError{
        fmt::format("{}:{}: {}: {}", file_, at.Mark().line + 1, path_.empty() ? "(top level)" : path_, what)};
  }
  [[noreturn]] void FailKey(const YAML::Node& at, const std::string& key, const std::string& what) const {
    throw ConfigError{fmt::format("{}:{}: {}: {}", file_, at.Mark().line + 1, Join(key), what)};
  }

  std::string Join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node Get(const std::string& key) {
    known_.insert(key);
    return node_[key];
  }

  std::optional<std::string> String(const std::string& key);
  std::optional<int64_t> Int(const std::string& key, int64_t min, int64_t max);
  // A duration (ParseDurationSecs: "30s", "10m", "7d"), in seconds.
  std::optional<int64_t> DurationSecs(const std::string& key);
  std::optional<bool> Bool(const std::string& key);
  // A list of strings; a single string is accepted too and split on commas
  // when `split_commas` (bootstrap_servers: "a:9092,b:9092").
  std::optional<std::vector<std::string>> StringList(const std::string& key, bool split_commas = false);
  std::optional<std::map<std::string, std::string>> StringMap(const std::string& key);
  // topic -> [int, ...]
  std::optional<std::map<std::string, std::vector<int32_t>>> IntListMap(const std::string& key);
  // topic -> {int: int}
  std::optional<std::map<std::string, std::map<int32_t, int32_t>>> IntMapMap(const std::string& key);
  // topic -> int
  std::optional<std::map<std::string, int32_t>> IntMap(const std::string& key, int32_t min, int32_t max);
  std::optional<MapReader> Map(const std::string& key);
  int32_t ToInt(const YAML::Node& n, const std::string& key, int64_t min, int64_t max) const;
  // Every key of the map must have been asked for.
  void CheckNoUnknownKeys() const;
  // Keys other backup tools have, and what does their job here.
  static std::string OtherToolHint(const std::string& key);
  // ${VAR} and ${VAR:-default} from the environment; ${TIMESTAMP} built in.
  std::string Expand(const YAML::Node& n, const std::string& key) const;

 private:
  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  std::set<std::string> known_;
};

// yaml-cpp keeps every pair of a map with a key given twice and looks the
// first one up, so a repeated key would be ignored without a word: refused
// here, anywhere in the file, with both lines.
void RejectDuplicateKeys(const YAML::Node& node, const std::string& path, const std::string& file);

}  // namespace kafka_backup::config
