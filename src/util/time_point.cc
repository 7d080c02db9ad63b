#include "util/time_point.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "util/strings.h"

namespace kafka_backup {
using util::Lower;
using util::ParseDecimal;
using util::Trim;
namespace {

constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max();

Status NotATimePoint(std::string_view text, std::string_view why) {
  return Status::InvalidArgument(
      fmt::format("'{}' is not a point in time ({}): give epoch milliseconds (1701234500000), an RFC 3339 time "
                  "(2026-12-01T10:00:00Z, 2026-12-01T11:00:00.5+01:00) or a time before now (-2h, -1h30m, -7d)",
                  text, why));
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), so no time zone of the process is involved.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool LeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Reads exactly `n` digits at `pos`.
std::optional<int64_t> Digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool Expect(std::string_view s, size_t& pos, std::string_view chars) {
  if (pos >= s.size() || chars.find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

Result<int64_t> ParseRfc3339(std::string_view text) {
  size_t pos = 0;
  auto year = Digits(text, pos, 4);
  if (!year || !Expect(text, pos, "-")) return NotATimePoint(text, "expected YYYY-MM-DD");
  auto month = Digits(text, pos, 2);
  if (!month || !Expect(text, pos, "-")) return NotATimePoint(text, "expected YYYY-MM-DD");
  auto day = Digits(text, pos, 2);
  if (!day) return NotATimePoint(text, "expected YYYY-MM-DD");
  if (!Expect(text, pos, "Tt ")) return NotATimePoint(text, "expected a time after the date, as in T10:00:00Z");
  auto hour = Digits(text, pos, 2);
  std::optional<int64_t> minute, second;
  if (hour && Expect(text, pos, ":")) minute = Digits(text, pos, 2);
  if (minute && Expect(text, pos, ":")) second = Digits(text, pos, 2);
  if (!second) return NotATimePoint(text, "expected the time as HH:MM:SS");
  int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos, ++digits) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
    }
    if (digits == 0) return NotATimePoint(text, "no digits after the decimal point");
    for (; digits < 3; ++digits) millis *= 10;
  }
  int64_t offset_min = 0;
  if (Expect(text, pos, "Zz")) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int64_t sign = text[pos++] == '-' ? -1 : 1;
    auto oh = Digits(text, pos, 2);
    std::optional<int64_t> om;
    if (oh && Expect(text, pos, ":")) om = Digits(text, pos, 2);
    if (!om || *oh > 23 || *om > 59) return NotATimePoint(text, "the offset must be Z or +HH:MM / -HH:MM");
    offset_min = sign * (*oh * 60 + *om);
  } else {
    return NotATimePoint(text, "no time zone: end it with Z (UTC) or an offset such as +01:00");
  }
  if (pos != text.size()) return NotATimePoint(text, "unexpected text after the time zone");
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*month < 1 || *month > 12) return NotATimePoint(text, "no such month");
  int64_t max_day = kDays[static_cast<size_t>(*month - 1)] + (*month == 2 && LeapYear(*year) ? 1 : 0);
  if (*day < 1 || *day > max_day) return NotATimePoint(text, "no such day in that month");
  // 60: a leap second, as RFC 3339 allows; it counts as the next second.
  if (*hour > 23 || *minute > 59 || *second > 60) return NotATimePoint(text, "no such time of day");
  int64_t days = DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  int64_t secs = days * 86400 + *hour * 3600 + *minute * 60 + *second - offset_min * 60;
  if (secs < 0) return NotATimePoint(text, "before 1970-01-01T00:00:00Z");
  return secs * 1000 + millis;
}

Result<int64_t> ParseRelative(std::string_view text, int64_t now_ms) {
  std::string_view rest = text.substr(1);
  if (rest.empty()) return NotATimePoint(text, "nothing after '-'");
  int64_t back = 0;
  while (!rest.empty()) {
    size_t n = 0;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
    auto amount = ParseDecimal<int64_t>(rest.substr(0, n));
    if (!amount) return NotATimePoint(text, "expected a number before each unit");
    rest.remove_prefix(n);
    size_t u = 0;
    while (u < rest.size() && std::isalpha(static_cast<unsigned char>(rest[u]))) ++u;
    std::string unit = Lower(std::string(rest.substr(0, u)));
    rest.remove_prefix(u);
    int64_t scale = unit == "ms"  ? 1
                    : unit == "s" ? 1000
                    : unit == "m" ? 60'000
                    : unit == "h" ? 3'600'000
                    : unit == "d" ? 86'400'000
                    : unit == "w" ? 604'800'000
                                  : 0;
    if (scale == 0) {
      return NotATimePoint(text, unit.empty() ? "a number without a unit (ms, s, m, h, d, w)"
                                              : fmt::format("unknown unit '{}' (ms, s, m, h, d, w)", unit));
    }
    if (*amount > (kMaxMs - back) / scale) return NotATimePoint(text, "too far back");
    back += *amount * scale;
  }
  if (back > now_ms) return NotATimePoint(text, "before 1970-01-01T00:00:00Z");
  return now_ms - back;
}

}  // namespace

Result<int64_t> ParseTimePoint(std::string_view raw, int64_t now_ms) {
  std::string text = Trim(raw);
  if (text.empty()) return NotATimePoint(raw, "empty");
  if (Lower(text) == "now") return now_ms;
  if (text[0] == '-') return ParseRelative(text, now_ms);
  bool all_digits = std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  if (all_digits) {
    auto ms = ParseDecimal<int64_t>(text);
    if (!ms) return NotATimePoint(text, "out of range");
    return *ms;
  }
  return ParseRfc3339(text);
}

std::string FormatRfc3339(int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  int64_t millis = epoch_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (millis != 0) out += fmt::format(".{:03}", millis);
  return out + "Z";
}

}  // namespace kafka_backup
