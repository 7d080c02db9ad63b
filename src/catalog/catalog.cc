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

constexpr uint64_t kTailReadBytes = uint64_t{64} * 1024;

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

bool RecordFilter::Matches(const format::RecordView& r) const {
  if (min_offset && r.offset < *min_offset) return false;
  if (max_offset && r.offset > *max_offset) return false;
  if (min_timestamp && r.timestamp < *min_timestamp) return false;
  if (max_timestamp && r.timestamp > *max_timestamp) return false;
  return true;
}

namespace {

// One read of one segment (ReadSegment).
class SegmentReader {
 public:
  SegmentReader(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                const RecordViewSink& sink, ReadStats& stats, const DamageHandler& on_damage,
                const format::EncryptionKey* key, uint64_t max_ranged_read)
      : store_(store),
        ref_(ref),
        filter_(filter),
        sink_(sink),
        st_(stats),
        on_damage_(on_damage),
        key_(key),
        max_ranged_read_(max_ranged_read) {}
  ~SegmentReader() { util::Cleanse(&data_key_); }

  Status Read();

 private:
  std::string Where(const std::string& detail) const {
    return fmt::format("segment {}/{}{}", store_.Url(), ref_.key, detail);
  }
  static std::string BlockWhere(const format::BlockInfo& b) {
    return fmt::format(", block at byte {} (offsets {}..{})", b.position, b.first_offset, b.last_offset);
  }
  // Reports damage to the handler or, without one, returns it.
  Status Damage(const SegmentDamage& d) { return on_damage_ ? on_damage_(d) : d.status; }
  // The whole segment is unreadable.
  Status Lost(Status why, uint64_t position = 0) {
    return Damage({std::move(why), position, ref_.first_offset, ref_.last_offset, ref_.record_count});
  }
  // The trailer or index cannot be read (`why`): without a handler that is
  // the error; with one, the blocks are read in order from the start.
  Status Unreadable(const Status& why) { return on_damage_ ? Scan(why) : why; }
  Status Scan(const Status& trailer_error);
  // Bytes [offset, offset + length), served from the tail already fetched
  // when they lie in it. Corruption if the object holds fewer.
  Result<std::string> Fetch(uint64_t offset, uint64_t length);
  // Unwraps the data key of an encrypted segment (`header`). A key that is
  // missing or not the segment's is returned; a wrapped key that fails its
  // tag loses the whole segment.
  Status UseHeader(const format::SegmentHeader& header);
  // Checks and decodes one block into decoder_; Corruption naming it when it
  // fails.
  Status Decode(std::string_view bytes, const format::BlockInfo& b, format::Codec codec);
  // Passes the records of the block decoded last that match the filter to
  // the sink.
  Status Deliver(const format::BlockInfo& b);

  storage::ObjectStore& store_;
  const format::SegmentRef& ref_;
  const RecordFilter& filter_;
  const RecordViewSink& sink_;
  ReadStats& st_;
  const DamageHandler& on_damage_;
  const format::EncryptionKey* key_;
  const uint64_t max_ranged_read_;
  std::string data_key_;  // an encrypted segment's, once its header is read
  format::BlockDecoder decoder_;
  std::string tail_;
  uint64_t tail_start_ = 0;
};

Result<std::string> SegmentReader::Fetch(uint64_t offset, uint64_t length) {
  if (offset >= tail_start_ && offset + length <= tail_start_ + tail_.size()) {
    return tail_.substr(offset - tail_start_, length);
  }
  auto bytes = store_.Get(ref_.key, storage::ByteRange{offset, length});
  if (!bytes.ok()) return bytes.status().WithContext(Where(""));
  st_.bytes_fetched += bytes->size();
  if (bytes->size() != length) {
    return Status::Corruption(
        Where(fmt::format(": read {} bytes at byte {}, expected {}: the object is shorter than "
                          "the {} bytes the manifest records",
                          bytes->size(), offset, length, ref_.size)));
  }
  return bytes;
}

Status SegmentReader::Decode(std::string_view bytes, const format::BlockInfo& b, format::Codec codec) {
  Status s = decoder_.Decode(bytes, b, codec, data_key_);
  return s.ok() ? s : s.WithContext(Where(BlockWhere(b)));
}

Status SegmentReader::UseHeader(const format::SegmentHeader& header) {
  auto data_key = format::SegmentDataKey(header, key_);
  if (!data_key.ok()) {
    if (data_key.status().code() != Status::Code::kCorruption) return data_key.status().WithContext(Where(""));
    return Lost(Status::Corruption(
        Where(fmt::format(": {}; no block can be decoded without it", data_key.status().message()))));
  }
  data_key_ = std::move(*data_key);
  return Status::Ok();
}

Status SegmentReader::Deliver(const format::BlockInfo& b) {
  const std::shared_ptr<const format::DecodedBlock> block = decoder_.Hold();
  for (const auto& r : decoder_.records()) {
    if (!filter_.Matches(r)) continue;
    Status s = sink_(r, block);
    if (!s.ok()) return s.code() == Status::Code::kCorruption ? s.WithContext(Where(BlockWhere(b))) : s;
  }
  ++st_.blocks_read;
  return Status::Ok();
}

Status SegmentReader::Read() {
  uint64_t tail_len = std::min(ref_.size, kTailReadBytes);
  tail_start_ = ref_.size - tail_len;
  auto tail = Fetch(tail_start_, tail_len);
  if (!tail.ok()) {
    if (tail.status().code() == Status::Code::kNotFound) {
      return Lost(Status::Corruption(Where(" is missing: the manifest names it but the store does not have it")));
    }
    if (tail.status().code() != Status::Code::kCorruption) return tail.status();
    return Unreadable(tail.status());
  }
  tail_ = std::move(*tail);
  auto trailer = format::ParseTrailer(tail_, ref_.size);
  if (!trailer.ok()) return Unreadable(trailer.status().WithContext(Where("")));
  uint64_t index_len = uint64_t{trailer->block_count} * format::kIndexEntrySize;
  auto index_bytes = Fetch(trailer->index_position, index_len);
  if (!index_bytes.ok()) {
    if (index_bytes.status().code() != Status::Code::kCorruption) return index_bytes.status();
    return Unreadable(index_bytes.status());
  }
  auto index = format::ParseIndex(*index_bytes, *trailer);
  if (!index.ok()) return Unreadable(index.status().WithContext(Where("")));

  auto header_bytes = Fetch(0, format::HeaderRegionSize(*trailer, *index));
  if (!header_bytes.ok()) {
    if (header_bytes.status().code() != Status::Code::kCorruption) return header_bytes.status();
    return Lost(header_bytes.status());
  }
  // Without the header the codec is unknown: no block can be decoded.
  auto header = format::ParseHeader(*header_bytes);
  if (!header.ok()) {
    return Lost(
        Status::Corruption(Where(fmt::format(": {}; no block can be decoded without it", header.status().message()))));
  }
  if (header->encrypted) {
    Status keyed = UseHeader(*header);
    if (!keyed.ok() || data_key_.empty()) return keyed;  // empty: the segment was reported lost
  }

  uint64_t total = 0;
  for (const auto& b : *index) total += b.record_count;
  if (total != ref_.record_count) {
    // Not the segment the manifest describes: none of it can be trusted.
    return Lost(Status::Corruption(
        Where(fmt::format(": its index holds {} records, the manifest says {}", total, ref_.record_count))));
  }
  if (total != trailer->record_count) {
    // The trailer's count is covered by no checksum; index and manifest agree.
    KB_RETURN_IF_ERROR(
        Damage({Status::Corruption(Where(fmt::format(": its trailer says {} records, its index and the manifest {}",
                                                     trailer->record_count, total))),
                ref_.size - format::kTrailerSize, 0, -1, 0}));
  }

  // Read runs of adjacent wanted blocks with one ranged GET each.
  const auto& blocks = *index;
  size_t i = 0;
  while (i < blocks.size()) {
    if (!filter_.BlockMayMatch(blocks[i])) {
      ++st_.blocks_skipped;
      ++i;
      continue;
    }
    size_t j = i;
    uint64_t run_len = blocks[i].size;
    while (j + 1 < blocks.size() && filter_.BlockMayMatch(blocks[j + 1]) &&
           run_len + blocks[j + 1].size <= max_ranged_read_) {
      ++j;
      run_len += blocks[j].size;
    }
    auto run = Fetch(blocks[i].position, run_len);
    if (!run.ok()) {
      if (run.status().code() != Status::Code::kCorruption) return run.status();
      uint64_t lost = 0;
      for (size_t k = i; k <= j; ++k) lost += blocks[k].record_count;
      KB_RETURN_IF_ERROR(
          Damage({run.status(), blocks[i].position, blocks[i].first_offset, blocks[j].last_offset, lost}));
      i = j + 1;
      continue;
    }
    for (size_t k = i; k <= j; ++k) {
      const auto& b = blocks[k];
      std::string_view bytes = std::string_view(*run).substr(b.position - blocks[i].position, b.size);
      Status s = Decode(bytes, b, header->codec);
      if (!s.ok()) {
        if (s.code() != Status::Code::kCorruption) return s;
        KB_RETURN_IF_ERROR(Damage({s, b.position, b.first_offset, b.last_offset, b.record_count}));
        continue;
      }
      KB_RETURN_IF_ERROR(Deliver(b));
    }
    i = j + 1;
  }
  return Status::Ok();
}

Status SegmentReader::Scan(const Status& trailer_error) {
  auto head = store_.Head(ref_.key);
  if (!head.ok()) {
    if (head.status().code() == Status::Code::kNotFound) {
      return Lost(Status::Corruption(Where(" is missing: the manifest names it but the store does not have it")));
    }
    return head.status().WithContext(Where(""));
  }
  const uint64_t limit = head->size;
  // A size other than the recorded one says more than what it broke.
  const Status why = limit == ref_.size
                         ? trailer_error
                         : Status::Corruption(Where(fmt::format(
                               " is {} bytes, the manifest records {}: truncated or overwritten", limit, ref_.size)));
  // A window of the object, refilled as the walk leaves it.
  std::string window;
  uint64_t window_start = 0;
  auto view = [&](uint64_t offset, uint64_t length) -> Result<std::string_view> {
    if (offset < window_start || offset + length > window_start + window.size()) {
      uint64_t want = std::min(std::max(length, max_ranged_read_), limit - offset);
      tail_.clear();  // Fetch must not serve from the tail: its positions assume the manifest's size
      tail_start_ = 0;
      KB_ASSIGN_OR_RETURN(window, Fetch(offset, want));
      window_start = offset;
    }
    return std::string_view(window).substr(offset - window_start, length);
  };

  std::string_view first;
  if (limit > 0) {
    auto v = view(0, std::min<uint64_t>(limit, max_ranged_read_));
    if (!v.ok()) {
      if (v.status().code() != Status::Code::kCorruption) return v.status();
      return Lost(Status::Corruption(
          fmt::format("{}; reading it from the start failed too: {}", why.message(), v.status().message())));
    }
    first = *v;
  }
  auto header = format::ParseHeader(first);
  if (!header.ok()) {
    return Lost(Status::Corruption(fmt::format("{}; its header cannot be read either ({}): no block can be decoded",
                                               why.message(), header.status().message())));
  }
  if (header->encrypted) {
    Status keyed = UseHeader(*header);
    if (!keyed.ok() || data_key_.empty()) return keyed;
  }

  // Walk the blocks: each header gives the next one's position, and a block
  // counts only if it passes its checks and follows the previous one.
  uint64_t pos = format::EncodedHeaderSize(*header);
  int64_t prev_last = ref_.first_offset - 1;
  uint64_t recovered = 0;
  std::string stop;
  while (true) {
    if (pos + format::kBlockHeaderSize > limit) {
      stop = fmt::format("the object ends at byte {}", limit);
      break;
    }
    auto bh = view(pos, format::kBlockHeaderSize);
    if (!bh.ok()) {
      if (bh.status().code() != Status::Code::kCorruption) return bh.status();
      stop = bh.status().message();
      break;
    }
    format::BlockInfo b = format::ParseBlockHeader(*bh);
    b.position = pos;
    if (pos + b.size > limit) {
      stop = fmt::format("the block at byte {} would end at byte {}, past the object's end ({})", pos, pos + b.size,
                         limit);
      break;
    }
    if (b.record_count == 0 || b.first_offset <= prev_last || b.last_offset < b.first_offset ||
        b.last_offset > ref_.last_offset) {
      stop = fmt::format("the bytes at {} are not a block following offset {}", pos, prev_last);
      break;
    }
    auto bytes = view(pos, b.size);
    if (!bytes.ok()) {
      if (bytes.status().code() != Status::Code::kCorruption) return bytes.status();
      stop = bytes.status().message();
      break;
    }
    Status s = Decode(*bytes, b, header->codec);
    if (!s.ok()) {
      if (s.code() != Status::Code::kCorruption) return s;
      stop = s.message();
      break;
    }
    KB_RETURN_IF_ERROR(Deliver(b));
    recovered += b.record_count;
    prev_last = b.last_offset;
    pos += b.size;
  }
  if (prev_last >= ref_.last_offset && recovered >= ref_.record_count) {
    return Damage({Status::Corruption(fmt::format("{}; every block was read from the start instead", why.message())),
                   pos, 0, -1, 0});
  }
  uint64_t lost = ref_.record_count > recovered ? ref_.record_count - recovered : 0;
  return Damage({Status::Corruption(fmt::format(
                     "{}; read block by block from the start instead: offsets {}..{} ({} records) cannot be read, "
                     "from byte {} on ({})",
                     why.message(), prev_last + 1, ref_.last_offset, lost, pos, stop)),
                 pos, prev_last + 1, ref_.last_offset, lost});
}

}  // namespace

Status ReadSegmentViews(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                        const RecordViewSink& sink, ReadStats* stats, const DamageHandler& on_damage,
                        const format::EncryptionKey* key, uint64_t max_ranged_read) {
  ReadStats local;
  SegmentReader reader(store, ref, filter, sink, stats ? *stats : local, on_damage, key, max_ranged_read);
  return reader.Read();
}

Status ReadSegment(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                   const std::function<Status(format::Record&&)>& sink, ReadStats* stats,
                   const DamageHandler& on_damage, const format::EncryptionKey* key, uint64_t max_ranged_read) {
  return ReadSegmentViews(
      store, ref, filter, [&](const format::RecordView& r, const auto&) { return sink(r.ToRecord()); }, stats,
      on_damage, key, max_ranged_read);
}

}  // namespace kafka_backup::catalog
