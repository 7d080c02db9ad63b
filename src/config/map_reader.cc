#include "config/map_reader.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "kafka_backup/config.h"

namespace kafka_backup::config {

const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing (null)";
    default:
      return "an undefined value";
  }
}

std::optional<std::string> MapReader::String(const std::string& key) {
  YAML::Node n = Get(key);
  if (!n) return std::nullopt;
  if (n.IsNull()) return std::string();
  if (!n.IsScalar()) FailKey(n, key, fmt::format("expected a string, got {}", KindName(n)));
  return Expand(n, key);
}

std::optional<int64_t> MapReader::Int(const std::string& key, int64_t min, int64_t max) {
  std::optional<std::string> s = String(key);
  if (!s) return std::nullopt;
  YAML::Node n = node_[key];
  int64_t v = 0;
  size_t used = 0;
  try {
    v = std::stoll(*s, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s->empty() || used != s->size()) FailKey(n, key, fmt::format("expected an integer, got '{}'", *s));
  if (v < min || v > max) FailKey(n, key, fmt::format("{} is out of range [{}, {}]", v, min, max));
  return v;
}

std::optional<int64_t> MapReader::DurationSecs(const std::string& key) {
  std::optional<std::string> s = String(key);
  if (!s) return std::nullopt;
  auto secs = ParseDurationSecs(*s);
  if (!secs.ok()) FailKey(node_[key], key, secs.status().message());
  return *secs;
}

std::optional<bool> MapReader::Bool(const std::string& key) {
  std::optional<std::string> s = String(key);
  if (!s) return std::nullopt;
  std::string lower = *s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  FailKey(node_[key], key, fmt::format("expected true or false, got '{}'", *s));
}

std::optional<std::vector<std::string>> MapReader::StringList(const std::string& key, bool split_commas) {
  YAML::Node n = Get(key);
  if (!n) return std::nullopt;
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (n.IsScalar()) {
    std::string s = Expand(n, key);
    if (!split_commas) return std::vector<std::string>{s};
    std::stringstream ss(s);
    for (std::string part; std::getline(ss, part, ',');) {
      part.erase(0, part.find_first_not_of(" \t"));
      part.erase(part.find_last_not_of(" \t") + 1);
      if (!part.empty()) out.push_back(part);
    }
    return out;
  }
  if (!n.IsSequence()) FailKey(n, key, fmt::format("expected a list of strings, got {}", KindName(n)));
  for (const auto& item : n) {
    if (!item.IsScalar()) FailKey(item, key, fmt::format("expected a list of strings, found {} in it", KindName(item)));
    out.push_back(Expand(item, key));
  }
  return out;
}

std::optional<std::map<std::string, std::string>> MapReader::StringMap(const std::string& key) {
  YAML::Node n = Get(key);
  if (!n) return std::nullopt;
  std::map<std::string, std::string> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) FailKey(n, key, fmt::format("expected a map of strings, got {}", KindName(n)));
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) FailKey(kv.second, key, "expected a map of strings");
    out[kv.first.as<std::string>()] = Expand(kv.second, key + "." + kv.first.as<std::string>());
  }
  return out;
}

std::optional<std::map<std::string, std::vector<int32_t>>> MapReader::IntListMap(const std::string& key) {
  YAML::Node n = Get(key);
  if (!n) return std::nullopt;
  std::map<std::string, std::vector<int32_t>> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) FailKey(n, key, fmt::format("expected a map of topic: [partitions], got {}", KindName(n)));
  for (const auto& kv : n) {
    std::string topic = kv.first.as<std::string>();
    const std::string at = fmt::format("{}.{}", key, topic);
    if (!kv.second.IsSequence()) FailKey(kv.second, at, "expected a list of partition numbers");
    for (const auto& item : kv.second) out[topic].push_back(ToInt(item, at, 0, INT32_MAX));
  }
  return out;
}

std::optional<std::map<std::string, std::map<int32_t, int32_t>>> MapReader::IntMapMap(const std::string& key) {
  YAML::Node n = Get(key);
  if (!n) return std::nullopt;
  std::map<std::string, std::map<int32_t, int32_t>> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) FailKey(n, key, fmt::format("expected a map of topic: {{source: target}}, got {}", KindName(n)));
  for (const auto& kv : n) {
    std::string topic = kv.first.as<std::string>();
    const std::string at = fmt::format("{}.{}", key, topic);
    if (!kv.second.IsMap()) FailKey(kv.second, at, "expected a map of source: target partitions");
    for (const auto& pair : kv.second)
      out[topic][ToInt(pair.first, at, 0, INT32_MAX)] = ToInt(pair.second, at, 0, INT32_MAX);
  }
  return out;
}

std::optional<std::map<std::string, int32_t>> MapReader::IntMap(const std::string& key, int32_t min, int32_t max) {
  YAML::Node n = Get(key);
  if (!n) return std::nullopt;
  std::map<std::string, int32_t> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) FailKey(n, key, fmt::format("expected a map of topic: number, got {}", KindName(n)));
  for (const auto& kv : n) {
    std::string topic = kv.first.as<std::string>();
    out[topic] = ToInt(kv.second, fmt::format("{}.{}", key, topic), min, max);
  }
  return out;
}

std::optional<MapReader> MapReader::Map(const std::string& key) {
  YAML::Node n = Get(key);
  if (!n || n.IsNull()) return std::nullopt;
  return MapReader(n, Join(key), file_);
}

int32_t MapReader::ToInt(const YAML::Node& n, const std::string& key, int64_t min, int64_t max) const {
  if (!n.IsScalar()) FailKey(n, key, fmt::format("expected an integer, got {}", KindName(n)));
  std::string s = Expand(n, key);
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size()) FailKey(n, key, fmt::format("expected an integer, got '{}'", s));
  if (v < min || v > max) FailKey(n, key, fmt::format("{} is out of range [{}, {}]", v, min, max));
  return static_cast<int32_t>(v);
}

void MapReader::CheckNoUnknownKeys() const {
  for (const auto& kv : node_) {
    std::string key = kv.first.as<std::string>();
    if (known_.count(key) == 0) {
      std::string allowed;
      for (const auto& k : known_) allowed += (allowed.empty() ? "" : ", ") + k;
      throw ConfigError{fmt::format("{}:{}: unknown key '{}' in {} (allowed: {}){}", file_, kv.first.Mark().line + 1,
                                    Join(key), path_.empty() ? "the top level" : "'" + path_ + "'", allowed,
                                    OtherToolHint(key))};
    }
  }
}

std::string MapReader::OtherToolHint(const std::string& key) {
  static const std::map<std::string, std::string> kHints = {
      {"segment_max_interval_ms",
       "every checkpoint of a continuous backup seals and stores each partition's open segment, so "
       "checkpoint_interval_secs bounds the time a segment spans and the RPO of quiet topics too"},
  };
  auto it = kHints.find(key);
  return it == kHints.end() ? "" : "; " + it->second;
}

std::string MapReader::Expand(const YAML::Node& n, const std::string& key) const {
  const std::string& in = n.Scalar();
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size() || in[i + 1] != '{') {
      out.push_back(in[i]);
      continue;
    }
    size_t close = in.find('}', i + 2);
    if (close == std::string::npos) FailKey(n, key, fmt::format("unterminated '${{' in '{}'", in));
    std::string expr = in.substr(i + 2, close - i - 2);
    std::optional<std::string> fallback;
    if (auto d = expr.find(":-"); d != std::string::npos) {
      fallback = expr.substr(d + 2);
      expr = expr.substr(0, d);
    }
    bool valid_name = !expr.empty() && std::all_of(expr.begin(), expr.end(),
                                                   [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    if (!valid_name) FailKey(n, key, fmt::format("'${{{}}}' is not a valid variable reference", expr));
    if (const char* env = std::getenv(expr.c_str())) {
      out += env;
    } else if (expr == "TIMESTAMP") {
      out += ProcessTimestamp();
    } else if (fallback) {
      out += *fallback;
    } else {
      FailKey(n, key,
              fmt::format("environment variable {} is not set (export it, or write ${{{}:-default}})", expr, expr));
    }
    i = close;
  }
  return out;
}

void RejectDuplicateKeys(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) RejectDuplicateKeys(node[i], fmt::format("{}[{}]", path, i), file);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    const std::string at = path.empty() ? key : fmt::format("{}.{}", path, key);
    const int line = kv.first.Mark().line + 1;
    auto [it, inserted] = first_line.emplace(key, line);
    if (!inserted) {
      throw ConfigError{fmt::format("{}:{}: {}: the key is given twice (lines {} and {}); keep one", file, line, at,
                                    it->second, line)};
    }
    RejectDuplicateKeys(kv.second, at, file);
  }
}

}  // namespace kafka_backup::config
