// The retention policy (docs/retention.md, "Policy"): which of a storage
// location's committed backups to keep, and why. Pure: no I/O, the clock is a
// parameter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_backup/config.h"

namespace kafka_backup::retention {

struct Candidate {
  std::string backup_id;
  int64_t created_at_ms = 0;
};

struct Decision {
  std::string backup_id;
  int64_t created_at_ms = 0;
  bool keep = false;
  // Kept: every rule that keeps it ("last 1", "hourly 3", "daily 1",
  // "weekly 1", "monthly 1", "within max_age 30d", "min_keep 1").
  // Pruned: why ("older than max_age 30d", "no rule keeps it").
  std::vector<std::string> reasons;
};

// The decision for each candidate, newest first (created_at_ms, then id,
// descending). Every candidate is decided; the caller filters what is not a
// candidate (backup_prefix, partial, continuous, live runs) beforehand.
std::vector<Decision> ApplyPolicy(const RetentionConfig& policy, std::vector<Candidate> candidates, int64_t now_ms);

// InvalidArgument unless the policy has at least one rule: a policy without
// one would keep everything, and prune refuses to guess.
Status CheckPolicy(const RetentionConfig& policy);

// The UTC buckets the rules count, exposed for tests: hours, days, ISO weeks
// (the day number of their Monday) and months (year * 12 + month - 1).
int64_t HourBucket(int64_t ms);
int64_t DayBucket(int64_t ms);
int64_t WeekBucket(int64_t ms);
int64_t MonthBucket(int64_t ms);

}  // namespace kafka_backup::retention
