// A Kafka record as a backup keeps it: everything a consumer could see.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kafka_backup::format {

// Stored in segments (docs/format/segment.md, record attributes bits 0-1).
enum class TimestampType : uint8_t { kNotAvailable = 0, kCreateTime = 1, kLogAppendTime = 2 };

namespace detail {

// Bytes a consumer sees: key + value + header names and values (of a Record
// or a RecordView).
template <typename R>
size_t PayloadBytes(const R& r) {
  size_t n = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
  for (const auto& h : r.headers) n += h.name.size() + (h.value ? h.value->size() : 0);
  return n;
}

}  // namespace detail

struct RecordHeader {
  std::string name;
  std::optional<std::string> value;  // nullopt: a null header value
  bool operator==(const RecordHeader&) const = default;
};

struct Record {
  int64_t offset = 0;
  int64_t timestamp = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string> key;     // nullopt: null key
  std::optional<std::string> value;   // nullopt: null value (a tombstone)
  std::vector<RecordHeader> headers;  // in order, duplicates kept

  size_t PayloadBytes() const { return detail::PayloadBytes(*this); }
  bool operator==(const Record&) const = default;
};

// A record header read in place (see RecordView).
struct HeaderView {
  std::string_view name;
  std::optional<std::string_view> value;  // nullopt: a null header value
};

// A record read in place: its bytes belong to whoever decoded it
// (format::BlockDecoder) and are valid until it decodes the next block.
// Readers that only look at records (validate) use it to skip the copies a
// Record costs.
struct RecordView {
  int64_t offset = 0;
  int64_t timestamp = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::span<const HeaderView> headers;

  size_t PayloadBytes() const { return detail::PayloadBytes(*this); }
  // A copy that owns its bytes.
  Record ToRecord() const {
    Record r{offset, timestamp, timestamp_type, {}, {}, {}};
    if (key) r.key.emplace(*key);
    if (value) r.value.emplace(*value);
    r.headers.reserve(headers.size());
    for (const auto& h : headers) {
      RecordHeader& copy = r.headers.emplace_back(RecordHeader{std::string(h.name), std::nullopt});
      if (h.value) copy.value.emplace(*h.value);
    }
    return r;
  }
};

}  // namespace kafka_backup::format
