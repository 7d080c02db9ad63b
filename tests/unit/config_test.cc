#include <gtest/gtest.h>

#include <cstdlib>

#include "kafka_backup/config.h"

namespace kafka_backup {
namespace {

std::string SeedBackupYaml() {
  return std::string(KB_SOURCE_DIR) + "/testdata/config/dr-backup.yaml";
}

TEST(ConfigTest, SeedDrBackupYamlParsesAsWritten) {
  ::setenv("KAFKA_PASSWORD", "s3cret-pw", 1);
  ::unsetenv("TIMESTAMP");
  auto c = LoadConfigFile(SeedBackupYaml());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->mode, "backup");
  EXPECT_EQ(c->backup_id, "production-" + ProcessTimestamp());
  ASSERT_EQ(c->source.bootstrap_servers.size(), 3u);
  EXPECT_EQ(c->source.bootstrap_servers[2], "kafka-prod-3:9092");
  EXPECT_EQ(c->source.security.security_protocol, "SASL_SSL");
  EXPECT_EQ(c->source.security.sasl_mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(c->source.security.sasl_password, "s3cret-pw");
  EXPECT_EQ(c->source.topics.include, std::vector<std::string>{"*"});
  EXPECT_EQ(c->source.topics.exclude, (std::vector<std::string>{"__consumer_offsets", "_schemas"}));
  EXPECT_EQ(c->storage.backend, "filesystem");
  EXPECT_EQ(c->backup.compression, "zstd");
  EXPECT_EQ(c->backup.compression_level, 3);
  EXPECT_EQ(c->backup.checkpoint_interval_secs, 30);
  EXPECT_TRUE(c->backup.include_offset_headers);
  EXPECT_EQ(c->backup.source_cluster_id, "prod-us-west-2");
}

TEST(ConfigTest, TimestampIsUtcBasicIso8601) {
  const std::string& ts = ProcessTimestamp();
  ASSERT_EQ(ts.size(), 16u);
  EXPECT_EQ(ts[8], 'T');
  EXPECT_EQ(ts[15], 'Z');
}

TEST(ConfigTest, UnsetVariableIsAnErrorNamingIt) {
  ::unsetenv("KB_TEST_UNSET_VAR");
  auto c = ParseConfig("mode: backup\nsource:\n  security:\n    sasl_password: ${KB_TEST_UNSET_VAR}\n", "x.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("KB_TEST_UNSET_VAR"), std::string::npos);
  EXPECT_NE(c.status().message().find("x.yaml:4"), std::string::npos) << c.status().message();
}

TEST(ConfigTest, VariableDefaultIsUsedWhenUnset) {
  ::unsetenv("KB_TEST_UNSET_VAR");
  auto c = ParseConfig("backup_id: ${KB_TEST_UNSET_VAR:-nightly}\n", "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->backup_id, "nightly");
}

TEST(ConfigTest, KeyGivenTwiceIsRefusedWithBothLines) {
  auto c = ParseConfig("mode: backup\nbackup_id: first\nstorage:\n  path: /a\nbackup_id: second\n", "cfg.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("cfg.yaml:5: backup_id: the key is given twice (lines 2 and 5)"),
            std::string::npos)
      << c.status().message();
}

TEST(ConfigTest, NestedKeyGivenTwiceIsRefusedWithItsPath) {
  auto c = ParseConfig("mode: restore\nrestore:\n  topic_mapping:\n    orders: a\n    orders: b\n  dry_run: true\n",
                       "r.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("r.yaml:5: restore.topic_mapping.orders: the key is given twice (lines 4 and 5)"),
            std::string::npos)
      << c.status().message();
}

TEST(ConfigTest, SameKeyInDifferentMapsIsFine) {
  auto c = ParseConfig("source:\n  bootstrap_servers: a:9092\ntarget:\n  bootstrap_servers: b:9092\n", "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
}

TEST(ConfigTest, UnknownKeyNamesKeyLineAndAllowedKeys) {
  auto c = ParseConfig("mode: backup\nbackup:\n  compresion: zstd\n", "cfg.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("cfg.yaml:3"), std::string::npos) << m;
  EXPECT_NE(m.find("backup.compresion"), std::string::npos) << m;
  EXPECT_NE(m.find("compression"), std::string::npos) << m;
}

TEST(ConfigTest, WrongTypeNamesExpectedType) {
  auto c = ParseConfig("backup:\n  compression_level: high\n", "cfg.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cfg.yaml:2"), std::string::npos);
  EXPECT_NE(c.status().message().find("expected an integer"), std::string::npos);

  auto list = ParseConfig("source:\n  topics:\n    include:\n      a: b\n", "cfg.yaml");
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("expected a list of strings"), std::string::npos) << list.status().message();
}

TEST(ConfigTest, OutOfRangeAndBadEnumsAreRejected) {
  EXPECT_FALSE(ParseConfig("backup:\n  compression_level: 40\n", "c").ok());
  EXPECT_FALSE(ParseConfig("backup:\n  compression: gzip\n", "c").ok());
  EXPECT_FALSE(ParseConfig("source:\n  security:\n    security_protocol: TLS\n", "c").ok());
  EXPECT_FALSE(ParseConfig("mode: copy\n", "c").ok());
}

TEST(ConfigTest, WindowEndBeforeStartIsRejected) {
  auto c = ParseConfig("restore:\n  time_window_start: 2000\n  time_window_end: 1000\n", "c");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("before time_window_start"), std::string::npos);
}

TEST(ConfigTest, BootstrapServersAcceptsCommaString) {
  auto c = ParseConfig("target:\n  bootstrap_servers: \"a:1, b:2\"\n", "c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->target.bootstrap_servers, (std::vector<std::string>{"a:1", "b:2"}));
}

TEST(ConfigTest, StorageUrlFromFields) {
  StorageConfig s;
  s.backend = "s3";
  s.bucket = "kafka-dr-backups";
  s.prefix = "production/hourly";
  s.region = "us-east-1";
  EXPECT_EQ(s.Url(), "s3://kafka-dr-backups/production/hourly?region=us-east-1");
  StorageConfig f;
  f.backend = "filesystem";
  f.path = "/var/backups/kafka";
  EXPECT_EQ(f.Url(), "/var/backups/kafka");
}

TEST(ConfigTest, InvalidYamlReportsLine) {
  auto c = ParseConfig("mode: backup\nsource: [unclosed\n", "bad.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad.yaml:"), std::string::npos);
}

}  // namespace
}  // namespace kafka_backup

namespace kafka_backup {
namespace {

TEST(ConfigTest, RestoreMappingsParse) {
  auto c = ParseConfig(R"(mode: restore
restore:
  topic_mapping: {orders: orders-dr}
  source_partitions: {orders: [0, 2]}
  partition_mapping: {orders: {0: 1, 2: 0}}
  repartitioning: {events: 6}
  topic_configs: {orders: {min.insync.replicas: "1"}}
  consumer_group_strategy: exact
  max_records_per_sec: 1000
)",
                       "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->restore.topic_mapping.at("orders"), "orders-dr");
  EXPECT_EQ(c->restore.source_partitions.at("orders"), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(c->restore.partition_mapping.at("orders").at(2), 0);
  EXPECT_EQ(c->restore.repartitioning.at("events"), 6);
  EXPECT_EQ(c->restore.topic_configs.at("orders").at("min.insync.replicas"), "1");
  EXPECT_EQ(c->restore.max_records_per_sec, 1000u);
}

TEST(ConfigTest, UnknownGroupStrategyListsTheKnownOnes) {
  auto c = ParseConfig("restore:\n  consumer_group_strategy: offsets\n", "r.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("header-based"), std::string::npos);
}

TEST(ConfigTest, OnCorruptionIsFailUnlessSetToSkip) {
  auto c = ParseConfig("restore:\n  topics: [orders]\n", "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->restore.on_corruption, "fail");
  c = ParseConfig("restore:\n  on_corruption: skip\n", "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->restore.on_corruption, "skip");
  c = ParseConfig("restore:\n  on_corruption: ignore\n", "r.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("on_corruption"), std::string::npos);
  EXPECT_NE(c.status().message().find("expected fail or skip, got 'ignore'"), std::string::npos);
}

TEST(ConfigTest, ProducersAreChosenByRecordSizeUnlessSetFromOneToFour) {
  auto c = ParseConfig("restore:\n  topics: [orders]\n", "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->restore.producers.has_value());
  c = ParseConfig("restore:\n  producers: 2\n", "r.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->restore.producers, 2);
  c = ParseConfig("restore:\n  producers: 5\n", "r.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("producers"), std::string::npos) << c.status().message();
}

TEST(ConfigTest, PartitionMappingNeedsNumbers) {
  auto c = ParseConfig("restore:\n  partition_mapping: {orders: {zero: 1}}\n", "r.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("expected an integer"), std::string::npos);
}

TEST(ConfigTest, EncryptionTakesAKeyFileOrAKeyVariable) {
  auto c = ParseConfig("encryption:\n  key_file: /etc/kb/backup.key\n", "b.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->encryption.key_file, "/etc/kb/backup.key");
  EXPECT_TRUE(c->encryption.configured());
  c = ParseConfig("encryption:\n  key_env: KB_KEY\n", "b.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->encryption.key_env, "KB_KEY");
  c = ParseConfig("mode: backup\n", "b.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->encryption.configured());
}

TEST(ConfigTest, EncryptionNeedsExactlyOneKeySource) {
  auto both = ParseConfig("encryption:\n  key_file: /k\n  key_env: K\n", "b.yaml");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("not both"), std::string::npos) << both.status().message();
  auto none = ParseConfig("encryption:\n  key_file: ''\n", "b.yaml");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("expected key_file"), std::string::npos) << none.status().message();
  auto unknown = ParseConfig("encryption:\n  key: 0011\n", "b.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown key 'encryption.key'"), std::string::npos)
      << unknown.status().message();
}

TEST(ConfigTest, AnotherToolsSegmentTimeBoundNamesCheckpointInterval) {
  auto r = ParseConfig("backup:\n  segment_max_interval_ms: 60000\n", "b.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("b.yaml:2: unknown key 'backup.segment_max_interval_ms'"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("checkpoint_interval_secs bounds the time a segment spans"), std::string::npos)
      << r.status().message();
}

TEST(ConfigTest, SaslMechanismKeysBelongToTheirMechanism) {
  const std::string base = "source:\n  bootstrap_servers: [a:1]\n  security:\n    security_protocol: SASL_SSL\n";
  auto oidc = ParseConfig(base +
                              "    sasl_mechanism: oauthbearer\n    oauth_token_endpoint_url: https://idp/token\n"
                              "    oauth_client_id: kb\n    oauth_client_secret: s\n",
                          "b.yaml");
  ASSERT_TRUE(oidc.ok()) << oidc.status().message();
  EXPECT_EQ(oidc->source.security.sasl_mechanism, "OAUTHBEARER");
  EXPECT_EQ(oidc->source.security.oauth_client_id, "kb");
  auto krb = ParseConfig(base + "    sasl_mechanism: GSSAPI\n    kerberos_principal: kb@R\n    kerberos_keytab: /k\n",
                         "b.yaml");
  ASSERT_TRUE(krb.ok()) << krb.status().message();
  EXPECT_EQ(krb->source.security.kerberos_service_name, "kafka");
  auto missing = ParseConfig(base + "    sasl_mechanism: GSSAPI\n    kerberos_principal: kb@R\n", "b.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("GSSAPI needs security.kerberos_keytab"), std::string::npos)
      << missing.status().message();
  auto foreign = ParseConfig(base +
                                 "    sasl_mechanism: PLAIN\n    sasl_username: u\n    sasl_password: p\n"
                                 "    kerberos_keytab: /k\n",
                             "b.yaml");
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("only used with sasl_mechanism: GSSAPI"), std::string::npos)
      << foreign.status().message();
}

}  // namespace
}  // namespace kafka_backup
