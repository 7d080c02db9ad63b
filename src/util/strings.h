// Small string helpers shared by the components.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "kafka_backup/text.h"

namespace kafka_backup::util {

// The value of the environment variable `name`, or "" when it is unset.
inline std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// ASCII lower case.
using ::kafka_backup::WithoutUserinfo;  // kafka_backup/text.h

inline std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Without leading and trailing white space.
inline std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// The whole of `s` as a decimal integer, or nullopt: empty, a sign where none
// is allowed, anything after the digits, or out of range. For data read from
// outside (record headers, object keys, group metadata), where std::stoll's
// exceptions would end the run as a bug.
template <typename Int>
std::optional<Int> ParseDecimal(std::string_view s) {
  Int v{};
  if (s.empty() || (s.front() == '+')) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace kafka_backup::util
