#include "catalog/catalog.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "storage/layout.h"
#include "util/crypto.h"

namespace kafka_backup::catalog {
namespace {

// The index as stored; empty when there is none or it cannot be read (it is
// rebuilt from the manifests then).
std::vector<format::IndexEntry> ReadIndex(storage::ObjectStore& store) {
  auto text = store.Get(storage::layout::CatalogIndexKey());
  if (!text.ok()) {
    if (text.status().code() != Status::Code::kNotFound) {
      spdlog::debug("catalog index: cannot read it ({}); reading the manifests", text.status().ToString());
    }
    return {};
  }
  auto entries = format::ParseCatalogIndex(*text);
  if (!entries.ok()) {
    spdlog::warn("the catalog index {} cannot be read ({}); reading every manifest and writing it again",
                 storage::layout::CatalogIndexKey(), entries.status().ToString());
    return {};
  }
  return std::move(*entries);
}

void WriteIndex(storage::ObjectStore& store, std::vector<format::IndexEntry> entries) {
  Status s = store.Put(storage::layout::CatalogIndexKey(), format::SerializeCatalogIndex(std::move(entries)));
  if (!s.ok()) spdlog::debug("catalog index: cannot write it ({}); the next reader rebuilds it", s.ToString());
}

}  // namespace

Result<CommittedBackups> Catalog::LoadCommitted() {
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store_, storage::layout::kManifestPrefix));
  std::vector<format::IndexEntry> indexed = ReadIndex(store_);
  std::map<std::string, const format::IndexEntry*> by_id;
  for (const auto& e : indexed) by_id[e.backup_id] = &e;
  CommittedBackups out;
  bool stale = false;
  for (const auto& o : objects) {
    auto id = storage::layout::BackupIdFromManifestKey(o.key);
    if (!id) continue;
    auto it = by_id.find(*id);
    if (it != by_id.end() && it->second->manifest_size == o.size) {
      out.backups.push_back(*it->second);
      continue;
    }
    stale = true;
    auto text = store_.Get(o.key);
    if (text.status().code() == Status::Code::kNotFound) continue;  // pruned while we listed
    if (!text.ok()) return text.status();
    auto m = format::ParseManifest(*text);
    if (!m.ok()) {
      out.damaged.push_back({*id, m.status().WithContext(fmt::format("{}/{}", store_.Url(), o.key))});
      continue;
    }
    out.backups.push_back(format::IndexEntryOf(*m, text->size()));
  }
  // Entries whose manifest is gone (pruned) make the index stale too.
  if (stale || out.backups.size() != indexed.size()) WriteIndex(store_, out.backups);
  return out;
}

uint64_t OwnSegments(const format::Manifest& manifest) {
  uint64_t n = 0;
  for (const auto& t : manifest.topics)
    for (const auto& p : t.partitions)
      for (const auto& s : p.segments) n += storage::layout::IsOwnSegment(manifest.backup_id, s.key) ? 1 : 0;
  return n;
}

uint64_t OwnStoredBytes(const format::Manifest& manifest) {
  uint64_t n = 0;
  for (const auto& t : manifest.topics)
    for (const auto& p : t.partitions)
      for (const auto& s : p.segments) n += storage::layout::IsOwnSegment(manifest.backup_id, s.key) ? s.size : 0;
  return n;
}

void RecordCommitted(storage::ObjectStore& store, const format::Manifest& manifest, uint64_t manifest_size) {
  std::vector<format::IndexEntry> entries = ReadIndex(store);
  std::erase_if(entries, [&](const auto& e) { return e.backup_id == manifest.backup_id; });
  entries.push_back(format::IndexEntryOf(manifest, manifest_size));
  WriteIndex(store, std::move(entries));
}

Result<std::vector<std::string>> Catalog::CommittedIds() {
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store_, storage::layout::kManifestPrefix));
  std::vector<std::string> ids;
  for (const auto& o : objects) {
    if (auto id = storage::layout::BackupIdFromManifestKey(o.key)) ids.push_back(*id);
  }
  return ids;
}

Result<std::vector<std::string>> Catalog::BackupIds() {
  KB_ASSIGN_OR_RETURN(auto ids, CommittedIds());
  KB_ASSIGN_OR_RETURN(auto entries, storage::ListAll(store_, storage::layout::kCheckpointPrefix));
  for (const auto& o : entries) {
    if (auto key = storage::layout::ParseCheckpointKey(o.key)) ids.push_back(key->first);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

Result<format::Manifest> Catalog::LoadManifest(const std::string& backup_id) {
  std::string key = storage::layout::ManifestKey(backup_id);
  auto text = store_.Get(key);
  if (!text.ok()) {
    if (text.status().code() != Status::Code::kNotFound) return text.status();
    auto journal = LoadJournal(store_, backup_id);
    if (journal.ok()) return std::move(journal->manifest);
    if (journal.status().code() != Status::Code::kNotFound) return journal.status();
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

Result<Listing> Catalog::LoadAll() {
  KB_ASSIGN_OR_RETURN(auto ids, BackupIds());
  Listing all;
  for (const auto& id : ids) {
    auto m = LoadManifest(id);
    if (m.ok()) {
      all.backups.push_back(std::move(*m));
    } else if (m.status().code() == Status::Code::kCorruption) {
      all.damaged.push_back({id, m.status()});
    } else if (m.status().code() != Status::Code::kNotFound) {  // NotFound: pruned while we listed
      return m.status();
    }
  }
  return all;
}

Result<std::string> Catalog::Resolve(const std::string& id_or_latest) {
  if (id_or_latest.empty()) return Status::InvalidArgument("no backup id given: pass --backup-id ID (or 'latest')");
  if (id_or_latest != "latest") {
    KB_RETURN_IF_ERROR(storage::layout::ValidateBackupId(id_or_latest));
    Status s = LoadManifest(id_or_latest).status();
    if (!s.ok() && s.code() != Status::Code::kCorruption) return s;
    return id_or_latest;
  }
  // The committed backups through the index; the uncommitted ones (a
  // continuous backup may be the newest) from their journals, which are few.
  KB_ASSIGN_OR_RETURN(CommittedBackups committed, LoadCommitted());
  std::vector<std::pair<int64_t, std::string>> candidates;
  std::set<std::string> committed_ids;
  for (const auto& e : committed.backups) {
    candidates.emplace_back(e.completed_at_ms, e.backup_id);
    committed_ids.insert(e.backup_id);
  }
  std::vector<DamagedBackup> damaged = std::move(committed.damaged);
  for (const auto& d : damaged) committed_ids.insert(d.backup_id);
  KB_ASSIGN_OR_RETURN(auto entries, storage::ListAll(store_, storage::layout::kCheckpointPrefix));
  std::set<std::string> journal_ids;
  for (const auto& o : entries) {
    if (auto key = storage::layout::ParseCheckpointKey(o.key); key && !committed_ids.contains(key->first)) {
      journal_ids.insert(key->first);
    }
  }
  for (const auto& id : journal_ids) {
    auto journal = LoadJournal(store_, id);
    if (journal.ok()) {
      if (journal->manifest.state != "partial") candidates.emplace_back(journal->manifest.completed_at_ms, id);
    } else if (journal.status().code() == Status::Code::kCorruption) {
      damaged.push_back({id, journal.status()});
    } else if (journal.status().code() != Status::Code::kNotFound) {  // NotFound: committed while we listed
      return journal.status();
    }
  }
  for (const auto& d : damaged) {
    spdlog::warn("backup '{}' is damaged and is not a candidate for 'latest': {}", d.backup_id, d.reason.ToString());
  }
  if (candidates.empty()) {
    return Status::NotFound(fmt::format("no {}backups in {}: 'latest' has nothing to resolve to",
                                        damaged.empty() ? "" : "readable ", store_.Url()));
  }
  return std::max_element(candidates.begin(), candidates.end())->second;
}

Result<format::Journal> LoadJournal(storage::ObjectStore& store, const std::string& backup_id) {
  std::string prefix = storage::layout::CheckpointPrefix(backup_id);
  // A running backup may replace old entries by a new base while we read:
  // an entry gone between listing and reading means reading again.
  for (int attempt = 0;; ++attempt) {
    KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store, prefix));
    std::vector<std::pair<uint64_t, std::string>> keys;
    for (const auto& o : objects) {
      auto parsed = storage::layout::ParseCheckpointKey(o.key);
      if (parsed && parsed->first == backup_id) keys.emplace_back(parsed->second, o.key);
    }
    if (keys.empty()) return Status::NotFound(fmt::format("backup '{}' has no checkpoint journal", backup_id));
    std::sort(keys.begin(), keys.end());
    // Newest first, back to the newest base.
    std::vector<format::CheckpointEntry> entries;
    bool vanished = false;
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
      auto text = store.Get(it->second);
      if (!text.ok()) {
        if (text.status().code() == Status::Code::kNotFound && attempt < 3) {
          vanished = true;
          break;
        }
        return text.status();
      }
      auto entry = format::ParseCheckpoint(*text);
      if (!entry.ok()) return entry.status().WithContext(fmt::format("{}/{}", store.Url(), it->second));
      bool base = entry->base.has_value();
      entries.push_back(std::move(*entry));
      if (base) break;
    }
    if (vanished) continue;
    std::reverse(entries.begin(), entries.end());
    auto journal = format::ReplayJournal(entries);
    if (!journal.ok()) return journal.status().WithContext(fmt::format("{}/{}", store.Url(), prefix));
    return journal;
  }
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
    if (!storage::layout::IsOffsetMapKey(o.key)) continue;
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

}  // namespace kafka_backup::catalog
