// Block compression codecs: none, zstd (with a level) and lz4 (frame format).
// Codec ids are stored in segment headers (docs/format/segment.md); never
// renumber them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kafka_backup/status.h"

namespace kafka_backup::format {

enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };

// "none", "zstd", "lz4".
const char* CodecName(Codec codec);
// Parses a codec name as written in config; the error lists the accepted names.
Result<Codec> ParseCodec(std::string_view name);

// Compresses `raw`, appending to `*out`. `level` applies to zstd only (1..19;
// 0 means the library default).
Status Compress(Codec codec, int level, std::string_view raw, std::string* out);
// Decompresses `compressed` into exactly `raw_size` bytes, or fails with
// Corruption. `*out` is resized, not cleared: a buffer reused for blocks of
// similar size is not zeroed again for each one.
Status Decompress(Codec codec, std::string_view compressed, size_t raw_size, std::string* out);

}  // namespace kafka_backup::format
