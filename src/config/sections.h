// The readers of the config's sections, one per top-level key (ParseConfig,
// config.cc, calls them): each reads its map into its part of
// kafka_backup::Config, checks the values, and refuses unknown keys (by
// throwing ConfigError through its MapReader).
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "config/map_reader.h"
#include "kafka_backup/config.h"

namespace kafka_backup::config {

// source: and target: (kafka_section.cc), with security: and topics:.
void ReadKafka(MapReader& r, KafkaConfig* k);
// storage: and encryption: (storage_section.cc). `at`: the encryption map
// itself, for the error when it names no key.
void ReadStorage(MapReader& r, StorageConfig* s);
void ReadEncryption(MapReader& r, const YAML::Node& at, EncryptionConfig* e);
// backup: (backup_section.cc), with start_offset and start_offset_topics.
void ReadBackup(MapReader& r, BackupConfig* b);
// restore: and drill: (restore_section.cc).
void ReadRestore(MapReader& r, RestoreConfig* o, const std::string& file);
void ReadDrill(MapReader& r, DrillConfig* o);
// metrics: and retention: (operations_section.cc).
void ReadMetrics(MapReader& r, MetricsConfig* m);
void ReadRetention(MapReader& r, RetentionConfig* o);

}  // namespace kafka_backup::config
