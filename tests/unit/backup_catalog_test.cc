// BackupCatalog (include/kafka_backup/catalog.h): the public view `list`,
// `describe`, `status` and `show-offset-mapping` print, over a directory
// store written here with the format's own serializers. No server.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/run_status.h"
#include "kafka_backup/catalog.h"
#include "memory_store.h"
#include "storage/layout.h"
#include "storage/object_store.h"

namespace kafka_backup {
namespace {

namespace fs = std::filesystem;

format::SegmentRef Segment(const std::string& backup_id, int64_t first, int64_t last, uint64_t size) {
  format::SegmentRef s;
  s.key = storage::layout::SegmentKey(backup_id, "orders", 0, first);
  s.size = size;
  s.first_offset = first;
  s.last_offset = last;
  s.record_count = static_cast<uint64_t>(last - first + 1);
  s.min_timestamp = 1000 + first;
  s.max_timestamp = 1000 + last;
  s.bytes = s.record_count * 10;
  return s;
}

// A committed backup of topic "orders" (one partition): offsets [0, 100) in
// two segments; with a parent, the first is the parent's (inherited).
format::Manifest Backup(const std::string& id, int64_t completed_ms, const std::string& parent = "") {
  format::Manifest m;
  m.backup_id = id;
  m.tool_version = "test";
  m.created_at_ms = completed_ms - 1000;
  m.completed_at_ms = completed_ms;
  m.source_cluster_id = "prod";
  m.kafka_cluster_id = "kc-1";
  m.compression = "zstd";
  m.parent_backup_id = parent;
  format::TopicManifest t;
  t.name = "orders";
  t.partition_count = 1;
  t.replication_factor = 3;
  t.configs = {{"cleanup.policy", "delete"}};
  format::PartitionManifest p;
  p.partition = 0;
  p.start_offset = 0;
  p.end_offset = 100;
  p.segments = {Segment(parent.empty() ? id : parent, 0, 59, 700), Segment(id, 60, 99, 500)};
  for (const auto& s : p.segments) {
    p.record_count += s.record_count;
    p.bytes += s.bytes;
  }
  p.min_timestamp = 1000;
  p.max_timestamp = 1099;
  p.gaps = {{40, 41, "deleted by the source's retention"}};
  t.partitions.push_back(p);
  m.topics.push_back(t);
  return m;
}

class BackupCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kb-catalog-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = storage::OpenStore(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Put(const std::string& key, const std::string& text) { ASSERT_TRUE(store_->Put(key, text).ok()) << key; }
  void PutManifest(const format::Manifest& m) {
    Put(storage::layout::ManifestKey(m.backup_id), format::SerializeManifest(m));
  }
  std::unique_ptr<BackupCatalog> Open() {
    auto catalog = BackupCatalog::Open(dir_.string());
    EXPECT_TRUE(catalog.ok()) << catalog.status().ToString();
    return catalog.ok() ? std::move(*catalog) : nullptr;
  }

  fs::path dir_;
  std::unique_ptr<storage::ObjectStore> store_;
};

TEST_F(BackupCatalogTest, ListsBackupsOldestFirstAndADamagedOneApart) {
  PutManifest(Backup("b-new", 3'000'000));
  PutManifest(Backup("a-old", 2'000'000));
  Put(storage::layout::ManifestKey("c-broken"), "{ not a manifest");
  auto catalog = Open();
  ASSERT_NE(catalog, nullptr);
  auto listing = catalog->List();
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  ASSERT_EQ(listing->backups.size(), 2u);
  EXPECT_EQ(listing->backups[0].backup_id, "a-old") << "by completion time, not by id";
  EXPECT_EQ(listing->backups[1].backup_id, "b-new");
  EXPECT_EQ(listing->backups[0].state, "committed");
  ASSERT_EQ(listing->damaged.size(), 1u);
  EXPECT_EQ(listing->damaged[0].backup_id, "c-broken");
  EXPECT_EQ(listing->damaged[0].reason.code(), Status::Code::kCorruption);
  EXPECT_EQ(listing->storage_url, catalog->url());
}

TEST_F(BackupCatalogTest, DescribeCopiesWhatTheManifestSaysAndCountsInheritedSegments) {
  PutManifest(Backup("full", 2'000'000));
  format::Manifest inc = Backup("inc", 3'000'000, "full");
  inc.encryption = format::ManifestEncryption{"AES-256-GCM", "0123456789abcdef"};
  PutManifest(inc);
  auto catalog = Open();
  ASSERT_NE(catalog, nullptr);
  auto info = catalog->Describe("latest");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->backup_id, "inc") << "latest: the newest commit";
  EXPECT_TRUE(info->committed());
  EXPECT_EQ(info->parent_backup_id, "full");
  EXPECT_EQ(info->records, 100u);
  EXPECT_EQ(info->bytes, 1000u);
  EXPECT_EQ(info->stored_bytes, 1200u);
  EXPECT_EQ(info->segments, 2u);
  EXPECT_EQ(info->own_segments, 1u) << "the first segment is the parent's";
  EXPECT_EQ(info->own_stored_bytes, 500u);
  ASSERT_TRUE(info->encryption.has_value());
  EXPECT_EQ(info->encryption->key_id, "0123456789abcdef");
  ASSERT_EQ(info->topics.size(), 1u);
  const BackupTopic& t = info->topics[0];
  EXPECT_EQ(t.name, "orders");
  EXPECT_EQ(t.replication_factor, 3);
  EXPECT_EQ(t.configs.at("cleanup.policy"), "delete");
  ASSERT_EQ(t.partitions.size(), 1u);
  const BackupPartition& p = t.partitions[0];
  EXPECT_EQ(p.end_offset, 100);
  EXPECT_EQ(p.segments, 2u);
  EXPECT_EQ(p.min_timestamp, 1000);
  ASSERT_EQ(p.gaps.size(), 1u);
  EXPECT_EQ(p.gaps[0].first_offset, 40);
  EXPECT_EQ(p.gaps[0].reason, "deleted by the source's retention");
}

TEST_F(BackupCatalogTest, AnUnknownIdIsNotFoundNamingTheIdsThatExist) {
  PutManifest(Backup("only", 2'000'000));
  auto catalog = Open();
  ASSERT_NE(catalog, nullptr);
  auto info = catalog->Describe("nope");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Status::Code::kNotFound);
  EXPECT_NE(info.status().message().find("only"), std::string::npos) << info.status().message();
}

TEST_F(BackupCatalogTest, RunStatusIsReadFromItsDocumentElseFromTheManifest) {
  PutManifest(Backup("old", 2'000'000));
  auto catalog = Open();
  ASSERT_NE(catalog, nullptr);
  auto from_manifest = catalog->ReadRunStatus("old");
  ASSERT_TRUE(from_manifest.ok()) << from_manifest.status().ToString();
  EXPECT_TRUE(from_manifest->from_manifest);
  EXPECT_EQ(from_manifest->status.state, "completed");

  RunStatus running;
  running.backup_id = "live";
  running.state = "running";
  running.updated_at_ms = 10'000'000;
  running.update_interval_secs = 30;
  running.topics = {{"orders", 1, 5, 50, 7}};
  Put(storage::layout::RunStatusKey("live"), format::SerializeRunStatus(running));
  auto read = catalog->ReadRunStatus("live");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(read->from_manifest);
  ASSERT_EQ(read->status.topics.size(), 1u);
  EXPECT_EQ(read->status.topics[0].lag, 7);
  // Alive within twice its interval plus a minute of its last update.
  EXPECT_FALSE(RunIsStale(read->status, 10'000'000 + 120'000));
  EXPECT_TRUE(RunIsStale(read->status, 10'000'000 + 120'001));
}

TEST_F(BackupCatalogTest, TheOffsetMappingOfTheNewestRestoreUnlessOneIsNamed) {
  PutManifest(Backup("b", 2'000'000));
  auto catalog = Open();
  ASSERT_NE(catalog, nullptr);
  auto none = catalog->ReadOffsetMapping("b", "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);

  for (int64_t i = 1; i <= 2; ++i) {
    format::OffsetMap map;
    map.restore_id = "r" + std::to_string(i);
    map.backup_id = "b";
    map.target_cluster_id = "dr";
    map.created_at_ms = 5'000'000 + i;
    map.topics = {{"orders", "orders-restored", {{0, {{0, 2, 10 * i, 60}, {62, 2, 10 * i + 60, 38}}}}}};
    Put(storage::layout::OffsetMapKey("b", map.restore_id), format::SerializeOffsetMap(map));
  }
  auto newest = catalog->ReadOffsetMapping("latest", "");
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  EXPECT_EQ(newest->restore_id, "r2");
  auto named = catalog->ReadOffsetMapping("b", "r1");
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->restore_id, "r1");
  ASSERT_EQ(named->topics.size(), 1u);
  EXPECT_EQ(named->topics[0].target_topic, "orders-restored");
  ASSERT_EQ(named->topics[0].partitions[0].runs.size(), 2u);
  const OffsetMapping::Run& run = named->topics[0].partitions[0].runs[1];
  EXPECT_EQ(run.source_offset, 62);
  EXPECT_EQ(run.target_partition, 2);
  EXPECT_EQ(run.target_offset, 70);
  EXPECT_EQ(run.count, 38);
  auto stored = store_->Get(storage::layout::OffsetMapKey("b", "r1"));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(named->json, *stored) << "the map as stored";
}

// The catalog under BackupCatalog, over a store in memory whose List pages
// hold one object: damage is listed per backup, a storage failure fails the
// listing (a backup must never be reported damaged because storage hiccuped).
TEST(CatalogOverMemory, DamageIsListedAndAStorageFaultFailsTheListing) {
  test::MemoryStore store(/*page_size=*/1);
  for (const auto* id : {"a", "b", "c"}) {
    ASSERT_TRUE(store.Put(storage::layout::ManifestKey(id), format::SerializeManifest(Backup(id, 2'000'000))).ok());
  }
  ASSERT_TRUE(store.Put(storage::layout::ManifestKey("d"), "truncated {").ok());
  auto listing = catalog::Catalog(store).LoadAll();
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(listing->backups.size(), 3u) << "every page followed";
  ASSERT_EQ(listing->damaged.size(), 1u);
  EXPECT_EQ(listing->damaged[0].backup_id, "d");

  test::FaultyStore faulty(store, [](std::string_view op, std::string_view key) {
    return op == "get" && key == storage::layout::ManifestKey("b") ? Status::Unavailable("connection reset")
                                                                   : Status::Ok();
  });
  // Without the index the manifests are read one by one.
  store.objects().erase(storage::layout::CatalogIndexKey());
  auto failed = catalog::Catalog(faulty).LoadAll();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable) << failed.status().ToString();
}

}  // namespace
}  // namespace kafka_backup
