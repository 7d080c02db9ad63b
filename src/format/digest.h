// Content digests (docs/format/digest.md): what the records of a segment and
// of a partition hash to, without their offsets, so that a copy restored
// elsewhere and read back can be compared with the backup record by record,
// without the source cluster.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "format/manifest.h"
#include "format/record.h"

struct XXH3_state_s;

namespace kafka_backup::format {

// The one algorithm digests use today; a digest names it ("xxh3-128:<hex>"),
// so a later one can be told apart.
inline constexpr std::string_view kDigestAlgorithm = "xxh3-128";
using DigestBytes = std::array<uint8_t, 16>;

// Hashes records in offset order. Not thread-safe.
class ContentDigest {
 public:
  ContentDigest();
  ~ContentDigest();
  ContentDigest(ContentDigest&&) noexcept;
  ContentDigest& operator=(ContentDigest&&) noexcept;
  ContentDigest(const ContentDigest&) = delete;
  ContentDigest& operator=(const ContentDigest&) = delete;

  void Add(const Record& record);
  void Add(const RecordView& record);
  // Starts again, as if no record had been added.
  void Reset();
  // "xxh3-128:" and 32 lowercase hex digits: the digest of the records added
  // so far (adding more afterwards goes on from there).
  std::string Value() const;

 private:
  template <typename R>
  void AddRecord(const R& record);

  std::unique_ptr<XXH3_state_s, void (*)(XXH3_state_s*)> state_;
  std::string scratch_;  // bytes of the record not hashed yet
};

// The digest of `bytes` themselves (what ContentDigest gives for records
// whose encodings, concatenated, are `bytes`).
std::string DigestOf(std::string_view bytes);

// The 16 bytes of a digest written by ContentDigest::Value or PartitionDigest;
// nullopt when it is malformed or names another algorithm.
std::optional<DigestBytes> ParseDigest(std::string_view digest);

// A partition's digest: the digests of its segments, in offset order, folded
// with their record counts, so that it covers every segment a manifest lists
// (an incremental backup's inherited ones too). nullopt when a segment has no
// digest (it was written before digests existed) or a malformed one.
std::optional<std::string> PartitionDigest(std::span<const SegmentRef> segments);

}  // namespace kafka_backup::format
