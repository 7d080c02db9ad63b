#include "kafka_backup/config.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "util/clock.h"
#include "util/glob.h"
#include "util/time_point.h"

namespace kafka_backup {
namespace {

// Raised inside the parser and turned into a Status at the boundary; the
// message already carries file, line and key.
struct ConfigError {
  std::string message;
};

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

  std::optional<std::string> String(const std::string& key) {
    YAML::Node n = Get(key);
    if (!n) return std::nullopt;
    if (n.IsNull()) return std::string();
    if (!n.IsScalar()) FailKey(n, key, fmt::format("expected a string, got {}", KindName(n)));
    return Expand(n, key);
  }

  std::optional<int64_t> Int(const std::string& key, int64_t min, int64_t max) {
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

  // A duration (ParseDurationSecs: "30s", "10m", "7d"), in seconds.
  std::optional<int64_t> DurationSecs(const std::string& key) {
    std::optional<std::string> s = String(key);
    if (!s) return std::nullopt;
    auto secs = ParseDurationSecs(*s);
    if (!secs.ok()) FailKey(node_[key], key, secs.status().message());
    return *secs;
  }

  std::optional<bool> Bool(const std::string& key) {
    std::optional<std::string> s = String(key);
    if (!s) return std::nullopt;
    std::string lower = *s;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "true" || lower == "yes" || lower == "on") return true;
    if (lower == "false" || lower == "no" || lower == "off") return false;
    FailKey(node_[key], key, fmt::format("expected true or false, got '{}'", *s));
  }

  // A list of strings; a single string is accepted too and split on commas
  // when `split_commas` (bootstrap_servers: "a:9092,b:9092").
  std::optional<std::vector<std::string>> StringList(const std::string& key, bool split_commas = false) {
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
      if (!item.IsScalar())
        FailKey(item, key, fmt::format("expected a list of strings, found {} in it", KindName(item)));
      out.push_back(Expand(item, key));
    }
    return out;
  }

  std::optional<std::map<std::string, std::string>> StringMap(const std::string& key) {
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

  // topic -> [int, ...]
  std::optional<std::map<std::string, std::vector<int32_t>>> IntListMap(const std::string& key) {
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

  // topic -> {int: int}
  std::optional<std::map<std::string, std::map<int32_t, int32_t>>> IntMapMap(const std::string& key) {
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

  // topic -> int
  std::optional<std::map<std::string, int32_t>> IntMap(const std::string& key, int32_t min, int32_t max) {
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

  std::optional<MapReader> Map(const std::string& key) {
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return std::nullopt;
    return MapReader(n, Join(key), file_);
  }

  int32_t ToInt(const YAML::Node& n, const std::string& key, int64_t min, int64_t max) const {
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

  // Every key of the map must have been asked for.
  void CheckNoUnknownKeys() const {
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

  // Keys other backup tools have, and what does their job here.
  static std::string OtherToolHint(const std::string& key) {
    static const std::map<std::string, std::string> kHints = {
        {"segment_max_interval_ms",
         "every checkpoint of a continuous backup seals and stores each partition's open segment, so "
         "checkpoint_interval_secs bounds the time a segment spans and the RPO of quiet topics too"},
    };
    auto it = kHints.find(key);
    return it == kHints.end() ? "" : "; " + it->second;
  }

  // ${VAR} and ${VAR:-default} from the environment; ${TIMESTAMP} built in.
  std::string Expand(const YAML::Node& n, const std::string& key) const {
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

 private:
  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  std::set<std::string> known_;
};

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// Keys that belong to one SASL mechanism: each is an error with any other.
struct MechanismKeys {
  const char* mechanism;
  std::vector<const char*> required;
  std::vector<const char*> optional;
};

const std::vector<MechanismKeys>& MechanismOnlyKeys() {
  static const std::vector<MechanismKeys> kKeys = {
      {"AWS_MSK_IAM", {}, {"aws_region"}},
      {"OAUTHBEARER", {"oauth_token_endpoint_url", "oauth_client_id", "oauth_client_secret"}, {"oauth_scope"}},
      {"GSSAPI", {"kerberos_principal", "kerberos_keytab"}, {"kerberos_service_name"}},
  };
  return kKeys;
}

void CheckMechanismKeys(MapReader& r, const SecurityConfig& s) {
  for (const MechanismKeys& m : MechanismOnlyKeys()) {
    const bool chosen = s.sasl_mechanism == m.mechanism;
    for (const auto* list : {&m.required, &m.optional}) {
      for (const char* key : *list) {
        if (!chosen && r.Get(key)) {
          r.FailKey(r.Get(key), key, fmt::format("only used with sasl_mechanism: {}: remove it", m.mechanism));
        }
      }
    }
    if (!chosen) continue;
    for (const char* key : m.required) {
      if (!r.Get(key) || r.String(key)->empty()) {
        r.FailKey(r.Get("sasl_mechanism"), "sasl_mechanism",
                  fmt::format("{} needs security.{} (see docs/config.md)", m.mechanism, key));
      }
    }
  }
  // Mechanisms that log in with something else than a username and password.
  static const std::map<std::string, std::string> kLogsInWith = {
      {"AWS_MSK_IAM", "AWS credentials (environment, profile, web identity, instance metadata)"},
      {"OAUTHBEARER", "a token from oauth_token_endpoint_url (oauth_client_id, oauth_client_secret)"},
      {"GSSAPI", "Kerberos tickets from kerberos_keytab (kerberos_principal)"},
  };
  auto with = kLogsInWith.find(s.sasl_mechanism);
  if (with == kLogsInWith.end()) return;
  if (!s.security_protocol.starts_with("SASL_")) {
    r.FailKey(r.Get("sasl_mechanism"), "sasl_mechanism",
              fmt::format("{} is a SASL mechanism, but security_protocol is {}: set security_protocol: SASL_SSL "
                          "(or SASL_PLAINTEXT){}",
                          s.sasl_mechanism, s.security_protocol,
                          s.sasl_mechanism == "AWS_MSK_IAM" ? " (MSK's IAM listener is SASL_SSL, port 9098)" : ""));
  }
  for (const char* key : {"sasl_username", "sasl_password"}) {
    if (r.Get(key)) {
      r.FailKey(r.Get(key), key,
                fmt::format("{} authenticates with {}, not a username and password: remove it", s.sasl_mechanism,
                            with->second));
    }
  }
  if (!s.oauth_token_endpoint_url.empty() && !s.oauth_token_endpoint_url.starts_with("https://") &&
      !s.oauth_token_endpoint_url.starts_with("http://")) {
    r.FailKey(r.Get("oauth_token_endpoint_url"), "oauth_token_endpoint_url",
              fmt::format("'{}' is not an http:// or https:// URL", s.oauth_token_endpoint_url));
  }
}

void ReadSecurity(MapReader& r, SecurityConfig* s) {
  if (auto v = r.String("security_protocol")) {
    s->security_protocol = Upper(*v);
    static const std::set<std::string> kProtocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    if (kProtocols.count(s->security_protocol) == 0) {
      r.FailKey(r.Get("security_protocol"), "security_protocol",
                fmt::format("unknown protocol '{}': expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", *v));
    }
  }
  if (auto v = r.String("sasl_mechanism")) {
    s->sasl_mechanism = Upper(*v);
    static const std::set<std::string> kMechanisms = {"PLAIN",       "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                      "AWS_MSK_IAM", "OAUTHBEARER",   "GSSAPI"};
    if (kMechanisms.count(s->sasl_mechanism) == 0) {
      r.FailKey(r.Get("sasl_mechanism"), "sasl_mechanism",
                fmt::format("unknown mechanism '{}': expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM, "
                            "OAUTHBEARER or GSSAPI",
                            *v));
    }
  }
  if (auto v = r.String("aws_region")) s->aws_region = *v;
  if (auto v = r.String("oauth_token_endpoint_url")) s->oauth_token_endpoint_url = *v;
  if (auto v = r.String("oauth_client_id")) s->oauth_client_id = *v;
  if (auto v = r.String("oauth_client_secret")) s->oauth_client_secret = *v;
  if (auto v = r.String("oauth_scope")) s->oauth_scope = *v;
  if (auto v = r.String("kerberos_principal")) s->kerberos_principal = *v;
  if (auto v = r.String("kerberos_keytab")) s->kerberos_keytab = *v;
  if (auto v = r.String("kerberos_service_name")) s->kerberos_service_name = *v;
  if (auto v = r.String("sasl_username")) s->sasl_username = *v;
  if (auto v = r.String("sasl_password")) s->sasl_password = *v;
  if (auto v = r.String("ssl_ca_location")) s->ssl_ca_location = *v;
  if (auto v = r.String("ssl_certificate_location")) s->ssl_certificate_location = *v;
  if (auto v = r.String("ssl_key_location")) s->ssl_key_location = *v;
  if (auto v = r.String("ssl_key_password")) s->ssl_key_password = *v;
  CheckMechanismKeys(r, *s);
  r.CheckNoUnknownKeys();
}

void ReadKafka(MapReader& r, KafkaConfig* k) {
  if (auto v = r.StringList("bootstrap_servers", /*split_commas=*/true)) k->bootstrap_servers = *v;
  if (auto sec = r.Map("security")) ReadSecurity(*sec, &k->security);
  if (auto topics = r.Map("topics")) {
    if (auto v = topics->StringList("include")) k->topics.include = *v;
    if (auto v = topics->StringList("exclude")) k->topics.exclude = *v;
    if (auto v = topics->String("on_missing")) {
      if (*v != "fail" && *v != "warn") {
        topics->FailKey(topics->Get("on_missing"), "on_missing", fmt::format("expected fail or warn, got '{}'", *v));
      }
      k->topics.on_missing = *v;
    }
    topics->CheckNoUnknownKeys();
  }
  if (auto v = r.StringMap("client_properties")) k->client_properties = *v;
  if (auto v = r.Int("connect_timeout_secs", 1, 3600)) k->connect_timeout_secs = static_cast<int>(*v);
  r.CheckNoUnknownKeys();
}

void ReadStorage(MapReader& r, StorageConfig* s) {
  if (auto v = r.String("backend")) {
    s->backend = *v;
    if (s->backend == "local" || s->backend == "file") s->backend = "filesystem";
    static const std::set<std::string> kBackends = {"filesystem", "s3", "azure", "gcs"};
    if (kBackends.count(s->backend) == 0) {
      r.FailKey(r.Get("backend"), "backend",
                fmt::format("unknown backend '{}': expected filesystem, s3, azure or gcs", *v));
    }
  }
  if (auto v = r.String("path")) s->path = *v;
  if (auto v = r.String("bucket")) s->bucket = *v;
  if (auto v = r.String("container")) s->bucket = *v;
  if (auto v = r.String("region")) s->region = *v;
  if (auto v = r.String("prefix")) s->prefix = *v;
  if (auto v = r.String("endpoint")) s->endpoint = *v;
  if (auto v = r.Bool("path_style")) s->path_style = *v;
  if (auto v = r.String("storage_class")) s->storage_class = *v;
  if (auto v = r.String("server_side_encryption")) {
    s->sse = *v;
    if (s->sse != "AES256" && s->sse != "aws:kms") {
      r.FailKey(r.Get("server_side_encryption"), "server_side_encryption",
                fmt::format("unknown server_side_encryption '{}': expected AES256 or aws:kms", *v));
    }
  }
  if (auto v = r.String("kms_key_id")) s->kms_key_id = *v;
  if (auto v = r.String("object_lock_mode")) {
    s->object_lock_mode = *v;
    if (*v != "GOVERNANCE" && *v != "COMPLIANCE") {
      r.FailKey(r.Get("object_lock_mode"), "object_lock_mode",
                fmt::format("unknown object_lock_mode '{}': expected GOVERNANCE or COMPLIANCE", *v));
    }
  }
  if (auto v = r.Int("object_lock_days", 1, 36500)) s->object_lock_days = static_cast<int>(*v);
  if (auto v = r.String("account")) s->account = *v;
  if (auto v = r.Int("max_bytes_per_sec", 1024, int64_t{1} << 40)) s->max_bytes_per_sec = static_cast<uint64_t>(*v);
  if (auto v = r.Int("stall_timeout_secs", 1, 3600)) s->stall_timeout_secs = static_cast<int>(*v);
  bool remote = s->backend == "s3" || s->backend == "azure" || s->backend == "gcs";
  if (remote && s->bucket.empty() && !s->path.empty() && s->path.find("://") == std::string::npos) {
    r.FailKey(r.Get("path"), "path",
              fmt::format("backend {} takes a bucket (storage.bucket) and a prefix, not a path", s->backend));
  }
  if (remote && s->bucket.empty() && s->path.empty()) {
    r.FailKey(r.Get("backend"), "backend",
              fmt::format("backend {} needs storage.bucket (and optionally storage.prefix)", s->backend));
  }
  r.CheckNoUnknownKeys();
}

// `at`: the encryption map itself, for the error when it names no key.
void ReadEncryption(MapReader& r, const YAML::Node& at, EncryptionConfig* e) {
  if (auto v = r.String("key_file")) e->key_file = *v;
  if (auto v = r.String("key_env")) e->key_env = *v;
  r.CheckNoUnknownKeys();
  if (!e->key_file.empty() && !e->key_env.empty()) {
    r.FailKey(r.Get("key_env"), "key_env", "give the key in one place: key_file or key_env, not both");
  }
  if (e->key_file.empty() && e->key_env.empty()) {
    r.Fail(at, "expected key_file (a file holding the key) or key_env (the name of a variable holding it)");
  }
}

void ReadMetrics(MapReader& r, MetricsConfig* m) {
  if (auto v = r.Int("port", 0, 65535)) m->port = static_cast<int>(*v);
  if (auto v = r.String("bind")) {
    if (v->empty()) r.FailKey(r.Get("bind"), "bind", "expected an address to listen on, e.g. 0.0.0.0 or 127.0.0.1");
    m->bind = *v;
  }
  if (auto v = r.String("pushgateway_url")) {
    bool http = v->rfind("http://", 0) == 0 || v->rfind("https://", 0) == 0;
    if (!http || v->find_first_of("?#") != std::string::npos) {
      r.FailKey(r.Get("pushgateway_url"), "pushgateway_url",
                fmt::format("expected http://host:port or https://host:port (a path prefix allowed), got '{}'", *v));
    }
    m->pushgateway_url = *v;
  }
  // Label names as Prometheus takes them; a value may hold anything but is
  // not empty (the Pushgateway refuses an empty grouping value).
  auto label_name = [](const std::string& n) {
    return !n.empty() && !std::isdigit(static_cast<unsigned char>(n[0])) &&
           std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  };
  if (auto v = r.String("pushgateway_job")) {
    if (v->empty()) r.FailKey(r.Get("pushgateway_job"), "pushgateway_job", "expected a job name, got ''");
    m->pushgateway_job = *v;
  }
  if (auto v = r.StringMap("pushgateway_labels")) {
    for (const auto& [name, value] : *v) {
      if (!label_name(name) || name == "job" || name == "command" || value.empty()) {
        r.FailKey(r.Get("pushgateway_labels"), "pushgateway_labels." + name,
                  "expected a label name ([A-Za-z_][A-Za-z0-9_]*, not job or command) with a non-empty value");
      }
    }
    m->pushgateway_labels = *v;
  }
  r.CheckNoUnknownKeys();
}

// earliest | latest | a point in time (util/time_point.h), resolved now.
StartOffset ReadStartOffset(MapReader& r, const YAML::Node& n, const std::string& key, int64_t now_ms) {
  std::string text = r.Expand(n, key);
  StartOffset o;
  if (text == "earliest") return o;
  if (text == "latest") {
    o.kind = StartOffset::Kind::kLatest;
    return o;
  }
  auto t = util::ParseTimePoint(text, now_ms);
  if (!t.ok()) r.FailKey(n, key, fmt::format("expected earliest, latest or a point in time: {}", t.status().message()));
  o.kind = StartOffset::Kind::kTime;
  o.time_ms = *t;
  return o;
}

void ReadStartOffsets(MapReader& r, BackupConfig* b) {
  int64_t now_ms = NowMs();
  if (YAML::Node n = r.Get("start_offset"); n) {
    if (!n.IsScalar()) r.FailKey(n, "start_offset", "expected earliest, latest or a point in time");
    b->start_offset = ReadStartOffset(r, n, "start_offset", now_ms);
  }
  YAML::Node n = r.Get("start_offset_topics");
  if (!n || n.IsNull()) return;
  if (!n.IsMap()) r.FailKey(n, "start_offset_topics", "expected a map of topic (or glob): start offset");
  for (const auto& kv : n) {
    std::string topic = kv.first.as<std::string>();
    std::string at = "start_offset_topics." + topic;
    if (!kv.second.IsScalar()) r.FailKey(kv.second, at, "expected earliest, latest or a point in time");
    b->start_offset_topics.emplace_back(topic, ReadStartOffset(r, kv.second, at, now_ms));
  }
}

void ReadBackup(MapReader& r, BackupConfig* b) {
  if (auto v = r.String("compression")) {
    b->compression = *v;
    if (b->compression != "zstd" && b->compression != "lz4" && b->compression != "none") {
      r.FailKey(r.Get("compression"), "compression",
                fmt::format("unknown compression '{}': expected zstd, lz4 or none", *v));
    }
  }
  if (auto v = r.Int("compression_level", 1, 19)) b->compression_level = static_cast<int>(*v);
  if (auto v = r.Int("checkpoint_interval_secs", 1, 86400)) b->checkpoint_interval_secs = static_cast<int>(*v);
  if (auto v = r.Bool("continuous")) b->continuous = *v;
  if (auto v = r.Bool("incremental")) b->incremental = *v;
  if (auto v = r.Bool("include_offset_headers")) b->include_offset_headers = *v;
  if (auto v = r.String("source_cluster_id")) b->source_cluster_id = *v;
  if (auto v = r.Int("segment_max_bytes", 1 << 16, int64_t{4} << 30)) b->segment_max_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.Int("max_buffered_bytes", 1 << 20, int64_t{64} << 30))
    b->max_buffered_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.Int("segment_max_records", 0, INT64_MAX)) b->segment_max_records = static_cast<uint64_t>(*v);
  if (auto v = r.Int("block_size_bytes", 1 << 12, 64 << 20)) b->block_size_bytes = static_cast<uint64_t>(*v);
  if (auto v = r.Bool("include_internal_topics")) b->include_internal_topics = *v;
  if (auto v = r.StringList("consumer_groups")) b->consumer_groups = *v;
  ReadStartOffsets(r, b);
  r.CheckNoUnknownKeys();
}

void ReadRestore(MapReader& r, RestoreConfig* o, const std::string& file) {
  if (auto v = r.StringList("topics")) o->topics = *v;
  // Epoch ms, RFC 3339 or relative to now (util/time_point.h); a relative
  // time is resolved once, here.
  int64_t now_ms = NowMs();
  auto time_point = [&](const char* key) -> std::optional<int64_t> {
    std::optional<std::string> s = r.String(key);
    if (!s) return std::nullopt;
    auto v = util::ParseTimePoint(*s, now_ms);
    if (!v.ok()) r.FailKey(r.Get(key), key, v.status().message());
    return *v;
  };
  if (auto v = time_point("time_window_start")) o->time_window_start = *v;
  if (auto v = time_point("time_window_end")) o->time_window_end = *v;
  if (auto v = r.Bool("create_topics")) o->create_topics = *v;
  if (auto v = r.Int("default_replication_factor", 1, 32767)) o->default_replication_factor = static_cast<int32_t>(*v);
  if (auto v = r.String("on_existing_data")) {
    o->on_existing_data = *v;
    if (*v != "fail" && *v != "append" && *v != "purge") {
      r.FailKey(r.Get("on_existing_data"), "on_existing_data",
                fmt::format("expected fail, append or purge, got '{}'", *v));
    }
  }
  if (auto v = r.String("on_corruption")) {
    o->on_corruption = *v;
    if (*v != "fail" && *v != "skip") {
      r.FailKey(r.Get("on_corruption"), "on_corruption", fmt::format("expected fail or skip, got '{}'", *v));
    }
  }
  if (auto v = r.Bool("include_offset_headers")) o->include_offset_headers = *v;
  if (auto v = r.String("restore_id")) o->restore_id = *v;
  if (auto v = r.String("consumer_group_strategy")) {
    o->consumer_group_strategy = *v;
    static const std::set<std::string> kStrategies = {"skip", "exact", "header-based", "timestamp-based"};
    if (kStrategies.count(*v) == 0) {
      r.FailKey(r.Get("consumer_group_strategy"), "consumer_group_strategy",
                fmt::format("unknown strategy '{}': expected skip, exact, header-based or timestamp-based", *v));
    }
  }
  if (auto v = r.Bool("reset_consumer_offsets")) o->reset_consumer_offsets = *v;
  if (auto v = r.StringList("consumer_groups")) o->consumer_groups = *v;
  if (auto v = r.StringMap("topic_mapping")) o->topic_mapping = *v;
  if (auto v = r.StringMap("group_mapping")) {
    std::map<std::string, std::string> seen;  // target -> source
    for (const auto& [from, to] : *v) {
      if (to.empty()) r.FailKey(r.Get("group_mapping"), "group_mapping." + from, "expected a group name, got ''");
      if (auto [it, fresh] = seen.emplace(to, from); !fresh) {
        r.FailKey(r.Get("group_mapping"), "group_mapping." + from,
                  fmt::format("groups '{}' and '{}' are both mapped to '{}'; each target group takes one", it->second,
                              from, to));
      }
    }
    o->group_mapping = *v;
  }
  if (auto v = r.IntListMap("source_partitions")) o->source_partitions = *v;
  if (auto v = r.IntMapMap("partition_mapping")) o->partition_mapping = *v;
  if (auto v = r.IntMap("repartitioning", 1, 1 << 20)) o->repartitioning = *v;
  if (auto v = r.Bool("dry_run")) o->dry_run = *v;
  if (auto v = r.Int("max_records_per_sec", 0, INT64_MAX)) o->max_records_per_sec = static_cast<uint64_t>(*v);
  if (auto v = r.Int("max_bytes_per_sec", 0, INT64_MAX)) o->max_bytes_per_sec = static_cast<uint64_t>(*v);
  if (auto n = r.Get("topic_configs"); n && !n.IsNull()) {
    if (!n.IsMap()) r.FailKey(n, "topic_configs", "expected a map of topic: {config: value}");
    for (const auto& kv : n) {
      std::string topic = kv.first.as<std::string>();
      MapReader inner(kv.second, r.Join("topic_configs." + topic), file);
      for (const auto& c : kv.second) {
        std::string key = c.first.as<std::string>();
        if (auto v = inner.String(key)) o->topic_configs[topic][key] = *v;
      }
    }
  }
  if (auto v = r.Int("transaction_max_records", 1, 10000000)) o->transaction_max_records = static_cast<uint64_t>(*v);
  if (auto v = r.Int("producers", 1, 4)) o->producers = static_cast<int>(*v);
  r.CheckNoUnknownKeys();
  if (o->time_window_start && o->time_window_end && *o->time_window_end < *o->time_window_start) {
    r.FailKey(r.Get("time_window_end"), "time_window_end",
              fmt::format("{} ({}) is before time_window_start {} ({})", *o->time_window_end,
                          util::FormatRfc3339(*o->time_window_end), *o->time_window_start,
                          util::FormatRfc3339(*o->time_window_start)));
  }
}

void ReadRetention(MapReader& r, RetentionConfig* o) {
  auto count = [&r](const char* key, int* out) {
    if (auto v = r.Int(key, 0, 1000000)) *out = static_cast<int>(*v);
  };
  count("keep_last", &o->keep_last);
  count("keep_hourly", &o->keep_hourly);
  count("keep_daily", &o->keep_daily);
  count("keep_weekly", &o->keep_weekly);
  count("keep_monthly", &o->keep_monthly);
  count("min_keep", &o->min_keep);
  if (auto v = r.DurationSecs("max_age")) o->max_age_secs = *v;
  if (auto v = r.String("backup_prefix")) o->backup_prefix = *v;
  r.CheckNoUnknownKeys();
}

void ReadDrill(MapReader& r, DrillConfig* o) {
  if (auto v = r.StringList("topics")) o->topics = *v;
  if (auto v = r.String("topic_prefix")) {
    o->topic_prefix = *v;
    if (o->topic_prefix.empty()) r.FailKey(r.Get("topic_prefix"), "topic_prefix", "must not be empty");
  }
  if (auto v = r.Bool("keep")) o->keep = *v;
  if (auto v = r.String("validate")) {
    o->validate = *v;
    if (*v != "deep" && *v != "shallow" && *v != "none") {
      r.FailKey(r.Get("validate"), "validate", fmt::format("expected deep, shallow or none, got '{}'", *v));
    }
  }
  if (auto v = r.Int("sample_partitions", 0, INT32_MAX)) o->sample_partitions = static_cast<int32_t>(*v);
  if (auto v = r.String("signing_key_file")) o->signing_key_file = *v;
  // A string is a shell command; a list is the program and its arguments.
  bool shell = r.Get("after_restore").IsScalar();
  if (auto v = r.StringList("after_restore")) {
    o->after_restore = shell ? std::vector<std::string>{"/bin/sh", "-c", v->front()} : *v;
    if (o->after_restore.empty() || o->after_restore.front().empty() || (shell && v->front().empty())) {
      r.FailKey(r.Get("after_restore"), "after_restore",
                "expected a command: a string, or a list of program and arguments");
    }
  }
  if (auto v = r.DurationSecs("after_restore_timeout")) o->after_restore_timeout_secs = *v;
  r.CheckNoUnknownKeys();
}

// yaml-cpp keeps every pair of a map with a key given twice and looks the
// first one up, so a repeated key would be ignored without a word: refused
// here, anywhere in the file, with both lines.
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

}  // namespace

Status SetTimeWindow(RestoreConfig* restore, std::string_view start, std::string_view end) {
  int64_t now_ms = NowMs();
  for (auto [text, flag, into] : {std::tuple{start, "--time-window-start", &restore->time_window_start},
                                  std::tuple{end, "--time-window-end", &restore->time_window_end}}) {
    if (text.empty()) continue;
    auto v = util::ParseTimePoint(text, now_ms);
    if (!v.ok()) return Status::InvalidArgument(fmt::format("{}: {}", flag, v.status().message()));
    *into = *v;
  }
  if (restore->time_window_start && restore->time_window_end &&
      *restore->time_window_end < *restore->time_window_start) {
    return Status::InvalidArgument(
        fmt::format("the time window ends ({}) before it starts ({}): swap them, or check --time-window-start/-end and "
                    "restore.time_window_start/_end in the config",
                    util::FormatRfc3339(*restore->time_window_end), util::FormatRfc3339(*restore->time_window_start)));
  }
  return Status::Ok();
}

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

std::string StartOffset::ToString() const {
  switch (kind) {
    case Kind::kEarliest:
      return "earliest";
    case Kind::kLatest:
      return "latest";
    case Kind::kTime:
      break;
  }
  return util::FormatRfc3339(time_ms);
}

const StartOffset& BackupConfig::StartOffsetFor(const std::string& topic) const {
  for (const auto& [name, offset] : start_offset_topics) {
    if (name == topic) return offset;
  }
  for (const auto& [pattern, offset] : start_offset_topics) {
    if (GlobMatch(pattern, topic)) return offset;
  }
  return start_offset;
}

std::string StorageConfig::Url() const {
  auto join = [](const std::string& a, const std::string& b) {
    if (b.empty()) return a;
    return a + "/" + b;
  };
  if (backend.empty() || backend == "filesystem") return join(path, prefix);
  // A remote backend given as a full URL in `path`.
  if (bucket.empty() && path.find("://") != std::string::npos) return path;
  std::string scheme = backend == "gcs" ? "gs" : backend;
  std::string url = join(scheme + "://" + bucket, prefix);
  std::string query;
  auto add = [&query](const char* key, const std::string& value) {
    if (value.empty()) return;
    query += (query.empty() ? "" : "&") + std::string(key) + "=" + value;
  };
  if (backend == "s3") {
    add("region", region);
    add("endpoint", endpoint);
    if (path_style) add("path_style", *path_style ? "true" : "false");
    add("storage_class", storage_class);
    add("sse", sse);
    add("kms_key_id", kms_key_id);
    add("object_lock_mode", object_lock_mode);
    if (object_lock_days) add("object_lock_days", std::to_string(object_lock_days));
  } else if (backend == "azure") {
    add("account", account);
    add("endpoint", endpoint);
  } else {
    add("endpoint", endpoint);
  }
  if (max_bytes_per_sec) add("max_bytes_per_sec", std::to_string(max_bytes_per_sec));
  if (stall_timeout_secs) add("stall_timeout_secs", std::to_string(stall_timeout_secs));
  return query.empty() ? url : url + "?" + query;
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
    RejectDuplicateKeys(root, "", name);
    MapReader top(root, "", name);
    if (auto v = top.String("mode")) {
      c.mode = *v;
      if (c.mode != "backup" && c.mode != "restore" && c.mode != "drill") {
        top.FailKey(top.Get("mode"), "mode", fmt::format("expected backup, restore or drill, got '{}'", *v));
      }
    }
    if (auto v = top.String("backup_id")) c.backup_id = *v;
    if (auto m = top.Map("source")) {
      ReadKafka(*m, &c.source);
      c.has_source = true;
    }
    if (auto m = top.Map("target")) {
      ReadKafka(*m, &c.target);
      c.has_target = true;
    }
    if (auto m = top.Map("storage")) ReadStorage(*m, &c.storage);
    if (auto m = top.Map("backup")) ReadBackup(*m, &c.backup);
    if (auto m = top.Map("restore")) ReadRestore(*m, &c.restore, name);
    if (auto m = top.Map("metrics")) ReadMetrics(*m, &c.metrics);
    if (auto m = top.Map("encryption")) ReadEncryption(*m, top.Get("encryption"), &c.encryption);
    if (auto m = top.Map("retention")) ReadRetention(*m, &c.retention);
    if (auto m = top.Map("drill")) ReadDrill(*m, &c.drill);
    top.CheckNoUnknownKeys();
  } catch (const ConfigError& e) {
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
