// Kafka's default partitioner for keyed records, bit for bit: the Java
// client's Utils.murmur2 (seed 0x9747b28c) and toPositive(h) % partitions.
#pragma once

#include <cstdint>
#include <string_view>

namespace kafka_backup::kafka {

int32_t Murmur2(std::string_view data);
// The partition the Java producer's default partitioner picks for a non-null key.
int32_t PartitionForKey(std::string_view key, int32_t partition_count);

}  // namespace kafka_backup::kafka
