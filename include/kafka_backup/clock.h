// Wall-clock time as Kafka and the manifests count it: milliseconds since the epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace kafka_backup {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace kafka_backup
