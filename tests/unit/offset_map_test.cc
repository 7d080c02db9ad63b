#include <gtest/gtest.h>

#include "format/offset_map.h"

namespace kafka_backup::format {
namespace {

TEST(OffsetMapTest, ContiguousDeliveriesBecomeOneRun) {
  std::vector<OffsetEntry> entries;
  for (int64_t i = 0; i < 1000; ++i) entries.push_back({i, 0, 500 + i});
  auto runs = BuildRuns(entries);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0], (OffsetRun{0, 0, 500, 1000}));
}

TEST(OffsetMapTest, GapsAndPartitionChangesStartNewRuns) {
  // Delivery reports arrive in any order; source offsets 3..4 are a compaction gap.
  std::vector<OffsetEntry> entries = {{5, 0, 3}, {0, 0, 0}, {2, 0, 2}, {1, 0, 1}, {6, 1, 0}};
  auto runs = BuildRuns(entries);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0], (OffsetRun{0, 0, 0, 3}));
  EXPECT_EQ(runs[1], (OffsetRun{5, 0, 3, 1}));
  EXPECT_EQ(runs[2], (OffsetRun{6, 1, 0, 1}));
}

TEST(OffsetMapTest, FirstAtOrAfterIsExactAcrossGaps) {
  PartitionOffsetMap m;
  m.runs = {{0, 0, 0, 10}, {12, 0, 10, 5}};
  EXPECT_EQ(FirstAtOrAfter(m, 0)->offset, 0);
  EXPECT_EQ(FirstAtOrAfter(m, 9)->offset, 9);
  // Committed offset 10 points into the gap: the next record is source 12, target 10.
  EXPECT_EQ(FirstAtOrAfter(m, 10)->offset, 10);
  EXPECT_EQ(FirstAtOrAfter(m, 11)->offset, 10);
  EXPECT_EQ(FirstAtOrAfter(m, 14)->offset, 12);
  EXPECT_FALSE(FirstAtOrAfter(m, 17).has_value()) << "everything restored was consumed";
}

TEST(OffsetMapTest, SerializationRoundTrips) {
  OffsetMap m;
  m.restore_id = "r";
  m.backup_id = "b";
  m.target_cluster_id = "c";
  m.created_at_ms = 42;
  m.topics.push_back({"src", "dst", {{3, {{0, 3, 7, 2}, {5, 1, 0, 1}}}}});
  auto parsed = ParseOffsetMap(SerializeOffsetMap(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(SerializeOffsetMap(*parsed), SerializeOffsetMap(m));
  EXPECT_EQ(parsed->FindTopic("src")->partitions[0].runs[1], (OffsetRun{5, 1, 0, 1}));
}

TEST(OffsetMapTest, NewerVersionIsRefused) {
  auto m = ParseOffsetMap(R"({"format":"kafka-backup-offset-map","format_version":7})");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("version 7"), std::string::npos);
}

}  // namespace
}  // namespace kafka_backup::format
