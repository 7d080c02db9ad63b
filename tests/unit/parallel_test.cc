#include "util/parallel.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace kafka_backup::util {
namespace {

TEST(ParallelFor, RunsEveryItemOnceWithAtMostTheWorkersAtATime) {
  std::mutex mu;
  std::multiset<size_t> ran;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  Status s = ParallelFor(100, 8, [&](size_t i) {
    int now = ++running;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --running;
    std::lock_guard lock(mu);
    ran.insert(i);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ran.size(), 100u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(ran.count(i), 1u) << i;
  EXPECT_LE(most.load(), 8);
  EXPECT_GT(most.load(), 1) << "the items waited side by side";
}

TEST(ParallelFor, ReturnsTheFailureOfTheLowestIndexAndStartsNoMore) {
  std::atomic<int> started{0};
  Status s = ParallelFor(1000, 4, [&](size_t i) {
    ++started;
    if (i == 7 || i == 9) return Status::Conflict("item " + std::to_string(i));
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_EQ(s.message(), "item 7");
  EXPECT_LT(started.load(), 1000);
}

TEST(ParallelFor, NothingOrOneWorker) {
  EXPECT_TRUE(ParallelFor(0, 8, [](size_t) { return Status::Internal("never"); }).ok());
  std::vector<size_t> order;
  ASSERT_TRUE(ParallelFor(5, 1, [&](size_t i) {
                order.push_back(i);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace kafka_backup::util
