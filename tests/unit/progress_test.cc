// The progress an engine counts (util/progress.h) and how kafka-backup draws
// it (cli/progress_display.h).
#include "util/progress.h"

#include "cli/progress_display.h"
#include "util/cpus.h"

#include <gtest/gtest.h>

namespace kafka_backup {
namespace {

using cli::ProgressDisplayer;

// Keeps the last snapshot a Progress sent.
struct Captured {
  ProgressSnapshot last;
  RunOptions Options() {
    RunOptions o;
    o.on_progress = [this](const ProgressSnapshot& s) { last = s; };
    return o;
  }
  // What the terminal shows of `p` as if `secs` had gone by since it started.
  std::vector<std::string> Render(Progress& p, double secs, size_t width = 200) {
    p.Finish();
    ProgressSnapshot s = last;
    s.seconds = secs;
    s.final = false;
    return ProgressDisplayer::Render(s, width);
  }
};

TEST(ProgressTest, TotalLineHasBarRecordsRateAndEta) {
  Captured c;
  Progress p("backup", 1000, c.Options());
  p.Update(250, 250 * 1024);
  auto lines = c.Render(p, 10);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("backup [######..................]  25%  250/1000 records  250.0 KiB", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("/s  ETA 0:"), std::string::npos) << lines[0];
}

TEST(ProgressTest, TopicLinesShowEachTopicsState) {
  Captured c;
  Progress p("restore", 300, c.Options());
  size_t orders = p.AddTopic("orders", 100);
  size_t payments = p.AddTopic("payments", 100);
  p.AddTopic("users", 100);
  p.UpdateTopic(orders, 100, 4096);
  p.UpdateTopic(payments, 40, 1024);
  p.Update(140, 5120);
  auto lines = c.Render(p, 1);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "  orders   [############] 100%  done  100 records  4.0 KiB");
  EXPECT_EQ(lines[2].rfind("  payments [####........]  40%  40/100  ", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("ETA"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3], "  users    [............]   0%  waiting  100 records");
}

TEST(ProgressTest, FinishedTopicIsDoneEvenBelowItsTotal) {
  Captured c;
  Progress p("restore", 100, c.Options());
  size_t t = p.AddTopic("windowed", 100);
  p.UpdateTopic(t, 10, 100);
  p.FinishTopic(t);
  auto lines = c.Render(p, 0);
  EXPECT_EQ(lines[1], "  windowed [############] 100%  done  10 records  100 B");
}

TEST(ProgressTest, AnObserverGetsSnapshotsAndOneFinalWithEachTopicsEnd) {
  std::vector<ProgressSnapshot> seen;
  {
    RunOptions options;
    options.on_progress = [&seen](const ProgressSnapshot& s) { seen.push_back(s); };
    Progress p("restore", 30, options);
    size_t a = p.AddTopic("a", 10);
    size_t b = p.AddTopic("b", 20);
    p.UpdateTopic(a, 10, 100);  // done by its count
    p.Update(10, 100);          // the first snapshot is due at once
    p.Update(11, 110);          // within 200 ms of it: none
    p.FinishTopic(b);
    p.Update(30, 300);
    p.Finish();
  }  // the destructor's Finish sends no second final snapshot
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].final);
  EXPECT_EQ(seen[0].records, 10u);
  EXPECT_TRUE(seen[0].topics[0].done_seconds.has_value());
  EXPECT_FALSE(seen[0].topics[1].done_seconds.has_value());
  const ProgressSnapshot& last = seen.back();
  EXPECT_TRUE(last.final);
  EXPECT_EQ(last.records, 30u);
  EXPECT_EQ(last.bytes, 300u);
  EXPECT_EQ(last.total_records, 30u);
  ASSERT_EQ(last.topics.size(), 2u);
  EXPECT_EQ(last.topics[1].name, "b");
  ASSERT_TRUE(last.topics[1].done_seconds.has_value());
  EXPECT_LE(*last.topics[0].done_seconds, *last.topics[1].done_seconds);
  EXPECT_LE(*last.topics[1].done_seconds, last.seconds);
}

TEST(ProgressTest, ManyTopicsShowUnfinishedFirstAndCountTheRest) {
  Captured c;
  Progress p("backup", 2000, c.Options());
  for (int i = 0; i < 20; ++i) {
    size_t t = p.AddTopic("topic-" + std::to_string(i), 100);
    p.UpdateTopic(t, i < 15 ? 100 : 50, 10);  // 15 done, 5 moving
  }
  auto lines = c.Render(p, 0);
  ASSERT_EQ(lines.size(), 9u);  // total, 7 topics, "... more"
  for (int i = 1; i <= 5; ++i) EXPECT_NE(lines[i].find("50/100"), std::string::npos) << lines[i];
  EXPECT_EQ(lines[8], "  ... 13 more topics (13 done)");
}

TEST(ProgressTest, WithoutAnObserverNothingIsDueOrSent) {
  Progress p("backup", 10, RunOptions{});
  p.Update(5, 50);
  EXPECT_FALSE(p.Due());
  p.SetNote("storing the last segments");
  p.Finish();
}

TEST(ProgressTest, ANoteIsSentAtOnceAndShownAfterTheTotals) {
  Captured c;
  Progress p("backup", 10, c.Options());
  p.Update(10, 100);
  p.SetNote("storing the last segments");
  EXPECT_FALSE(c.last.final);
  EXPECT_EQ(c.last.note, "storing the last segments");
  auto lines = c.Render(p, 1);
  EXPECT_NE(lines[0].find("  storing the last segments"), std::string::npos) << lines[0];
}

TEST(ProgressTest, LinesAreCutToTheTerminalWidth) {
  Captured c;
  Progress p("validate", 10, c.Options());
  p.AddTopic(std::string(100, 'x'), 10);
  for (const auto& line : c.Render(p, 0, 40)) EXPECT_LE(line.size(), 40u) << line;
}

TEST(CpusTest, CgroupQuotaRoundsUpAndMaxMeansNoLimit) {
  EXPECT_EQ(CpusFromCgroupMax("200000 100000\n"), 2);
  EXPECT_EQ(CpusFromCgroupMax("150000 100000"), 2);
  EXPECT_EQ(CpusFromCgroupMax("50000 100000"), 1);
  EXPECT_EQ(CpusFromCgroupMax("max 100000"), 0);
  EXPECT_EQ(CpusFromCgroupMax("garbage"), 0);
  EXPECT_GE(UsableCpus(), 1);
}

}  // namespace
}  // namespace kafka_backup
