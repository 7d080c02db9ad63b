#include "restore/progress_marker.h"

#include <gtest/gtest.h>

#include "util/strings.h"

namespace kafka_backup::restore {
namespace {

TEST(ProgressMarkerTest, RoundTrips) {
  ProgressMarker m;
  m.part = 12;
  m.next = {{0, 120}, {7, 0}, {2, 9223372036854775807}};
  const std::string text = EncodeProgressMarker(m);
  EXPECT_EQ(text, "kafka-backup-progress-v1 part=12 0=120 2=9223372036854775807 7=0");
  auto back = ParseProgressMarker(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, m);
}

TEST(ProgressMarkerTest, OtherToolsMetadataIsNotAMarker) {
  for (const char* text : {"", "some consumer's note", "kafka-backup-progress-v10 part=1", "kafka-backup-progress"}) {
    auto m = ParseProgressMarker(text);
    ASSERT_TRUE(m.ok()) << text;
    EXPECT_FALSE(m->has_value()) << text;
  }
}

TEST(ProgressMarkerTest, DamagedMarkerIsCorruptionNamingTheEntry) {
  for (const char* bad :
       {"0=x", "x=1", "part=-1", "0=-5", "-1=3", "0=99999999999999999999", "0", "part=", "2147483648=1", "0=1e3"}) {
    auto m = ParseProgressMarker(std::string("kafka-backup-progress-v1 part=1 ") + bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), Status::Code::kCorruption) << bad;
    EXPECT_NE(m.status().message().find(bad), std::string::npos) << m.status().message();
  }
}

TEST(ProgressMarkerTest, HighestPartAndLastEntryWin) {
  auto m = ParseProgressMarker("kafka-backup-progress-v1 part=4  part=2 1=5 1=6 ");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->part, 4u);
  EXPECT_EQ((*m)->next.at(1), 6);
}

TEST(ProgressMarkerTest, PartNames) {
  EXPECT_EQ(ParseOffsetMapPartName("0000000042.json"), 42u);
  EXPECT_EQ(ParseOffsetMapPartName("1733450000000000.json"), 1733450000000000u);  // what older runs named them
  for (const char* bad : {"42", "x.json", ".json", "-1.json", "42.json.tmp", "18446744073709551616.json"}) {
    EXPECT_FALSE(ParseOffsetMapPartName(bad).has_value()) << bad;
  }
}

TEST(ParseDecimalTest, WholeStringOrNothing) {
  EXPECT_EQ(util::ParseDecimal<int64_t>("-12"), -12);
  EXPECT_EQ(util::ParseDecimal<int64_t>("007"), 7);
  for (const char* bad : {"", "+1", " 1", "1 ", "1x", "0x10", "9223372036854775808", "--1"}) {
    EXPECT_FALSE(util::ParseDecimal<int64_t>(bad).has_value()) << bad;
  }
  EXPECT_FALSE(util::ParseDecimal<uint64_t>("-1").has_value());
  EXPECT_FALSE(util::ParseDecimal<int32_t>("2147483648").has_value());
}

}  // namespace
}  // namespace kafka_backup::restore
