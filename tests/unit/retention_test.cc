// The retention policy (docs/retention.md, "Policy") over fixed timestamps.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "kafka_backup/config.h"
#include "retention/policy.h"

namespace kafka_backup::retention {
namespace {

using namespace std::chrono;

// Milliseconds since the epoch of a UTC date and time.
int64_t At(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  sys_days day = year_month_day{year{y}, month{mo}, std::chrono::day{d}};
  return duration_cast<milliseconds>((day + hours{h} + minutes{mi}).time_since_epoch()).count();
}

// id -> the decision's reasons joined, or "PRUNE: <why>".
std::map<std::string, std::string> Decide(const RetentionConfig& p, const std::vector<Candidate>& c, int64_t now) {
  std::map<std::string, std::string> out;
  for (const auto& d : ApplyPolicy(p, c, now)) {
    std::string reasons;
    for (const auto& r : d.reasons) reasons += (reasons.empty() ? "" : ", ") + r;
    out[d.backup_id] = d.keep ? reasons : "PRUNE: " + reasons;
  }
  return out;
}

RetentionConfig Policy(int last, int hourly, int daily, int weekly = 0, int monthly = 0, int min_keep = 0) {
  RetentionConfig p;
  p.keep_last = last;
  p.keep_hourly = hourly;
  p.keep_daily = daily;
  p.keep_weekly = weekly;
  p.keep_monthly = monthly;
  p.min_keep = min_keep;
  return p;
}

const int64_t kNow = At(2026, 11, 26, 12, 0);  // a Thursday

TEST(RetentionBuckets, HoursAndDaysAreUtc) {
  EXPECT_EQ(HourBucket(At(2026, 11, 26, 1, 0)), HourBucket(At(2026, 11, 26, 1, 59)));
  EXPECT_NE(HourBucket(At(2026, 11, 26, 1, 59)), HourBucket(At(2026, 11, 26, 2, 0)));
  EXPECT_EQ(DayBucket(At(2026, 11, 26, 0, 0)), DayBucket(At(2026, 11, 26, 23, 59)));
  EXPECT_EQ(DayBucket(At(2026, 11, 27)) - DayBucket(At(2026, 11, 26, 23, 59)), 1);
  EXPECT_EQ(DayBucket(-1), -1);  // before the epoch rounds down, not towards zero
}

TEST(RetentionBuckets, IsoWeeksRunMondayToSunday) {
  // 2026-11-23 is a Monday, 2026-11-29 the Sunday of the same ISO week (W48).
  int64_t monday = WeekBucket(At(2026, 11, 23, 0, 0));
  EXPECT_EQ(monday, DayBucket(At(2026, 11, 23)));
  EXPECT_EQ(WeekBucket(At(2026, 11, 26, 12)), monday);
  EXPECT_EQ(WeekBucket(At(2026, 11, 29, 23, 59)), monday);
  EXPECT_EQ(WeekBucket(At(2026, 11, 30, 0, 0)), monday + 7);
  EXPECT_EQ(WeekBucket(At(2026, 11, 22, 23, 59)), monday - 7);
  // Across a year end: 2026-12-31 (Thursday) and 2027-01-03 (Sunday) share ISO week 2026-W53.
  EXPECT_EQ(WeekBucket(At(2026, 12, 31)), WeekBucket(At(2027, 1, 3, 23)));
  EXPECT_EQ(WeekBucket(At(1970, 1, 1)), -3);  // the epoch was a Thursday
}

TEST(RetentionBuckets, MonthsAreCalendarMonths) {
  EXPECT_EQ(MonthBucket(At(2026, 11, 1)), MonthBucket(At(2026, 11, 30, 23, 59)));
  EXPECT_EQ(MonthBucket(At(2026, 12, 1)) - MonthBucket(At(2026, 11, 30, 23, 59)), 1);
  EXPECT_EQ(MonthBucket(At(2027, 1, 1)) - MonthBucket(At(2026, 12, 31)), 1);
}

TEST(RetentionPolicy, KeepLastKeepsTheNewestNWhateverTheOrderGiven) {
  std::vector<Candidate> c = {
      {"b", At(2026, 11, 26, 2)}, {"d", At(2026, 11, 26, 4)}, {"a", At(2026, 11, 26, 1)}, {"c", At(2026, 11, 26, 3)}};
  auto d = ApplyPolicy(Policy(2, 0, 0), c, kNow);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].backup_id, "d");  // newest first
  EXPECT_EQ(d[3].backup_id, "a");
  auto got = Decide(Policy(2, 0, 0), c, kNow);
  EXPECT_EQ(got["d"], "last 1");
  EXPECT_EQ(got["c"], "last 2");
  EXPECT_EQ(got["b"], "PRUNE: no rule keeps it");
  EXPECT_EQ(got["a"], "PRUNE: no rule keeps it");
}

TEST(RetentionPolicy, HourlyKeepsTheNewestOfEachOfTheMostRecentHoursWithABackup) {
  std::vector<Candidate> c = {{"h08", At(2026, 11, 26, 8, 30)},
                              {"h10a", At(2026, 11, 26, 10, 5)},
                              {"h10b", At(2026, 11, 26, 10, 35)},
                              {"h11a", At(2026, 11, 26, 11, 10)},
                              {"h11b", At(2026, 11, 26, 11, 50)}};
  auto got = Decide(Policy(0, 3, 0), c, kNow);
  EXPECT_EQ(got["h11b"], "hourly 1");
  EXPECT_EQ(got["h11a"], "PRUNE: no rule keeps it");  // not the newest of its hour
  EXPECT_EQ(got["h10b"], "hourly 2");
  EXPECT_EQ(got["h10a"], "PRUNE: no rule keeps it");
  EXPECT_EQ(got["h08"], "hourly 3");  // hour 09 had no backup: it does not use up a slot
}

TEST(RetentionPolicy, DailyWeeklyAndMonthlyCountTheirOwnBuckets) {
  std::vector<Candidate> c = {
      {"nov26-late", At(2026, 11, 26, 11)},
      {"nov26-early", At(2026, 11, 26, 1)},
      {"nov25", At(2026, 11, 25, 23)},
      {"nov22-sun", At(2026, 11, 22, 22)},
      {"nov16-mon", At(2026, 11, 16, 0, 5)},
      {"oct31", At(2026, 10, 31, 12)},
      {"sep01", At(2026, 9, 1)},
  };
  auto got = Decide(Policy(0, 0, 2, 2, 3), c, kNow);
  EXPECT_EQ(got["nov26-late"], "daily 1, weekly 1, monthly 1");
  EXPECT_EQ(got["nov26-early"], "PRUNE: no rule keeps it");
  EXPECT_EQ(got["nov25"], "daily 2");
  EXPECT_EQ(got["nov22-sun"], "weekly 2");  // Sunday: the week before Thursday's
  EXPECT_EQ(got["nov16-mon"], "PRUNE: no rule keeps it");
  EXPECT_EQ(got["oct31"], "monthly 2");
  EXPECT_EQ(got["sep01"], "monthly 3");
}

TEST(RetentionPolicy, EveryRuleThatKeepsABackupIsReported) {
  std::vector<Candidate> c = {{"new", At(2026, 11, 26, 11)}, {"old", At(2026, 11, 20, 11)}};
  auto got = Decide(Policy(1, 1, 1, 1, 1, 1), c, kNow);
  EXPECT_EQ(got["new"], "last 1, hourly 1, daily 1, weekly 1, monthly 1, min_keep 1");
  EXPECT_EQ(got["old"], "PRUNE: no rule keeps it");
}

TEST(RetentionPolicy, NothingOlderThanMaxAgeIsKeptEvenByABucketRule) {
  RetentionConfig p = Policy(0, 0, 30);
  p.max_age_secs = 2 * 86400;
  std::vector<Candidate> c = {
      {"today", At(2026, 11, 26, 11)}, {"yesterday", At(2026, 11, 25, 11)}, {"old", At(2026, 11, 23, 11)}};
  auto got = Decide(p, c, kNow);
  EXPECT_EQ(got["today"], "daily 1");
  EXPECT_EQ(got["yesterday"], "daily 2");
  EXPECT_EQ(got["old"], "PRUNE: older than max_age 2d");
}

TEST(RetentionPolicy, MaxAgeAloneKeepsEverythingWithinIt) {
  RetentionConfig p = Policy(0, 0, 0);
  p.max_age_secs = 36 * 3600;
  std::vector<Candidate> c = {
      {"a", At(2026, 11, 26, 11)}, {"b", At(2026, 11, 26, 10)}, {"c", At(2026, 11, 24, 23, 59)}};
  auto got = Decide(p, c, kNow);
  EXPECT_EQ(got["a"], "within max_age 36h");
  EXPECT_EQ(got["b"], "within max_age 36h");
  EXPECT_EQ(got["c"], "PRUNE: older than max_age 36h");
}

TEST(RetentionPolicy, MinKeepKeepsTheNewestEvenWhenTooOld) {
  RetentionConfig p = Policy(0, 0, 0, 0, 0, 1);
  p.max_age_secs = 3600;
  std::vector<Candidate> c = {{"newest", At(2026, 11, 20)}, {"older", At(2026, 11, 19)}};
  auto got = Decide(p, c, kNow);
  EXPECT_EQ(got["newest"], "min_keep 1");
  EXPECT_EQ(got["older"], "PRUNE: older than max_age 1h");

  p.min_keep = 0;  // explicitly allowed to delete everything
  got = Decide(p, c, kNow);
  EXPECT_EQ(got["newest"], "PRUNE: older than max_age 1h");
}

TEST(RetentionPolicy, EqualTimesAreOrderedById) {
  std::vector<Candidate> c = {{"a", At(2026, 11, 26, 11)}, {"b", At(2026, 11, 26, 11)}};
  auto got = Decide(Policy(1, 0, 0), c, kNow);
  EXPECT_EQ(got["b"], "last 1");
  EXPECT_EQ(got["a"], "PRUNE: no rule keeps it");
}

TEST(RetentionPolicy, TheWorkedExampleOfDocsRetentionMd) {
  RetentionConfig p = Policy(1, 0, 2, 2, 0, 1);
  p.max_age_secs = 30 * 86400;
  std::vector<Candidate> c = {{"a", At(2026, 11, 26, 11)}, {"b", At(2026, 11, 26, 1)},    {"c", At(2026, 11, 25, 23)},
                              {"d", At(2026, 11, 22, 22)}, {"e", At(2026, 11, 16, 0, 5)}, {"f", At(2026, 10, 20, 12)}};
  auto got = Decide(p, c, kNow);
  EXPECT_EQ(got["a"], "last 1, daily 1, weekly 1, min_keep 1");
  EXPECT_EQ(got["b"], "PRUNE: no rule keeps it");
  EXPECT_EQ(got["c"], "daily 2");
  EXPECT_EQ(got["d"], "weekly 2");
  EXPECT_EQ(got["e"], "PRUNE: no rule keeps it");
  EXPECT_EQ(got["f"], "PRUNE: older than max_age 30d");
}

TEST(RetentionPolicy, NoCandidatesIsNoDecision) {
  EXPECT_TRUE(ApplyPolicy(Policy(3, 0, 0, 0, 0, 1), {}, kNow).empty());
}

TEST(RetentionPolicy, APolicyWithoutARuleIsRefused) {
  RetentionConfig p;  // min_keep alone is not a rule
  Status s = CheckPolicy(p);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("no retention policy"), std::string::npos) << s.ToString();
  p.max_age_secs = 60;
  EXPECT_TRUE(CheckPolicy(p).ok());
  EXPECT_TRUE(CheckPolicy(Policy(0, 0, 0, 0, 1)).ok());
}

TEST(RetentionDuration, UnitsAndFormatting) {
  EXPECT_EQ(*ParseDurationSecs("45s"), 45);
  EXPECT_EQ(*ParseDurationSecs("90m"), 5400);
  EXPECT_EQ(*ParseDurationSecs("12h"), 43200);
  EXPECT_EQ(*ParseDurationSecs("30d"), 30 * 86400);
  EXPECT_EQ(*ParseDurationSecs("2w"), 14 * 86400);
  for (const char* bad : {"", "30", "d", "0d", "-1d", "1.5d", "30D", "30 d", "1y", "9999999999999d"}) {
    EXPECT_EQ(ParseDurationSecs(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(FormatDurationSecs(14 * 86400), "2w");
  EXPECT_EQ(FormatDurationSecs(36 * 3600), "36h");
  EXPECT_EQ(FormatDurationSecs(90), "90s");
}

TEST(RetentionConfigTest, TheRetentionSectionParses) {
  auto c = ParseConfig(
      "retention:\n  keep_last: 2\n  keep_hourly: 24\n  keep_daily: 7\n  keep_weekly: 4\n  keep_monthly: 12\n"
      "  max_age: 90d\n  min_keep: 3\n  backup_prefix: production-\n",
      "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retention.keep_last, 2);
  EXPECT_EQ(c->retention.keep_hourly, 24);
  EXPECT_EQ(c->retention.keep_daily, 7);
  EXPECT_EQ(c->retention.keep_weekly, 4);
  EXPECT_EQ(c->retention.keep_monthly, 12);
  EXPECT_EQ(c->retention.max_age_secs, 90 * 86400);
  EXPECT_EQ(c->retention.min_keep, 3);
  EXPECT_EQ(c->retention.backup_prefix, "production-");
  auto none = ParseConfig("storage:\n  path: /tmp/x\n", "t.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->retention.HasRule());
  EXPECT_EQ(none->retention.min_keep, 1);
}

TEST(RetentionConfigTest, ErrorsNameTheKeyAndWhatWasExpected) {
  auto expect_error = [](const std::string& yaml, const std::string& want) {
    auto c = ParseConfig(yaml, "t.yaml");
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status().ToString();
  };
  expect_error("retention:\n  keep_daily: seven\n", "t.yaml:2: retention.keep_daily: expected an integer");
  expect_error("retention:\n  keep_daily: -1\n", "retention.keep_daily: -1 is out of range");
  expect_error("retention:\n  max_age: 30\n", "retention.max_age: expected a duration such as 30d");
  expect_error("retention:\n  keep_yearly: 1\n", "unknown key 'retention.keep_yearly'");
  expect_error("retention: 7\n", "retention: expected a map");
}

}  // namespace
}  // namespace kafka_backup::retention
