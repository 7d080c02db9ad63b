// CRC32C (Castagnoli), as specified in docs/format/segment.md. No packaged
// library provides it on Debian 12, so it is implemented here (slice-by-8
// tables; SSE4.2 when the CPU has it).
#pragma once

#include <cstdint>
#include <string_view>

namespace kafka_backup::format {

// Extends `crc` (the value returned for the preceding bytes; 0 to start) with `data`.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
inline uint32_t Crc32c(std::string_view data) {
  return Crc32cExtend(0, data);
}

}  // namespace kafka_backup::format
