#include "format/catalog_index.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "format/json_fields.h"

namespace kafka_backup::format {

using json_fields::Field;
using nlohmann::json;

IndexEntry IndexEntryOf(const Manifest& m, uint64_t manifest_size) {
  return IndexEntry{m.backup_id,
                    manifest_size,
                    m.created_at_ms,
                    m.completed_at_ms,
                    m.source_cluster_id,
                    m.kafka_cluster_id,
                    m.encryption ? m.encryption->key_id : std::string(),
                    m.parent_backup_id};
}

std::string SerializeCatalogIndex(std::vector<IndexEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.backup_id < b.backup_id; });
  json backups = json::array();
  for (const auto& e : entries) {
    json j{{"backup_id", e.backup_id},
           {"manifest_size", e.manifest_size},
           {"created_at_ms", e.created_at_ms},
           {"completed_at_ms", e.completed_at_ms},
           {"source_cluster_id", e.source_cluster_id},
           {"kafka_cluster_id", e.kafka_cluster_id}};
    if (!e.encryption_key_id.empty()) j["encryption_key_id"] = e.encryption_key_id;
    if (!e.parent_backup_id.empty()) j["parent_backup_id"] = e.parent_backup_id;
    backups.push_back(std::move(j));
  }
  // One line per entry: small, and still readable.
  std::string out = fmt::format("{{\"format\": {}, \"format_version\": {}, \"backups\": [",
                                json(kCatalogIndexFormatName).dump(), kCatalogIndexFormatVersion);
  for (size_t i = 0; i < backups.size(); ++i) {
    out += fmt::format("{}\n  {}", i == 0 ? "" : ",", backups[i].dump(-1, ' ', false, json::error_handler_t::replace));
  }
  out += backups.empty() ? "]}\n" : "\n]}\n";
  return out;
}

Result<std::vector<IndexEntry>> ParseCatalogIndex(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("format", json()) != std::string(kCatalogIndexFormatName)) {
    return Status::Corruption("not a kafka-backup catalog index (field 'format')");
  }
  try {
    if (int v = Field<int>(j, "format_version", ""); v != kCatalogIndexFormatVersion) {
      return Status::Corruption(fmt::format("catalog index format version {} is not supported", v));
    }
    auto it = j.find("backups");
    if (it == j.end() || !it->is_array()) throw std::runtime_error("field 'backups' is missing or not a list");
    std::vector<IndexEntry> out;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& b = (*it)[i];
      std::string path = fmt::format("backups[{}].", i);
      if (!b.is_object()) throw std::runtime_error(fmt::format("backups[{}] is not an object", i));
      IndexEntry e;
      e.backup_id = Field<std::string>(b, "backup_id", path);
      e.manifest_size = Field<uint64_t>(b, "manifest_size", path);
      e.created_at_ms = Field<int64_t>(b, "created_at_ms", path);
      e.completed_at_ms = Field<int64_t>(b, "completed_at_ms", path);
      e.source_cluster_id = Field<std::string>(b, "source_cluster_id", path);
      e.kafka_cluster_id = Field<std::string>(b, "kafka_cluster_id", path);
      e.encryption_key_id = json_fields::OptionalField<std::string>(b, "encryption_key_id", path).value_or("");
      e.parent_backup_id = json_fields::OptionalField<std::string>(b, "parent_backup_id", path).value_or("");
      out.push_back(std::move(e));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Corruption(fmt::format("catalog index is malformed: {}", e.what()));
  }
}

}  // namespace kafka_backup::format
