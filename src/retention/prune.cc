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

// One prune of a location: what the policy decides, what that leaves to
// delete, the deletions, and the report (docs/retention.md).
class Prune {
 public:
  Prune(storage::ObjectStore& store, const PruneOptions& options)
      : store_(store), options_(options), prefix_(options.policy.backup_prefix), now_ms_(NowMs()) {}

  // Lists what may be deleted first, then what protects it (docs/retention.md,
  // "Safety"), and decides which backups go.
  Status Decide();
  // Which objects belong to pruned backups and to orphans, and are referenced by none kept.
  void FindGarbage();
  // Deletes the commit points, marks again, then deletes the rest.
  Status Delete();
  PruneReport Report();

 private:
  void Classify(const ObjectInfo& o, std::vector<Deletion>* into, bool is_data);
  // What the backups of a second mark use: their ids and the objects they reference.
  struct InUse {
    std::set<std::string> ids;
    std::set<std::string> referenced;
  };
  // Drops from `list` what a backup that started during the prune uses.
  static void KeepWhatNewRunsUse(std::vector<Deletion>& list, const InUse& in_use);

  storage::ObjectStore& store_;
  const PruneOptions& options_;
  const std::string& prefix_;
  const int64_t now_ms_;
  std::vector<ObjectInfo> data_;
  std::vector<ObjectInfo> others_;  // status/ and restores/ objects
  Marks marks_;
  std::map<std::string, PruneBackup> entries_;
  std::map<std::string, PruneBackup> orphans_;
  std::set<std::string> pruned_;
  std::set<std::string> referenced_;
  std::set<std::string> protected_ids_;
  std::vector<Deletion> manifest_deletions_, data_deletions_, other_deletions_;
};

Status Prune::Decide() {
  KB_ASSIGN_OR_RETURN(data_, storage::ListAll(store_, layout::kDataPrefix));
  for (std::string_view p : {layout::kRunStatusPrefix, layout::kRestorePrefix}) {
    KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(store_, p));
    others_.insert(others_.end(), objects.begin(), objects.end());
  }
  KB_ASSIGN_OR_RETURN(marks_, Mark(store_));

  // The policy decides among the committed backups that are candidates.
  std::vector<retention::Candidate> candidates;
  std::set<std::string> listed;  // status/ and restores/ keys
  for (const auto& o : others_) listed.insert(o.key);
  for (const auto& [id, m] : marks_.committed) {
    PruneBackup& e = entries_[id];
    e.backup_id = id;
    e.state = "committed";
    e.created_at_ms = m.created_at_ms;
    e.keep = true;
    if (!id.starts_with(prefix_)) {
      e.reasons.push_back(fmt::format("id does not start with backup_prefix '{}'", prefix_));
    } else if (listed.count(layout::RunStatusKey(id)) != 0 && LiveRun(store_, id, now_ms_)) {
      e.reasons.push_back("a run is writing it (fresh run status)");
    } else {
      candidates.push_back({id, m.created_at_ms});
    }
  }
  for (auto& d : retention::ApplyPolicy(options_.policy, std::move(candidates), now_ms_)) {
    PruneBackup& e = entries_[d.backup_id];
    e.keep = d.keep;
    e.reasons = std::move(d.reasons);
    if (!d.keep) pruned_.insert(d.backup_id);
  }
  for (const auto& [id, m] : marks_.journaled) {
    PruneBackup& e = entries_[id];
    e.backup_id = id;
    e.state = m.state;
    e.created_at_ms = m.created_at_ms;
    e.keep = true;
    e.reasons.push_back(fmt::format("{} backup (never pruned; what it references is kept)", m.state));
  }
  return Status::Ok();
}

void Prune::FindGarbage() {
  // Mark: what kept, partial and continuous backups reference; sweep the rest
  // of what belongs to pruned backups and to orphans.
  for (const auto& [id, m] : marks_.committed) {
    if (pruned_.count(id) != 0) continue;
    protected_ids_.insert(id);
    AddReferences(m, &referenced_);
  }
  for (const auto& [id, m] : marks_.journaled) {
    protected_ids_.insert(id);
    AddReferences(m, &referenced_);
  }
  for (const auto& o : marks_.manifest_objects) Classify(o, &manifest_deletions_, false);
  for (const auto& o : data_) Classify(o, &data_deletions_, true);
  for (const auto& o : marks_.checkpoint_objects) Classify(o, &other_deletions_, false);
  for (const auto& o : others_) Classify(o, &other_deletions_, false);
}

void Prune::Classify(const ObjectInfo& o, std::vector<Deletion>* into, bool is_data) {
  auto id = layout::OwnerBackupId(o.key);
  if (!id || protected_ids_.count(*id) != 0 || !id->starts_with(prefix_)) return;
  PruneBackup* owner = nullptr;
  if (pruned_.count(*id) != 0) {
    owner = &entries_[*id];
  } else {
    owner = &orphans_[*id];
    owner->backup_id = *id;
    owner->state = "orphan";
    owner->reasons = {"no manifest and no checkpoint journal"};
  }
  if (is_data && referenced_.count(o.key) != 0) {
    owner->referenced_objects++;
    owner->referenced_bytes += o.size;
    return;
  }
  owner->objects++;
  owner->bytes += o.size;
  into->push_back({o, owner, is_data});
}

Status Prune::Delete() {
  // 1. The commit points: from here on the pruned backups are gone.
  for (const auto& d : manifest_deletions_) spdlog::info("prune: deleting backup {}", d.owner->backup_id);
  KB_RETURN_IF_ERROR(DeleteAll(store_, KeysOf(manifest_deletions_)));
  // 2. Mark again: a backup that started since the first mark (an
  //    incremental one inheriting from a pruned backup, a new run of an
  //    orphan's id) protects what it references.
  KB_ASSIGN_OR_RETURN(Marks again, Mark(store_));
  InUse in_use;
  for (const auto* group : {&again.committed, &again.journaled}) {
    for (const auto& [id, m] : *group) {
      in_use.ids.insert(id);
      AddReferences(m, &in_use.referenced);
    }
  }
  KeepWhatNewRunsUse(data_deletions_, in_use);
  KeepWhatNewRunsUse(other_deletions_, in_use);
  // 3. The segments, then what only described the backups.
  KB_RETURN_IF_ERROR(DeleteAll(store_, KeysOf(data_deletions_)));
  for (const auto& id : pruned_) KB_RETURN_IF_ERROR(store_.AbortIncomplete(layout::DataPrefix(id)));
  return DeleteAll(store_, KeysOf(other_deletions_));
}

void Prune::KeepWhatNewRunsUse(std::vector<Deletion>& list, const InUse& in_use) {
  std::erase_if(list, [&](const Deletion& d) {
    auto id = layout::OwnerBackupId(d.object.key);
    bool now_referenced = d.data && in_use.referenced.count(d.object.key) != 0;
    if (!now_referenced && (!id || in_use.ids.count(*id) == 0)) return false;
    spdlog::warn("prune: {} is in use by a backup that started during the prune; left in place", d.object.key);
    d.owner->objects--;
    d.owner->bytes -= d.object.size;
    if (now_referenced) {
      d.owner->referenced_objects++;
      d.owner->referenced_bytes += d.object.size;
    }
    return true;
  });
}

PruneReport Prune::Report() {
  PruneReport report;
  report.storage = store_.Url();
  report.dry_run = options_.dry_run;
  for (auto& [_, e] : entries_) report.backups.push_back(std::move(e));
  std::sort(report.backups.begin(), report.backups.end(), [](const PruneBackup& a, const PruneBackup& b) {
    return std::tie(a.created_at_ms, a.backup_id) > std::tie(b.created_at_ms, b.backup_id);
  });
  for (auto& [_, e] : orphans_) report.backups.push_back(std::move(e));
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

}  // namespace

Result<PruneReport> RunPrune(const std::string& storage_url, const PruneOptions& options) {
  KB_RETURN_IF_ERROR(retention::CheckPolicy(options.policy));
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(storage_url));
  Prune prune(*store, options);
  KB_RETURN_IF_ERROR(prune.Decide());
  prune.FindGarbage();
  if (!options.dry_run) KB_RETURN_IF_ERROR(prune.Delete());
  return prune.Report();
}

}  // namespace kafka_backup
