#include "format/segment.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "format/bytes.h"
#include "format/crc32c.h"

namespace kafka_backup::format {
namespace {

void EncodeRecord(const Record& r, int64_t first_offset, int64_t prev_timestamp, std::string* dst) {
  dst->push_back(static_cast<char>(static_cast<uint8_t>(r.timestamp_type) & 0x3));
  PutVarint(dst, static_cast<uint64_t>(r.offset - first_offset));
  PutVarint(dst, ZigZag(r.timestamp - prev_timestamp));
  PutNullableBytes(dst, r.key);
  PutNullableBytes(dst, r.value);
  PutVarint(dst, r.headers.size());
  for (const auto& h : r.headers) {
    PutVarint(dst, h.name.size());
    dst->append(h.name);
    PutNullableBytes(dst, h.value);
  }
}

void EncodeBlockFields(const BlockInfo& b, uint32_t payload_len, uint32_t raw_len, std::string* dst) {
  PutFixed32(dst, payload_len);
  PutFixed32(dst, raw_len);
  PutFixed32(dst, b.record_count);
  PutFixed64(dst, static_cast<uint64_t>(b.first_offset));
  PutFixed64(dst, static_cast<uint64_t>(b.last_offset));
  PutFixed64(dst, static_cast<uint64_t>(b.min_timestamp));
  PutFixed64(dst, static_cast<uint64_t>(b.max_timestamp));
}

Status Corrupt(std::string what) {
  return Status::Corruption(std::move(what));
}

}  // namespace

SegmentWriter::SegmentWriter(std::string topic, int32_t partition, Codec codec, int level, size_t block_target_bytes)
    : codec_(codec), level_(level), block_target_bytes_(block_target_bytes) {
  out_.append(kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed16(&out_, kSegmentFormatVersion);
  out_.push_back(static_cast<char>(codec));
  out_.push_back(0);  // flags
  PutFixed32(&out_, static_cast<uint32_t>(partition));
  PutFixed16(&out_, static_cast<uint16_t>(topic.size()));
  out_.append(topic);
  PutFixed32(&out_, Crc32c(out_));
}

Status SegmentWriter::Append(const Record& record) {
  if (summary_.record_count > 0 && record.offset <= summary_.last_offset) {
    return Status::InvalidArgument(fmt::format("offset {} does not follow {}: records must be appended in offset order",
                                               record.offset, summary_.last_offset));
  }
  if (open_info_.record_count == 0) {
    open_info_ = BlockInfo{};
    open_info_.first_offset = record.offset;
    open_info_.min_timestamp = record.timestamp;
    open_info_.max_timestamp = record.timestamp;
    prev_timestamp_ = 0;
  }
  EncodeRecord(record, open_info_.first_offset, prev_timestamp_, &open_block_);
  prev_timestamp_ = record.timestamp;
  open_info_.record_count++;
  open_info_.last_offset = record.offset;
  open_info_.min_timestamp = std::min(open_info_.min_timestamp, record.timestamp);
  open_info_.max_timestamp = std::max(open_info_.max_timestamp, record.timestamp);

  if (summary_.record_count == 0) {
    summary_.first_offset = record.offset;
    summary_.min_timestamp = record.timestamp;
    summary_.max_timestamp = record.timestamp;
  }
  summary_.record_count++;
  summary_.payload_bytes += record.PayloadBytes();
  summary_.last_offset = record.offset;
  summary_.min_timestamp = std::min(summary_.min_timestamp, record.timestamp);
  summary_.max_timestamp = std::max(summary_.max_timestamp, record.timestamp);

  if (open_block_.size() >= block_target_bytes_) return FlushBlock();
  return Status::Ok();
}

Status SegmentWriter::FlushBlock() {
  if (open_info_.record_count == 0) return Status::Ok();
  if (open_block_.size() > UINT32_MAX) return Status::InvalidArgument("block larger than 4 GiB");
  std::string payload;
  KB_RETURN_IF_ERROR(Compress(codec_, level_, open_block_, &payload));
  if (payload.size() > UINT32_MAX) return Status::Internal("compressed block larger than 4 GiB");

  BlockInfo info = open_info_;
  info.position = out_.size();
  info.size = static_cast<uint32_t>(kBlockHeaderSize + payload.size());
  std::string header;
  EncodeBlockFields(info, static_cast<uint32_t>(payload.size()), static_cast<uint32_t>(open_block_.size()), &header);
  uint32_t crc = Crc32cExtend(Crc32c(header), payload);
  PutFixed32(&header, crc);
  out_.append(header);
  out_.append(payload);
  index_.push_back(info);
  open_block_.clear();
  open_info_.record_count = 0;
  return Status::Ok();
}

Result<std::string> SegmentWriter::Finish() {
  KB_RETURN_IF_ERROR(FlushBlock());
  uint64_t index_position = out_.size();
  std::string index;
  for (const auto& b : index_) {
    PutFixed64(&index, b.position);
    PutFixed32(&index, b.size);
    PutFixed32(&index, b.record_count);
    PutFixed64(&index, static_cast<uint64_t>(b.first_offset));
    PutFixed64(&index, static_cast<uint64_t>(b.last_offset));
    PutFixed64(&index, static_cast<uint64_t>(b.min_timestamp));
    PutFixed64(&index, static_cast<uint64_t>(b.max_timestamp));
  }
  out_.append(index);
  PutFixed64(&out_, index_position);
  PutFixed32(&out_, static_cast<uint32_t>(index_.size()));
  PutFixed32(&out_, Crc32c(index));
  PutFixed64(&out_, summary_.record_count);
  out_.append(kSegmentEndMagic, sizeof(kSegmentEndMagic));
  return std::move(out_);
}

Result<SegmentTrailer> ParseTrailer(std::string_view last_bytes, uint64_t object_size) {
  if (object_size < kTrailerSize || last_bytes.size() < kTrailerSize) {
    return Corrupt(
        fmt::format("object is {} bytes, too short for a segment trailer ({} bytes)", object_size, kTrailerSize));
  }
  std::string_view t = last_bytes.substr(last_bytes.size() - kTrailerSize);
  if (std::memcmp(t.data() + 24, kSegmentEndMagic, 8) != 0) {
    return Corrupt("segment trailer magic not found: the object is truncated or not a segment");
  }
  SegmentTrailer trailer;
  trailer.index_position = DecodeFixed64(t.data());
  trailer.block_count = DecodeFixed32(t.data() + 8);
  trailer.index_crc = DecodeFixed32(t.data() + 12);
  trailer.record_count = DecodeFixed64(t.data() + 16);
  uint64_t index_end = trailer.index_position + uint64_t{trailer.block_count} * kIndexEntrySize;
  if (index_end != object_size - kTrailerSize) {
    return Corrupt(fmt::format("segment index at {} with {} blocks does not end at the trailer ({})",
                               trailer.index_position, trailer.block_count, object_size - kTrailerSize));
  }
  return trailer;
}

Result<std::vector<BlockInfo>> ParseIndex(std::string_view index_bytes, const SegmentTrailer& trailer) {
  if (index_bytes.size() != uint64_t{trailer.block_count} * kIndexEntrySize) {
    return Corrupt(fmt::format("segment index is {} bytes, expected {}", index_bytes.size(),
                               trailer.block_count * kIndexEntrySize));
  }
  if (Crc32c(index_bytes) != trailer.index_crc) return Corrupt("segment index checksum mismatch");
  std::vector<BlockInfo> blocks;
  blocks.reserve(trailer.block_count);
  uint64_t expected_position = 0;
  for (uint32_t i = 0; i < trailer.block_count; ++i) {
    const char* p = index_bytes.data() + size_t{i} * kIndexEntrySize;
    BlockInfo b;
    b.position = DecodeFixed64(p);
    b.size = DecodeFixed32(p + 8);
    b.record_count = DecodeFixed32(p + 12);
    b.first_offset = static_cast<int64_t>(DecodeFixed64(p + 16));
    b.last_offset = static_cast<int64_t>(DecodeFixed64(p + 24));
    b.min_timestamp = static_cast<int64_t>(DecodeFixed64(p + 32));
    b.max_timestamp = static_cast<int64_t>(DecodeFixed64(p + 40));
    if (b.size < kBlockHeaderSize || b.record_count == 0 || b.last_offset < b.first_offset ||
        (i > 0 && b.position != expected_position) || b.position + b.size > trailer.index_position) {
      return Corrupt(fmt::format("segment index entry {} is inconsistent", i));
    }
    expected_position = b.position + b.size;
    blocks.push_back(b);
  }
  if (!blocks.empty() && blocks.back().position + blocks.back().size != trailer.index_position) {
    return Corrupt("segment blocks do not end where the index starts");
  }
  return blocks;
}

Result<SegmentHeader> ParseHeader(std::string_view bytes) {
  ByteReader in(bytes);
  std::string_view magic;
  if (!in.ReadBytes(8, &magic) || std::memcmp(magic.data(), kSegmentMagic, 8) != 0) {
    return Corrupt("segment header magic not found: not a kafka-backup segment");
  }
  SegmentHeader h;
  uint8_t codec = 0;
  uint8_t flags = 0;
  uint32_t partition = 0;
  uint16_t topic_len = 0;
  std::string_view topic;
  if (!in.ReadFixed16(&h.version) || !in.ReadU8(&codec) || !in.ReadU8(&flags) || !in.ReadFixed32(&partition) ||
      !in.ReadFixed16(&topic_len) || !in.ReadBytes(topic_len, &topic)) {
    return Corrupt("segment header is truncated");
  }
  if (h.version != kSegmentFormatVersion) {
    return Corrupt(
        fmt::format("segment format version {} is not supported (this build reads version {}); "
                    "use a newer kafka-backup",
                    h.version, kSegmentFormatVersion));
  }
  uint32_t stored_crc = 0;
  size_t covered = bytes.size() - in.remaining();
  if (!in.ReadFixed32(&stored_crc)) return Corrupt("segment header is truncated");
  if (Crc32c(bytes.substr(0, covered)) != stored_crc) return Corrupt("segment header checksum mismatch");
  if (codec > static_cast<uint8_t>(Codec::kLz4)) return Corrupt(fmt::format("unknown codec id {}", codec));
  if (flags != 0) return Corrupt(fmt::format("unknown segment flags 0x{:02x}", flags));
  h.codec = static_cast<Codec>(codec);
  h.partition = static_cast<int32_t>(partition);
  h.topic = std::string(topic);
  return h;
}

uint64_t HeaderRegionSize(const SegmentTrailer& trailer, const std::vector<BlockInfo>& index) {
  return index.empty() ? trailer.index_position : index.front().position;
}

Status DecodeBlock(std::string_view bytes, const BlockInfo& expected, Codec codec,
                   const std::function<Status(Record&&)>& sink) {
  if (bytes.size() != expected.size || bytes.size() < kBlockHeaderSize) {
    return Corrupt(fmt::format("block is {} bytes, the index says {}", bytes.size(), expected.size));
  }
  const char* p = bytes.data();
  uint32_t payload_len = DecodeFixed32(p);
  uint32_t raw_len = DecodeFixed32(p + 4);
  BlockInfo stored;
  stored.record_count = DecodeFixed32(p + 8);
  stored.first_offset = static_cast<int64_t>(DecodeFixed64(p + 12));
  stored.last_offset = static_cast<int64_t>(DecodeFixed64(p + 20));
  stored.min_timestamp = static_cast<int64_t>(DecodeFixed64(p + 28));
  stored.max_timestamp = static_cast<int64_t>(DecodeFixed64(p + 36));
  uint32_t stored_crc = DecodeFixed32(p + 44);
  if (kBlockHeaderSize + payload_len != bytes.size()) {
    return Corrupt(fmt::format("block payload length {} does not match its size {}", payload_len, bytes.size()));
  }
  std::string_view payload = bytes.substr(kBlockHeaderSize);
  uint32_t crc = Crc32cExtend(Crc32c(bytes.substr(0, 44)), payload);
  if (crc != stored_crc) {
    return Corrupt(fmt::format("block checksum mismatch (stored {:08x}, computed {:08x})", stored_crc, crc));
  }
  if (stored.record_count != expected.record_count || stored.first_offset != expected.first_offset ||
      stored.last_offset != expected.last_offset) {
    return Corrupt("block header disagrees with the segment index");
  }
  std::string raw;
  KB_RETURN_IF_ERROR(Decompress(codec, payload, raw_len, &raw));

  ByteReader in(raw);
  int64_t prev_timestamp = 0;
  int64_t prev_offset = -1;
  for (uint32_t i = 0; i < stored.record_count; ++i) {
    Record r;
    uint8_t attributes = 0;
    uint64_t offset_delta = 0;
    uint64_t ts_delta = 0;
    uint64_t header_count = 0;
    if (!in.ReadU8(&attributes) || !in.ReadVarint(&offset_delta) || !in.ReadVarint(&ts_delta) ||
        !in.ReadNullableBytes(&r.key) || !in.ReadNullableBytes(&r.value) || !in.ReadVarint(&header_count)) {
      return Corrupt(fmt::format("record {} of the block is truncated", i));
    }
    if ((attributes & ~0x3) != 0 || (attributes & 0x3) == 0x3) {
      return Corrupt(fmt::format("record {} has unknown attributes 0x{:02x}", i, attributes));
    }
    r.timestamp_type = static_cast<TimestampType>(attributes & 0x3);
    r.offset = stored.first_offset + static_cast<int64_t>(offset_delta);
    r.timestamp = prev_timestamp + UnZigZag(ts_delta);
    prev_timestamp = r.timestamp;
    if (r.offset <= prev_offset || r.offset > stored.last_offset) {
      return Corrupt(fmt::format("record {} has offset {} outside the block's order or range", i, r.offset));
    }
    prev_offset = r.offset;
    if (header_count > in.remaining()) return Corrupt(fmt::format("record {} header count is implausible", i));
    r.headers.reserve(header_count);
    for (uint64_t h = 0; h < header_count; ++h) {
      uint64_t name_len = 0;
      std::string_view name;
      RecordHeader header;
      if (!in.ReadVarint(&name_len) || !in.ReadBytes(name_len, &name) || !in.ReadNullableBytes(&header.value)) {
        return Corrupt(fmt::format("record {} header {} is truncated", i, h));
      }
      header.name = std::string(name);
      r.headers.push_back(std::move(header));
    }
    KB_RETURN_IF_ERROR(sink(std::move(r)));
  }
  if (prev_offset != stored.last_offset) return Corrupt("block's last record does not have the block's last offset");
  if (in.remaining() != 0) return Corrupt(fmt::format("{} bytes left over after the block's records", in.remaining()));
  return Status::Ok();
}

Status DecodeSegment(std::string_view bytes, SegmentHeader* header, std::vector<Record>* records) {
  KB_ASSIGN_OR_RETURN(SegmentTrailer trailer, ParseTrailer(bytes, bytes.size()));
  KB_ASSIGN_OR_RETURN(
      std::vector<BlockInfo> index,
      ParseIndex(bytes.substr(trailer.index_position, size_t{trailer.block_count} * kIndexEntrySize), trailer));
  KB_ASSIGN_OR_RETURN(*header, ParseHeader(bytes.substr(0, HeaderRegionSize(trailer, index))));
  uint64_t total = 0;
  for (const auto& b : index) {
    Status s = DecodeBlock(bytes.substr(b.position, b.size), b, header->codec, [&](Record&& r) {
      records->push_back(std::move(r));
      return Status::Ok();
    });
    if (!s.ok()) return s.WithContext(fmt::format("block at byte {} (first offset {})", b.position, b.first_offset));
    total += b.record_count;
  }
  if (total != trailer.record_count) {
    return Corrupt(fmt::format("segment holds {} records, its trailer says {}", total, trailer.record_count));
  }
  return Status::Ok();
}

}  // namespace kafka_backup::format
