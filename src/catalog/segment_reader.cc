// catalog/segment_reader.h: one read of one segment, trailer and index
// first, then the wanted blocks; or, when those cannot be read, block by block
// from its start.
#include "catalog/segment_reader.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "util/crypto.h"

namespace kafka_backup::catalog {
namespace {

// The last bytes of a segment read first: the trailer, and usually the index.
constexpr uint64_t kTailReadBytes = uint64_t{64} * 1024;

}  // namespace

bool RecordFilter::BlockMayMatch(const format::BlockInfo& b) const {
  if (min_offset && b.last_offset < *min_offset) return false;
  if (max_offset && b.first_offset > *max_offset) return false;
  if (min_timestamp && b.max_timestamp < *min_timestamp) return false;
  if (max_timestamp && b.min_timestamp > *max_timestamp) return false;
  return true;
}

bool RecordFilter::Matches(const format::RecordView& r) const {
  if (min_offset && r.offset < *min_offset) return false;
  if (max_offset && r.offset > *max_offset) return false;
  if (min_timestamp && r.timestamp < *min_timestamp) return false;
  if (max_timestamp && r.timestamp > *max_timestamp) return false;
  return true;
}

namespace {

// One read of one segment (ReadSegment).
class SegmentReader {
 public:
  SegmentReader(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                const RecordViewSink& sink, ReadStats& stats, const DamageHandler& on_damage,
                const format::EncryptionKey* key, uint64_t max_ranged_read)
      : store_(store),
        ref_(ref),
        filter_(filter),
        sink_(sink),
        st_(stats),
        on_damage_(on_damage),
        key_(key),
        max_ranged_read_(max_ranged_read) {}
  ~SegmentReader() { util::Cleanse(&data_key_); }

  Status Read();

 private:
  std::string Where(const std::string& detail) const {
    return fmt::format("segment {}/{}{}", store_.Url(), ref_.key, detail);
  }
  static std::string BlockWhere(const format::BlockInfo& b) {
    return fmt::format(", block at byte {} (offsets {}..{})", b.position, b.first_offset, b.last_offset);
  }
  // Reports damage to the handler or, without one, returns it.
  Status Damage(const SegmentDamage& d) { return on_damage_ ? on_damage_(d) : d.status; }
  // The whole segment is unreadable.
  Status Lost(Status why, uint64_t position = 0) {
    return Damage({std::move(why), position, ref_.first_offset, ref_.last_offset, ref_.record_count});
  }
  // The trailer or index cannot be read (`why`): without a handler that is
  // the error; with one, the blocks are read in order from the start.
  Status Unreadable(const Status& why) { return on_damage_ ? Scan(why) : why; }
  Status Scan(const Status& trailer_error);
  // The steps of Read. Each returns nothing to go on, or the status the read
  // ends with (an error, or OK when a handler took the damage).
  std::optional<Status> ReadIndex(format::SegmentTrailer* trailer, std::vector<format::BlockInfo>* index);
  std::optional<Status> ReadHeader(const format::SegmentTrailer& trailer, const std::vector<format::BlockInfo>& index,
                                   format::SegmentHeader* header);
  std::optional<Status> CheckCounts(const format::SegmentTrailer& trailer, const std::vector<format::BlockInfo>& index);
  // Reads runs of adjacent wanted blocks with one ranged GET each.
  Status ReadBlocks(const std::vector<format::BlockInfo>& blocks, format::Codec codec);
  // The steps of Scan: why the segment is scanned (its size, when that is
  // wrong, says more than `trailer_error`), its header, and the walk over
  // its blocks from the start.
  std::optional<Status> ScanReason(const Status& trailer_error, Status* why);
  std::optional<Status> ScanHeader(const Status& why, format::SegmentHeader* header);
  Status WalkBlocks(const Status& why, const format::SegmentHeader& header);
  // Bytes [offset, offset + length) of the object as Scan walks it: from a
  // window of it, refilled as the walk leaves it.
  Result<std::string_view> View(uint64_t offset, uint64_t length);
  // Bytes [offset, offset + length), served from the tail already fetched
  // when they lie in it. Corruption if the object holds fewer.
  Result<std::string> Fetch(uint64_t offset, uint64_t length);
  // Unwraps the data key of an encrypted segment (`header`). A key that is
  // missing or not the segment's is returned; a wrapped key that fails its
  // tag loses the whole segment.
  Status UseHeader(const format::SegmentHeader& header);
  // Checks and decodes one block into decoder_; Corruption naming it when it
  // fails.
  Status Decode(std::string_view bytes, const format::BlockInfo& b, format::Codec codec);
  // Passes the records of the block decoded last that match the filter to
  // the sink.
  Status Deliver(const format::BlockInfo& b);

  storage::ObjectStore& store_;
  const format::SegmentRef& ref_;
  const RecordFilter& filter_;
  const RecordViewSink& sink_;
  ReadStats& st_;
  const DamageHandler& on_damage_;
  const format::EncryptionKey* key_;
  const uint64_t max_ranged_read_;
  std::string data_key_;  // an encrypted segment's, once its header is read
  format::BlockDecoder decoder_;
  std::string tail_;
  uint64_t tail_start_ = 0;
  // Scan's: the object's size as the store has it, and the window it reads.
  uint64_t scan_limit_ = 0;
  std::string window_;
  uint64_t window_start_ = 0;
};

Result<std::string> SegmentReader::Fetch(uint64_t offset, uint64_t length) {
  if (offset >= tail_start_ && offset + length <= tail_start_ + tail_.size()) {
    return tail_.substr(offset - tail_start_, length);
  }
  auto bytes = store_.Get(ref_.key, storage::ByteRange{offset, length});
  if (!bytes.ok()) return bytes.status().WithContext(Where(""));
  st_.bytes_fetched += bytes->size();
  if (bytes->size() != length) {
    return Status::Corruption(
        Where(fmt::format(": read {} bytes at byte {}, expected {}: the object is shorter than "
                          "the {} bytes the manifest records",
                          bytes->size(), offset, length, ref_.size)));
  }
  return bytes;
}

Status SegmentReader::Decode(std::string_view bytes, const format::BlockInfo& b, format::Codec codec) {
  Status s = decoder_.Decode(bytes, b, codec, data_key_);
  return s.ok() ? s : s.WithContext(Where(BlockWhere(b)));
}

Status SegmentReader::UseHeader(const format::SegmentHeader& header) {
  auto data_key = format::SegmentDataKey(header, key_);
  if (!data_key.ok()) {
    if (data_key.status().code() != Status::Code::kCorruption) return data_key.status().WithContext(Where(""));
    return Lost(Status::Corruption(
        Where(fmt::format(": {}; no block can be decoded without it", data_key.status().message()))));
  }
  data_key_ = std::move(*data_key);
  return Status::Ok();
}

Status SegmentReader::Deliver(const format::BlockInfo& b) {
  const std::shared_ptr<const format::DecodedBlock> block = decoder_.Hold();
  for (const auto& r : decoder_.records()) {
    if (!filter_.Matches(r)) continue;
    Status s = sink_(r, block);
    if (!s.ok()) return s.code() == Status::Code::kCorruption ? s.WithContext(Where(BlockWhere(b))) : s;
  }
  ++st_.blocks_read;
  return Status::Ok();
}

std::optional<Status> SegmentReader::ReadIndex(format::SegmentTrailer* trailer, std::vector<format::BlockInfo>* index) {
  uint64_t tail_len = std::min(ref_.size, kTailReadBytes);
  tail_start_ = ref_.size - tail_len;
  auto tail = Fetch(tail_start_, tail_len);
  if (!tail.ok()) {
    if (tail.status().code() == Status::Code::kNotFound) {
      return Lost(Status::Corruption(Where(" is missing: the manifest names it but the store does not have it")));
    }
    if (tail.status().code() != Status::Code::kCorruption) return tail.status();
    return Unreadable(tail.status());
  }
  tail_ = std::move(*tail);
  auto parsed_trailer = format::ParseTrailer(tail_, ref_.size);
  if (!parsed_trailer.ok()) return Unreadable(parsed_trailer.status().WithContext(Where("")));
  *trailer = *parsed_trailer;
  uint64_t index_len = uint64_t{trailer->block_count} * format::kIndexEntrySize;
  auto index_bytes = Fetch(trailer->index_position, index_len);
  if (!index_bytes.ok()) {
    if (index_bytes.status().code() != Status::Code::kCorruption) return index_bytes.status();
    return Unreadable(index_bytes.status());
  }
  auto parsed_index = format::ParseIndex(*index_bytes, *trailer);
  if (!parsed_index.ok()) return Unreadable(parsed_index.status().WithContext(Where("")));
  *index = std::move(*parsed_index);
  return std::nullopt;
}

std::optional<Status> SegmentReader::ReadHeader(const format::SegmentTrailer& trailer,
                                                const std::vector<format::BlockInfo>& index,
                                                format::SegmentHeader* header) {
  auto header_bytes = Fetch(0, format::HeaderRegionSize(trailer, index));
  if (!header_bytes.ok()) {
    if (header_bytes.status().code() != Status::Code::kCorruption) return header_bytes.status();
    return Lost(header_bytes.status());
  }
  // Without the header the codec is unknown: no block can be decoded.
  auto parsed = format::ParseHeader(*header_bytes);
  if (!parsed.ok()) {
    return Lost(
        Status::Corruption(Where(fmt::format(": {}; no block can be decoded without it", parsed.status().message()))));
  }
  *header = std::move(*parsed);
  if (header->encrypted) {
    Status keyed = UseHeader(*header);
    if (!keyed.ok() || data_key_.empty()) return keyed;  // empty: the segment was reported lost
  }
  return std::nullopt;
}

std::optional<Status> SegmentReader::CheckCounts(const format::SegmentTrailer& trailer,
                                                 const std::vector<format::BlockInfo>& index) {
  uint64_t total = 0;
  for (const auto& b : index) total += b.record_count;
  if (total != ref_.record_count) {
    // Not the segment the manifest describes: none of it can be trusted.
    return Lost(Status::Corruption(
        Where(fmt::format(": its index holds {} records, the manifest says {}", total, ref_.record_count))));
  }
  if (total != trailer.record_count) {
    // The trailer's count is covered by no checksum; index and manifest agree.
    Status s =
        Damage({Status::Corruption(Where(fmt::format(": its trailer says {} records, its index and the manifest {}",
                                                     trailer.record_count, total))),
                ref_.size - format::kTrailerSize, 0, -1, 0});
    if (!s.ok()) return s;
  }
  return std::nullopt;
}

Status SegmentReader::ReadBlocks(const std::vector<format::BlockInfo>& blocks, format::Codec codec) {
  size_t i = 0;
  while (i < blocks.size()) {
    if (!filter_.BlockMayMatch(blocks[i])) {
      ++st_.blocks_skipped;
      ++i;
      continue;
    }
    size_t j = i;
    uint64_t run_len = blocks[i].size;
    while (j + 1 < blocks.size() && filter_.BlockMayMatch(blocks[j + 1]) &&
           run_len + blocks[j + 1].size <= max_ranged_read_) {
      ++j;
      run_len += blocks[j].size;
    }
    auto run = Fetch(blocks[i].position, run_len);
    if (!run.ok()) {
      if (run.status().code() != Status::Code::kCorruption) return run.status();
      uint64_t lost = 0;
      for (size_t k = i; k <= j; ++k) lost += blocks[k].record_count;
      KB_RETURN_IF_ERROR(
          Damage({run.status(), blocks[i].position, blocks[i].first_offset, blocks[j].last_offset, lost}));
      i = j + 1;
      continue;
    }
    for (size_t k = i; k <= j; ++k) {
      const auto& b = blocks[k];
      std::string_view bytes = std::string_view(*run).substr(b.position - blocks[i].position, b.size);
      Status s = Decode(bytes, b, codec);
      if (!s.ok()) {
        if (s.code() != Status::Code::kCorruption) return s;
        KB_RETURN_IF_ERROR(Damage({s, b.position, b.first_offset, b.last_offset, b.record_count}));
        continue;
      }
      KB_RETURN_IF_ERROR(Deliver(b));
    }
    i = j + 1;
  }
  return Status::Ok();
}

Status SegmentReader::Read() {
  format::SegmentTrailer trailer;
  std::vector<format::BlockInfo> index;
  if (std::optional<Status> end = ReadIndex(&trailer, &index)) return *end;
  format::SegmentHeader header;
  if (std::optional<Status> end = ReadHeader(trailer, index, &header)) return *end;
  if (std::optional<Status> end = CheckCounts(trailer, index)) return *end;
  return ReadBlocks(index, header.codec);
}

Result<std::string_view> SegmentReader::View(uint64_t offset, uint64_t length) {
  if (offset < window_start_ || offset + length > window_start_ + window_.size()) {
    uint64_t want = std::min(std::max(length, max_ranged_read_), scan_limit_ - offset);
    tail_.clear();  // Fetch must not serve from the tail: its positions assume the manifest's size
    tail_start_ = 0;
    KB_ASSIGN_OR_RETURN(window_, Fetch(offset, want));
    window_start_ = offset;
  }
  return std::string_view(window_).substr(offset - window_start_, length);
}

std::optional<Status> SegmentReader::ScanReason(const Status& trailer_error, Status* why) {
  auto head = store_.Head(ref_.key);
  if (!head.ok()) {
    if (head.status().code() == Status::Code::kNotFound) {
      return Lost(Status::Corruption(Where(" is missing: the manifest names it but the store does not have it")));
    }
    return head.status().WithContext(Where(""));
  }
  scan_limit_ = head->size;
  // A size other than the recorded one says more than what it broke.
  *why = scan_limit_ == ref_.size
             ? trailer_error
             : Status::Corruption(Where(fmt::format(" is {} bytes, the manifest records {}: truncated or overwritten",
                                                    scan_limit_, ref_.size)));
  return std::nullopt;
}

std::optional<Status> SegmentReader::ScanHeader(const Status& why, format::SegmentHeader* header) {
  std::string_view first;
  if (scan_limit_ > 0) {
    auto v = View(0, std::min<uint64_t>(scan_limit_, max_ranged_read_));
    if (!v.ok()) {
      if (v.status().code() != Status::Code::kCorruption) return v.status();
      return Lost(Status::Corruption(
          fmt::format("{}; reading it from the start failed too: {}", why.message(), v.status().message())));
    }
    first = *v;
  }
  auto parsed = format::ParseHeader(first);
  if (!parsed.ok()) {
    return Lost(Status::Corruption(fmt::format("{}; its header cannot be read either ({}): no block can be decoded",
                                               why.message(), parsed.status().message())));
  }
  *header = std::move(*parsed);
  if (header->encrypted) {
    Status keyed = UseHeader(*header);
    if (!keyed.ok() || data_key_.empty()) return keyed;
  }
  return std::nullopt;
}

Status SegmentReader::WalkBlocks(const Status& why, const format::SegmentHeader& header) {
  // Each block header gives the next one's position, and a block counts only
  // if it passes its checks and follows the previous one.
  const uint64_t limit = scan_limit_;
  uint64_t pos = format::EncodedHeaderSize(header);
  int64_t prev_last = ref_.first_offset - 1;
  uint64_t recovered = 0;
  std::string stop;
  while (true) {
    if (pos + format::kBlockHeaderSize > limit) {
      stop = fmt::format("the object ends at byte {}", limit);
      break;
    }
    auto bh = View(pos, format::kBlockHeaderSize);
    if (!bh.ok()) {
      if (bh.status().code() != Status::Code::kCorruption) return bh.status();
      stop = bh.status().message();
      break;
    }
    format::BlockInfo b = format::ParseBlockHeader(*bh);
    b.position = pos;
    if (pos + b.size > limit) {
      stop = fmt::format("the block at byte {} would end at byte {}, past the object's end ({})", pos, pos + b.size,
                         limit);
      break;
    }
    if (b.record_count == 0 || b.first_offset <= prev_last || b.last_offset < b.first_offset ||
        b.last_offset > ref_.last_offset) {
      stop = fmt::format("the bytes at {} are not a block following offset {}", pos, prev_last);
      break;
    }
    auto bytes = View(pos, b.size);
    if (!bytes.ok()) {
      if (bytes.status().code() != Status::Code::kCorruption) return bytes.status();
      stop = bytes.status().message();
      break;
    }
    Status s = Decode(*bytes, b, header.codec);
    if (!s.ok()) {
      if (s.code() != Status::Code::kCorruption) return s;
      stop = s.message();
      break;
    }
    KB_RETURN_IF_ERROR(Deliver(b));
    recovered += b.record_count;
    prev_last = b.last_offset;
    pos += b.size;
  }
  if (prev_last >= ref_.last_offset && recovered >= ref_.record_count) {
    return Damage({Status::Corruption(fmt::format("{}; every block was read from the start instead", why.message())),
                   pos, 0, -1, 0});
  }
  uint64_t lost = ref_.record_count > recovered ? ref_.record_count - recovered : 0;
  return Damage({Status::Corruption(fmt::format(
                     "{}; read block by block from the start instead: offsets {}..{} ({} records) cannot be read, "
                     "from byte {} on ({})",
                     why.message(), prev_last + 1, ref_.last_offset, lost, pos, stop)),
                 pos, prev_last + 1, ref_.last_offset, lost});
}

Status SegmentReader::Scan(const Status& trailer_error) {
  Status why;
  if (std::optional<Status> end = ScanReason(trailer_error, &why)) return *end;
  format::SegmentHeader header;
  if (std::optional<Status> end = ScanHeader(why, &header)) return *end;
  return WalkBlocks(why, header);
}

}  // namespace

Status ReadSegmentViews(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                        const RecordViewSink& sink, ReadStats* stats, const DamageHandler& on_damage,
                        const format::EncryptionKey* key, uint64_t max_ranged_read) {
  ReadStats local;
  SegmentReader reader(store, ref, filter, sink, stats ? *stats : local, on_damage, key, max_ranged_read);
  return reader.Read();
}

Status ReadSegment(storage::ObjectStore& store, const format::SegmentRef& ref, const RecordFilter& filter,
                   const std::function<Status(format::Record&&)>& sink, ReadStats* stats,
                   const DamageHandler& on_damage, const format::EncryptionKey* key, uint64_t max_ranged_read) {
  return ReadSegmentViews(
      store, ref, filter, [&](const format::RecordView& r, const auto&) { return sink(r.ToRecord()); }, stats,
      on_damage, key, max_ranged_read);
}

}  // namespace kafka_backup::catalog
