// Reading fields of the JSON formats (manifest, checkpoint): a missing or
// mistyped field throws std::runtime_error naming it with its path; the
// format's parser turns that into Corruption.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace kafka_backup::format::json_fields {

template <typename T>
T Field(const nlohmann::json& j, const char* name, const std::string& path) {
  auto it = j.find(name);
  if (it == j.end()) throw std::runtime_error(fmt::format("field '{}{}' is missing", path, name));
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann converts a float (1e300) to an integer with a plain cast,
    // undefined when out of range; and a wider integer is silently narrowed.
    bool in_range = false;
    if (it->is_number_unsigned()) {
      in_range = it->template get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    } else if (it->is_number_integer()) {
      int64_t v = it->template get<int64_t>();
      in_range = std::cmp_greater_equal(v, std::numeric_limits<T>::min()) &&
                 std::cmp_less_equal(v, std::numeric_limits<T>::max());
    } else {
      throw std::runtime_error(fmt::format("field '{}{}' has the wrong type", path, name));
    }
    if (!in_range) throw std::runtime_error(fmt::format("field '{}{}' is out of range", path, name));
  }
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(fmt::format("field '{}{}' has the wrong type", path, name));
  }
}

template <typename T>
std::optional<T> OptionalField(const nlohmann::json& j, const char* name, const std::string& path) {
  if (!j.contains(name)) return std::nullopt;
  return Field<T>(j, name, path);
}

}  // namespace kafka_backup::format::json_fields
