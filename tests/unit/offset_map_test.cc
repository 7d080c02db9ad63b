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

TEST(OffsetMapTest, RunsAppendedInAnyOrderMergeLikeEntries) {
  // The restore appends each delivery report to its partition's runs as it
  // comes, then merges them at the commit: the same runs as BuildRuns makes.
  std::vector<OffsetEntry> entries = {{0, 0, 0}, {1, 0, 1}, {5, 0, 3}, {2, 0, 2}, {6, 1, 0}, {7, 1, 1}};
  std::vector<OffsetRun> appended;
  for (const auto& e : entries) AppendRun(&appended, {e.source_offset, e.target_partition, e.target_offset, 1});
  EXPECT_EQ(appended.size(), 4u);  // {0,1} extended, 5, 2, {6,7} extended
  EXPECT_EQ(MergeRuns(appended), BuildRuns(entries));
  EXPECT_EQ(MergeRuns(appended), (std::vector<OffsetRun>{{0, 0, 0, 3}, {5, 0, 3, 1}, {6, 1, 0, 2}}));
}

TEST(OffsetMapTest, OverlayKeepsTheNewerRunOfASourceOffset) {
  // Source 0..99 written to target 0..99, then 40..59 aborted and written
  // again at 150..169: the newer runs win where they overlap.
  std::vector<OffsetRun> older = {{0, 0, 0, 100}};
  std::vector<OffsetRun> newer = {{40, 0, 150, 20}};
  EXPECT_EQ(OverlayRuns(older, newer), (std::vector<OffsetRun>{{0, 0, 0, 40}, {40, 0, 150, 20}, {60, 0, 60, 40}}));
  // A newer run covering several older ones, ends included, and one past them.
  older = {{0, 0, 0, 10}, {10, 1, 0, 10}, {20, 0, 10, 10}, {40, 0, 30, 5}};
  newer = {{5, 2, 100, 20}, {29, 2, 200, 13}};
  EXPECT_EQ(OverlayRuns(older, newer),
            (std::vector<OffsetRun>{{0, 0, 0, 5}, {5, 2, 100, 20}, {25, 0, 15, 4}, {29, 2, 200, 13}, {42, 0, 32, 3}}));
  // Nothing in common: the union.
  EXPECT_EQ(OverlayRuns({{0, 0, 0, 5}}, {{5, 0, 5, 5}}), (std::vector<OffsetRun>{{0, 0, 0, 10}}));
  EXPECT_EQ(OverlayRuns({}, {{3, 0, 7, 2}}), (std::vector<OffsetRun>{{3, 0, 7, 2}}));
  EXPECT_EQ(OverlayRuns({{3, 0, 7, 2}}, {}), (std::vector<OffsetRun>{{3, 0, 7, 2}}));
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

TEST(OffsetMapTest, PartNamesThePartBeforeIt) {
  OffsetMap m;
  m.restore_id = "r";
  m.backup_id = "b";
  m.target_cluster_id = "c";
  EXPECT_EQ(SerializeOffsetMap(m).find("previous_part"), std::string::npos) << "the complete map has none";
  m.previous_part = 0;
  auto first = ParseOffsetMap(SerializeOffsetMap(m));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->previous_part, std::optional<uint64_t>(0));
  m.previous_part = 41;
  EXPECT_EQ(ParseOffsetMap(SerializeOffsetMap(m))->previous_part, std::optional<uint64_t>(41));
  auto bad =
      ParseOffsetMap(R"({"format":"kafka-backup-offset-map","format_version":1,"restore_id":"r","backup_id":"b",)"
                     R"("target_cluster_id":"c","created_at_ms":0,"topics":[],"previous_part":-3})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kCorruption);
}

TEST(OffsetMapTest, NewerVersionIsRefused) {
  auto m = ParseOffsetMap(R"({"format":"kafka-backup-offset-map","format_version":7})");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("version 7"), std::string::npos);
}

}  // namespace
}  // namespace kafka_backup::format
