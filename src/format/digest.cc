#include "format/digest.h"

#include <xxh_x86dispatch.h>
#include <xxhash.h>

#include "format/bytes.h"

namespace kafka_backup::format {
namespace {

void FreeState(XXH3_state_t* state) {
  XXH3_freeState(state);
}

std::string Format(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kDigestAlgorithm);
  out.push_back(':');
  for (unsigned char c : canonical.digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

// Byte strings longer than this are hashed in place; shorter ones are copied
// into the pending bytes with the fields around them, so that a record costs a
// few calls to the hash, not one per field.
constexpr size_t kInPlace = 64;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

ContentDigest::ContentDigest() : state_(XXH3_createState(), &FreeState) {
  if (!state_) throw std::bad_alloc();
  Reset();
}

ContentDigest::~ContentDigest() = default;
ContentDigest::ContentDigest(ContentDigest&&) noexcept = default;
ContentDigest& ContentDigest::operator=(ContentDigest&&) noexcept = default;

void ContentDigest::Reset() {
  XXH3_128bits_reset(state_.get());
}

// The record's bytes as EncodeRecordAlone writes them (docs/format/digest.md,
// "Records"), fed to the hash without building them whole: large keys, values
// and header values are hashed where they lie.
template <typename R>
void ContentDigest::AddRecord(const R& r) {
  scratch_.clear();
  scratch_.push_back(static_cast<char>(static_cast<uint8_t>(r.timestamp_type) & 0x3));
  scratch_.push_back(0);  // offset delta
  PutVarint(&scratch_, ZigZag(r.timestamp));
  auto bytes = [this](const auto& v) {
    if (!v) {
      PutVarint(&scratch_, 0);
      return;
    }
    PutVarint(&scratch_, v->size() + 1);
    if (v->size() <= kInPlace) {
      scratch_.append(v->data(), v->size());
      return;
    }
    XXH3_128bits_update_dispatch(state_.get(), scratch_.data(), scratch_.size());
    XXH3_128bits_update_dispatch(state_.get(), v->data(), v->size());
    scratch_.clear();
  };
  bytes(r.key);
  bytes(r.value);
  PutVarint(&scratch_, r.headers.size());
  for (const auto& h : r.headers) {
    PutVarint(&scratch_, h.name.size());
    scratch_.append(h.name.data(), h.name.size());
    bytes(h.value);
  }
  XXH3_128bits_update_dispatch(state_.get(), scratch_.data(), scratch_.size());
}

void ContentDigest::Add(const Record& record) {
  AddRecord(record);
}

void ContentDigest::Add(const RecordView& record) {
  AddRecord(record);
}

std::string ContentDigest::Value() const {
  return Format(XXH3_128bits_digest(state_.get()));
}

std::string DigestOf(std::string_view bytes) {
  return Format(XXH3_128bits_dispatch(bytes.data(), bytes.size()));
}

std::optional<DigestBytes> ParseDigest(std::string_view digest) {
  constexpr size_t kPrefix = kDigestAlgorithm.size() + 1;
  if (digest.size() != kPrefix + 32 || !digest.starts_with(kDigestAlgorithm) || digest[kPrefix - 1] != ':') {
    return std::nullopt;
  }
  DigestBytes out{};
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(digest[kPrefix + 2 * i]);
    int lo = HexValue(digest[kPrefix + 2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::optional<std::string> PartitionDigest(std::span<const SegmentRef> segments) {
  std::string chain;
  chain.reserve(segments.size() * 24);
  for (const SegmentRef& s : segments) {
    std::optional<DigestBytes> bytes = ParseDigest(s.digest);
    if (!bytes) return std::nullopt;
    chain.append(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    PutFixed64(&chain, s.record_count);
  }
  return DigestOf(chain);
}

}  // namespace kafka_backup::format
