#include "targets.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "format/bytes.h"
#include "format/checkpoint.h"
#include "format/crc32c.h"
#include "format/encryption.h"
#include "format/manifest.h"
#include "format/offset_map.h"
#include "format/run_status.h"
#include "format/segment.h"
#include "kafka_backup/config.h"
#include "restore/progress_marker.h"
#include "util/strings.h"

namespace kafka_backup::fuzz {
namespace {

using format::BlockInfo;
using format::Codec;
using format::Record;

[[noreturn]] void Broken(const char* what, const Status& s) {
  std::fprintf(stderr, "fuzz contract broken: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

// A parser may reject its input, but only with the documented kind of error.
void ExpectOkOr(const Status& s, Status::Code code, const char* what) {
  if (!s.ok() && s.code() != code) Broken(what, s);
}

Status Ignore(Record&&) {
  return Status::Ok();
}

// catalog::ReadSegment (src/catalog/catalog.cc) without a store: the same
// calls in the same order, ranged reads served from `data`. A range outside
// the object is what a store reports as an error, so reading stops there.
void ReadLikeCatalog(std::string_view data) {
  constexpr uint64_t kTailReadBytes = 64 * 1024;  // as in catalog.cc
  auto get = [&](uint64_t offset, uint64_t length, std::string_view* out) {
    if (offset > data.size() || length > data.size() - offset) return false;
    *out = data.substr(offset, length);
    return true;
  };
  std::string_view tail = data.substr(data.size() - std::min<uint64_t>(data.size(), kTailReadBytes));
  auto trailer = format::ParseTrailer(tail, data.size());
  ExpectOkOr(trailer.status(), Status::Code::kCorruption, "ParseTrailer");
  if (!trailer.ok()) return;
  std::string_view index_bytes;
  if (!get(trailer->index_position, uint64_t{trailer->block_count} * format::kIndexEntrySize, &index_bytes)) return;
  auto index = format::ParseIndex(index_bytes, *trailer);
  ExpectOkOr(index.status(), Status::Code::kCorruption, "ParseIndex");
  if (!index.ok()) return;
  std::string_view header_bytes;
  if (!get(0, format::HeaderRegionSize(*trailer, *index), &header_bytes)) return;
  auto header = format::ParseHeader(header_bytes);
  ExpectOkOr(header.status(), Status::Code::kCorruption, "ParseHeader");
  if (!header.ok()) return;
  for (const BlockInfo& b : *index) {
    std::string_view block;
    if (!get(b.position, b.size, &block)) return;
    Status s = format::DecodeBlock(block, b, header->codec, Ignore);
    ExpectOkOr(s, Status::Code::kCorruption, "DecodeBlock");
    if (!s.ok()) return;
  }
}

void PutCrc(std::string* s, size_t at, uint32_t crc) {
  std::string v;
  format::PutFixed32(&v, crc);
  s->replace(at, 4, v);
}

// The block at `pos` (`size` bytes, header included) with its CRC recomputed.
void FixBlockCrc(std::string* s, uint64_t pos, uint64_t size) {
  if (size < format::kBlockHeaderSize || pos > s->size() || size > s->size() - pos) return;
  std::string_view v(*s);
  uint32_t crc = format::Crc32cExtend(format::Crc32c(v.substr(pos, 44)),
                                      v.substr(pos + format::kBlockHeaderSize, size - format::kBlockHeaderSize));
  PutCrc(s, pos + 44, crc);
}

// `data` with every checksum its structure lets us find recomputed
// (docs/format/segment.md): the blocks the index names, the header, then the
// index. Random mutations almost never keep a CRC32C right; without this the
// fuzzer would not get past the first check.
std::string FixChecksums(std::string_view data) {
  std::string s(data);
  const size_t n = s.size();
  uint64_t index_position = 0;
  uint64_t index_len = 0;
  bool have_index = false;
  if (n >= format::kTrailerSize) {
    const char* t = s.data() + n - format::kTrailerSize;
    index_position = format::DecodeFixed64(t);
    index_len = uint64_t{format::DecodeFixed32(t + 8)} * format::kIndexEntrySize;
    have_index = index_position <= n - format::kTrailerSize && index_len == n - format::kTrailerSize - index_position;
  }
  if (have_index) {
    for (uint64_t e = index_position; e < index_position + index_len; e += format::kIndexEntrySize) {
      FixBlockCrc(&s, format::DecodeFixed64(s.data() + e), format::DecodeFixed32(s.data() + e + 8));
    }
  }
  if (n >= 18) {
    size_t crc_at = 18 + size_t{format::DecodeFixed16(s.data() + 16)};
    if (crc_at + 4 <= n) PutCrc(&s, crc_at, format::Crc32c(std::string_view(s).substr(0, crc_at)));
  }
  if (have_index) {
    PutCrc(&s, n - format::kTrailerSize + 12, format::Crc32c(std::string_view(s).substr(index_position, index_len)));
  }
  return s;
}

// The public test key of testdata/format/test-encryption.key, so that
// mutated encrypted segments reach the decryption too.
const format::EncryptionKey& TestKey() {
  static const format::EncryptionKey key =
      *format::EncryptionKey::Parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "test key");
  return key;
}

void DecodeWhole(std::string_view data, Status* result) {
  format::SegmentHeader header;
  std::vector<Record> records;
  Status s = format::DecodeSegment(data, &header, &records);
  // An encrypted segment read without a key: the documented InvalidArgument
  // (docs/config.md, "Encryption"); then read it with the test key, where a
  // segment under another key is the documented Auth error.
  if (s.code() == Status::Code::kInvalidArgument) {
    records.clear();
    s = format::DecodeSegment(data, &header, &records, &TestKey());
    if (s.code() == Status::Code::kAuth) s = Status::Corruption("encrypted under another key");
  }
  ExpectOkOr(s, Status::Code::kCorruption, "DecodeSegment");
  if (result) *result = s;
}

// `data` as one stored block (header + payload) of each codec, its CRC fixed
// and the index entry taken from its own header, so the decompressors and the
// record decoder see arbitrary payloads.
void DecodeAsBlock(std::string_view data) {
  if (data.size() < format::kBlockHeaderSize) return;
  std::string block(data);
  FixBlockCrc(&block, 0, block.size());
  BlockInfo expected;
  expected.size = static_cast<uint32_t>(std::min<size_t>(block.size(), UINT32_MAX));
  expected.record_count = format::DecodeFixed32(block.data() + 8);
  expected.first_offset = static_cast<int64_t>(format::DecodeFixed64(block.data() + 12));
  expected.last_offset = static_cast<int64_t>(format::DecodeFixed64(block.data() + 20));
  for (Codec codec : {Codec::kNone, Codec::kZstd, Codec::kLz4}) {
    ExpectOkOr(format::DecodeBlock(block, expected, codec, Ignore), Status::Code::kCorruption, "DecodeBlock");
  }
}

template <typename T, typename Parse, typename Serialize>
void CheckRoundTrip(const char* what, const Result<T>& parsed, Parse parse, Serialize serialize) {
  if (!parsed.ok()) return;
  std::string once = serialize(*parsed);
  auto again = parse(once);
  if (!again.ok()) Broken(what, again.status());
  if (serialize(*again) != once) Broken(what, Status::Internal("serialize(parse(serialize(x))) != serialize(x)"));
}

}  // namespace

Status Segment(std::string_view data) {
  Status result;
  DecodeWhole(data, &result);
  ReadLikeCatalog(data);
  std::string fixed = FixChecksums(data);
  DecodeWhole(fixed, nullptr);
  ReadLikeCatalog(fixed);
  DecodeAsBlock(data);
  return result;
}

Status Manifest(std::string_view data) {
  auto manifest = format::ParseManifest(data);
  ExpectOkOr(manifest.status(), Status::Code::kCorruption, "ParseManifest");
  CheckRoundTrip("manifest round trip", manifest, format::ParseManifest, format::SerializeManifest);

  auto offset_map = format::ParseOffsetMap(data);
  ExpectOkOr(offset_map.status(), Status::Code::kCorruption, "ParseOffsetMap");
  CheckRoundTrip("offset map round trip", offset_map, format::ParseOffsetMap, format::SerializeOffsetMap);
  if (offset_map.ok()) {
    // What a restore and offset-reset do with the runs of a stored map.
    for (const auto& t : offset_map->topics) {
      for (const auto& p : t.partitions) {
        format::PartitionOffsetMap merged{p.source_partition, format::MergeRuns(format::TrimRuns(p.runs, INT64_MAX))};
        for (const auto& r : p.runs) {
          int64_t last = 0;
          bool has_last = r.count > 0 && !__builtin_add_overflow(r.source_offset, r.count - 1, &last);
          for (int64_t o : {int64_t{0}, r.source_offset, has_last ? last : 0, INT64_MAX}) {
            (void)format::FirstAtOrAfter(merged, o);
          }
        }
      }
    }
  }

  // A checkpoint entry, alone and as the start of a journal.
  auto checkpoint = format::ParseCheckpoint(data);
  ExpectOkOr(checkpoint.status(), Status::Code::kCorruption, "ParseCheckpoint");
  CheckRoundTrip("checkpoint round trip", checkpoint, format::ParseCheckpoint, format::SerializeCheckpoint);
  if (checkpoint.ok()) {
    auto journal = format::ReplayJournal({*checkpoint});
    ExpectOkOr(journal.status(), Status::Code::kCorruption, "ReplayJournal");
  }

  auto run_status = format::ParseRunStatus(data);
  ExpectOkOr(run_status.status(), Status::Code::kCorruption, "ParseRunStatus");
  CheckRoundTrip("run status round trip", run_status, format::ParseRunStatus, format::SerializeRunStatus);
  return manifest.status();
}

Status Config(std::string_view data) {
  auto config = ParseConfig(std::string(data), "fuzz.yaml");
  ExpectOkOr(config.status(), Status::Code::kInvalidArgument, "ParseConfig");
  if (config.ok()) (void)config->storage.Url();
  return config.status();
}

Status Progress(std::string_view data) {
  (void)restore::ParseOffsetMapPartName(data);
  if (auto v = util::ParseDecimal<int64_t>(data);
      v && (data.find_first_not_of("-0123456789") != std::string_view::npos ||
            (data.rfind('-') != std::string_view::npos && data.rfind('-') > 0))) {
    Broken("ParseDecimal accepted more than a sign and digits", Status::InvalidArgument(std::string(data)));
  }
  auto marker = restore::ParseProgressMarker(data);
  if (!marker.ok()) {
    ExpectOkOr(marker.status(), Status::Code::kCorruption, "ParseProgressMarker");
    return marker.status();
  }
  if (marker->has_value()) {
    auto again = restore::ParseProgressMarker(restore::EncodeProgressMarker(**marker));
    if (!again.ok()) Broken("an encoded progress marker does not parse", again.status());
    if (!again->has_value() || **again != **marker) {
      Broken("a progress marker does not survive a round trip", Status::Corruption(std::string(data)));
    }
  }
  return Status::Ok();
}

}  // namespace kafka_backup::fuzz
