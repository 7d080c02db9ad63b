#include "backup/segment_pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "format/segment.h"
#include "storage/filesystem_store.h"
#include "storage/object_store.h"

namespace kafka_backup {
namespace {

namespace fs = std::filesystem;

format::Record MakeRecord(int64_t offset) {
  format::Record r;
  r.offset = offset;
  r.timestamp = 1'700'000'000'000 + offset;
  r.key = "key-" + std::to_string(offset % 7);
  r.value = std::string(100 + offset % 50, static_cast<char>('a' + offset % 26));
  if (offset % 3 == 0) r.headers.push_back({"h", std::nullopt});
  return r;
}

// Fails every write once `fail_after` calls have been made.
class FailingStore : public storage::ObjectStore {
 public:
  explicit FailingStore(int fail_after) : fail_after_(fail_after) {}
  Status Put(std::string_view, std::string_view) override { return Tick(); }
  Status Create(std::string_view, std::string_view) override { return Tick(); }
  Result<std::string> Get(std::string_view, std::optional<storage::ByteRange>) override {
    return Status::NotFound("none");
  }
  Result<storage::ObjectInfo> Head(std::string_view) override { return Status::NotFound("none"); }
  Result<storage::ListPage> List(std::string_view, std::string_view) override { return storage::ListPage{}; }
  Status Delete(std::string_view) override { return Status::Ok(); }
  Status AbortIncomplete(std::string_view) override { return Status::Ok(); }
  std::string Url() const override { return "failing://"; }
  uint64_t PartSize() const override { return 4096; }
  Result<std::string> StartUpload(std::string_view) override {
    KB_RETURN_IF_ERROR(Tick());
    return std::string("upload");
  }
  Result<std::string> UploadPart(std::string_view, std::string_view, int, std::string_view) override {
    KB_RETURN_IF_ERROR(Tick());
    return std::string("etag");
  }
  Status CompleteUpload(std::string_view, std::string_view, const std::vector<std::string>&) override {
    completed_++;
    return Tick();
  }
  Status AbortUpload(std::string_view, std::string_view) override {
    aborted_++;
    return Status::Ok();
  }

  std::atomic<int> completed_{0};
  std::atomic<int> aborted_{0};

 private:
  Status Tick() { return ++calls_ > fail_after_ ? Status::IoError("disk on fire") : Status::Ok(); }
  int fail_after_;
  std::atomic<int> calls_{0};
};

class SegmentPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kb-pipeline-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    store_ = std::make_unique<storage::FilesystemStore>(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  std::unique_ptr<storage::ObjectStore> store_;
};

TEST_F(SegmentPipelineTest, SegmentsOfManyPartitionsAreStoredInOrderAndDecode) {
  // A tiny budget makes Add wait for the workers (back-pressure) all the time.
  SegmentPipeline pipeline(*store_, format::Codec::kZstd, 1, /*threads=*/3, /*max_pending_bytes=*/2048);
  const int partitions = 5;
  const int64_t per_partition = 3000;
  for (int p = 0; p < partitions; ++p) {
    auto segment = pipeline.Open("seg/" + std::to_string(p), "t", p);
    format::BlockBuilder builder;
    format::SegmentSummary summary;
    for (int64_t o = 0; o < per_partition; ++o) {
      format::Record r = MakeRecord(o);
      builder.Append(r);
      format::AddToSummary(r, &summary);
      if (builder.size() >= 1000) {
        ASSERT_TRUE(pipeline.Add(segment, builder.Take()).ok());
      }
    }
    ASSERT_TRUE(pipeline.Add(segment, builder.Take()).ok());
    ASSERT_TRUE(pipeline.Seal(segment, summary).ok());
  }
  ASSERT_TRUE(pipeline.Wait().ok());
  auto sealed = pipeline.Take();
  ASSERT_EQ(sealed.size(), static_cast<size_t>(partitions));
  for (const auto& s : sealed) {
    auto bytes = store_->Get(s.ref.key);
    ASSERT_TRUE(bytes.ok()) << s.ref.key;
    EXPECT_EQ(bytes->size(), s.ref.size);
    format::SegmentHeader header;
    std::vector<format::Record> records;
    ASSERT_TRUE(format::DecodeSegment(*bytes, &header, &records).ok()) << s.ref.key;
    EXPECT_EQ(header.partition, s.partition);
    ASSERT_EQ(records.size(), static_cast<size_t>(per_partition));
    for (int64_t o = 0; o < per_partition; ++o) EXPECT_EQ(records[o], MakeRecord(o)) << s.ref.key << " @" << o;
    EXPECT_EQ(s.ref.first_offset, 0);
    EXPECT_EQ(s.ref.last_offset, per_partition - 1);
    EXPECT_EQ(s.ref.record_count, static_cast<uint64_t>(per_partition));
  }
}

TEST_F(SegmentPipelineTest, TheSameRecordsGiveTheSameBytesAsTheInMemoryWriter) {
  format::SegmentWriter writer("t", 2, format::Codec::kLz4, 0, 1000);
  SegmentPipeline pipeline(*store_, format::Codec::kLz4, 0, 2, 1 << 20);
  auto segment = pipeline.Open("one", "t", 2);
  format::BlockBuilder builder;
  format::SegmentSummary summary;
  for (int64_t o = 10; o < 500; ++o) {
    format::Record r = MakeRecord(o);
    ASSERT_TRUE(writer.Append(r).ok());
    builder.Append(r);
    format::AddToSummary(r, &summary);
    if (builder.size() >= 1000) {
      ASSERT_TRUE(pipeline.Add(segment, builder.Take()).ok());
    }
  }
  ASSERT_TRUE(pipeline.Add(segment, builder.Take()).ok());
  ASSERT_TRUE(pipeline.Seal(segment, summary).ok());
  ASSERT_TRUE(pipeline.Wait().ok());
  auto expected = writer.Finish();
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(*store_->Get("one") == *expected);
}

TEST_F(SegmentPipelineTest, AFailedUploadStopsThePipelineAndCommitsNothing) {
  FailingStore failing(/*fail_after=*/3);
  Status first;
  {
    SegmentPipeline pipeline(failing, format::Codec::kNone, 0, 2, 1 << 20);
    auto segment = pipeline.Open("doomed", "t", 0);
    format::BlockBuilder builder;
    format::SegmentSummary summary;
    Status s;
    for (int64_t o = 0; o < 2000 && s.ok(); ++o) {
      format::Record r = MakeRecord(o);
      builder.Append(r);
      format::AddToSummary(r, &summary);
      if (builder.size() >= 1000) s = pipeline.Add(segment, builder.Take());
    }
    if (s.ok()) s = pipeline.Seal(segment, summary);
    first = pipeline.Wait();
    EXPECT_FALSE(first.ok());
    EXPECT_NE(first.ToString().find("disk on fire"), std::string::npos) << first.ToString();
    EXPECT_FALSE(pipeline.Add(pipeline.Open("later", "t", 1), format::RawBlock{"x", {}}).ok())
        << "every call after a failure returns it";
    EXPECT_TRUE(pipeline.Take().empty());
  }
  EXPECT_EQ(failing.completed_, 0) << "no object may be committed after its upload failed";
  EXPECT_EQ(failing.aborted_, 1) << "the started upload is aborted";
}

}  // namespace
}  // namespace kafka_backup
