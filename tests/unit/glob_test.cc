#include <gtest/gtest.h>

#include "util/glob.h"

namespace kafka_backup {
namespace {

TEST(GlobTest, StarQuestionAndClassesMatchTopicNames) {
  EXPECT_TRUE(GlobMatch("*", "orders"));
  EXPECT_TRUE(GlobMatch("orders-*", "orders-eu"));
  EXPECT_FALSE(GlobMatch("orders-*", "payments"));
  EXPECT_TRUE(GlobMatch("log.?", "log.1"));
  EXPECT_TRUE(GlobMatch("t[0-9]", "t7"));
  EXPECT_FALSE(GlobMatch("t[0-9]", "tx"));
  EXPECT_TRUE(GlobMatch("__consumer_offsets", "__consumer_offsets"));
}

TEST(GlobTest, LiteralNamesAreNotGlobs) {
  EXPECT_FALSE(IsGlob("orders.v1_eu-west"));
  EXPECT_TRUE(IsGlob("orders*"));
  EXPECT_TRUE(IsGlob("t[12]"));
}

}  // namespace
}  // namespace kafka_backup
