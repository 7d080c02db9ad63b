// catalog::ReadSegment over damaged segments: what the reader returns without
// a damage handler, and with one what it reports and what the sink still sees
// (docs/format/segment.md, "Damaged segments").
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "format/crc32c.h"
#include "format/segment.h"
#include "memory_store.h"
#include "storage/filesystem_store.h"

namespace kafka_backup::catalog {
namespace {

namespace fs = std::filesystem;

constexpr const char* kKey = "data/b/t/0/00000000000000000100.kbseg";
constexpr int64_t kFirst = 100;
constexpr int64_t kRecords = 200;

class SegmentReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kb-reader-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    store_ = std::make_unique<storage::FilesystemStore>(root_);
    // Offsets 100, 102, 104, ...: gaps, as compaction leaves them.
    format::SegmentWriter writer("t", 0, format::Codec::kZstd, 1, 512);
    for (int64_t i = 0; i < kRecords; ++i) {
      format::Record r;
      r.offset = kFirst + 2 * i;
      r.timestamp = 1000 + i;
      r.key = "key-" + std::to_string(i);
      r.value = std::string(40 + i % 30, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(writer.Append(r).ok());
    }
    auto bytes = writer.Finish();
    ASSERT_TRUE(bytes.ok());
    bytes_ = *bytes;
    ref_ = {kKey, bytes_.size(), kFirst, kFirst + 2 * (kRecords - 1), kRecords, 1000, 1000 + kRecords - 1};
    auto trailer = format::ParseTrailer(bytes_, bytes_.size());
    ASSERT_TRUE(trailer.ok());
    trailer_ = *trailer;
    auto index = format::ParseIndex(
        std::string_view(bytes_).substr(trailer_.index_position, trailer_.block_count * format::kIndexEntrySize),
        trailer_);
    ASSERT_TRUE(index.ok());
    blocks_ = *index;
    ASSERT_GT(blocks_.size(), 5u);
    Store(bytes_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Store(const std::string& bytes) { ASSERT_TRUE(store_->Put(kKey, bytes).ok()); }
  void Flip(uint64_t position) {
    std::string damaged = bytes_;
    damaged[position] ^= 0x04;
    Store(damaged);
  }

  // Reads with a handler that collects the damage; returns the offsets read.
  std::vector<int64_t> ReadAll(std::vector<SegmentDamage>* damage, Status* status = nullptr) {
    std::vector<int64_t> offsets;
    Status s = ReadSegment(
        *store_, ref_, {},
        [&](format::Record&& r) {
          offsets.push_back(r.offset);
          return Status::Ok();
        },
        nullptr,
        [&](const SegmentDamage& d) {
          damage->push_back(d);
          return Status::Ok();
        });
    if (status) *status = s;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return offsets;
  }
  // The offsets of the backup's records outside [first, last].
  static std::vector<int64_t> AllBut(int64_t first, int64_t last) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < kRecords; ++i) {
      int64_t o = kFirst + 2 * i;
      if (o < first || o > last) out.push_back(o);
    }
    return out;
  }

  fs::path root_;
  std::unique_ptr<storage::ObjectStore> store_;
  std::string bytes_;
  format::SegmentRef ref_;
  format::SegmentTrailer trailer_;
  std::vector<format::BlockInfo> blocks_;
};

TEST_F(SegmentReaderTest, SoundSegmentReportsNoDamage) {
  std::vector<SegmentDamage> damage;
  EXPECT_EQ(ReadAll(&damage), AllBut(1, 0));
  EXPECT_TRUE(damage.empty());
}

TEST_F(SegmentReaderTest, WithoutAHandlerTheFirstDamageIsReturned) {
  const auto& b = blocks_[2];
  Flip(b.position + b.size - 1);
  Status s = ReadSegment(*store_, ref_, {}, [](format::Record&&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(kKey), std::string::npos) << s.message();
  EXPECT_NE(
      s.message().find(fmt::format("block at byte {} (offsets {}..{})", b.position, b.first_offset, b.last_offset)),
      std::string::npos)
      << s.message();
}

TEST_F(SegmentReaderTest, CorruptBlockIsSkippedWholeAndTheReadGoesOn) {
  const auto& b = blocks_[2];
  Flip(b.position + format::kBlockHeaderSize + 3);
  std::vector<SegmentDamage> damage;
  EXPECT_EQ(ReadAll(&damage), AllBut(b.first_offset, b.last_offset));
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].position, b.position);
  EXPECT_EQ(damage[0].first_offset, b.first_offset);
  EXPECT_EQ(damage[0].last_offset, b.last_offset);
  EXPECT_EQ(damage[0].records, b.record_count);
  EXPECT_NE(damage[0].status.message().find("checksum mismatch"), std::string::npos);
}

TEST_F(SegmentReaderTest, SinkSeesNoRecordOfABlockThatFailsAfterItsChecksum) {
  // One uncompressed block of three records whose last record has unknown
  // attributes under a valid checksum: the first two decode, yet none may
  // reach the sink.
  format::SegmentWriter writer("t", 0, format::Codec::kNone, 1, 1 << 20);
  for (int i = 0; i < 3; ++i) {
    format::Record r;
    r.offset = kFirst + i;
    r.timestamp = 1000 + i;
    r.value = "v";
    ASSERT_TRUE(writer.Append(r).ok());
  }
  std::string damaged = *writer.Finish();
  format::SegmentHeader h;
  h.topic = "t";
  const uint64_t block = format::EncodedHeaderSize(h);
  const uint64_t payload_len =
      format::ParseBlockHeader(std::string_view(damaged).substr(block)).size - format::kBlockHeaderSize;
  // The last record: attributes, offset delta, timestamp delta (zigzag 1),
  // null key, value "v" (02 76), no headers = 7 bytes.
  damaged[block + format::kBlockHeaderSize + payload_len - 7] = static_cast<char>(0x80);
  uint32_t crc = format::Crc32cExtend(format::Crc32c(std::string_view(damaged).substr(block, 44)),
                                      std::string_view(damaged).substr(block + format::kBlockHeaderSize, payload_len));
  for (int i = 0; i < 4; ++i) damaged[block + 44 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  Store(damaged);
  ref_ = {kKey, damaged.size(), kFirst, kFirst + 2, 3, 1000, 1002};

  std::vector<SegmentDamage> damage;
  EXPECT_TRUE(ReadAll(&damage).empty());
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].records, 3u);
  EXPECT_NE(damage[0].status.message().find("record 2 has unknown attributes"), std::string::npos)
      << damage[0].status.message();
}

TEST_F(SegmentReaderTest, MissingSegmentIsOneDamageForAllItsRecords) {
  ASSERT_TRUE(store_->Delete(kKey).ok());
  std::vector<SegmentDamage> damage;
  EXPECT_TRUE(ReadAll(&damage).empty());
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].status.code(), Status::Code::kCorruption);
  EXPECT_NE(damage[0].status.message().find("is missing"), std::string::npos);
  EXPECT_EQ(damage[0].first_offset, ref_.first_offset);
  EXPECT_EQ(damage[0].last_offset, ref_.last_offset);
  EXPECT_EQ(damage[0].records, ref_.record_count);
}

TEST_F(SegmentReaderTest, DamagedHeaderCostsTheWholeSegment) {
  Flip(10);  // the codec byte
  std::vector<SegmentDamage> damage;
  EXPECT_TRUE(ReadAll(&damage).empty());
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].position, 0u);
  EXPECT_EQ(damage[0].records, ref_.record_count);
  EXPECT_NE(damage[0].status.message().find("header checksum mismatch"), std::string::npos);
}

TEST_F(SegmentReaderTest, DamagedIndexIsReadBlockByBlockWithoutLoss) {
  Flip(trailer_.index_position + format::kIndexEntrySize + 20);
  std::vector<SegmentDamage> damage;
  EXPECT_EQ(ReadAll(&damage), AllBut(1, 0));
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].records, 0u);
  EXPECT_NE(damage[0].status.message().find("index checksum mismatch"), std::string::npos);
  EXPECT_NE(damage[0].status.message().find("every block was read from the start"), std::string::npos);
}

TEST_F(SegmentReaderTest, DamagedTrailerCountAloneCostsNothing) {
  Flip(bytes_.size() - format::kTrailerSize + 16);
  std::vector<SegmentDamage> damage;
  EXPECT_EQ(ReadAll(&damage), AllBut(1, 0));
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].records, 0u);
  EXPECT_NE(damage[0].status.message().find("its trailer says"), std::string::npos);
}

TEST_F(SegmentReaderTest, TruncatedSegmentKeepsTheBlocksBeforeTheCut) {
  const auto& cut = blocks_[3];
  Store(bytes_.substr(0, cut.position + cut.size / 2));
  std::vector<SegmentDamage> damage;
  std::vector<int64_t> read = ReadAll(&damage);
  EXPECT_EQ(read, AllBut(cut.first_offset, ref_.last_offset));
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].position, cut.position);
  EXPECT_EQ(damage[0].first_offset, blocks_[2].last_offset + 1);
  EXPECT_EQ(damage[0].last_offset, ref_.last_offset);
  EXPECT_EQ(damage[0].records, ref_.record_count - read.size());
  EXPECT_NE(damage[0].status.message().find("truncated"), std::string::npos) << damage[0].status.message();
}

TEST_F(SegmentReaderTest, TruncatedSegmentWithACorruptBlockStopsThereOnTheWalk) {
  // Without the index, a corrupt block's successor cannot be found: the
  // walk stops at it, and the rest of the segment is the damage.
  const auto& bad = blocks_[1];
  std::string damaged = bytes_.substr(0, blocks_[4].position + 7);
  damaged[bad.position + format::kBlockHeaderSize] ^= 0x01;
  Store(damaged);
  std::vector<SegmentDamage> damage;
  EXPECT_EQ(ReadAll(&damage), AllBut(bad.first_offset, ref_.last_offset));
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].position, bad.position);
}

TEST_F(SegmentReaderTest, HandlerErrorStopsTheRead) {
  Flip(blocks_[1].position + blocks_[1].size - 1);
  int read = 0;
  Status s = ReadSegment(
      *store_, ref_, {},
      [&](format::Record&&) {
        ++read;
        return Status::Ok();
      },
      nullptr, [](const SegmentDamage& d) { return Status::Unavailable("stop: " + d.status.message()); });
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(read, static_cast<int>(blocks_[0].record_count));
}

TEST_F(SegmentReaderTest, FilteredOutBlocksAreNotReportedEvenIfDamaged) {
  const auto& b = blocks_[1];
  Flip(b.position + b.size - 1);
  RecordFilter from;
  from.min_offset = blocks_[3].first_offset;
  std::vector<SegmentDamage> damage;
  Status s = ReadSegment(
      *store_, ref_, from, [](format::Record&&) { return Status::Ok(); }, nullptr,
      [&](const SegmentDamage& d) {
        damage.push_back(d);
        return Status::Ok();
      });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(damage.empty());
}

// A storage failure is not damage: with a handler too, a GET that is refused
// or fails as a transient fault would stops the read with that status, and
// nothing is reported lost (a retry later reads the segment whole). Both the
// first read (the tail) and the scan of a segment whose trailer is damaged.
TEST_F(SegmentReaderTest, AStorageFaultIsReturnedNotReportedAsDamage) {
  for (bool trailer_damaged : {false, true}) {
    if (trailer_damaged) Flip(bytes_.size() - 1);
    for (const Status& fault : {Status::Unavailable("503 Slow Down"), Status::Auth("403 AccessDenied")}) {
      int gets = 0;
      // The tail holds this whole segment: one GET, then the scan's GETs.
      const int fail_at = trailer_damaged ? 2 : 1;
      test::FaultyStore faulty(*store_, [&](std::string_view op, std::string_view) {
        return op == "get" && ++gets == fail_at ? fault : Status::Ok();
      });
      std::vector<SegmentDamage> damage;
      Status s = ReadSegment(
          faulty, ref_, {}, [](format::Record&&) { return Status::Ok(); }, nullptr,
          [&](const SegmentDamage& d) {
            damage.push_back(d);
            return Status::Ok();
          });
      EXPECT_EQ(s.code(), fault.code()) << trailer_damaged << " " << s.ToString();
      EXPECT_NE(s.message().find(fault.message()), std::string::npos) << s.message();
      EXPECT_TRUE(damage.empty()) << damage.front().status.ToString();
      EXPECT_EQ(gets, fail_at);
    }
  }
}

// A segment the store no longer has, met while scanning because its trailer
// was unreadable, costs all its records, reported once.
TEST_F(SegmentReaderTest, ASegmentGoneBetweenTheTailAndTheScanIsOneDamage) {
  Flip(bytes_.size() - 1);  // the trailer fails its checks: the reader scans
  test::FaultyStore faulty(*store_, [](std::string_view op, std::string_view) {
    return op == "head" ? Status::NotFound("gone") : Status::Ok();
  });
  std::vector<SegmentDamage> damage;
  Status s = ReadSegment(
      faulty, ref_, {}, [](format::Record&&) { return Status::Ok(); }, nullptr,
      [&](const SegmentDamage& d) {
        damage.push_back(d);
        return Status::Ok();
      });
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(damage.size(), 1u);
  EXPECT_EQ(damage[0].records, static_cast<uint64_t>(kRecords));
  EXPECT_NE(damage[0].status.message().find("is missing"), std::string::npos) << damage[0].status.message();
}

}  // namespace
}  // namespace kafka_backup::catalog
