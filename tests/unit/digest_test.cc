// Content digests against the golden file written by
// testdata/format/make_digest_golden.py from docs/format/digest.md alone.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "format/checkpoint.h"
#include "format/digest.h"
#include "format/segment.h"
#include "util/crypto.h"

namespace kafka_backup::format {
namespace {

SegmentRef Ref(uint64_t record_count, std::string digest, std::string key = "") {
  SegmentRef ref;
  ref.key = std::move(key);
  ref.record_count = record_count;
  ref.digest = std::move(digest);
  return ref;
}

std::optional<std::string> Bytes(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  std::string out;
  EXPECT_TRUE(util::Base64Decode(j.get<std::string>(), &out));
  return out;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

nlohmann::json Golden() {
  std::ifstream in(std::string(KB_SOURCE_DIR) + "/testdata/format/digest-example.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

Record FromJson(const nlohmann::json& j) {
  Record r;
  r.offset = j["offset"].get<int64_t>();
  r.timestamp = j["timestamp"].get<int64_t>();
  r.timestamp_type = static_cast<TimestampType>(j["timestamp_type"].get<int>());
  r.key = Bytes(j["key"]);
  r.value = Bytes(j["value"]);
  for (const auto& h : j["headers"]) r.headers.push_back({*Bytes(h[0]), Bytes(h[1])});
  return r;
}

TEST(DigestTest, MatchesTheDocumentedGoldenValues) {
  nlohmann::json golden = Golden();
  std::vector<SegmentRef> refs;
  for (const auto& seg : golden["segments"]) {
    ContentDigest digest;
    SegmentRef& ref = refs.emplace_back();
    for (const auto& rj : seg["records"]) {
      Record r = FromJson(rj);
      std::string encoded;
      EncodeRecordAlone(r, &encoded);
      EXPECT_EQ(Hex(encoded), rj["encoded"].get<std::string>()) << "offset " << r.offset;
      digest.Add(r);
      ref.record_count++;
    }
    ref.digest = digest.Value();
    EXPECT_EQ(ref.digest, seg["digest"].get<std::string>());
  }
  EXPECT_EQ(PartitionDigest(refs), golden["partition_digest"].get<std::string>());
  EXPECT_EQ(PartitionDigest({}), golden["empty_partition_digest"].get<std::string>());
}

// The digest hashes large fields in place; its bytes must still be exactly
// EncodeRecordAlone's, for records with every kind of field and size.
TEST(DigestTest, HashesExactlyTheEncodedRecords) {
  std::vector<Record> records;
  for (size_t size : {0, 1, 63, 64, 65, 200, 5000}) {
    Record r{static_cast<int64_t>(size), -static_cast<int64_t>(size),
             TimestampType::kCreateTime, std::string(size, 'k'),
             std::string(size * 2, 'v'), {{"h", std::string(size, 'x')}, {"n", std::nullopt}}};
    records.push_back(r);
    r.key = std::nullopt;
    r.value = std::nullopt;
    r.headers.clear();
    records.push_back(r);
  }
  std::string all;
  ContentDigest digest;
  for (const Record& r : records) {
    EncodeRecordAlone(r, &all);
    digest.Add(r);
  }
  EXPECT_EQ(digest.Value(), DigestOf(all));
}

TEST(DigestTest, IgnoresOffsetsButNotContent) {
  Record a{5, 1000, TimestampType::kCreateTime, std::string("k"), std::string("v"), {{"h", std::nullopt}}};
  Record moved = a;
  moved.offset = 123456;
  ContentDigest d1, d2;
  d1.Add(a);
  d2.Add(moved);
  EXPECT_EQ(d1.Value(), d2.Value());

  auto differs = [&](auto change) {
    Record b = a;
    change(b);
    ContentDigest d;
    d.Add(b);
    return d.Value() != d1.Value();
  };
  EXPECT_TRUE(differs([](Record& r) { r.value = "w"; }));
  EXPECT_TRUE(differs([](Record& r) { r.value = std::nullopt; }));
  EXPECT_TRUE(differs([](Record& r) { r.key = std::string(); }));
  EXPECT_TRUE(differs([](Record& r) { r.headers[0].value = std::string(); }));
  EXPECT_TRUE(differs([](Record& r) { r.headers.push_back({"h", std::nullopt}); }));
  EXPECT_TRUE(differs([](Record& r) { r.timestamp++; }));
  EXPECT_TRUE(differs([](Record& r) { r.timestamp_type = TimestampType::kLogAppendTime; }));
}

TEST(DigestTest, OrderAndBoundariesCount) {
  Record a{0, 1, TimestampType::kCreateTime, std::nullopt, std::string("a"), {}};
  Record b{1, 2, TimestampType::kCreateTime, std::nullopt, std::string("b"), {}};
  ContentDigest ab, ba;
  ab.Add(a);
  ab.Add(b);
  ba.Add(b);
  ba.Add(a);
  EXPECT_NE(ab.Value(), ba.Value());

  // One segment of two records is not two segments of one.
  ContentDigest only_a, only_b;
  only_a.Add(a);
  only_b.Add(b);
  std::vector<SegmentRef> one{Ref(2, ab.Value())};
  std::vector<SegmentRef> two{Ref(1, only_a.Value()), Ref(1, only_b.Value())};
  EXPECT_NE(PartitionDigest(one), PartitionDigest(two));

  ab.Reset();
  EXPECT_EQ(ab.Value(), ContentDigest().Value());
}

TEST(DigestTest, PartitionDigestNeedsEverySegmentsDigest) {
  ContentDigest d;
  std::vector<SegmentRef> refs{Ref(0, d.Value()), Ref(3, "")};
  EXPECT_EQ(PartitionDigest(refs), std::nullopt);
  refs[1].digest = "sha256:00";
  EXPECT_EQ(PartitionDigest(refs), std::nullopt);
  EXPECT_EQ(ParseDigest("xxh3-128:0123456789abcdef0123456789abcdeZ"), std::nullopt);
  EXPECT_TRUE(ParseDigest(d.Value()).has_value());
}

TEST(DigestTest, ManifestCarriesSegmentAndPartitionDigests) {
  ContentDigest d;
  d.Add(Record{0, 1, TimestampType::kCreateTime, std::nullopt, std::string("a"), {}});
  Manifest m;
  m.backup_id = "b";
  TopicManifest& t = m.topics.emplace_back();
  t.name = "t";
  t.partition_count = 2;
  PartitionManifest& p = t.partitions.emplace_back();
  p.end_offset = 1;
  p.record_count = 1;
  p.segments.push_back(Ref(1, d.Value(), "data/b/t/0/x.kbseg"));
  PartitionManifest& old = t.partitions.emplace_back();  // a segment from before digests
  old.partition = 1;
  old.segments.push_back(Ref(1, "", "data/a/t/1/x.kbseg"));

  auto parsed = ParseManifest(SerializeManifest(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const auto& pp = parsed->topics[0].partitions;
  EXPECT_EQ(pp[0].segments[0].digest, d.Value());
  EXPECT_EQ(pp[0].digest, PartitionDigest(m.topics[0].partitions[0].segments));
  EXPECT_TRUE(pp[1].digest.empty());
  EXPECT_TRUE(pp[1].segments[0].digest.empty());
}

}  // namespace
}  // namespace kafka_backup::format

namespace kafka_backup::format {
namespace {

// A journal's base entry stores the fold of the segments it had; the deltas
// applied after it add segments, so the stored digest must not survive them.
TEST(DigestTest, ApplyingADeltaDropsTheStoredPartitionDigest) {
  PartitionManifest p;
  p.digest = *PartitionDigest({});
  PartitionDelta d;
  d.end_offset = 1;
  ContentDigest digest;
  digest.Add(Record{0, 1, TimestampType::kCreateTime, std::nullopt, std::string("a"), {}});
  d.segments.push_back(Ref(1, digest.Value(), "data/b/t/0/x.kbseg"));
  ApplyDelta(d, &p);
  EXPECT_TRUE(p.digest.empty());
  auto parsed = ParseManifest(SerializeManifest([&] {
    Manifest m;
    m.backup_id = "b";
    m.topics.push_back(TopicManifest{"t", "", 1, 1, {}, {p}, {}});
    return m;
  }()));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->topics[0].partitions[0].digest, PartitionDigest(p.segments));
}

}  // namespace
}  // namespace kafka_backup::format
