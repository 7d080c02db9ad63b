#include "storage/layout.h"

#include <fmt/format.h>

namespace kafka_backup::storage::layout {
namespace {

// The name of a complete offset map, beside its parts (docs/format/offset-map.md).
constexpr std::string_view kOffsetMapName = "offset-map.json";

}  // namespace

std::string ManifestKey(std::string_view backup_id) {
  return fmt::format("{}{}{}", kManifestPrefix, backup_id, kManifestSuffix);
}

std::string DataPrefix(std::string_view backup_id) {
  return fmt::format("{}{}/", kDataPrefix, backup_id);
}

bool IsOwnSegment(std::string_view backup_id, std::string_view key) {
  return key.starts_with(kDataPrefix) && key.substr(kDataPrefix.size()).starts_with(backup_id) &&
         key.substr(kDataPrefix.size() + backup_id.size()).starts_with('/');
}

std::string SegmentKey(std::string_view backup_id, std::string_view topic, int32_t partition, int64_t first_offset) {
  return fmt::format("{}{}/{}/{}/{:020}.kbseg", kDataPrefix, backup_id, topic, partition, first_offset);
}

std::string RestorePrefix(std::string_view backup_id) {
  return fmt::format("restores/{}/", backup_id);
}

std::string OffsetMapKey(std::string_view backup_id, std::string_view restore_id) {
  return fmt::format("{}{}/{}/{}", kRestorePrefix, backup_id, restore_id, kOffsetMapName);
}

bool IsOffsetMapKey(std::string_view key) {
  if (!key.starts_with(kRestorePrefix) || !key.ends_with(kOffsetMapName)) return false;
  std::string_view rest = key.substr(kRestorePrefix.size(), key.size() - kRestorePrefix.size() - kOffsetMapName.size());
  // "<backup>/<restore>/": two names, each ending in '/'.
  size_t slash = rest.find('/');
  return slash != std::string_view::npos && slash > 0 && slash + 1 < rest.size() - 1 &&
         rest.find('/', slash + 1) == rest.size() - 1;
}

std::string DrillReportKey(std::string_view backup_id, std::string_view drill_id) {
  return fmt::format("{}{}/{}.json", kDrillPrefix, backup_id, drill_id);
}

std::string DrillHtmlKey(std::string_view backup_id, std::string_view drill_id) {
  return fmt::format("{}{}/{}.html", kDrillPrefix, backup_id, drill_id);
}

std::string DrillPendingKey(std::string_view backup_id, std::string_view drill_id) {
  return fmt::format("{}{}/{}{}", kDrillPrefix, backup_id, drill_id, kDrillPendingSuffix);
}

std::string RunStatusKey(std::string_view backup_id) {
  return fmt::format("status/{}.json", backup_id);
}

std::string CatalogIndexKey() {
  return "index/catalog.json";
}

std::string LatestRunStatusKey() {
  return "status/_latest.json";  // '_' starts no backup id
}

std::string OffsetMapPartsPrefix(std::string_view backup_id, std::string_view restore_id) {
  return fmt::format("restores/{}/{}/parts/", backup_id, restore_id);
}

std::string OffsetSnapshotPrefix(std::string_view backup_id, std::string_view restore_id) {
  return fmt::format("restores/{}/{}/offset-snapshots/", backup_id, restore_id);
}

std::string OffsetSnapshotKey(std::string_view backup_id, std::string_view restore_id, std::string_view snapshot_id) {
  return fmt::format("{}{}.json", OffsetSnapshotPrefix(backup_id, restore_id), snapshot_id);
}

std::string OffsetMapPartKey(std::string_view backup_id, std::string_view restore_id, uint64_t sequence) {
  return fmt::format("restores/{}/{}/parts/{:010}.json", backup_id, restore_id, sequence);
}

std::string LeasePrefix(std::string_view backup_id) {
  return fmt::format("{}{}/", kLeasePrefix, backup_id);
}

std::string LeaseKey(std::string_view backup_id, uint64_t generation) {
  return fmt::format("{}{}/{:010}.json", kLeasePrefix, backup_id, generation);
}

std::optional<uint64_t> ParseLeaseGeneration(std::string_view backup_id, std::string_view key) {
  std::string prefix = LeasePrefix(backup_id);
  if (!key.starts_with(prefix) || !key.ends_with(".json")) return std::nullopt;
  std::string_view digits = key.substr(prefix.size(), key.size() - prefix.size() - 5);
  uint64_t generation = 0;
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    generation = generation * 10 + static_cast<uint64_t>(c - '0');
  }
  return generation;
}

std::string CheckpointPrefix(std::string_view backup_id) {
  return fmt::format("{}{}/", kCheckpointPrefix, backup_id);
}

std::string CheckpointKey(std::string_view backup_id, uint64_t sequence) {
  return fmt::format("{}{}/{:010}.json", kCheckpointPrefix, backup_id, sequence);
}

std::optional<std::pair<std::string, uint64_t>> ParseCheckpointKey(std::string_view key) {
  if (!key.starts_with(kCheckpointPrefix) || !key.ends_with(".json")) return std::nullopt;
  key.remove_prefix(kCheckpointPrefix.size());
  key.remove_suffix(5);
  size_t slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string_view seq = key.substr(slash + 1);
  if (seq.empty() || seq.size() > 19 || seq.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::make_pair(std::string(key.substr(0, slash)), std::stoull(std::string(seq)));
}

std::optional<std::string> BackupIdFromManifestKey(std::string_view key) {
  if (!key.starts_with(kManifestPrefix) || !key.ends_with(kManifestSuffix)) return std::nullopt;
  key.remove_prefix(kManifestPrefix.size());
  key.remove_suffix(kManifestSuffix.size());
  if (key.empty() || key.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(key);
}

std::optional<std::string> OwnerBackupId(std::string_view key) {
  if (auto id = BackupIdFromManifestKey(key)) return id;
  std::string_view id;
  if (key.starts_with(kRunStatusPrefix) && key.ends_with(".json")) {
    id = key.substr(kRunStatusPrefix.size(), key.size() - kRunStatusPrefix.size() - 5);
    if (id.find('/') != std::string_view::npos) return std::nullopt;
  } else {
    for (std::string_view prefix : {kDataPrefix, kCheckpointPrefix, kRestorePrefix}) {
      if (!key.starts_with(prefix)) continue;
      std::string_view rest = key.substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string_view::npos) return std::nullopt;
      id = rest.substr(0, slash);
      break;
    }
  }
  if (!ValidateBackupId(id).ok()) return std::nullopt;
  return std::string(id);
}

Status ValidateBackupId(std::string_view id) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  };
  bool valid =
      !id.empty() && id.size() <= 200 && id != "latest" && id.front() != '.' && id.front() != '-' && id.front() != '_';
  for (char c : id) valid = valid && ok_char(c);
  if (!valid) {
    return Status::InvalidArgument(
        fmt::format("invalid backup id '{}': use letters, digits, '.', '_' and '-', starting with a letter or digit "
                    "(at most 200 characters; 'latest' is reserved)",
                    id));
  }
  return Status::Ok();
}

}  // namespace kafka_backup::storage::layout
