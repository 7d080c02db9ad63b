#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "format/bytes.h"
#include "format/catalog_index.h"
#include "format/crc32c.h"
#include "format/manifest.h"
#include "format/run_status.h"
#include "format/segment.h"

namespace kafka_backup::format {
namespace {

Record MakeRecord(int64_t offset, int64_t ts, std::optional<std::string> key, std::optional<std::string> value,
                  std::vector<RecordHeader> headers = {}) {
  Record r;
  r.offset = offset;
  r.timestamp = ts;
  r.key = std::move(key);
  r.value = std::move(value);
  r.headers = std::move(headers);
  return r;
}

std::string AllByteValues() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

std::vector<Record> FidelityRecords() {
  std::vector<Record> rs;
  rs.push_back(MakeRecord(0, 0, std::nullopt, std::string("null key")));
  rs.push_back(MakeRecord(1, 1, std::string("tombstone"), std::nullopt));
  rs.push_back(MakeRecord(2, -1, std::string(""), std::string("")));
  rs.push_back(MakeRecord(
      5, 1700000000000, AllByteValues(), AllByteValues(),
      {{"dup", std::string("a")}, {"dup", std::string("b")}, {"nullval", std::nullopt}, {"empty", std::string("")}}));
  rs.push_back(MakeRecord(9, 86400000, std::string("big"), std::string(900 * 1024, 'x')));
  rs.back().timestamp_type = TimestampType::kLogAppendTime;
  return rs;
}

TEST(RunStatusTest, RoundTripsEveryField) {
  RunStatus s;
  s.backup_id = "hourly-20261125T100000Z";
  s.state = "failed";
  s.host = "pod-1";
  s.pid = 42;
  s.tool_version = "0.1.0";
  s.started_at_ms = 1;
  s.updated_at_ms = 2;
  s.finished_at_ms = 3;
  s.last_checkpoint_ms = 0;
  s.update_interval_secs = 30;
  s.error = "broker went away";
  s.records = 10;
  s.bytes = 11;
  s.stored_bytes = 12;
  s.segments = 2;
  s.topics = {{"orders", 3, 10, 11, 5}};
  auto back = ParseRunStatus(SerializeRunStatus(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(SerializeRunStatus(*back), SerializeRunStatus(s));
  EXPECT_EQ(back->error, "broker went away");
  ASSERT_EQ(back->topics.size(), 1u);
  EXPECT_EQ(back->topics[0].lag, 5);
}

TEST(RunStatusTest, ReadsEveryStateABackupWrites) {
  // backup.cc writes these; `status` read only three of them once.
  for (const char* state : {"running", "completed", "failed", "stopped", "interrupted"}) {
    RunStatus s;
    s.backup_id = "b";
    s.state = state;
    auto parsed = ParseRunStatus(SerializeRunStatus(s));
    ASSERT_TRUE(parsed.ok()) << state << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->state, state);
  }
}

TEST(RunStatusTest, RejectsWhatIsNotARunStatus) {
  EXPECT_EQ(ParseRunStatus("[1]").status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ParseRunStatus(R"({"format":"kafka-backup-manifest"})").status().code(), Status::Code::kCorruption);
  RunStatus s;
  s.backup_id = "b";
  s.state = "exploded";
  auto r = ParseRunStatus(SerializeRunStatus(s));
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().ToString().find("exploded"), std::string::npos);
  s.state = "running";
  std::string newer = SerializeRunStatus(s);
  newer.replace(newer.find("\"format_version\": 1"), 19, "\"format_version\": 2");
  EXPECT_NE(ParseRunStatus(newer).status().ToString().find("newer kafka-backup"), std::string::npos);
}

TEST(CatalogIndexTest, RoundTripsEveryFieldSortedById) {
  std::vector<IndexEntry> entries = {
      {"hourly-2", 1234, 10, 20, "prod", "kc-1", "key-a", "hourly-1"},
      {"hourly-1", 999, 1, 2, "prod", "kc-1", "", ""},
  };
  auto parsed = ParseCatalogIndex(SerializeCatalogIndex(entries));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0], entries[1]);
  EXPECT_EQ((*parsed)[1], entries[0]);
  auto empty = ParseCatalogIndex(SerializeCatalogIndex({}));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
}

TEST(CatalogIndexTest, RejectsWhatIsNotAnIndex) {
  for (std::string text :
       {"", "{}", "[1]", R"({"format": "kafka-backup-catalog-index", "format_version": 2, "backups": []})",
        R"({"format": "kafka-backup-catalog-index", "format_version": 1})",
        R"({"format": "kafka-backup-catalog-index", "format_version": 1, "backups": [{"backup_id": "a"}]})",
        R"({"format": "kafka-backup-catalog-index", "format_version": 1, "backups": [7]})"}) {
    auto parsed = ParseCatalogIndex(text);
    EXPECT_EQ(parsed.status().code(), Status::Code::kCorruption) << text;
  }
}

TEST(Crc32cTest, MatchesPublishedCheckValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

// Long inputs are checksummed as three interleaved streams joined by shift
// tables; small pieces never are. Both must give the same CRC for every
// length around the stream sizes (256 and 8192 bytes, three at a time).
TEST(Crc32cTest, InterleavedStreamsEqualByteAtATime) {
  std::string data(3 * 8192 * 2 + 3 * 256 * 2 + 13, '\0');
  uint32_t x = 2463534242u;
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  for (size_t len : {size_t{767}, size_t{768}, size_t{775}, size_t{1536}, size_t{24575}, size_t{24576}, size_t{24583},
                     size_t{49152 + 768 + 7}, data.size()}) {
    std::string_view whole = std::string_view(data).substr(0, len);
    uint32_t piecewise = Crc32c("");
    for (size_t at = 0; at < len; at += 7) piecewise = Crc32cExtend(piecewise, whole.substr(at, 7));
    EXPECT_EQ(Crc32c(whole), piecewise) << "length " << len;
  }
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data = "hello, incremental checksum world";
  EXPECT_EQ(Crc32cExtend(Crc32c(data.substr(0, 10)), data.substr(10)), Crc32c(data));
}

TEST(VarintTest, RoundTripsEdgeValues) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, UINT64_MAX}) {
    std::string buf;
    PutVarint(&buf, v);
    ByteReader in(buf);
    uint64_t out = 0;
    ASSERT_TRUE(in.ReadVarint(&out));
    EXPECT_EQ(out, v);
    EXPECT_EQ(in.remaining(), 0u);
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, INT64_MIN, INT64_MAX}) EXPECT_EQ(UnZigZag(ZigZag(v)), v);
}

TEST(VarintTest, TruncatedVarintIsRejected) {
  std::string buf = "\x80\x80";
  ByteReader in(buf);
  uint64_t v = 0;
  EXPECT_FALSE(in.ReadVarint(&v));
}

class SegmentCodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(SegmentCodecTest, RoundTripKeepsEveryField) {
  SegmentWriter w("orders", 7, GetParam(), 3, /*block_target_bytes=*/4096);
  auto records = FidelityRecords();
  for (const auto& r : records) ASSERT_TRUE(w.Append(r).ok());
  EXPECT_EQ(w.summary().record_count, records.size());
  EXPECT_EQ(w.summary().min_timestamp, -1);
  auto bytes = w.Finish();
  ASSERT_TRUE(bytes.ok());
  SegmentHeader header;
  std::vector<Record> decoded;
  Status s = DecodeSegment(*bytes, &header, &decoded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(header.topic, "orders");
  EXPECT_EQ(header.partition, 7);
  EXPECT_EQ(header.codec, GetParam());
  EXPECT_EQ(decoded, records);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, SegmentCodecTest, ::testing::Values(Codec::kNone, Codec::kZstd, Codec::kLz4),
                         [](const auto& info) { return std::string(CodecName(info.param)); });

TEST(SegmentTest, ManyBlocksAreIndexedWithTheirRanges) {
  SegmentWriter w("t", 0, Codec::kZstd, 1, /*block_target_bytes=*/1000);
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(w.Append(MakeRecord(i * 2, 1000 + i, std::to_string(i), std::string(50, 'v'))).ok());
  auto bytes = w.Finish();
  ASSERT_TRUE(bytes.ok());
  auto trailer = ParseTrailer(*bytes, bytes->size());
  ASSERT_TRUE(trailer.ok());
  EXPECT_GT(trailer->block_count, 10u);
  auto index = ParseIndex(
      std::string_view(*bytes).substr(trailer->index_position, trailer->block_count * kIndexEntrySize), *trailer);
  ASSERT_TRUE(index.ok());
  int64_t expected_first = 0;
  for (const auto& b : *index) {
    EXPECT_EQ(b.first_offset, expected_first);
    EXPECT_EQ(b.min_timestamp, 1000 + b.first_offset / 2);
    EXPECT_EQ(b.max_timestamp, 1000 + b.last_offset / 2);
    expected_first = b.last_offset + 2;
  }
  EXPECT_EQ(expected_first, 2000);
}

TEST(SegmentTest, OutOfOrderOffsetIsRejected) {
  SegmentWriter w("t", 0, Codec::kNone, 0);
  ASSERT_TRUE(w.Append(MakeRecord(5, 0, std::nullopt, std::nullopt)).ok());
  Status s = w.Append(MakeRecord(5, 0, std::nullopt, std::nullopt));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
}

TEST(SegmentTest, TimestampsAtBothEndsOfInt64RoundTrip) {
  // The deltas between them wrap around (docs/format/segment.md, "Record").
  SegmentWriter w("t", 0, Codec::kNone, 0);
  std::vector<Record> records = {
      MakeRecord(0, INT64_MAX, std::nullopt, std::nullopt), MakeRecord(1, INT64_MIN, std::nullopt, std::nullopt),
      MakeRecord(2, INT64_MAX, std::nullopt, std::nullopt), MakeRecord(3, -1, std::nullopt, std::nullopt)};
  for (const auto& r : records) ASSERT_TRUE(w.Append(r).ok());
  auto bytes = w.Finish();
  ASSERT_TRUE(bytes.ok());
  SegmentHeader header;
  std::vector<Record> decoded;
  Status s = DecodeSegment(*bytes, &header, &decoded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(decoded, records);
}

class CodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(CodecTest, RawSizeBeyondWhatThePayloadHoldsIsCorruptionNotAnAllocation) {
  std::string compressed;
  ASSERT_TRUE(Compress(GetParam(), 3, "a block's records", &compressed).ok());
  std::string raw;
  Status s = Decompress(GetParam(), compressed, size_t{UINT32_MAX}, &raw);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_LT(raw.capacity(), size_t{1} << 20);
}

// A zstd frame's header may claim any content size; a 17-byte frame claiming
// 3.75 GiB must be refused before anything that large is allocated (found by
// the segment fuzzer, as was its LZ4 twin in testdata/fuzz-regressions/).
TEST(CodecTest, ZstdFrameClaimingMoreThanItCanHoldIsCorruptionNotAnAllocation) {
  constexpr uint32_t kClaimed = 0xF0000000;
  std::string frame("\x28\xb5\x2f\xfd\xa0", 5);  // magic; 4-byte content size, single segment
  for (int shift = 0; shift < 32; shift += 8) frame.push_back(static_cast<char>((kClaimed >> shift) & 0xff));
  frame.append("\x29\x00\x00hello", 8);  // the last block: raw, 5 bytes
  std::string raw;
  Status s = Decompress(Codec::kZstd, frame, kClaimed, &raw);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_LT(raw.capacity(), size_t{1} << 20);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, ::testing::Values(Codec::kNone, Codec::kZstd, Codec::kLz4),
                         [](const auto& info) { return std::string(CodecName(info.param)); });

TEST(SegmentTest, EmptySegmentRoundTrips) {
  SegmentWriter w("t", 3, Codec::kZstd, 3);
  auto bytes = w.Finish();
  ASSERT_TRUE(bytes.ok());
  SegmentHeader h;
  std::vector<Record> rs;
  ASSERT_TRUE(DecodeSegment(*bytes, &h, &rs).ok());
  EXPECT_TRUE(rs.empty());
  EXPECT_EQ(h.partition, 3);
}

std::string SmallSegment(Codec codec) {
  SegmentWriter w("topic", 1, codec, 3, 256);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(w.Append(MakeRecord(i, i, std::to_string(i), std::string(40, static_cast<char>('a' + i % 26)))).ok());
  }
  return std::move(w.Finish()).value();
}

// Every single flipped bit anywhere in the object must be detected: as a
// decode error, never as silently different records.
TEST(SegmentCorruptionTest, EveryFlippedBitIsDetected) {
  for (Codec codec : {Codec::kNone, Codec::kZstd}) {
    std::string good = SmallSegment(codec);
    SegmentHeader h;
    std::vector<Record> expected;
    ASSERT_TRUE(DecodeSegment(good, &h, &expected).ok());
    for (size_t byte = 0; byte < good.size(); ++byte) {
      for (int bit = 0; bit < 8; bit += 3) {
        std::string bad = good;
        bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
        std::vector<Record> got;
        Status s = DecodeSegment(bad, &h, &got);
        ASSERT_FALSE(s.ok()) << "flip at byte " << byte << " bit " << bit << " went unnoticed (" << CodecName(codec)
                             << ")";
        EXPECT_EQ(s.code(), Status::Code::kCorruption);
      }
    }
  }
}

TEST(SegmentCorruptionTest, TruncationIsDetected) {
  std::string good = SmallSegment(Codec::kLz4);
  for (size_t len : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 1}) {
    SegmentHeader h;
    std::vector<Record> got;
    Status s = DecodeSegment(good.substr(0, len), &h, &got);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << "length " << len;
  }
}

TEST(SegmentTest, UnknownVersionNamesFoundAndSupported) {
  std::string seg = SmallSegment(Codec::kNone);
  seg[8] = 9;  // version 9
  auto h = ParseHeader(seg);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("version 9"), std::string::npos);
  EXPECT_NE(h.status().message().find("version 1"), std::string::npos);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The worked example of docs/format/segment.md, kept as a golden file: every
// later version of the reader must decode it.
TEST(GoldenTest, V1ExampleSegmentDecodes) {
  std::string bytes = ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/v1-example.kbseg");
  ASSERT_FALSE(bytes.empty()) << "golden file missing";
  SegmentHeader h;
  std::vector<Record> rs;
  ASSERT_TRUE(DecodeSegment(bytes, &h, &rs).ok());
  EXPECT_EQ(h.topic, "t");
  EXPECT_EQ(h.codec, Codec::kNone);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0], MakeRecord(5, 1000, std::string("k"), std::string("v"), {{"h", std::nullopt}}));
  EXPECT_EQ(rs[1], MakeRecord(7, 999, std::nullopt, std::nullopt));
  // The record bytes spelled out in the document.
  const std::string record1 = std::string("\x01\x00\xD0\x0F\x02k\x02v\x01\x01h\x00", 12);
  EXPECT_NE(bytes.find(record1), std::string::npos);
}

TEST(GoldenTest, V1ManifestParses) {
  auto m = ParseManifest(ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/v1-manifest.json"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->backup_id, "production-20261125T105538Z");
  ASSERT_EQ(m->topics.size(), 1u);
  EXPECT_EQ(m->topics[0].configs.at("cleanup.policy"), "compact");
  EXPECT_EQ(m->RecordCount(), 3u);
  EXPECT_FALSE(m->topics[0].partitions[1].min_timestamp.has_value());
}

TEST(ManifestTest, RoundTrips) {
  auto m = ParseManifest(ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/v1-manifest.json"));
  ASSERT_TRUE(m.ok());
  auto again = ParseManifest(SerializeManifest(*m));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(SerializeManifest(*again), SerializeManifest(*m));
}

TEST(ManifestTest, HeldBackOffsetsRoundTripAndAreAbsentWhenNone) {
  auto m = ParseManifest(ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/v1-manifest.json"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(SerializeManifest(*m).find("held_back"), std::string::npos);  // today's golden file has none
  m->topics[0].partitions[0].held_back = 8;
  auto again = ParseManifest(SerializeManifest(*m));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->topics[0].partitions[0].held_back, 8);
  EXPECT_EQ(again->topics[0].partitions[1].held_back, 0);

  std::string negative = SerializeManifest(*m);
  size_t field = negative.find("\"held_back\"");
  ASSERT_NE(field, std::string::npos);
  negative.replace(negative.find('8', field), 1, "-1");
  auto bad = ParseManifest(negative);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kCorruption);
  EXPECT_NE(bad.status().message().find("held_back"), std::string::npos) << bad.status().ToString();
}

TEST(ManifestTest, MissingFieldIsNamed) {
  auto m = ParseManifest(R"({"format":"kafka-backup-manifest","format_version":1})");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kCorruption);
  EXPECT_NE(m.status().message().find("backup_id"), std::string::npos);
}

TEST(ManifestTest, NewerVersionIsRefusedWithAdvice) {
  auto m = ParseManifest(R"({"format":"kafka-backup-manifest","format_version":2})");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("version 2"), std::string::npos);
  EXPECT_NE(m.status().message().find("newer kafka-backup"), std::string::npos);
}

}  // namespace
}  // namespace kafka_backup::format
