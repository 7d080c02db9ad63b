#include "kafka/partitioner.h"

namespace kafka_backup::kafka {

int32_t Murmur2(std::string_view data) {
  // Unsigned arithmetic gives Java's wrapping int semantics without UB.
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto length = static_cast<uint32_t>(data.size());
  uint32_t h = 0x9747b28c ^ length;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const uint32_t blocks = length / 4;
  for (uint32_t i = 0; i < blocks; ++i) {
    const unsigned char* b = p + size_t{i} * 4;
    uint32_t k = uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const unsigned char* tail = p + (length & ~3u);
  switch (length % 4) {
    case 3:
      h ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{tail[0]};
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t PartitionForKey(std::string_view key, int32_t partition_count) {
  return static_cast<int32_t>((static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu) %
                              static_cast<uint32_t>(partition_count));
}

}  // namespace kafka_backup::kafka
