// BackupCatalog (kafka_backup/catalog.h): the public, read-only view of a
// storage location, over Catalog and the format's documents. It copies what
// the manifests say into the public types; it decides nothing itself.
#include <algorithm>

#include "catalog/catalog.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/run_status.h"
#include "kafka_backup/catalog.h"
#include "storage/object_store.h"

namespace kafka_backup {
namespace {

BackupPartition PublicPartition(const format::PartitionManifest& p) {
  BackupPartition out{.partition = p.partition,
                      .start_offset = p.start_offset,
                      .end_offset = p.end_offset,
                      .records = p.record_count,
                      .bytes = p.bytes,
                      .segments = p.segments.size(),
                      .min_timestamp = p.min_timestamp,
                      .max_timestamp = p.max_timestamp,
                      .gaps = {},
                      .held_back = p.held_back};
  for (const auto& g : p.gaps) out.gaps.push_back({g.first_offset, g.last_offset, g.reason});
  return out;
}

BackupTopic PublicTopic(const format::TopicManifest& t) {
  BackupTopic out{.name = t.name,
                  .topic_id = t.topic_id,
                  .partition_count = t.partition_count,
                  .replication_factor = t.replication_factor,
                  .configs = t.configs,
                  .records = t.RecordCount(),
                  .bytes = t.Bytes(),
                  .partitions = {},
                  .events = {}};
  for (const auto& p : t.partitions) out.partitions.push_back(PublicPartition(p));
  for (const auto& e : t.events) out.events.push_back({e.at_ms, e.event, e.topic_id, e.detail});
  return out;
}

BackupInfo PublicBackup(const format::Manifest& m) {
  BackupInfo out;
  out.backup_id = m.backup_id;
  out.state = m.committed() ? "committed" : m.state;
  out.created_at_ms = m.created_at_ms;
  out.completed_at_ms = m.completed_at_ms;
  out.source_cluster_id = m.source_cluster_id;
  out.kafka_cluster_id = m.kafka_cluster_id;
  out.compression = m.compression;
  if (m.encryption) out.encryption = BackupInfo::Encryption{m.encryption->algorithm, m.encryption->key_id};
  out.parent_backup_id = m.parent_backup_id;
  out.missing_topics = m.missing_topics;
  out.records = m.RecordCount();
  out.bytes = m.Bytes();
  out.stored_bytes = m.StoredBytes();
  out.own_segments = catalog::OwnSegments(m);
  out.own_stored_bytes = catalog::OwnStoredBytes(m);
  for (const auto& t : m.topics) {
    out.topics.push_back(PublicTopic(t));
    for (const auto& p : t.partitions) out.segments += p.segments.size();
  }
  return out;
}

OffsetMapping PublicOffsetMap(const format::OffsetMap& map) {
  OffsetMapping out{.restore_id = map.restore_id,
                    .backup_id = map.backup_id,
                    .target_cluster_id = map.target_cluster_id,
                    .created_at_ms = map.created_at_ms,
                    .topics = {},
                    .json = format::SerializeOffsetMap(map)};
  for (const auto& t : map.topics) {
    OffsetMapping::Topic& topic = out.topics.emplace_back();
    topic.source_topic = t.source_topic;
    topic.target_topic = t.target_topic;
    for (const auto& p : t.partitions) {
      OffsetMapping::Partition& part = topic.partitions.emplace_back();
      part.source_partition = p.source_partition;
      for (const auto& r : p.runs) {
        part.runs.push_back({r.source_offset, r.target_partition, r.target_offset, r.count});
      }
    }
  }
  return out;
}

}  // namespace

struct BackupCatalog::Impl {
  std::unique_ptr<storage::ObjectStore> store;
  std::string url;
};

BackupCatalog::BackupCatalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BackupCatalog::~BackupCatalog() = default;

Result<std::unique_ptr<BackupCatalog>> BackupCatalog::Open(const std::string& storage_url) {
  auto impl = std::make_unique<Impl>();
  KB_ASSIGN_OR_RETURN(impl->store, storage::OpenStore(storage_url));
  impl->url = impl->store->Url();
  return std::unique_ptr<BackupCatalog>(new BackupCatalog(std::move(impl)));
}

const std::string& BackupCatalog::url() const {
  return impl_->url;
}

Result<BackupListing> BackupCatalog::List() {
  catalog::Catalog cat(*impl_->store);
  KB_ASSIGN_OR_RETURN(catalog::Listing listing, cat.LoadAll());
  BackupListing out{.storage_url = impl_->url, .backups = {}, .damaged = std::move(listing.damaged)};
  for (const auto& m : listing.backups) out.backups.push_back(PublicBackup(m));
  std::sort(out.backups.begin(), out.backups.end(),
            [](const auto& a, const auto& b) { return a.completed_at_ms < b.completed_at_ms; });
  return out;
}

Result<std::string> BackupCatalog::Resolve(const std::string& id_or_latest) {
  return catalog::Catalog(*impl_->store).Resolve(id_or_latest);
}

Result<BackupInfo> BackupCatalog::Describe(const std::string& id_or_latest) {
  catalog::Catalog cat(*impl_->store);
  KB_ASSIGN_OR_RETURN(std::string id, cat.Resolve(id_or_latest));
  KB_ASSIGN_OR_RETURN(format::Manifest m, cat.LoadManifest(id));
  return PublicBackup(m);
}

Result<RunStatusReading> BackupCatalog::ReadRunStatus(const std::string& id_or_latest) {
  RunStatusReading out;
  KB_ASSIGN_OR_RETURN(out.status, catalog::LoadRunStatus(*impl_->store, id_or_latest, &out.from_manifest));
  return out;
}

Result<OffsetMapping> BackupCatalog::ReadOffsetMapping(const std::string& backup_id_or_latest,
                                                       const std::string& restore_id) {
  KB_ASSIGN_OR_RETURN(std::string id, Resolve(backup_id_or_latest));
  KB_ASSIGN_OR_RETURN(format::OffsetMap map, catalog::LoadOffsetMap(*impl_->store, id, restore_id));
  return PublicOffsetMap(map);
}

}  // namespace kafka_backup
