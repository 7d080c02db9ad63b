#include <gtest/gtest.h>

#include "kafka/partitioner.h"

namespace kafka_backup::kafka {
namespace {

// The vectors of Apache Kafka's UtilsTest.testMurmur2.
TEST(PartitionerTest, Murmur2MatchesJavaClientVectors) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
}

TEST(PartitionerTest, PartitionIsNonNegativeAndBelowCount) {
  for (int i = 0; i < 1000; ++i) {
    int32_t p = PartitionForKey("key-" + std::to_string(i), 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
  }
}

}  // namespace
}  // namespace kafka_backup::kafka
