// Bounded parallelism for work items that wait on a network (admin calls
// over many consumer groups): at most `workers` at a time.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "kafka_backup/status.h"

namespace kafka_backup::util {

// Runs fn(i) for every i in [0, n) on at most `workers` threads (the caller's
// among them). After a failure no further item starts; the failure of the
// lowest index is returned, so the outcome does not depend on timing.
inline Status ParallelFor(size_t n, size_t workers, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  size_t failed_at = n;
  Status failure;
  auto work = [&] {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= n) break;
      Status s = fn(i);
      if (s.ok()) continue;
      std::lock_guard lock(mu);
      if (i < failed_at) {
        failed_at = i;
        failure = std::move(s);
      }
      failed = true;
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(workers, n); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return failure;
}

}  // namespace kafka_backup::util
