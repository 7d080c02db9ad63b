// The drill's read back (src/drill/read_back.h) fed what a broker could return
// after a restore: the records as backed up, one missing, one changed, one
// doubled, a LogAppendTime topic's records as a restore writes them, and a
// backup from before content digests.
#include <gtest/gtest.h>

#include "drill/read_back.h"

namespace kafka_backup::drill {
namespace {

using format::Record;
using format::TimestampType;

std::vector<Record> Records(int n, TimestampType type = TimestampType::kCreateTime) {
  std::vector<Record> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Record{i,
                         1000 + i,
                         type,
                         std::string("k") + std::to_string(i),
                         i % 3 == 0 ? std::nullopt : std::optional<std::string>("v" + std::to_string(i)),
                         {{"h", i % 2 ? std::nullopt : std::optional<std::string>("x")}}});
  }
  return out;
}

// The manifest of a partition holding `records`, in segments of `per_segment`.
format::PartitionManifest Partition(const std::vector<Record>& records, size_t per_segment) {
  format::PartitionManifest p;
  for (size_t at = 0; at < records.size(); at += per_segment) {
    format::ContentDigest digest;
    format::SegmentRef& s = p.segments.emplace_back();
    s.key = "data/b/t/0/" + std::to_string(at) + ".kbseg";
    s.first_offset = records[at].offset;
    for (size_t i = at; i < std::min(records.size(), at + per_segment); ++i) {
      digest.Add(records[i]);
      s.last_offset = records[i].offset;
      s.record_count++;
    }
    s.digest = digest.Value();
    p.record_count += s.record_count;
  }
  return p;
}

format::RecordView View(const Record& r) {
  format::RecordView v;
  v.offset = r.offset;
  v.timestamp = r.timestamp;
  v.timestamp_type = r.timestamp_type;
  if (r.key) v.key = *r.key;
  if (r.value) v.value = *r.value;
  return v;
}

// Reads `back` (views with headers of their own) through a check of `p`,
// against the offset map `map` when given.
DrillPartition Check(const format::TopicManifest& topic, const format::PartitionManifest& p,
                     const std::vector<Record>& back, const format::PartitionOffsetMap* map = nullptr) {
  DrillPartition out;
  PartitionCheck check(topic, p, &out);
  if (map) check.ExpectOffsets(map);
  for (const Record& r : back) {
    std::vector<format::HeaderView> headers;
    for (const auto& h : r.headers) {
      headers.push_back({h.name, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    format::RecordView v = View(r);
    v.headers = headers;
    v.offset += 1000;  // restored elsewhere: other offsets, the same digest
    check.Add(v);
  }
  check.Finish();
  return out;
}

TEST(DrillReadBackTest, TheRecordsAsBackedUpMatch) {
  auto records = Records(10);
  DrillPartition out = Check({}, Partition(records, 4), records);
  EXPECT_TRUE(out.ok) << out.problem;
  EXPECT_EQ(out.digest, "match");
  EXPECT_EQ(out.records, 10u);
  EXPECT_EQ(out.first_offset, 1000);
  EXPECT_EQ(out.last_offset, 1009);
}

TEST(DrillReadBackTest, AMissingRecordNamesItsSegment) {
  auto records = Records(10);
  auto p = Partition(records, 4);
  auto back = records;
  back.erase(back.begin() + 5);  // in the second segment (offsets 4..7)
  DrillPartition out = Check({}, p, back);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.digest, "differs");
  EXPECT_NE(out.problem.find("9 records read back, the backup holds 10"), std::string::npos) << out.problem;
  EXPECT_NE(out.first_difference.find(p.segments[1].key), std::string::npos) << out.first_difference;
}

TEST(DrillReadBackTest, AChangedValueNamesItsSegment) {
  auto records = Records(10);
  auto p = Partition(records, 4);
  auto back = records;
  back[9].value = "changed";  // the third segment
  DrillPartition out = Check({}, p, back);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.records, 10u);
  EXPECT_NE(out.problem.find("differ"), std::string::npos);
  EXPECT_NE(out.first_difference.find(p.segments[2].key), std::string::npos) << out.first_difference;

  back = records;
  back[0].headers[0].value = std::nullopt;  // a header's value became null
  EXPECT_FALSE(Check({}, p, back).ok);
  back = records;
  back[1].timestamp++;
  EXPECT_FALSE(Check({}, p, back).ok);
}

TEST(DrillReadBackTest, ADoubledRecordFails) {
  auto records = Records(6);
  auto back = records;
  back.insert(back.begin() + 2, records[2]);
  DrillPartition out = Check({}, Partition(records, 3), back);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.records, 7u);
  EXPECT_EQ(out.digest, "differs");
}

TEST(DrillReadBackTest, ALogAppendTimeTopicIsReadBackAsTheRestoreWritesIt) {
  auto backed_up = Records(5, TimestampType::kLogAppendTime);
  auto restored = Records(5, TimestampType::kCreateTime);  // same timestamps, written by a producer
  format::TopicManifest lat;
  lat.configs["message.timestamp.type"] = "LogAppendTime";
  EXPECT_TRUE(Check(lat, Partition(backed_up, 2), restored).ok);
  // On a CreateTime topic the type counts.
  EXPECT_FALSE(Check({}, Partition(backed_up, 2), restored).ok);
}

TEST(DrillReadBackTest, ABackupWithoutDigestsIsCheckedOnCounts) {
  auto records = Records(4);
  auto p = Partition(records, 2);
  p.segments[1].digest.clear();
  DrillPartition out = Check({}, p, records);
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.digest, "unavailable");
  auto fewer = records;
  fewer.pop_back();
  out = Check({}, p, fewer);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.problem, "3 records read back, the backup holds 4");
}

TEST(DrillReadBackTest, AnEmptyPartitionMatchesNothing) {
  format::PartitionManifest empty;
  DrillPartition out = Check({}, empty, {});
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.digest, "match");
  EXPECT_FALSE(out.first_offset.has_value());
  EXPECT_FALSE(Check({}, empty, Records(1)).ok);
}

// The map of a restore that wrote source offsets 0.. at 1000.., in runs of
// `per_run` with a transaction marker between them.
format::PartitionOffsetMap Map(int64_t records, int64_t per_run) {
  format::PartitionOffsetMap m;
  int64_t target = 1000;
  for (int64_t at = 0; at < records; at += per_run) {
    int64_t n = std::min(per_run, records - at);
    m.runs.push_back({at, 0, target, n});
    target += n + 1;
  }
  return m;
}

TEST(DrillReadBackTest, OffsetsReadBackMatchTheOffsetMap) {
  auto records = Records(10);
  auto p = Partition(records, 4);
  format::PartitionOffsetMap dense = Map(10, 10);
  DrillPartition out = Check({}, p, records, &dense);
  EXPECT_TRUE(out.ok) << out.problem;
  EXPECT_EQ(out.expected_first_offset, 1000);
  EXPECT_EQ(out.expected_last_offset, 1009);
  // The map says the restore left a gap (a marker) the records read back do not show.
  format::PartitionOffsetMap gapped = Map(10, 5);
  out = Check({}, p, records, &gapped);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.problem, "read back at offsets 1000..1009, the restore's offset map puts them at 1000..1010");
}

TEST(DrillReadBackTest, RecordsDeletedFromTheHeadShowInCountAndOffsets) {
  auto records = Records(10);
  auto p = Partition(records, 4);
  format::PartitionOffsetMap map = Map(10, 10);
  auto back = records;
  back.erase(back.begin());
  DrillPartition out = Check({}, p, back, &map);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.problem.find("9 records read back"), std::string::npos) << out.problem;
  EXPECT_NE(out.problem.find("read back at offsets 1001..1009, the restore's offset map puts them at 1000..1009"),
            std::string::npos)
      << out.problem;
}

TEST(DrillReadBackTest, AnOffsetMapThatMissesRecordsFails) {
  auto records = Records(4);
  format::PartitionOffsetMap map = Map(4, 4);
  map.runs[0].count = 3;
  map.runs.push_back({3, 0, 1003, 1});  // the same span, but a record counted twice below
  map.runs.push_back({3, 0, 1003, 1});
  DrillPartition out = Check({}, Partition(records, 2), records, &map);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.problem, "the restore's offset map holds 5 records, the backup 4");
  // An empty partition has no entry in the map: nothing expected, nothing read.
  format::PartitionManifest empty;
  DrillPartition nothing;
  PartitionCheck check({}, empty, &nothing);
  check.ExpectOffsets(nullptr);
  check.Finish();
  EXPECT_TRUE(nothing.ok) << nothing.problem;
}

}  // namespace
}  // namespace kafka_backup::drill
