// The checkpoint journal (docs/format/manifest.md, "Checkpoints"): entries
// round-trip, a journal replays from its newest base, and a gap or an unknown
// partition is corruption.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "format/checkpoint.h"
#include "storage/layout.h"

namespace kafka_backup::format {
namespace {

SegmentRef Segment(int64_t first, int64_t last) {
  SegmentRef s;
  s.key = "data/b/t/0/" + std::to_string(first) + ".kbseg";
  s.size = 100;
  s.first_offset = first;
  s.last_offset = last;
  s.record_count = static_cast<uint64_t>(last - first + 1);
  s.min_timestamp = 1000 + first;
  s.max_timestamp = 1000 + last;
  return s;
}

CheckpointEntry Base(uint64_t sequence) {
  Manifest m;
  m.backup_id = "b";
  m.created_at_ms = 5;
  TopicManifest t;
  t.name = "t";
  t.partition_count = 2;
  for (int32_t p = 0; p < 2; ++p) {
    PartitionManifest pm;
    pm.partition = p;
    pm.start_offset = 10;
    pm.end_offset = 10;
    t.partitions.push_back(pm);
  }
  m.topics.push_back(t);
  CheckpointEntry e;
  e.backup_id = "b";
  e.sequence = sequence;
  e.written_at_ms = 100 + static_cast<int64_t>(sequence);
  e.base = m;
  e.cuts = {{{"t", 0}, 50}, {{"t", 1}, 10}};
  return e;
}

CheckpointEntry Delta(uint64_t sequence, int64_t first, int64_t last, int64_t end) {
  CheckpointEntry e;
  e.backup_id = "b";
  e.sequence = sequence;
  e.written_at_ms = 100 + static_cast<int64_t>(sequence);
  PartitionDelta d;
  d.topic = "t";
  d.partition = 0;
  d.end_offset = end;
  d.bytes = 7;
  d.segments.push_back(Segment(first, last));
  e.partitions.push_back(d);
  return e;
}

CheckpointEntry RoundTrip(const CheckpointEntry& e) {
  auto parsed = ParseCheckpoint(SerializeCheckpoint(e));
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return *parsed;
}

TEST(Checkpoint, EntriesRoundTrip) {
  CheckpointEntry base = RoundTrip(Base(0));
  ASSERT_TRUE(base.base.has_value());
  EXPECT_EQ(base.base->topics.at(0).partitions.size(), 2u);
  EXPECT_EQ(base.cuts.at({"t", 0}), 50);
  CheckpointEntry delta = RoundTrip(Delta(1, 10, 19, 20));
  EXPECT_FALSE(delta.base.has_value());
  ASSERT_EQ(delta.partitions.size(), 1u);
  EXPECT_EQ(delta.partitions[0].segments.at(0).key, "data/b/t/0/10.kbseg");
  EXPECT_EQ(delta.partitions[0].end_offset, 20);
}

TEST(Checkpoint, ReplayAppliesDeltasAfterTheNewestBase) {
  std::vector<CheckpointEntry> entries = {RoundTrip(Base(0)), RoundTrip(Delta(1, 10, 19, 20)),
                                          RoundTrip(Delta(2, 22, 29, 30))};
  auto journal = ReplayJournal(entries);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  const PartitionManifest& p = journal->manifest.topics[0].partitions[0];
  EXPECT_EQ(p.segments.size(), 2u);
  EXPECT_EQ(p.record_count, 18u);
  EXPECT_EQ(p.bytes, 14u);
  EXPECT_EQ(p.end_offset, 30);  // the durable position, past a gap (20, 21) with no record
  EXPECT_EQ(*p.min_timestamp, 1010);
  EXPECT_EQ(*p.max_timestamp, 1029);
  EXPECT_EQ(journal->manifest.topics[0].partitions[1].end_offset, 10);
  EXPECT_EQ(journal->manifest.state, "partial");
  EXPECT_EQ(journal->manifest.completed_at_ms, 102);
  EXPECT_EQ(journal->last_sequence, 2u);
  EXPECT_EQ(journal->cuts.at({"t", 0}), 50);

  // A newer base replaces what came before it.
  CheckpointEntry rebased = Base(3);
  rebased.base->topics[0].partitions[0] = p;
  entries.push_back(rebased);
  entries.push_back(Delta(4, 30, 39, 40));
  journal = ReplayJournal(entries);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  EXPECT_EQ(journal->base_sequence, 3u);
  EXPECT_EQ(journal->manifest.topics[0].partitions[0].segments.size(), 3u);
  EXPECT_EQ(journal->manifest.topics[0].partitions[0].end_offset, 40);
}

TEST(Checkpoint, GapsAndStrangersAreCorruption) {
  auto gap = ReplayJournal({Base(0), Delta(2, 10, 19, 20)});
  EXPECT_EQ(gap.status().code(), Status::Code::kCorruption);
  EXPECT_NE(gap.status().ToString().find("skips from sequence 0 to 2"), std::string::npos);
  CheckpointEntry stranger = Delta(1, 10, 19, 20);
  stranger.partitions[0].topic = "other";
  EXPECT_EQ(ReplayJournal({Base(0), stranger}).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ReplayJournal({Delta(1, 10, 19, 20)}).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ParseCheckpoint("{\"format\":\"kafka-backup-checkpoint\",\"format_version\":2}").status().code(),
            Status::Code::kCorruption);
  EXPECT_EQ(ParseCheckpoint("[]").status().code(), Status::Code::kCorruption);
}

TEST(Checkpoint, ADeltaReplacesTheConsumerGroups) {
  CheckpointEntry base = Base(0);
  base.base->consumer_groups = {{"g", {{"t", 0, 12}}}};
  CheckpointEntry moved = Delta(1, 10, 19, 20);
  moved.consumer_groups = std::vector<ConsumerGroupManifest>{{"g", {{"t", 0, 18}}}, {"h", {{"t", 1, 10}}}};
  CheckpointEntry unchanged = Delta(2, 20, 29, 30);
  auto journal = ReplayJournal({RoundTrip(base), RoundTrip(moved), RoundTrip(unchanged)});
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  const auto& groups = journal->manifest.consumer_groups;
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].group_id, "g");
  EXPECT_EQ(groups[0].offsets.at(0).offset, 18);
  EXPECT_EQ(groups[1].offsets.at(0).partition, 1);
  EXPECT_FALSE(RoundTrip(unchanged).consumer_groups.has_value()) << "absent means unchanged";
}

TEST(Checkpoint, IncrementalFieldsRoundTripThroughTheManifest) {
  CheckpointEntry base = Base(0);
  Manifest& m = *base.base;
  m.parent_backup_id = "hourly-1";
  m.topics[0].topic_id = "AAAAAAAAAAAAAAAAAAAAAQ";
  m.topics[0].events.push_back({77, "recreated", "AAAAAAAAAAAAAAAAAAAAAg", "deleted and created again"});
  SegmentRef inherited = Segment(0, 9);
  inherited.key = "data/hourly-1/t/0/0.kbseg";
  inherited.bytes = 640;
  m.topics[0].partitions[0].segments.push_back(inherited);
  m.topics[0].partitions[0].segments.push_back(Segment(10, 19));
  Manifest back = *RoundTrip(base).base;
  EXPECT_EQ(back.parent_backup_id, "hourly-1");
  EXPECT_EQ(back.topics[0].topic_id, "AAAAAAAAAAAAAAAAAAAAAQ");
  ASSERT_EQ(back.topics[0].events.size(), 1u);
  EXPECT_EQ(back.topics[0].events[0].event, "recreated");
  EXPECT_EQ(back.topics[0].events[0].topic_id, "AAAAAAAAAAAAAAAAAAAAAg");
  EXPECT_EQ(back.topics[0].events[0].at_ms, 77);
  EXPECT_EQ(back.topics[0].partitions[0].segments[0].bytes, 640u);
  EXPECT_EQ(back.topics[0].partitions[0].segments[1].bytes, 0u) << "absent: unknown";
  // Only what the backup's own run stored counts as its own.
  EXPECT_EQ(catalog::OwnSegments(back), 1u);
  EXPECT_EQ(catalog::OwnStoredBytes(back), 100u);
  EXPECT_EQ(back.StoredBytes(), 200u);
}

TEST(Checkpoint, Keys) {
  EXPECT_EQ(storage::layout::CheckpointKey("b-1", 42), "checkpoints/b-1/0000000042.json");
  auto parsed = storage::layout::ParseCheckpointKey("checkpoints/b-1/0000000042.json");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->first, "b-1");
  EXPECT_EQ(parsed->second, 42u);
  EXPECT_FALSE(storage::layout::ParseCheckpointKey("checkpoints/b-1/x.json").has_value());
  EXPECT_FALSE(storage::layout::ParseCheckpointKey("checkpoints//1.json").has_value());
  EXPECT_FALSE(storage::layout::ParseCheckpointKey("manifests/b.json").has_value());
}

}  // namespace
}  // namespace kafka_backup::format
