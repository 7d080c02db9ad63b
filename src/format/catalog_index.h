// The catalog index (docs/format/manifest.md, "The catalog index"): one small
// document listing what `latest` and an incremental backup's choice of parent
// need from each committed manifest, so they read one object instead of every
// manifest. It is never a commit point: the manifests are, and a reader
// checks the index against a listing of them, reading only the manifests it
// lacks or that changed (by size), and dropping entries whose manifest is
// gone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format/manifest.h"
#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr std::string_view kCatalogIndexFormatName = "kafka-backup-catalog-index";
inline constexpr int kCatalogIndexFormatVersion = 1;

struct IndexEntry {
  std::string backup_id;
  uint64_t manifest_size = 0;  // bytes of manifests/<id>.json: a manifest written again shows as changed
  int64_t created_at_ms = 0;
  int64_t completed_at_ms = 0;
  std::string source_cluster_id;
  std::string kafka_cluster_id;
  std::string encryption_key_id;  // empty when not encrypted
  std::string parent_backup_id;   // empty unless incremental

  bool operator==(const IndexEntry&) const = default;
};

IndexEntry IndexEntryOf(const Manifest& m, uint64_t manifest_size);

// Entries sorted by backup id.
std::string SerializeCatalogIndex(std::vector<IndexEntry> entries);
// Corruption when the text is not a catalog index of a known version.
Result<std::vector<IndexEntry>> ParseCatalogIndex(std::string_view text);

}  // namespace kafka_backup::format
