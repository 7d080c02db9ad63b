#include "format/segment.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "format/bytes.h"
#include "format/crc32c.h"
#include "util/crypto.h"

namespace kafka_backup::format {
namespace {

// Timestamp deltas are taken modulo 2^64 (docs/format/segment.md, "Record"):
// any two int64 timestamps have one, and neither side can overflow.
int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// R is Record or RecordView: the same fields, owned or read in place.
template <typename R>
void EncodeRecord(const R& r, int64_t first_offset, int64_t prev_timestamp, std::string* dst) {
  dst->push_back(static_cast<char>(static_cast<uint8_t>(r.timestamp_type) & 0x3));
  PutVarint(dst, static_cast<uint64_t>(r.offset - first_offset));
  PutVarint(dst, ZigZag(WrappingSub(r.timestamp, prev_timestamp)));
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

// What a block's GCM tag authenticates besides its payload: the block header
// up to its CRC, then the block's position in the object.
std::string BlockAad(std::string_view header_fields, uint64_t position) {
  std::string aad(header_fields.substr(0, kBlockHeaderSize - 4));
  PutFixed64(&aad, position);
  return aad;
}

}  // namespace

template <typename R>
void BlockBuilder::AppendRecord(const R& record) {
  BlockInfo& info = block_.info;
  if (info.record_count == 0) {
    // A block as large as the one before is likely: room for it up front
    // (plus a quarter, as a block ends past its target by up to a record)
    // spares the copies of growing the buffer by doubling. Sized by the last
    // block, so partitions that fill small blocks hold no large buffers.
    block_.bytes.reserve(last_size_ + last_size_ / 4);
    info = BlockInfo{};
    info.first_offset = record.offset;
    info.min_timestamp = record.timestamp;
    info.max_timestamp = record.timestamp;
    prev_timestamp_ = 0;
  }
  EncodeRecord(record, info.first_offset, prev_timestamp_, &block_.bytes);
  prev_timestamp_ = record.timestamp;
  info.record_count++;
  info.last_offset = record.offset;
  info.min_timestamp = std::min(info.min_timestamp, record.timestamp);
  info.max_timestamp = std::max(info.max_timestamp, record.timestamp);
}

void EncodeRecordAlone(const Record& record, std::string* dst) {
  EncodeRecord(record, record.offset, 0, dst);
}

void EncodeRecordAlone(const RecordView& record, std::string* dst) {
  EncodeRecord(record, record.offset, 0, dst);
}

void BlockBuilder::Append(const Record& record) {
  AppendRecord(record);
}

void BlockBuilder::Append(const RecordView& record) {
  AppendRecord(record);
}

RawBlock BlockBuilder::Take() {
  last_size_ = block_.bytes.size();
  RawBlock out = std::move(block_);
  block_ = RawBlock{};
  return out;
}

SegmentEncoder::SegmentEncoder(const std::string& topic, int32_t partition, Codec codec, int level,
                               const EncryptionKey* key)
    : codec_(codec), level_(level) {
  header_.append(kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed16(&header_, key ? kEncryptedSegmentFormatVersion : kSegmentFormatVersion);
  header_.push_back(static_cast<char>(codec));
  header_.push_back(static_cast<char>(key ? kSegmentFlagEncrypted : 0));  // flags
  PutFixed32(&header_, static_cast<uint32_t>(partition));
  PutFixed16(&header_, static_cast<uint16_t>(topic.size()));
  header_.append(topic);
  if (key) {
    header_.append(key->id_bytes());
    if (!util::RandomBytes(kKeySize, &data_key_) || !util::RandomBytes(kNoncePrefixSize, &nonce_prefix_)) {
      init_ = Status::Internal("the random number generator failed");
    } else {
      // The wrap authenticates every header byte before it.
      init_ = WrapDataKey(*key, data_key_, std::string(header_), &header_);
    }
  }
  PutFixed32(&header_, Crc32c(header_));
  size_ = header_.size();
}

SegmentEncoder::~SegmentEncoder() {
  util::Cleanse(&data_key_);
}

Result<std::string> SegmentEncoder::EncodeBlock(const RawBlock& block) {
  KB_RETURN_IF_ERROR(init_);
  if (block.info.record_count == 0) return Status::Internal("empty block");
  if (block.bytes.size() > UINT32_MAX) return Status::InvalidArgument("block larger than 4 GiB");
  std::string out(kBlockHeaderSize, '\0');  // the header, filled in below
  std::string compressed;                   // when encrypting: the plaintext
  KB_RETURN_IF_ERROR(Compress(codec_, level_, block.bytes, data_key_.empty() ? &out : &compressed));
  size_t payload_size =
      data_key_.empty() ? out.size() - kBlockHeaderSize : compressed.size() + kBlockEncryptionOverhead;
  if (payload_size > UINT32_MAX) return Status::Internal("compressed block larger than 4 GiB");

  BlockInfo info = block.info;
  info.position = size_;
  info.size = static_cast<uint32_t>(kBlockHeaderSize + payload_size);
  std::string header;
  EncodeBlockFields(info, static_cast<uint32_t>(payload_size), static_cast<uint32_t>(block.bytes.size()), &header);
  if (!data_key_.empty()) {
    // Compressed, then encrypted: nonce | ciphertext | tag.
    std::string nonce = nonce_prefix_;
    PutFixed64(&nonce, block_sequence_++);
    out.append(nonce);
    if (!util::AesGcmEncrypt(data_key_, nonce, BlockAad(header, info.position), compressed, &out)) {
      return Status::Internal("AES-256-GCM encryption failed (OpenSSL)");
    }
  }
  PutFixed32(&header, Crc32cExtend(Crc32c(header), std::string_view(out).substr(kBlockHeaderSize)));
  std::memcpy(out.data(), header.data(), kBlockHeaderSize);
  index_.push_back(info);
  size_ += out.size();
  return out;
}

std::string SegmentEncoder::Tail(uint64_t record_count) const {
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
  std::string out = index;
  PutFixed64(&out, size_);  // the index starts where the blocks end
  PutFixed32(&out, static_cast<uint32_t>(index_.size()));
  PutFixed32(&out, Crc32c(index));
  PutFixed64(&out, record_count);
  out.append(kSegmentEndMagic, sizeof(kSegmentEndMagic));
  return out;
}

namespace {

template <typename R>
void AddRecordToSummary(const R& record, SegmentSummary* summary) {
  if (summary->record_count == 0) {
    summary->first_offset = record.offset;
    summary->min_timestamp = record.timestamp;
    summary->max_timestamp = record.timestamp;
  }
  summary->record_count++;
  summary->payload_bytes += record.PayloadBytes();
  summary->last_offset = record.offset;
  summary->min_timestamp = std::min(summary->min_timestamp, record.timestamp);
  summary->max_timestamp = std::max(summary->max_timestamp, record.timestamp);
}

}  // namespace

void AddToSummary(const Record& record, SegmentSummary* summary) {
  AddRecordToSummary(record, summary);
}

void AddToSummary(const RecordView& record, SegmentSummary* summary) {
  AddRecordToSummary(record, summary);
}

SegmentWriter::SegmentWriter(const std::string& topic, int32_t partition, Codec codec, int level,
                             size_t block_target_bytes, const EncryptionKey* key)
    : block_target_bytes_(block_target_bytes), encoder_(topic, partition, codec, level, key), out_(encoder_.header()) {}

Status SegmentWriter::Append(const Record& record) {
  if (summary_.record_count > 0 && record.offset <= summary_.last_offset) {
    return Status::InvalidArgument(fmt::format("offset {} does not follow {}: records must be appended in offset order",
                                               record.offset, summary_.last_offset));
  }
  builder_.Append(record);
  AddToSummary(record, &summary_);
  if (builder_.size() >= block_target_bytes_) return FlushBlock();
  return Status::Ok();
}

Status SegmentWriter::FlushBlock() {
  if (builder_.empty()) return Status::Ok();
  KB_ASSIGN_OR_RETURN(std::string stored, encoder_.EncodeBlock(builder_.Take()));
  out_.append(stored);
  return Status::Ok();
}

Result<std::string> SegmentWriter::Finish() {
  KB_RETURN_IF_ERROR(FlushBlock());
  out_.append(encoder_.Tail(summary_.record_count));
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
  // The index fills [index_position, object_size - kTrailerSize) exactly
  // (written so that no sum can wrap around).
  const uint64_t index_end = object_size - kTrailerSize;
  if (trailer.index_position > index_end ||
      uint64_t{trailer.block_count} * kIndexEntrySize != index_end - trailer.index_position) {
    return Corrupt(fmt::format("segment index at {} with {} blocks does not end at the trailer ({})",
                               trailer.index_position, trailer.block_count, index_end));
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
        (i > 0 && b.position != expected_position) || b.position > trailer.index_position ||
        b.size > trailer.index_position - b.position) {
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
  if (h.version != kSegmentFormatVersion && h.version != kEncryptedSegmentFormatVersion) {
    return Corrupt(fmt::format(
        "segment format version {} is not supported (this build reads version {}, and version {} for encrypted "
        "segments); "
        "use a newer kafka-backup",
        h.version, kSegmentFormatVersion, kEncryptedSegmentFormatVersion));
  }
  h.encrypted = h.version == kEncryptedSegmentFormatVersion;
  std::string_view key_id;
  std::string_view wrapped_key;
  size_t wrap_aad_size = 0;
  if (h.encrypted) {
    wrap_aad_size = bytes.size() - in.remaining() + kKeyIdSize;
    if (!in.ReadBytes(kKeyIdSize, &key_id) || !in.ReadBytes(kWrappedKeySize, &wrapped_key)) {
      return Corrupt("segment header is truncated");
    }
  }
  uint32_t stored_crc = 0;
  size_t covered = bytes.size() - in.remaining();
  if (!in.ReadFixed32(&stored_crc)) return Corrupt("segment header is truncated");
  if (Crc32c(bytes.substr(0, covered)) != stored_crc) return Corrupt("segment header checksum mismatch");
  if (codec > static_cast<uint8_t>(Codec::kLz4)) return Corrupt(fmt::format("unknown codec id {}", codec));
  const uint8_t expected_flags = h.encrypted ? kSegmentFlagEncrypted : 0;
  if (flags != expected_flags) {
    return Corrupt(fmt::format("unknown segment flags 0x{:02x} for format version {}", flags, h.version));
  }
  if (h.encrypted) {
    h.key_id = std::string(key_id);
    h.wrapped_key = std::string(wrapped_key);
    h.wrap_aad = std::string(bytes.substr(0, wrap_aad_size));
  }
  h.codec = static_cast<Codec>(codec);
  h.partition = static_cast<int32_t>(partition);
  h.topic = std::string(topic);
  return h;
}

uint64_t EncodedHeaderSize(const SegmentHeader& header) {
  return sizeof(kSegmentMagic) + 2 + 1 + 1 + 4 + 2 + header.topic.size() +
         (header.encrypted ? kEncryptionHeaderSize : 0) + 4;
}

Result<std::string> SegmentDataKey(const SegmentHeader& header, const EncryptionKey* key) {
  if (!header.encrypted) return std::string();
  const std::string id = KeyIdHex(header.key_id);
  if (!key) {
    return Status::InvalidArgument(
        fmt::format("the segment is encrypted (key id {}): give its key with --encryption-key-file or "
                    "encryption.key_file/key_env",
                    id));
  }
  if (key->id_bytes() != header.key_id) {
    return Status::Auth(
        fmt::format("the key given (id {}) is not the key the segment was encrypted with (key id {})", key->id(), id));
  }
  return UnwrapDataKey(*key, header.wrapped_key, header.wrap_aad);
}

BlockInfo ParseBlockHeader(std::string_view bytes) {
  const char* p = bytes.data();
  BlockInfo b;
  b.size = static_cast<uint32_t>(std::min<uint64_t>(kBlockHeaderSize + uint64_t{DecodeFixed32(p)}, UINT32_MAX));
  b.record_count = DecodeFixed32(p + 8);
  b.first_offset = static_cast<int64_t>(DecodeFixed64(p + 12));
  b.last_offset = static_cast<int64_t>(DecodeFixed64(p + 20));
  b.min_timestamp = static_cast<int64_t>(DecodeFixed64(p + 28));
  b.max_timestamp = static_cast<int64_t>(DecodeFixed64(p + 36));
  return b;
}

uint64_t HeaderRegionSize(const SegmentTrailer& trailer, const std::vector<BlockInfo>& index) {
  return index.empty() ? trailer.index_position : index.front().position;
}

void BlockDecoder::UseFreeBlock() {
  std::vector<std::shared_ptr<DecodedBlock>> released;
  if (block_.use_count() > 1) {
    held_.push_back(std::move(block_));
    std::erase_if(held_, [&](std::shared_ptr<DecodedBlock>& b) {
      if (b.use_count() > 1) return false;
      released.push_back(std::move(b));
      return true;
    });
    block_ = released.empty() ? std::make_shared<DecodedBlock>() : std::move(released.back());
  }
  // A holder's last reads of a block happen before it released it, which
  // the count showed; the fence orders them before our writes to the block
  // (reuse, or freeing the released blocks beyond the one reused: a burst of
  // held blocks is not kept allocated after it).
  std::atomic_thread_fence(std::memory_order_acquire);
}

Status BlockDecoder::Decode(std::string_view bytes, const BlockInfo& expected, Codec codec, std::string_view data_key) {
  records_.clear();
  UseFreeBlock();
  block_->headers.clear();
  if (bytes.size() != expected.size || bytes.size() < kBlockHeaderSize) {
    return Corrupt(fmt::format("block is {} bytes, the index says {}", bytes.size(), expected.size));
  }
  const char* p = bytes.data();
  uint32_t payload_len = DecodeFixed32(p);
  uint32_t raw_len = DecodeFixed32(p + 4);
  BlockInfo stored = ParseBlockHeader(bytes);
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
  if (stored.last_offset < stored.first_offset) {
    return Corrupt(
        fmt::format("block's last offset {} is before its first {}", stored.last_offset, stored.first_offset));
  }
  if (!data_key.empty()) {
    if (payload.size() < kBlockEncryptionOverhead) {
      return Corrupt(
          fmt::format("encrypted block payload is {} bytes, shorter than its nonce and tag", payload.size()));
    }
    plain_.clear();  // decryption appends
    if (!util::AesGcmDecrypt(data_key, payload.substr(0, kNonceSize), BlockAad(bytes, expected.position),
                             payload.substr(kNonceSize), &plain_)) {
      return Corrupt("block fails its authentication tag: the block was altered, or moved from elsewhere");
    }
    payload = plain_;
  }
  KB_RETURN_IF_ERROR(Decompress(codec, payload, raw_len, &block_->bytes));
  Status s = DecodeRecords(std::string_view(block_->bytes).substr(0, raw_len), stored);
  if (!s.ok()) records_.clear();
  return s;
}

Status BlockDecoder::DecodeRecords(std::string_view raw, const BlockInfo& stored) {
  const uint64_t offset_span = static_cast<uint64_t>(stored.last_offset) - static_cast<uint64_t>(stored.first_offset);
  header_counts_.clear();
  ByteReader in(raw);
  int64_t prev_timestamp = 0;
  int64_t prev_offset = -1;
  for (uint32_t i = 0; i < stored.record_count; ++i) {
    RecordView& r = records_.emplace_back();
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
    if (offset_delta > offset_span) {
      return Corrupt(fmt::format("record {} has offset delta {}, beyond the block's last offset {}", i, offset_delta,
                                 stored.last_offset));
    }
    r.timestamp_type = static_cast<TimestampType>(attributes & 0x3);
    r.offset = stored.first_offset + static_cast<int64_t>(offset_delta);
    r.timestamp = WrappingAdd(prev_timestamp, UnZigZag(ts_delta));
    prev_timestamp = r.timestamp;
    if (r.offset <= prev_offset) {
      return Corrupt(fmt::format("record {} has offset {}, not after the previous record's", i, r.offset));
    }
    prev_offset = r.offset;
    if (header_count > in.remaining()) return Corrupt(fmt::format("record {} header count is implausible", i));
    for (uint64_t h = 0; h < header_count; ++h) {
      uint64_t name_len = 0;
      HeaderView& header = block_->headers.emplace_back();
      if (!in.ReadVarint(&name_len) || !in.ReadBytes(name_len, &header.name) || !in.ReadNullableBytes(&header.value)) {
        return Corrupt(fmt::format("record {} header {} is truncated", i, h));
      }
    }
    header_counts_.push_back(static_cast<uint32_t>(header_count));
  }
  if (prev_offset != stored.last_offset) return Corrupt("block's last record does not have the block's last offset");
  if (in.remaining() != 0) return Corrupt(fmt::format("{} bytes left over after the block's records", in.remaining()));
  // The headers no longer grow: the records can point into them.
  size_t next = 0;
  for (size_t i = 0; i < records_.size(); ++i) {
    records_[i].headers = std::span<const HeaderView>(block_->headers).subspan(next, header_counts_[i]);
    next += header_counts_[i];
  }
  return Status::Ok();
}

Status DecodeBlock(std::string_view bytes, const BlockInfo& expected, Codec codec,
                   const std::function<Status(Record&&)>& sink) {
  return DecodeBlock(bytes, expected, codec, {}, sink);
}

Status DecodeBlock(std::string_view bytes, const BlockInfo& expected, Codec codec, std::string_view data_key,
                   const std::function<Status(Record&&)>& sink) {
  BlockDecoder decoder;
  KB_RETURN_IF_ERROR(decoder.Decode(bytes, expected, codec, data_key));
  for (const RecordView& r : decoder.records()) KB_RETURN_IF_ERROR(sink(r.ToRecord()));
  return Status::Ok();
}

Status DecodeSegment(std::string_view bytes, SegmentHeader* header, std::vector<Record>* records,
                     const EncryptionKey* key) {
  KB_ASSIGN_OR_RETURN(SegmentTrailer trailer, ParseTrailer(bytes, bytes.size()));
  KB_ASSIGN_OR_RETURN(
      std::vector<BlockInfo> index,
      ParseIndex(bytes.substr(trailer.index_position, size_t{trailer.block_count} * kIndexEntrySize), trailer));
  KB_ASSIGN_OR_RETURN(*header, ParseHeader(bytes.substr(0, HeaderRegionSize(trailer, index))));
  KB_ASSIGN_OR_RETURN(std::string data_key, SegmentDataKey(*header, key));
  struct Wipe {
    std::string* s;
    ~Wipe() { util::Cleanse(s); }
  } wipe{&data_key};
  uint64_t total = 0;
  BlockDecoder decoder;
  for (const auto& b : index) {
    Status s = decoder.Decode(bytes.substr(b.position, b.size), b, header->codec, data_key);
    if (!s.ok()) return s.WithContext(fmt::format("block at byte {} (first offset {})", b.position, b.first_offset));
    for (const RecordView& r : decoder.records()) records->push_back(r.ToRecord());
    total += b.record_count;
  }
  if (total != trailer.record_count) {
    return Corrupt(fmt::format("segment holds {} records, its trailer says {}", total, trailer.record_count));
  }
  return Status::Ok();
}

}  // namespace kafka_backup::format
