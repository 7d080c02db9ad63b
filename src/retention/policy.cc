#include "retention/policy.h"

#include <algorithm>
#include <chrono>
#include <tuple>

#include <fmt/format.h>

namespace kafka_backup::retention {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// One "newest in each of the N most recent buckets" rule.
struct BucketRule {
  const char* name;
  int count;
  int64_t (*bucket)(int64_t ms);
};

}  // namespace

int64_t HourBucket(int64_t ms) {
  return FloorDiv(ms, int64_t{3600} * 1000);
}

int64_t DayBucket(int64_t ms) {
  return FloorDiv(ms, int64_t{86400} * 1000);
}

int64_t WeekBucket(int64_t ms) {
  // 1970-01-01 was a Thursday: day d is (d + 3) mod 7 days after a Monday.
  int64_t day = DayBucket(ms);
  return day - (((day + 3) % 7) + 7) % 7;
}

int64_t MonthBucket(int64_t ms) {
  std::chrono::sys_days day{std::chrono::days{DayBucket(ms)}};
  std::chrono::year_month_day ymd{day};
  return int64_t{static_cast<int>(ymd.year())} * 12 + static_cast<unsigned>(ymd.month()) - 1;
}

Status CheckPolicy(const RetentionConfig& policy) {
  if (policy.HasRule()) return Status::Ok();
  return Status::InvalidArgument(
      "no retention policy: set at least one of keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly or "
      "max_age (the config's retention section, or --keep-last N, --keep-daily N, --max-age 30d, ...); prune never "
      "deletes by default (docs/retention.md)");
}

std::vector<Decision> ApplyPolicy(const RetentionConfig& policy, std::vector<Candidate> candidates, int64_t now_ms) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.created_at_ms, a.backup_id) > std::tie(b.created_at_ms, b.backup_id);
  });
  std::vector<Decision> out;
  out.reserve(candidates.size());
  for (const auto& c : candidates) out.push_back({c.backup_id, c.created_at_ms, false, {}});

  for (size_t i = 0; i < out.size() && i < static_cast<size_t>(std::max(policy.keep_last, 0)); ++i) {
    out[i].reasons.push_back(fmt::format("last {}", i + 1));
  }
  const BucketRule rules[] = {{"hourly", policy.keep_hourly, HourBucket},
                              {"daily", policy.keep_daily, DayBucket},
                              {"weekly", policy.keep_weekly, WeekBucket},
                              {"monthly", policy.keep_monthly, MonthBucket}};
  for (const auto& rule : rules) {
    int kept = 0;
    bool any = false;
    int64_t last = 0;
    // Newest first, so the first backup seen in a bucket is its newest.
    for (auto& d : out) {
      if (kept >= rule.count) break;
      int64_t b = rule.bucket(d.created_at_ms);
      if (any && b == last) continue;
      any = true;
      last = b;
      d.reasons.push_back(fmt::format("{} {}", rule.name, ++kept));
    }
  }
  bool keep_rules = policy.keep_last > 0 || policy.keep_hourly > 0 || policy.keep_daily > 0 || policy.keep_weekly > 0 ||
                    policy.keep_monthly > 0;
  std::string age = policy.max_age_secs ? FormatDurationSecs(*policy.max_age_secs) : "";
  for (size_t i = 0; i < out.size(); ++i) {
    Decision& d = out[i];
    bool too_old = policy.max_age_secs && now_ms - d.created_at_ms > *policy.max_age_secs * 1000;
    if (too_old) {
      d.reasons.clear();
    } else if (!keep_rules && policy.max_age_secs) {
      d.reasons.push_back(fmt::format("within max_age {}", age));
    }
    if (i < static_cast<size_t>(std::max(policy.min_keep, 0))) {
      d.reasons.push_back(fmt::format("min_keep {}", policy.min_keep));
    }
    d.keep = !d.reasons.empty();
    if (!d.keep) d.reasons.push_back(too_old ? fmt::format("older than max_age {}", age) : "no rule keeps it");
  }
  return out;
}

}  // namespace kafka_backup::retention
