#include "kafka_backup/prune.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "catalog/catalog.h"
#include "format/manifest.h"
#include "format/run_status.h"
#include "retention/policy.h"
#include "storage/layout.h"
#include "storage/object_store.h"
#include "util/clock.h"

namespace kafka_backup {
namespace {

namespace layout = storage::layout;
using storage::ObjectInfo;

// Deletes run on a few threads: an object store takes one request per object.
constexpr size_t kDeleteThreads = 8;

// What the backups of a location hold and reference. Mark() lists the
// journals before the manifests: a run writes its journal before its first
// segment and deletes it only after writing its manifest, so every backup
// that had stored a segment before Mark() started is seen by one of the two
// listings (docs/retention.md, "Safety").
struct Marks {
  std::map<std::string, format::Manifest> committed;  // manifest exists
  std::map<std::string, format::Manifest> journaled;  // journal only: partial or continuous
  std::vector<ObjectInfo> checkpoint_objects;
  std::vector<ObjectInfo> manifest_objects;
};

Result<Marks> Mark(storage::ObjectStore& store) {
  Marks m;
  KB_ASSIGN_OR_RETURN(m.checkpoint_objects, storage::ListAll(store, layout::kCheckpointPrefix));
  std::set<std::string> journal_ids;
  for (const auto& o : m.checkpoint_objects) {
    if (auto k = layout::ParseCheckpointKey(o.key)) journal_ids.insert(k->first);
  }
  for (const auto& id : journal_ids) {
    auto journal = catalog::LoadJournal(store, id);
    if (!journal.ok()) {
      // Gone since the listing: committed (the manifest listing below sees
      // it) or deleted.
      if (journal.status().code() == Status::Code::kNotFound) continue;
      return journal.status().WithContext(
          fmt::format("the checkpoint journal of backup '{}' cannot be read, so what it references is unknown; "
                      "nothing was deleted",
                      id));
    }
    m.journaled[id] = std::move(journal->manifest);
  }
  KB_ASSIGN_OR_RETURN(m.manifest_objects, storage::ListAll(store, layout::kManifestPrefix));
  for (const auto& o : m.manifest_objects) {
    auto id = layout::BackupIdFromManifestKey(o.key);
    if (!id) continue;
    auto text = store.Get(o.key);
    if (!text.ok()) {
      if (text.status().code() == Status::Code::kNotFound) continue;  // pruned by someone else meanwhile
      return text.status();
    }
    auto manifest = format::ParseManifest(*text);
    if (!manifest.ok()) {
      return manifest.status().WithContext(
          fmt::format("{}/{}: what this backup references is unknown, so nothing was deleted (repair or delete it)",
                      store.Url(), o.key));
    }
    m.journaled.erase(*id);  // a leftover journal beside a manifest is ignored
    m.committed[*id] = std::move(*manifest);
  }
  return m;
}

void AddReferences(const format::Manifest& m, std::set<std::string>* keys) {
  for (const auto& t : m.topics) {
    for (const auto& p : t.partitions) {
      for (const auto& s : p.segments) keys->insert(s.key);
    }
  }
}

// A committed backup whose run status says a run is writing it right now
// (the same freshness rule as `status`): prune leaves it alone.
bool LiveRun(storage::ObjectStore& store, const std::string& id, int64_t now_ms) {
  auto text = store.Get(layout::RunStatusKey(id));
  if (!text.ok()) return false;
  auto s = format::ParseRunStatus(*text);
  return s.ok() && format::RunningAndFresh(*s, now_ms);
}

struct Deletion {
  ObjectInfo object;
  PruneBackup* owner;
  bool data;
};

Status DeleteAll(storage::ObjectStore& store, const std::vector<std::string>& keys) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  auto work = [&] {
    for (size_t i; (i = next++) < keys.size();) {
      Status s = store.Delete(keys[i]);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.ok()) first = s.WithContext(fmt::format("cannot delete {}/{}", store.Url(), keys[i]));
        next = keys.size();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(kDeleteThreads, keys.size()); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return first;
}

std::vector<std::string> KeysOf(const std::vector<Deletion>& list) {
  std::vector<std::string> keys;
  keys.reserve(list.size());
  for (const auto& d : list) keys.push_back(d.object.key);
  return keys;
}

}  // namespace

Result<PruneReport> RunPrune(const std::string& storage_url, const PruneOptions& options) {
  KB_RETURN_IF_ERROR(retention::CheckPolicy(options.policy));
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(storage_url));
  const std::string& prefix = options.policy.backup_prefix;
  int64_t now_ms = NowMs();
  PruneReport report;
  report.storage = store->Url();
  report.dry_run = options.dry_run;

  // Listed in this order (docs/retention.md, "Safety"): what may be deleted
  // first, then what protects it.
  KB_ASSIGN_OR_RETURN(auto data, storage::ListAll(*store, layout::kDataPrefix));
  std::vector<ObjectInfo> others;
  for (std::string_view p : {layout::kRunStatusPrefix, layout::kRestorePrefix}) {
    KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(*store, p));
    others.insert(others.end(), objects.begin(), objects.end());
  }
  KB_ASSIGN_OR_RETURN(Marks marks, Mark(*store));

  // The policy decides among the committed backups that are candidates.
  std::map<std::string, PruneBackup> entries;
  std::vector<retention::Candidate> candidates;
  std::set<std::string> listed;  // status/ and restores/ keys
  for (const auto& o : others) listed.insert(o.key);
  for (const auto& [id, m] : marks.committed) {
    PruneBackup& e = entries[id];
    e.backup_id = id;
    e.state = "committed";
    e.created_at_ms = m.created_at_ms;
    e.keep = true;
    if (!id.starts_with(prefix)) {
      e.reasons.push_back(fmt::format("id does not start with backup_prefix '{}'", prefix));
    } else if (listed.count(layout::RunStatusKey(id)) != 0 && LiveRun(*store, id, now_ms)) {
      e.reasons.push_back("a run is writing it (fresh run status)");
    } else {
      candidates.push_back({id, m.created_at_ms});
    }
  }
  std::set<std::string> pruned;
  for (auto& d : retention::ApplyPolicy(options.policy, std::move(candidates), now_ms)) {
    PruneBackup& e = entries[d.backup_id];
    e.keep = d.keep;
    e.reasons = std::move(d.reasons);
    if (!d.keep) pruned.insert(d.backup_id);
  }
  for (const auto& [id, m] : marks.journaled) {
    PruneBackup& e = entries[id];
    e.backup_id = id;
    e.state = m.state;
    e.created_at_ms = m.created_at_ms;
    e.keep = true;
    e.reasons.push_back(fmt::format("{} backup (never pruned; what it references is kept)", m.state));
  }

  // Mark: what kept, partial and continuous backups reference; sweep the rest
  // of what belongs to pruned backups and to orphans.
  std::set<std::string> referenced;
  std::set<std::string> protected_ids;
  for (const auto& [id, m] : marks.committed) {
    if (pruned.count(id) != 0) continue;
    protected_ids.insert(id);
    AddReferences(m, &referenced);
  }
  for (const auto& [id, m] : marks.journaled) {
    protected_ids.insert(id);
    AddReferences(m, &referenced);
  }
  std::map<std::string, PruneBackup> orphans;
  std::vector<Deletion> manifest_deletions, data_deletions, other_deletions;
  auto classify = [&](const ObjectInfo& o, std::vector<Deletion>* into, bool is_data) {
    auto id = layout::OwnerBackupId(o.key);
    if (!id || protected_ids.count(*id) != 0 || !id->starts_with(prefix)) return;
    PruneBackup* owner = nullptr;
    if (pruned.count(*id) != 0) {
      owner = &entries[*id];
    } else {
      owner = &orphans[*id];
      owner->backup_id = *id;
      owner->state = "orphan";
      owner->reasons = {"no manifest and no checkpoint journal"};
    }
    if (is_data && referenced.count(o.key) != 0) {
      owner->referenced_objects++;
      owner->referenced_bytes += o.size;
      return;
    }
    owner->objects++;
    owner->bytes += o.size;
    into->push_back({o, owner, is_data});
  };
  for (const auto& o : marks.manifest_objects) classify(o, &manifest_deletions, false);
  for (const auto& o : data) classify(o, &data_deletions, true);
  for (const auto& o : marks.checkpoint_objects) classify(o, &other_deletions, false);
  for (const auto& o : others) classify(o, &other_deletions, false);

  if (!options.dry_run) {
    // 1. The commit points: from here on the pruned backups are gone.
    for (const auto& d : manifest_deletions) spdlog::info("prune: deleting backup {}", d.owner->backup_id);
    KB_RETURN_IF_ERROR(DeleteAll(*store, KeysOf(manifest_deletions)));
    // 2. Mark again: a backup that started since the first mark (an
    //    incremental one inheriting from a pruned backup, a new run of an
    //    orphan's id) protects what it references.
    KB_ASSIGN_OR_RETURN(Marks again, Mark(*store));
    std::set<std::string> referenced_now;
    std::set<std::string> live_ids;
    for (const auto* group : {&again.committed, &again.journaled}) {
      for (const auto& [id, m] : *group) {
        live_ids.insert(id);
        AddReferences(m, &referenced_now);
      }
    }
    auto still_garbage = [&](std::vector<Deletion>& list) {
      std::erase_if(list, [&](const Deletion& d) {
        auto id = layout::OwnerBackupId(d.object.key);
        bool now_referenced = d.data && referenced_now.count(d.object.key) != 0;
        if (!now_referenced && (!id || live_ids.count(*id) == 0)) return false;
        spdlog::warn("prune: {} is in use by a backup that started during the prune; left in place", d.object.key);
        d.owner->objects--;
        d.owner->bytes -= d.object.size;
        if (now_referenced) {
          d.owner->referenced_objects++;
          d.owner->referenced_bytes += d.object.size;
        }
        return true;
      });
    };
    still_garbage(data_deletions);
    still_garbage(other_deletions);
    // 3. The segments, then what only described the backups.
    KB_RETURN_IF_ERROR(DeleteAll(*store, KeysOf(data_deletions)));
    for (const auto& id : pruned) KB_RETURN_IF_ERROR(store->AbortIncomplete(layout::DataPrefix(id)));
    KB_RETURN_IF_ERROR(DeleteAll(*store, KeysOf(other_deletions)));
  }

  for (auto& [_, e] : entries) report.backups.push_back(std::move(e));
  std::sort(report.backups.begin(), report.backups.end(), [](const PruneBackup& a, const PruneBackup& b) {
    return std::tie(a.created_at_ms, a.backup_id) > std::tie(b.created_at_ms, b.backup_id);
  });
  for (auto& [_, e] : orphans) report.backups.push_back(std::move(e));
  for (const auto& e : report.backups) {
    if (e.keep) continue;
    (e.state == "orphan" ? report.orphans : report.pruned)++;
    report.objects += e.objects;
    report.bytes += e.bytes;
    report.referenced_objects += e.referenced_objects;
    report.referenced_bytes += e.referenced_bytes;
  }
  return report;
}

}  // namespace kafka_backup
