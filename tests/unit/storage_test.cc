#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/filesystem_store.h"
#include "storage/layout.h"
#include "storage/object_store.h"

namespace kafka_backup::storage {
namespace {

namespace fs = std::filesystem;

class FilesystemStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kb-store-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    store_ = std::make_unique<FilesystemStore>(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  std::unique_ptr<ObjectStore> store_;  // used through the interface, as the engines do
};

TEST_F(FilesystemStoreTest, PutGetHeadDelete) {
  ASSERT_TRUE(store_->Put("a/b/c.bin", "hello").ok());
  auto got = store_->Get("a/b/c.bin");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "hello");
  auto head = store_->Head("a/b/c.bin");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 5u);
  ASSERT_TRUE(store_->Delete("a/b/c.bin").ok());
  EXPECT_EQ(store_->Get("a/b/c.bin").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->Head("a/b/c.bin").status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(store_->Delete("a/b/c.bin").ok()) << "deleting a missing object is OK";
}

TEST_F(FilesystemStoreTest, DeleteRemovesDirectoriesItEmptiesButNotTheRoot) {
  ASSERT_TRUE(store_->Put("backups/old/topics/t/0/seg", "x").ok());
  ASSERT_TRUE(store_->Put("backups/keep/manifest.json", "{}").ok());
  ASSERT_TRUE(store_->Delete("backups/old/topics/t/0/seg").ok());
  EXPECT_FALSE(fs::exists(root_ / "backups/old")) << "the emptied tree is gone";
  EXPECT_TRUE(fs::exists(root_ / "backups/keep/manifest.json"));
  ASSERT_TRUE(store_->Delete("backups/keep/manifest.json").ok());
  EXPECT_FALSE(fs::exists(root_ / "backups"));
  EXPECT_TRUE(fs::is_directory(root_)) << "the store's root stays";
  ASSERT_TRUE(store_->Put("backups/old/topics/t/0/seg", "y").ok()) << "a removed directory is created again";
  EXPECT_EQ(*store_->Get("backups/old/topics/t/0/seg"), "y");
}

TEST_F(FilesystemStoreTest, RangedGet) {
  ASSERT_TRUE(store_->Put("x", "0123456789").ok());
  auto got = store_->Get("x", ByteRange{3, 4});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "3456");
  EXPECT_EQ(store_->Get("x", ByteRange{8, 5}).status().code(), Status::Code::kCorruption);
}

TEST_F(FilesystemStoreTest, OverwriteReplacesWholeObject) {
  ASSERT_TRUE(store_->Put("x", "a long first version").ok());
  ASSERT_TRUE(store_->Put("x", "short").ok());
  EXPECT_EQ(*store_->Get("x"), "short");
}

TEST_F(FilesystemStoreTest, ListIsSortedPrefixedAndPaginated) {
  for (int i = 0; i < 2500; ++i) ASSERT_TRUE(store_->Put("p/" + std::to_string(10000 + i), "v").ok());
  ASSERT_TRUE(store_->Put("q/other", "v").ok());
  auto page = store_->List("p/", "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 1000u);
  EXPECT_FALSE(page->continuation.empty());
  auto all = ListAll(*store_, "p/");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2500u);
  EXPECT_EQ(all->front().key, "p/10000");
  EXPECT_EQ(all->back().key, "p/12499");
  EXPECT_TRUE(std::is_sorted(all->begin(), all->end(), [](auto& a, auto& b) { return a.key < b.key; }));
}

TEST_F(FilesystemStoreTest, TemporaryFilesAreInvisible) {
  fs::create_directories(root_ / "d");
  std::ofstream(root_ / "d" / "obj.1234.kbtmp") << "partial";
  auto all = ListAll(*store_, "");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(FilesystemStoreTest, AbortIncompleteRemovesOnlyTemporaryFilesUnderThePrefix) {
  ASSERT_TRUE(store_->Put("data/a/x.kbseg", "keep").ok());
  fs::create_directories(root_ / "data" / "a");
  fs::create_directories(root_ / "data" / "b");
  std::ofstream(root_ / "data" / "a" / "y.kbseg.1234.kbtmp") << "partial";
  std::ofstream(root_ / "data" / "b" / "z.kbseg.1234.kbtmp") << "other backup";
  ASSERT_TRUE(store_->AbortIncomplete("data/a/").ok());
  EXPECT_FALSE(fs::exists(root_ / "data" / "a" / "y.kbseg.1234.kbtmp"));
  EXPECT_TRUE(fs::exists(root_ / "data" / "b" / "z.kbseg.1234.kbtmp"));
  EXPECT_EQ(*store_->Get("data/a/x.kbseg"), "keep");
}

TEST_F(FilesystemStoreTest, KeysEscapingTheRootAreRejected) {
  EXPECT_EQ(store_->Put("../evil", "x").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store_->Put("/abs", "x").code(), Status::Code::kInvalidArgument);
}

TEST(FilesystemStoreErrorTest, UnwritableRootIsAClearIoError) {
  // A regular file where a directory should be: fails even for root.
  fs::path file = fs::temp_directory_path() / ("kb-not-a-dir-" + std::to_string(::getpid()));
  std::ofstream(file) << "x";
  FilesystemStore store(file / "backups");
  Status s = store.Put("manifests/x.json", "{}");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find(file.string()), std::string::npos) << s.message();
  fs::remove(file);
}

TEST(OpenStoreTest, UnknownSchemeListsSupported) {
  auto s = OpenStore("ftp://host/x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("file:///path"), std::string::npos);
}

TEST(OpenStoreTest, FileUrlAndPlainPathAreTheSameStore) {
  auto a = OpenStore("file:///var/backups/kafka");
  auto b = OpenStore("/var/backups/kafka/");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)->Url(), "file:///var/backups/kafka");
}

TEST(LayoutTest, OwnSegmentsAreThoseUnderTheBackupsDataPrefixOnly) {
  EXPECT_TRUE(layout::IsOwnSegment("b1", layout::SegmentKey("b1", "orders", 0, 0)));
  EXPECT_FALSE(layout::IsOwnSegment("b1", layout::SegmentKey("b10", "orders", 0, 0))) << "b10 is another backup";
  EXPECT_FALSE(layout::IsOwnSegment("b1", layout::SegmentKey("b0", "orders", 0, 0))) << "the parent's";
  EXPECT_FALSE(layout::IsOwnSegment("b1", "manifests/b1.json"));
  EXPECT_FALSE(layout::IsOwnSegment("b1", "data/b1"));
}

TEST(LayoutTest, OffsetMapKeysAreKnownFromTheirPartsAndSnapshots) {
  EXPECT_TRUE(layout::IsOffsetMapKey(layout::OffsetMapKey("b1", "r1")));
  EXPECT_FALSE(layout::IsOffsetMapKey(layout::OffsetMapPartKey("b1", "r1", 3)));
  EXPECT_FALSE(layout::IsOffsetMapKey(layout::OffsetSnapshotKey("b1", "r1", "s1")));
  EXPECT_FALSE(layout::IsOffsetMapKey("restores/b1/offset-map.json"));
  EXPECT_FALSE(layout::IsOffsetMapKey("restores/b1/r1/x/offset-map.json"));
}

TEST(LayoutTest, KeysMatchTheDocumentedExamples) {
  EXPECT_EQ(layout::ManifestKey("production-20261125T105538Z"), "manifests/production-20261125T105538Z.json");
  EXPECT_EQ(layout::SegmentKey("production-20261125T105538Z", "orders", 3, 1000),
            "data/production-20261125T105538Z/orders/3/00000000000000001000.kbseg");
  EXPECT_EQ(layout::BackupIdFromManifestKey("manifests/abc.json"), std::optional<std::string>("abc"));
  EXPECT_EQ(layout::BackupIdFromManifestKey("manifests/a/b.json"), std::nullopt);
}

TEST(LayoutTest, EveryKeyOfABackupNamesItsOwner) {
  using O = std::optional<std::string>;
  EXPECT_EQ(layout::OwnerBackupId("data/b-1/orders/3/00000000000000001000.kbseg"), O("b-1"));
  EXPECT_EQ(layout::OwnerBackupId("checkpoints/b-1/0000000042.json"), O("b-1"));
  EXPECT_EQ(layout::OwnerBackupId("restores/b-1/dr/offset-map.json"), O("b-1"));
  EXPECT_EQ(layout::OwnerBackupId("status/b-1.json"), O("b-1"));
  EXPECT_EQ(layout::OwnerBackupId("manifests/b-1.json"), O("b-1"));
  // Not a backup's: the latest-status copy, keys outside the layout, ids that are not valid.
  EXPECT_EQ(layout::OwnerBackupId("status/_latest.json"), std::nullopt);
  EXPECT_EQ(layout::OwnerBackupId("status/a/b.json"), std::nullopt);
  EXPECT_EQ(layout::OwnerBackupId("data/b-1"), std::nullopt);
  EXPECT_EQ(layout::OwnerBackupId("data//x.kbseg"), std::nullopt);
  EXPECT_EQ(layout::OwnerBackupId("other/b-1/x"), std::nullopt);
  EXPECT_EQ(layout::OwnerBackupId("datax/b-1/x"), std::nullopt);
}

TEST(LayoutTest, BackupIdValidation) {
  EXPECT_TRUE(layout::ValidateBackupId("production-20261125T105538Z").ok());
  EXPECT_FALSE(layout::ValidateBackupId("latest").ok());
  EXPECT_FALSE(layout::ValidateBackupId("a/b").ok());
  EXPECT_FALSE(layout::ValidateBackupId("").ok());
  EXPECT_FALSE(layout::ValidateBackupId("../x").ok());
}

}  // namespace
}  // namespace kafka_backup::storage
