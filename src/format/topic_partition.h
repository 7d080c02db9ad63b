// A partition of a topic: the key of every per-partition map in the engines
// (a named pair: `.topic` and `.partition`, ordered by topic then partition).
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace kafka_backup::format {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  // (clang-tidy 14 takes the synthesized comparison with 0 for a null pointer)
  auto operator<=>(const TopicPartition&) const = default;  // NOLINT(modernize-use-nullptr)
  bool operator==(const TopicPartition&) const = default;
};

}  // namespace kafka_backup::format
