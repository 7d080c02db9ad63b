#include "format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace kafka_backup::format {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78;

struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolyReflected : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};
constexpr Tables kTables;

uint32_t ExtendPortable(uint32_t crc, const unsigned char* p, size_t n) {
  const auto& t = kTables.t;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= crc;  // little-endian host assumed (x86-64, aarch64)
    crc = t[7][word & 0xff] ^ t[6][(word >> 8) & 0xff] ^ t[5][(word >> 16) & 0xff] ^ t[4][(word >> 24) & 0xff] ^
          t[3][(word >> 32) & 0xff] ^ t[2][(word >> 40) & 0xff] ^ t[1][(word >> 48) & 0xff] ^ t[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// The crc32 instruction has a latency of three cycles and a throughput of one
// per cycle, so long inputs are done as three streams at once, joined by
// shifting a stream's CRC over the bytes of the streams after it (the method
// of Mark Adler's crc32c.c). A shift over n zero bytes is a linear map on the
// 32 CRC bits: a 32x32 matrix over GF(2), applied a byte at a time by tables.

// The matrix `mat` (32 columns) times the bit vector `vec`.
constexpr uint32_t Gf2Times(const std::array<uint32_t, 32>& mat, uint32_t vec) {
  uint32_t sum = 0;
  for (size_t n = 0; vec != 0; ++n, vec >>= 1) {
    if (vec & 1) sum ^= mat[n];
  }
  return sum;
}

constexpr std::array<uint32_t, 32> Gf2Square(const std::array<uint32_t, 32>& mat) {
  std::array<uint32_t, 32> square{};
  for (size_t n = 0; n < 32; ++n) square[n] = Gf2Times(mat, mat[n]);
  return square;
}

// Tables that shift a CRC over `Bytes` zero bytes (a power of two).
template <size_t Bytes>
struct ZerosShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  constexpr ZerosShift() {
    std::array<uint32_t, 32> op{};  // one zero bit
    op[0] = kPolyReflected;
    for (size_t n = 1; n < 32; ++n) op[n] = uint32_t{1} << (n - 1);
    for (size_t bits = 1; bits < Bytes * 8; bits *= 2) op = Gf2Square(op);
    for (uint32_t n = 0; n < 256; ++n) {
      for (int k = 0; k < 4; ++k) t[k][n] = Gf2Times(op, n << (8 * k));
    }
  }
  uint32_t operator()(uint32_t crc) const {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
  }
};

constexpr size_t kLongStream = 8192;
constexpr size_t kShortStream = 256;
constexpr ZerosShift<kLongStream> kShiftLong;
constexpr ZerosShift<kShortStream> kShiftShort;

__attribute__((target("sse4.2"))) inline uint64_t Crc64(uint64_t c, const unsigned char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return _mm_crc32_u64(c, word);
}

// Three streams of `Stream` bytes each while at least that much is left.
template <size_t Stream>
__attribute__((target("sse4.2"))) uint64_t ThreeStreams(uint64_t c0, const ZerosShift<Stream>& shift,
                                                        const unsigned char*& p, size_t& n) {
  while (n >= 3 * Stream) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (const unsigned char* end = p + Stream; p < end; p += 8) {
      c0 = Crc64(c0, p);
      c1 = Crc64(c1, p + Stream);
      c2 = Crc64(c2, p + 2 * Stream);
    }
    c0 = shift(static_cast<uint32_t>(c0)) ^ c1;
    c0 = shift(static_cast<uint32_t>(c0)) ^ c2;
    p += 2 * Stream;
    n -= 3 * Stream;
  }
  return c0;
}

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const unsigned char* p, size_t n) {
  uint64_t c = crc;
  c = ThreeStreams(c, kShiftLong, p, n);
  c = ThreeStreams(c, kShiftShort, p, n);
  for (; n >= 8; p += 8, n -= 8) c = Crc64(c, p);
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
#if defined(__x86_64__)
  if (HaveSse42()) return ~ExtendSse42(crc, p, data.size());
#endif
  return ~ExtendPortable(crc, p, data.size());
}

}  // namespace kafka_backup::format
