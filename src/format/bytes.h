// Little-endian fixed-width and LEB128 varint encoding over std::string
// buffers, and a bounds-checked reader. Encodings are described in
// docs/format/segment.md ("Conventions").
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace kafka_backup::format {

inline void PutFixed16(std::string* dst, uint16_t v) {
  char buf[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  dst->append(buf, 2);
}
inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  dst->append(buf, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  dst->append(buf, 8);
}
inline void PutVarint(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Nullable bytes: varint(length + 1) then the bytes; 0 means null.
// `S` is std::string or std::string_view.
template <typename S>
void PutNullableBytes(std::string* dst, const std::optional<S>& v) {
  if (!v) {
    PutVarint(dst, 0);
    return;
  }
  PutVarint(dst, v->size() + 1);
  dst->append(*v);
}

inline uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Reads from a byte range; every accessor returns false instead of reading past
// the end, so a truncated or corrupt input can never cause an out-of-bounds read.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool ReadU8(uint8_t* v) {
    if (data_.empty()) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool ReadFixed16(uint16_t* v) { return ReadFixed(v, 2, DecodeFixed16); }
  bool ReadFixed32(uint32_t* v) { return ReadFixed(v, 4, DecodeFixed32); }
  bool ReadFixed64(uint64_t* v) { return ReadFixed(v, 8, DecodeFixed64); }
  bool ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63 && !data_.empty(); shift += 7) {
      auto byte = static_cast<uint8_t>(data_[0]);
      data_.remove_prefix(1);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool ReadBytes(size_t n, std::string_view* out) {
    if (data_.size() < n) return false;
    *out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  // `S` is std::string (a copy) or std::string_view (into the data read).
  template <typename S>
  bool ReadNullableBytes(std::optional<S>* out) {
    uint64_t len_plus_one = 0;
    if (!ReadVarint(&len_plus_one)) return false;
    if (len_plus_one == 0) {
      out->reset();
      return true;
    }
    std::string_view bytes;
    if (!ReadBytes(len_plus_one - 1, &bytes)) return false;
    out->emplace(bytes);
    return true;
  }
  size_t remaining() const { return data_.size(); }

 private:
  template <typename T, typename F>
  bool ReadFixed(T* v, size_t n, F decode) {
    if (data_.size() < n) return false;
    *v = static_cast<T>(decode(data_.data()));
    data_.remove_prefix(n);
    return true;
  }

  std::string_view data_;
};

}  // namespace kafka_backup::format
