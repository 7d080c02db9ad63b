// `kafka-backup config check --config FILE`: reads a configuration as every
// command does (keys, types, values, ${VAR}s set, mappings), touching no
// cluster and no storage, and prints the effective configuration, defaults
// filled in and secrets masked.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <regex>

#include "common.h"
#include "kafka_backup/config.h"
#include "kafka_backup/text.h"

namespace kafka_backup::cli {
namespace {

using nlohmann::ordered_json;

constexpr const char* kMasked = "***";

std::string Mask(const std::string& secret) {
  return secret.empty() ? "" : kMasked;
}

// Client properties may carry credentials (sasl.oauthbearer.client.secret,
// ssl.keystore.password, ...): their values are masked by name.
ordered_json ClientProperties(const std::map<std::string, std::string>& props) {
  static const std::regex kSecretName("password|secret|token|credential|sasl\\.jaas", std::regex::icase);
  ordered_json j = ordered_json::object();
  for (const auto& [k, v] : props) j[k] = std::regex_search(k, kSecretName) ? kMasked : v;
  return j;
}

ordered_json Kafka(const KafkaConfig& k) {
  const SecurityConfig& s = k.security;
  ordered_json security{{"security_protocol", s.security_protocol}};
  if (!s.sasl_mechanism.empty()) security["sasl_mechanism"] = s.sasl_mechanism;
  if (!s.aws_region.empty()) security["aws_region"] = s.aws_region;
  if (!s.oauth_token_endpoint_url.empty()) security["oauth_token_endpoint_url"] = s.oauth_token_endpoint_url;
  if (!s.oauth_client_id.empty()) security["oauth_client_id"] = s.oauth_client_id;
  if (!s.oauth_client_secret.empty()) security["oauth_client_secret"] = Mask(s.oauth_client_secret);
  if (!s.oauth_scope.empty()) security["oauth_scope"] = s.oauth_scope;
  if (s.sasl_mechanism == "GSSAPI") {
    security["kerberos_principal"] = s.kerberos_principal;
    security["kerberos_keytab"] = s.kerberos_keytab;
    security["kerberos_service_name"] = s.kerberos_service_name;
  }
  if (!s.sasl_username.empty()) security["sasl_username"] = s.sasl_username;
  if (!s.sasl_password.empty()) security["sasl_password"] = Mask(s.sasl_password);
  if (!s.ssl_ca_location.empty()) security["ssl_ca_location"] = s.ssl_ca_location;
  if (!s.ssl_certificate_location.empty()) security["ssl_certificate_location"] = s.ssl_certificate_location;
  if (!s.ssl_key_location.empty()) security["ssl_key_location"] = s.ssl_key_location;
  if (!s.ssl_key_password.empty()) security["ssl_key_password"] = Mask(s.ssl_key_password);
  ordered_json j{{"bootstrap_servers", k.bootstrap_servers},
                 {"security", security},
                 {"topics",
                  {{"include", k.topics.include.empty() ? std::vector<std::string>{"*"} : k.topics.include},
                   {"exclude", k.topics.exclude},
                   {"on_missing", k.topics.on_missing}}},
                 {"connect_timeout_secs", k.connect_timeout_secs}};
  if (!k.client_properties.empty()) j["client_properties"] = ClientProperties(k.client_properties);
  return j;
}

ordered_json Storage(const StorageConfig& s) {
  ordered_json j{{"url", s.Url()}};
  auto add = [&j](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  add("backend", s.backend);
  add("path", s.path);
  add("bucket", s.bucket);
  add("region", s.region);
  add("prefix", s.prefix);
  add("endpoint", s.endpoint);
  if (s.path_style) j["path_style"] = *s.path_style;
  add("storage_class", s.storage_class);
  add("sse", s.sse);
  add("kms_key_id", s.kms_key_id);
  add("object_lock_mode", s.object_lock_mode);
  if (s.object_lock_days > 0) j["object_lock_days"] = s.object_lock_days;
  add("account", s.account);
  if (s.max_bytes_per_sec > 0) j["max_bytes_per_sec"] = s.max_bytes_per_sec;
  if (s.stall_timeout_secs > 0) j["stall_timeout_secs"] = s.stall_timeout_secs;
  return j;
}

ordered_json Backup(const BackupConfig& b) {
  ordered_json topics = ordered_json::object();
  for (const auto& [topic, from] : b.start_offset_topics) topics[topic] = from.ToString();
  ordered_json j{{"compression", b.compression},
                 {"compression_level", b.compression_level},
                 {"continuous", b.continuous},
                 {"incremental", b.incremental},
                 {"checkpoint_interval_secs", b.checkpoint_interval_secs},
                 {"include_offset_headers", b.include_offset_headers},
                 {"source_cluster_id", b.source_cluster_id},
                 {"segment_max_bytes", b.segment_max_bytes},
                 {"segment_max_records", b.segment_max_records},
                 {"block_size_bytes", b.block_size_bytes},
                 {"max_buffered_bytes", b.max_buffered_bytes},
                 {"include_internal_topics", b.include_internal_topics},
                 {"consumer_groups", b.consumer_groups},
                 {"start_offset", b.start_offset.ToString()}};
  if (!topics.empty()) j["start_offset_topics"] = std::move(topics);
  return j;
}

ordered_json Restore(const RestoreConfig& r) {
  ordered_json j{{"restore_id", r.restore_id},
                 {"topics", r.topics},
                 {"create_topics", r.create_topics},
                 {"on_existing_data", r.on_existing_data},
                 {"on_corruption", r.on_corruption},
                 {"consumer_group_strategy", r.consumer_group_strategy},
                 {"reset_consumer_offsets", r.reset_consumer_offsets},
                 {"consumer_groups", r.consumer_groups},
                 {"dry_run", r.dry_run},
                 {"max_records_per_sec", r.max_records_per_sec},
                 {"max_bytes_per_sec", r.max_bytes_per_sec},
                 {"transaction_max_records", r.transaction_max_records}};
  // Points in time as epoch ms (what the restore compares) and as read.
  if (r.time_window_start) j["time_window_start"] = *r.time_window_start;
  if (r.time_window_end) j["time_window_end"] = *r.time_window_end;
  if (r.default_replication_factor) j["default_replication_factor"] = *r.default_replication_factor;
  if (r.include_offset_headers) j["include_offset_headers"] = *r.include_offset_headers;
  if (r.producers) j["producers"] = *r.producers;
  if (!r.topic_mapping.empty()) j["topic_mapping"] = r.topic_mapping;
  if (!r.group_mapping.empty()) j["group_mapping"] = r.group_mapping;
  if (!r.source_partitions.empty()) j["source_partitions"] = r.source_partitions;
  if (!r.partition_mapping.empty()) {
    ordered_json m = ordered_json::object();
    for (const auto& [topic, parts] : r.partition_mapping) {
      for (const auto& [from, to] : parts) m[topic][std::to_string(from)] = to;
    }
    j["partition_mapping"] = m;
  }
  if (!r.repartitioning.empty()) j["repartitioning"] = r.repartitioning;
  if (!r.topic_configs.empty()) j["topic_configs"] = r.topic_configs;
  return j;
}

ordered_json Effective(const Config& c) {
  ordered_json j{{"mode", c.mode}};
  if (!c.backup_id.empty()) j["backup_id"] = c.backup_id;
  if (c.has_source) j["source"] = Kafka(c.source);
  if (c.has_target) j["target"] = Kafka(c.target);
  j["storage"] = Storage(c.storage);
  if (c.mode == "backup") {
    j["backup"] = Backup(c.backup);
  } else {
    j["restore"] = Restore(c.restore);
  }
  if (c.mode == "drill") {
    const DrillConfig& d = c.drill;
    ordered_json drill{{"topics", d.topics},
                       {"topic_prefix", d.topic_prefix.empty() ? "drill-<drill id>-" : d.topic_prefix},
                       {"keep", d.keep},
                       {"validate", d.validate},
                       {"sample_partitions", d.sample_partitions},
                       {"signing_key_file", d.signing_key_file},
                       {"after_restore", d.after_restore},
                       {"after_restore_timeout_secs", d.after_restore_timeout_secs}};
    j["drill"] = drill;
  }
  ordered_json metrics = ordered_json::object();
  if (c.metrics.port) metrics = {{"port", *c.metrics.port}, {"bind", c.metrics.bind}};
  if (!c.metrics.pushgateway_url.empty()) {
    metrics["pushgateway_url"] = WithoutUserinfo(c.metrics.pushgateway_url);
    metrics["pushgateway_job"] = c.metrics.pushgateway_job;
    if (!c.metrics.pushgateway_labels.empty()) metrics["pushgateway_labels"] = c.metrics.pushgateway_labels;
  }
  if (!metrics.empty()) j["metrics"] = std::move(metrics);
  const RetentionConfig& r = c.retention;
  if (r.HasRule()) {
    ordered_json ret{{"keep_last", r.keep_last},     {"keep_hourly", r.keep_hourly},   {"keep_daily", r.keep_daily},
                     {"keep_weekly", r.keep_weekly}, {"keep_monthly", r.keep_monthly}, {"min_keep", r.min_keep}};
    if (r.max_age_secs) ret["max_age"] = FormatDurationSecs(*r.max_age_secs);
    if (!r.backup_prefix.empty()) ret["backup_prefix"] = r.backup_prefix;
    j["retention"] = ret;
  }
  if (c.encryption.configured()) {
    ordered_json e = ordered_json::object();
    if (!c.encryption.key_file.empty()) e["key_file"] = c.encryption.key_file;
    if (!c.encryption.key_env.empty()) e["key_env"] = c.encryption.key_env;
    j["encryption"] = e;
  }
  return j;
}

}  // namespace

void AddConfigCommand(CLI::App& app, Action* action) {
  CLI::App* config = app.add_subcommand("config", "Work with configuration files");
  config->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  CLI::App* check = config->add_subcommand(
      "check",
      "Read a configuration as the commands do (keys, types, values, ${VAR}s set, mappings, time windows) without "
      "touching a cluster or storage, and print the effective configuration: defaults filled in, passwords and "
      "other secrets masked as ***. Exit code 0 when it is valid, 2 (naming the file, line and key) when not");
  check->add_option("-c,--config", *file, "The YAML configuration to check")->required();
  check->callback([action, file] {
    *action = [file] {
      auto config = LoadConfigFile(*file);
      if (!config.ok()) return Fail(config.status());
      fmt::print("# {}: valid ({} configuration); the effective values:\n", *file, config->mode);
      fmt::print("{}", JsonToYaml(Effective(*config)));
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace kafka_backup::cli
