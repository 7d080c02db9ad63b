#include "catalog/catalog.h"

#include <algorithm>

#include <fmt/format.h>

#include "storage/layout.h"

namespace kafka_backup::catalog {
namespace {

constexpr uint64_t kTailReadBytes = 64 * 1024;
constexpr uint64_t kMaxRangedRead = 8 * 1024 * 1024;

}  // namespace

Result<std::vector<std::string>> Catalog::BackupIds() {
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store_, storage::layout::kManifestPrefix));
  std::vector<std::string> ids;
  for (const auto& o : objects) {
    if (auto id = storage::layout::BackupIdFromManifestKey(o.key)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<format::Manifest> Catalog::LoadManifest(const std::string& backup_id) {
  std::string key = storage::layout::ManifestKey(backup_id);
  auto text = store_.Get(key);
  if (!text.ok()) {
    if (text.status().code() != Status::Code::kNotFound) return text.status();
    KB_ASSIGN_OR_RETURN(auto ids, BackupIds());
    std::string available;
    for (const auto& id : ids) available += (available.empty() ? "" : ", ") + id;
    return Status::NotFound(fmt::format("backup '{}' not found in {}; {}", backup_id, store_.Url(),
                                        ids.empty() ? std::string("it holds no backups") : "available: " + available));
  }
  auto manifest = format::ParseManifest(*text);
  if (!manifest.ok()) return manifest.status().WithContext(fmt::format("{}/{}", store_.Url(), key));
  return manifest;
}

Result<std::vector<format::Manifest>> Catalog::LoadAll() {
  KB_ASSIGN_OR_RETURN(auto ids, BackupIds());
  std::vector<format::Manifest> all;
  for (const auto& id : ids) {
    KB_ASSIGN_OR_RETURN(auto m, LoadManifest(id));
    all.push_back(std::move(m));
  }
  return all;
}

Result<std::string> Catalog::Resolve(const std::string& id_or_latest) {
  if (id_or_latest.empty()) return Status::InvalidArgument("no backup id given: pass --backup-id ID (or 'latest')");
  if (id_or_latest != "latest") {
    KB_RETURN_IF_ERROR(storage::layout::ValidateBackupId(id_or_latest));
    KB_RETURN_IF_ERROR(LoadManifest(id_or_latest).status());
    return id_or_latest;
  }
  KB_ASSIGN_OR_RETURN(auto all, LoadAll());
  if (all.empty()) {
    return Status::NotFound(fmt::format("no backups in {}: 'latest' has nothing to resolve to", store_.Url()));
  }
  auto newest = std::max_element(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(a.completed_at_ms, a.backup_id) < std::tie(b.completed_at_ms, b.backup_id);
  });
  return newest->backup_id;
}

namespace {

format::RunStatus StatusFromManifest(const format::Manifest& m) {
  format::RunStatus s;
  s.backup_id = m.backup_id;
  s.state = "completed";
  s.tool_version = m.tool_version;
  s.started_at_ms = m.created_at_ms;
  s.updated_at_ms = m.completed_at_ms;
  s.finished_at_ms = m.completed_at_ms;
  s.last_checkpoint_ms = m.completed_at_ms;
  s.bytes = m.Bytes();
  s.stored_bytes = m.StoredBytes();
  for (const auto& t : m.topics) {
    format::TopicRunStatus ts{t.name, static_cast<int32_t>(t.partitions.size())};
    for (const auto& p : t.partitions) {
      ts.records += p.record_count;
      ts.bytes += p.bytes;
      s.segments += p.segments.size();
    }
    s.records += ts.records;
    s.topics.push_back(std::move(ts));
  }
  return s;
}

}  // namespace

Result<format::RunStatus> LoadRunStatus(storage::ObjectStore& store, const std::string& id_or_latest,
                                        bool* from_manifest) {
  *from_manifest = false;
  bool latest = id_or_latest.empty() || id_or_latest == "latest";
  if (!latest) KB_RETURN_IF_ERROR(storage::layout::ValidateBackupId(id_or_latest));
  std::string key = latest ? storage::layout::LatestRunStatusKey() : storage::layout::RunStatusKey(id_or_latest);
  auto text = store.Get(key);
  if (text.ok()) {
    auto s = format::ParseRunStatus(*text);
    if (!s.ok()) return s.status().WithContext(key);
    return s;
  }
  if (text.status().code() != Status::Code::kNotFound) return text.status();
  Catalog cat(store);
  KB_ASSIGN_OR_RETURN(std::string id, cat.Resolve(latest ? "latest" : id_or_latest));
  KB_ASSIGN_OR_RETURN(format::Manifest m, cat.LoadManifest(id));
  *from_manifest = true;
  return StatusFromManifest(m);
}

Result<format::OffsetMap> LoadOffsetMap(storage::ObjectStore& store, const std::string& backup_id,
                                        const std::string& restore_id) {
  if (!restore_id.empty()) {
    auto text = store.Get(storage::layout::OffsetMapKey(backup_id, restore_id));
    if (!text.ok()) {
      if (text.status().code() == Status::Code::kNotFound) {
        return Status::NotFound(
            fmt::format("no restore '{}' of backup '{}' in {}", restore_id, backup_id, store.Url()));
      }
      return text.status();
    }
    return format::ParseOffsetMap(*text);
  }
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store, storage::layout::RestorePrefix(backup_id)));
  std::optional<format::OffsetMap> newest;
  for (const auto& o : objects) {
    if (!o.key.ends_with("/offset-map.json")) continue;
    KB_ASSIGN_OR_RETURN(std::string text, store.Get(o.key));
    KB_ASSIGN_OR_RETURN(format::OffsetMap m, format::ParseOffsetMap(text));
    if (!newest || m.created_at_ms > newest->created_at_ms) newest = std::move(m);
  }
  if (!newest) {
    return Status::NotFound(
        fmt::format("backup '{}' in {} has not been restored yet: no offset map", backup_id, store.Url()));
  }
  return std::move(*newest);
}

bool RecordFilter::BlockMayMatch(const format::BlockInfo& b) const {
  if (min_offset && b.last_offset < *min_offset) return false;
  if (max_offset && b.first_offset > *max_offset) return false;
  if (min_timestamp && b.max_timestamp < *min_timestamp) return false;
  if (max_timestamp && b.min_timestamp > *max_timestamp) return false;
  return true;
}

bool RecordFilter::Matches(const format::Record& r) const {
  if (min_offset && r.offset < *min_offset) return false;
  if (max_offset && r.offset > *max_offset) return false;
  if (min_timestamp && r.timestamp < *min_timestamp) return false;
  if (max_timestamp && r.timestamp > *max_timestamp) return false;
  return true;
}

Status ReadSegment(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                   const std::function<Status(format::Record&&)>& sink, ReadStats* stats) {
  ReadStats local;
  ReadStats& st = stats ? *stats : local;
  auto where = [&](const std::string& detail) { return fmt::format("segment {}/{}{}", store.Url(), ref.key, detail); };

  uint64_t tail_len = std::min(ref.size, kTailReadBytes);
  auto tail = store.Get(ref.key, storage::ByteRange{ref.size - tail_len, tail_len});
  if (!tail.ok()) {
    if (tail.status().code() == Status::Code::kNotFound) {
      return Status::Corruption(where(" is missing: the manifest names it but the store does not have it"));
    }
    return tail.status().WithContext(where(""));
  }
  st.bytes_fetched += tail->size();
  auto trailer = format::ParseTrailer(*tail, ref.size);
  if (!trailer.ok()) return trailer.status().WithContext(where(""));
  // Ranges inside the tail already fetched are served from it: a small
  // segment costs one GET.
  const uint64_t tail_start = ref.size - tail_len;
  auto fetch = [&](uint64_t offset, uint64_t length) -> Result<std::string> {
    if (offset >= tail_start && offset + length <= ref.size) return tail->substr(offset - tail_start, length);
    auto bytes = store.Get(ref.key, storage::ByteRange{offset, length});
    if (bytes.ok()) st.bytes_fetched += length;
    return bytes;
  };
  uint64_t index_len = uint64_t{trailer->block_count} * format::kIndexEntrySize;
  KB_ASSIGN_OR_RETURN(std::string index_bytes, fetch(trailer->index_position, index_len));
  auto index = format::ParseIndex(index_bytes, *trailer);
  if (!index.ok()) return index.status().WithContext(where(""));

  KB_ASSIGN_OR_RETURN(std::string header_bytes, fetch(0, format::HeaderRegionSize(*trailer, *index)));
  auto header = format::ParseHeader(header_bytes);
  if (!header.ok()) return header.status().WithContext(where(""));

  uint64_t total = 0;
  for (const auto& b : *index) total += b.record_count;
  if (total != trailer->record_count || total != ref.record_count) {
    return Status::Corruption(where(fmt::format(": holds {} records, its trailer says {} and the manifest {}", total,
                                                trailer->record_count, ref.record_count)));
  }

  // Read runs of adjacent wanted blocks with one ranged GET each.
  const auto& blocks = *index;
  size_t i = 0;
  while (i < blocks.size()) {
    if (!filter.BlockMayMatch(blocks[i])) {
      ++st.blocks_skipped;
      ++i;
      continue;
    }
    size_t j = i;
    uint64_t run_len = blocks[i].size;
    while (j + 1 < blocks.size() && filter.BlockMayMatch(blocks[j + 1]) &&
           run_len + blocks[j + 1].size <= kMaxRangedRead) {
      ++j;
      run_len += blocks[j].size;
    }
    auto run = fetch(blocks[i].position, run_len);
    if (!run.ok()) return run.status().WithContext(where(""));
    for (size_t k = i; k <= j; ++k) {
      const auto& b = blocks[k];
      std::string_view bytes = std::string_view(*run).substr(b.position - blocks[i].position, b.size);
      Status s = format::DecodeBlock(bytes, b, header->codec, [&](format::Record&& r) {
        if (!filter.Matches(r)) return Status::Ok();
        return sink(std::move(r));
      });
      if (!s.ok()) {
        if (s.code() != Status::Code::kCorruption) return s;
        return s.WithContext(
            where(fmt::format(", block at byte {} (offsets {}..{})", b.position, b.first_offset, b.last_offset)));
      }
      ++st.blocks_read;
    }
    i = j + 1;
  }
  return Status::Ok();
}

}  // namespace kafka_backup::catalog
