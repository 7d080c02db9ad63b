#include "util/time_point.h"

#include <gtest/gtest.h>

namespace kafka_backup::util {
namespace {

constexpr int64_t kNow = 1'764'583'200'000;  // 2025-12-01T10:00:00Z

int64_t Parsed(const char* text) {
  auto v = ParseTimePoint(text, kNow);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : -1;
}

TEST(TimePointTest, EpochMillisecondsAsTheSeedWritesThem) {
  EXPECT_EQ(Parsed("1701234500000"), 1701234500000);
  EXPECT_EQ(Parsed(" 0 "), 0);
}

TEST(TimePointTest, Rfc3339InUtcAndWithOffsets) {
  EXPECT_EQ(Parsed("2026-12-01T10:00:00Z"), 1'796'119'200'000);
  EXPECT_EQ(Parsed("2026-12-01t10:00:00z"), 1'796'119'200'000);
  EXPECT_EQ(Parsed("2026-12-01 10:00:00Z"), 1'796'119'200'000) << "RFC 3339 allows a space for the T";
  EXPECT_EQ(Parsed("2026-12-01T11:00:00.250+01:00"), 1'796'119'200'250);
  EXPECT_EQ(Parsed("2026-12-01T05:30:00.5-04:30"), 1'796'119'200'500);
  EXPECT_EQ(Parsed("2026-12-01T10:00:00.123999Z"), 1'796'119'200'123) << "beyond milliseconds is cut";
  EXPECT_EQ(Parsed("2024-02-29T23:59:59Z"), 1'709'251'199'000) << "a leap day";
  EXPECT_EQ(Parsed("1970-01-01T00:00:00Z"), 0);
}

TEST(TimePointTest, TimesBeforeNow) {
  EXPECT_EQ(Parsed("now"), kNow);
  EXPECT_EQ(Parsed("-2h"), kNow - 7'200'000);
  EXPECT_EQ(Parsed("-1h30m"), kNow - 5'400'000);
  EXPECT_EQ(Parsed("-90s"), kNow - 90'000);
  EXPECT_EQ(Parsed("-7d"), kNow - 7 * 86'400'000LL);
  EXPECT_EQ(Parsed("-1w"), kNow - 7 * 86'400'000LL);
  EXPECT_EQ(Parsed("-250ms"), kNow - 250);
}

TEST(TimePointTest, RefusesWhatIsNoTimeAndSaysWhichFormsItTakes) {
  for (const char* bad : {"",
                          "yesterday",
                          "2026-12-01",
                          "2026-12-01T10:00:00",
                          "2026-02-30T00:00:00Z",
                          "2100-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-12-01T24:00:00Z",
                          "2026-12-01T10:00Z",
                          "2026-12-01T10:00:00+1:00",
                          "2026-12-01T10:00:00Zx",
                          "2026-12-01T10:00:00.Z",
                          "-",
                          "-5",
                          "-2x",
                          "-h",
                          "+2h",
                          "1.5e12",
                          "-99999999999999w",
                          "1969-12-31T23:59:59Z",
                          "99999999999999999999"}) {
    auto v = ParseTimePoint(bad, kNow);
    ASSERT_FALSE(v.ok()) << "'" << bad << "' was taken as " << *v;
    EXPECT_EQ(v.status().code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(v.status().message().find("RFC 3339"), std::string::npos) << v.status().message();
  }
}

TEST(TimePointTest, FormatsRfc3339RoundTrip) {
  EXPECT_EQ(FormatRfc3339(1'796'119'200'000), "2026-12-01T10:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'796'119'200'250), "2026-12-01T10:00:00.250Z");
  for (int64_t ms : {int64_t{0}, int64_t{1'709'251'199'999}, kNow, int64_t{4'102'444'800'001}}) {
    EXPECT_EQ(Parsed(FormatRfc3339(ms).c_str()), ms);
  }
}

}  // namespace
}  // namespace kafka_backup::util
