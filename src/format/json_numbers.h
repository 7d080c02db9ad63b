// The JSON documents of docs/format/ (manifest, offset map, run status) hold
// integers only. nlohmann::json converts a floating-point value to an integer
// type with a plain cast, which is undefined behaviour when the value is out
// of range ("lag": 1e300), so a parser looks for fractional numbers first and
// rejects the document if it finds one.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kafka_backup::format {

// Where a floating-point number of `doc` is ("topics[0].lag"), or nullopt if
// there is none. Iterative: nesting depth cannot exhaust the stack.
inline std::optional<std::string> FindFractionalNumber(const nlohmann::json& doc) {
  std::vector<std::pair<const nlohmann::json*, std::string>> todo = {{&doc, ""}};
  while (!todo.empty()) {
    auto [j, path] = std::move(todo.back());
    todo.pop_back();
    if (j->is_number_float()) return path.empty() ? "the document" : path;
    if (j->is_object()) {
      for (auto it = j->begin(); it != j->end(); ++it) {
        todo.emplace_back(&it.value(), path.empty() ? it.key() : path + "." + it.key());
      }
    } else if (j->is_array()) {
      for (size_t i = 0; i < j->size(); ++i) todo.emplace_back(&(*j)[i], path + "[" + std::to_string(i) + "]");
    }
  }
  return std::nullopt;
}

}  // namespace kafka_backup::format
