// Typed configuration, loaded from the YAML documented in docs/config.md.
//
// Loading is strict: an unknown key, a value of the wrong type or an unset
// ${VAR} is an InvalidArgument error naming the file, line, key and what was
// expected. Secrets (passwords) are kept here but never printed: use
// Redacted() for anything shown to a user.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka_backup/status.h"

namespace kafka_backup {

struct SecurityConfig {
  std::string security_protocol = "PLAINTEXT";  // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
  std::string sasl_mechanism;                   // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM, OAUTHBEARER, GSSAPI
  std::string sasl_username;
  std::string sasl_password;  // secret
  std::string ssl_ca_location;
  std::string ssl_certificate_location;
  std::string ssl_key_location;
  std::string ssl_key_password;  // secret
  // AWS_MSK_IAM: the cluster's region (else the one its broker addresses
  // name, else AWS_REGION); credentials come from the AWS chain, as for S3.
  std::string aws_region;
  // OAUTHBEARER over OIDC: the client credentials grant (RFC 6749 section
  // 4.4) against the identity provider's token endpoint; librdkafka fetches
  // and renews the JWT.
  std::string oauth_token_endpoint_url;
  std::string oauth_client_id;
  std::string oauth_client_secret;  // secret
  std::string oauth_scope;          // optional
  // GSSAPI (Kerberos): the principal logged in from the keytab (kinit), and
  // the brokers' service name (their principals are SERVICE/host@REALM).
  std::string kerberos_principal;
  std::string kerberos_keytab;
  std::string kerberos_service_name = "kafka";
};

struct TopicSelection {
  std::vector<std::string> include;  // globs (* ? [..]); empty means "*"
  std::vector<std::string> exclude;
  // A literal include naming no topic: "fail" (the default) stops the
  // backup; "warn" logs and reports it and backs up the rest.
  std::string on_missing = "fail";
};

struct KafkaConfig {
  std::vector<std::string> bootstrap_servers;
  SecurityConfig security;
  TopicSelection topics;
  // Extra librdkafka properties, passed through as given.
  std::map<std::string, std::string> client_properties;
  int connect_timeout_secs = 30;
};

struct StorageConfig {
  std::string backend;  // filesystem, s3, azure, gcs (empty: from the URL)
  std::string path;     // a directory, or a URL (file://, s3://, ...)
  std::string bucket;
  std::string region;
  std::string prefix;
  std::string endpoint;
  std::optional<bool> path_style;  // s3: path-style addressing (default: on with an endpoint)
  std::string storage_class;       // s3: x-amz-storage-class
  std::string sse;                 // s3: server-side encryption, AES256 or aws:kms
  std::string kms_key_id;          // s3: the KMS key for aws:kms
  std::string object_lock_mode;    // s3: GOVERNANCE or COMPLIANCE retention of every object written
  int object_lock_days = 0;        // s3: ... for this many days
  std::string account;             // azure: the storage account
  uint64_t max_bytes_per_sec = 0;  // object stores: bandwidth cap, 0 = none
  int stall_timeout_secs = 0;      // object stores: abandon a request stalled this long, 0 = default (60)

  // The storage URL these settings describe ("/var/backups/kafka",
  // "s3://bucket/prefix?region=..").
  std::string Url() const;
};

// Where a backup that starts a chain (not one continuing an incremental
// parent) begins reading a partition: at its log start (earliest), at the
// offsets seen when the run starts (latest: only what is written from then
// on), or at the first record whose timestamp is at or after a time.
struct StartOffset {
  enum class Kind { kEarliest, kLatest, kTime } kind = Kind::kEarliest;
  int64_t time_ms = 0;           // kTime: epoch ms (the config also takes RFC 3339 and "-2h", resolved when read)
  std::string ToString() const;  // "earliest", "latest" or the time in RFC 3339
};

struct BackupConfig {
  std::string compression = "zstd";
  int compression_level = 3;
  // Follow the topics until stopped (SIGTERM/SIGINT) instead of stopping at
  // the offsets seen at start; nothing is committed but checkpoints.
  bool continuous = false;
  // Store only what is new since the newest committed backup of the same
  // source in this storage, inheriting its segments.
  bool incremental = false;
  // How often a checkpoint records what is stored (a continuous run first
  // stores what it holds): the RPO of a continuous backup, the work a killed
  // run repeats.
  int checkpoint_interval_secs = 30;
  bool include_offset_headers = false;
  std::string source_cluster_id;
  uint64_t segment_max_bytes = 64ull << 20;
  // Budget for open segments of all partitions together; past it the largest
  // is stored early.
  uint64_t max_buffered_bytes = 128ull << 20;
  uint64_t segment_max_records = 0;  // 0: no limit
  uint64_t block_size_bytes = 1 << 20;
  bool include_internal_topics = false;
  // Consumer groups whose committed offsets are recorded (globs).
  std::vector<std::string> consumer_groups = {"*"};
  StartOffset start_offset;
  // Per topic, over start_offset: a name, or else the first glob that
  // matches, in the order written.
  std::vector<std::pair<std::string, StartOffset>> start_offset_topics;
  const StartOffset& StartOffsetFor(const std::string& topic) const;
};

struct RestoreConfig {
  // Names this restore's offset map (restores/<backup_id>/<restore_id>/); default "restore-${TIMESTAMP}".
  std::string restore_id;
  std::vector<std::string> topics;  // names or globs; empty means every topic in the backup
  // Epoch ms, inclusive. The config (and --time-window-start/-end) also take
  // RFC 3339 and times before now ("-2h"), resolved when it is read.
  std::optional<int64_t> time_window_start;
  std::optional<int64_t> time_window_end;
  bool create_topics = true;
  std::optional<int32_t> default_replication_factor;
  std::string on_existing_data = "fail";  // fail | append | purge (DeleteRecords first)
  // fail: stop at the first unreadable block or segment; skip: leave it out,
  // restore the rest and report what was skipped (docs/config.md).
  std::string on_corruption = "fail";
  std::optional<bool> include_offset_headers;  // default: the backup's setting
  // skip | exact | header-based | timestamp-based (docs/config.md).
  std::string consumer_group_strategy = "skip";
  // Commit the computed positions on the target (else they are only reported).
  bool reset_consumer_offsets = false;
  std::vector<std::string> consumer_groups;  // globs; default every group in the backup
  // Restore a group's positions under a new name: {group in the backup: group on the target}.
  std::map<std::string, std::string> group_mapping;
  const std::string& TargetGroup(const std::string& source_group) const {
    auto it = group_mapping.find(source_group);
    return it == group_mapping.end() ? source_group : it->second;
  }
  // Keyed by the topic's name in the backup (the source name).
  std::map<std::string, std::string> topic_mapping;                     // restore under a new name
  std::map<std::string, std::vector<int32_t>> source_partitions;        // restore only these partitions
  std::map<std::string, std::map<int32_t, int32_t>> partition_mapping;  // source partition -> target partition
  std::map<std::string, int32_t> repartitioning;  // target partition count; keyed records go where Java's
                                                  // default partitioner puts them (murmur2)
  bool dry_run = false;
  // Topic configs set on created topics over the recorded ones: {topic: {key: value}}.
  std::map<std::string, std::map<std::string, std::string>> topic_configs;
  // Throttles (0: unlimited).
  uint64_t max_records_per_sec = 0;
  uint64_t max_bytes_per_sec = 0;
  // Records per transaction: the most a crash makes the rerun send again.
  uint64_t transaction_max_records = 200000;
  // Transactional producers writing side by side; unset: chosen by record
  // size (docs/config.md).
  std::optional<int> producers;
};

// A restore drill (docs/drills.md): the backup restored into scratch topics,
// read back and checked against its manifest.
struct DrillConfig {
  // Source topic names or globs to drill; empty: every topic of the backup.
  std::vector<std::string> topics;
  // Scratch topics (and restored consumer groups) are named prefix + name;
  // default "drill-<drill id>-". Topics already there are refused.
  std::string topic_prefix;
  bool keep = false;              // leave the scratch topics and groups after the drill
  std::string validate = "deep";  // deep | shallow | none: the validation before the restore
  // At most this many partitions of each topic, chosen at random by each
  // drill (non-empty ones first); 0: every partition.
  int32_t sample_partitions = 0;
  // An Ed25519 private key (PEM) that signs the evidence; the environment's
  // KAFKA_BACKUP_DRILL_SIGNING_KEY (the PEM text) wins. Neither: unsigned.
  std::string signing_key_file;
  // Run after the restore, before the read back, with the scratch topics
  // named in its environment (docs/drills.md); a non-zero exit fails the
  // drill. Empty: none.
  std::vector<std::string> after_restore;
  int64_t after_restore_timeout_secs = 600;
};

// Prometheus metrics served while a command runs (docs/metrics.md). The
// command line's --metrics-port / --metrics-bind win over these.
struct MetricsConfig {
  std::optional<int> port;  // 0 picks a free port; unset: no metrics server
  std::string bind = "0.0.0.0";
  // When set, the metrics are pushed to this Prometheus Pushgateway
  // (http[s]://host:port[/prefix]) when the command ends, grouped by job,
  // the command and these labels: a CronJob run's figures outlive its pod.
  std::string pushgateway_url;
  std::string pushgateway_job = "kafka-backup";
  std::map<std::string, std::string> pushgateway_labels;
};

// Which committed backups `prune` keeps (docs/retention.md). Counts of 0 and
// an unset max_age are rules not in use; a policy with none in use keeps
// everything, and prune refuses it.
struct RetentionConfig {
  int keep_last = 0;     // the newest N
  int keep_hourly = 0;   // the newest of each of the N most recent UTC hours that have a backup
  int keep_daily = 0;    // ... UTC days
  int keep_weekly = 0;   // ... ISO weeks (Monday to Sunday, UTC)
  int keep_monthly = 0;  // ... calendar months (UTC)
  // Nothing created longer ago than this is kept (except by min_keep).
  std::optional<int64_t> max_age_secs;
  // The newest N candidates are kept whatever the rules say.
  int min_keep = 1;
  // Only backups whose id starts with this are candidates; others are kept.
  std::string backup_prefix;

  bool HasRule() const {
    return keep_last > 0 || keep_hourly > 0 || keep_daily > 0 || keep_weekly > 0 || keep_monthly > 0 ||
           max_age_secs.has_value();
  }
};

// Encryption at rest (docs/config.md, "encryption"): where the 32-byte key
// is; the key itself is never part of the configuration. At most one of the
// two is set. Backup encrypts when one is; restore and validate read
// encrypted backups with it (or KAFKA_BACKUP_ENCRYPTION_KEY).
struct EncryptionConfig {
  std::string key_file;  // a file holding the key (64 hex digits or base64)
  std::string key_env;   // the name of an environment variable holding it
  bool configured() const { return !key_file.empty() || !key_env.empty(); }
};

struct Config {
  std::string source_file;  // where it was loaded from, for messages
  std::string mode;         // backup | restore | drill
  std::string backup_id;
  KafkaConfig source;
  KafkaConfig target;
  bool has_source = false;
  bool has_target = false;
  StorageConfig storage;
  BackupConfig backup;
  RestoreConfig restore;
  MetricsConfig metrics;
  EncryptionConfig encryption;
  RetentionConfig retention;
  DrillConfig drill;
};

// Reads and validates a YAML file.
Result<Config> LoadConfigFile(const std::string& path);
// Parses YAML text; `name` is used in messages.
Result<Config> ParseConfig(const std::string& text, const std::string& name);

// A duration as the config and the command line take it: a positive integer
// and a unit, s, m, h, d or w ("30d", "12h"); returns seconds.
// InvalidArgument says what was expected.
Result<int64_t> ParseDurationSecs(std::string_view text);
// Sets restore.time_window_start and/or _end (an empty text leaves it) from a
// point in time as the config takes it: epoch ms, RFC 3339
// ("2026-12-01T10:00:00Z") or before now ("-2h"); InvalidArgument names
// `what` (the flag) and the forms accepted, or an end before the start.
Status SetTimeWindow(RestoreConfig* restore, std::string_view start, std::string_view end);
// "30d", "90m", "45s": the largest unit that divides `secs` exactly.
std::string FormatDurationSecs(int64_t secs);

// The timestamp that ${TIMESTAMP} expands to: UTC, ISO 8601 basic format,
// "20261125T105538Z". Fixed once per process.
const std::string& ProcessTimestamp();

}  // namespace kafka_backup
