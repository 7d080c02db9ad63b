// Segment encoding and decoding: pure functions over bytes, no I/O.
// The byte layout is specified in docs/format/segment.md; the constants below
// are the ones named there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/codec.h"
#include "format/encryption.h"
#include "format/record.h"
#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr char kSegmentMagic[8] = {'K', 'B', 'S', 'E', 'G', '\r', '\n', '\x1a'};
inline constexpr char kSegmentEndMagic[8] = {'K', 'B', 'S', 'E', 'G', 'E', 'N', 'D'};
inline constexpr uint16_t kSegmentFormatVersion = 1;
// Written only for encrypted segments: version 1 plus the encrypted flag.
inline constexpr uint16_t kEncryptedSegmentFormatVersion = 2;
inline constexpr uint8_t kSegmentFlagEncrypted = 0x01;
// Header bytes an encrypted segment adds: key id and wrapped data key.
inline constexpr size_t kEncryptionHeaderSize = kKeyIdSize + kWrappedKeySize;
// Bytes encryption adds to a block's payload: nonce and tag.
inline constexpr size_t kBlockEncryptionOverhead = kNonceSize + kTagSize;
inline constexpr size_t kBlockHeaderSize = 48;
inline constexpr size_t kIndexEntrySize = 48;
inline constexpr size_t kTrailerSize = 32;
inline constexpr size_t kDefaultBlockTargetBytes = 1 << 20;

// Ranges of one block, as stored in its header and in the index.
struct BlockInfo {
  uint64_t position = 0;  // of the block header within the object
  uint32_t size = 0;      // header + payload
  uint32_t record_count = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
};

struct SegmentSummary {
  uint64_t record_count = 0;
  uint64_t payload_bytes = 0;  // Record::PayloadBytes summed
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
  std::string digest{};  // the records' content digest (format/digest.h), when the writer kept one
};

// The raw (uncompressed) records of one block and their ranges.
struct RawBlock {
  std::string bytes;
  BlockInfo info;  // position and size are set when the block is encoded
};

// Appends `record` encoded as the first record of a block that starts at its
// own offset (offset delta 0, timestamp delta from 0): its bytes without its
// position, which is what content digests hash (docs/format/digest.md).
void EncodeRecordAlone(const Record& record, std::string* dst);
void EncodeRecordAlone(const RecordView& record, std::string* dst);

// Encodes records into raw blocks; the cheap half of writing a segment, done
// by the thread that reads Kafka. Not thread-safe.
class BlockBuilder {
 public:
  // Offsets must strictly increase within a block (the caller checks across blocks).
  void Append(const Record& record);
  void Append(const RecordView& record);
  size_t size() const { return block_.bytes.size(); }
  bool empty() const { return block_.info.record_count == 0; }
  // The block so far; the builder starts a new one.
  RawBlock Take();

 private:
  template <typename R>
  void AppendRecord(const R& record);

  RawBlock block_;
  int64_t prev_timestamp_ = 0;
  size_t last_size_ = 0;  // of the block last taken
};

// Turns raw blocks into a segment's bytes, in order: the header, one encoded
// (compressed, encrypted when a key is given, checksummed) block per raw
// block, then the index and trailer. The expensive half of writing a segment,
// done on worker threads. Not thread-safe; encoders of different segments
// share nothing and may run on different threads at once.
class SegmentEncoder {
 public:
  // With `key`, the segment is encrypted (version 2): a fresh data key,
  // wrapped with `key`, goes in the header. The key is only used here.
  SegmentEncoder(const std::string& topic, int32_t partition, Codec codec, int level,
                 const EncryptionKey* key = nullptr);
  ~SegmentEncoder();
  SegmentEncoder(const SegmentEncoder&) = delete;
  SegmentEncoder& operator=(const SegmentEncoder&) = delete;

  // The header: the object's first bytes.
  const std::string& header() const { return header_; }
  // The stored bytes of `block` (header + compressed payload), which follow
  // everything returned before. Internal if setting up encryption failed.
  Result<std::string> EncodeBlock(const RawBlock& block);
  // Index and trailer: the object's last bytes.
  std::string Tail(uint64_t record_count) const;
  // Bytes returned so far (header and blocks).
  uint64_t size() const { return size_; }

 private:
  Codec codec_;
  int level_;
  Status init_;           // a failure generating or wrapping the data key
  std::string data_key_;  // empty: not encrypted
  std::string nonce_prefix_;
  uint64_t block_sequence_ = 0;
  std::string header_;
  uint64_t size_ = 0;
  std::vector<BlockInfo> index_;
};

// Updates a segment summary with one record appended in offset order.
void AddToSummary(const Record& record, SegmentSummary* summary);
void AddToSummary(const RecordView& record, SegmentSummary* summary);

// Builds one segment in memory. Not thread-safe.
class SegmentWriter {
 public:
  SegmentWriter(const std::string& topic, int32_t partition, Codec codec, int level,
                size_t block_target_bytes = kDefaultBlockTargetBytes, const EncryptionKey* key = nullptr);

  // Offsets must strictly increase; an out-of-order offset is InvalidArgument.
  Status Append(const Record& record);

  // Bytes the segment would have if finished now (compressed blocks plus the
  // open block uncompressed): what the caller compares with its size limit.
  size_t EstimatedSize() const { return out_.size() + builder_.size(); }
  const SegmentSummary& summary() const { return summary_; }
  bool empty() const { return summary_.record_count == 0; }

  // Closes the last block, appends index and trailer and returns the object's
  // bytes. The writer is spent afterwards.
  Result<std::string> Finish();

 private:
  Status FlushBlock();

  size_t block_target_bytes_;
  SegmentEncoder encoder_;
  BlockBuilder builder_;
  std::string out_;  // header + finished blocks
  SegmentSummary summary_;
};

struct SegmentHeader {
  uint16_t version = 0;
  Codec codec = Codec::kNone;
  int32_t partition = 0;
  std::string topic;
  // Encrypted segments (version 2) only:
  bool encrypted = false;
  std::string key_id;       // kKeyIdSize raw bytes
  std::string wrapped_key;  // kWrappedKeySize bytes
  std::string wrap_aad;     // the header bytes the wrap authenticates
};

struct SegmentTrailer {
  uint64_t index_position = 0;
  uint32_t block_count = 0;
  uint32_t index_crc = 0;
  uint64_t record_count = 0;
};

// Each parser returns Corruption with a message saying what was wrong; the
// caller adds the object name.
Result<SegmentTrailer> ParseTrailer(std::string_view last_bytes, uint64_t object_size);
Result<std::vector<BlockInfo>> ParseIndex(std::string_view index_bytes, const SegmentTrailer& trailer);
// `bytes` starts at offset 0 and holds at least the whole header.
Result<SegmentHeader> ParseHeader(std::string_view bytes);
// The header's size in bytes (where the first block starts).
uint64_t EncodedHeaderSize(const SegmentHeader& header);
// The data key that decrypts the blocks of the segment with `header`: empty
// for an unencrypted segment. InvalidArgument when it is encrypted and no key
// is given, Auth when `key` is not the key it was encrypted with (both errors
// name the key ids), Corruption when the wrapped key fails its tag.
Result<std::string> SegmentDataKey(const SegmentHeader& header, const EncryptionKey* key);
// The ranges a block header records, and its size (header + payload);
// position is left 0. `bytes` holds at least kBlockHeaderSize bytes. Nothing
// is checked: DecodeBlock checks them against the block's CRC. For a reader
// that walks blocks without the index (catalog::ReadSegment, when the index
// cannot be read).
BlockInfo ParseBlockHeader(std::string_view bytes);
// The byte range [0, n) that holds the header: up to the first block, or the index.
uint64_t HeaderRegionSize(const SegmentTrailer& trailer, const std::vector<BlockInfo>& index);

// What the records of a decoded block point into: its decompressed bytes and
// its headers.
struct DecodedBlock {
  std::string bytes;  // never shrinks, so it is not cleared for each block
  std::vector<HeaderView> headers;
};

// Checks and decodes blocks one at a time into records read in place. One
// decoder reused across the blocks of a read keeps its buffers, so a block
// costs no allocation and a record no copy.
class BlockDecoder {
 public:
  // Checks and decodes one block: `bytes` is exactly the block, header
  // included. A block of an encrypted segment needs `data_key` (from
  // SegmentDataKey), and `expected.position` must then be the block's
  // position in the object (the tag covers it). Any fault, a failed tag
  // included, is Corruption, and then no record is held: a block is read
  // whole or not at all.
  Status Decode(std::string_view bytes, const BlockInfo& expected, Codec codec, std::string_view data_key = {});
  // The records of the block last decoded, in order; valid until the next
  // Decode, or for as long as a Hold() of it is kept.
  std::span<const RecordView> records() const { return records_; }
  // Keeps the records of the block last decoded valid, on any thread, until
  // the last copy is dropped (the restore's read-ahead threads hold them until
  // the producer has copied them). Decode then decodes into another buffer,
  // and reuses this one once it is released.
  std::shared_ptr<const DecodedBlock> Hold() const { return block_; }

 private:
  Status DecodeRecords(std::string_view raw, const BlockInfo& stored);
  // Points block_ at a buffer nobody else holds.
  void UseFreeBlock();

  std::string plain_;  // an encrypted block's compressed bytes
  std::shared_ptr<DecodedBlock> block_ = std::make_shared<DecodedBlock>();
  std::vector<std::shared_ptr<DecodedBlock>> held_;  // held by others when last looked at
  std::vector<RecordView> records_;
  std::vector<uint32_t> header_counts_;  // per record, while the headers grow
};

// Checks and decodes one block, as BlockDecoder::Decode, then calls `sink`
// with a copy of each record in order. Stops at the first error.
Status DecodeBlock(std::string_view bytes, const BlockInfo& expected, Codec codec,
                   const std::function<Status(Record&&)>& sink);
Status DecodeBlock(std::string_view bytes, const BlockInfo& expected, Codec codec, std::string_view data_key,
                   const std::function<Status(Record&&)>& sink);

// Decodes a whole segment held in memory; for tests and small objects. An
// encrypted segment needs its `key`.
Status DecodeSegment(std::string_view bytes, SegmentHeader* header, std::vector<Record>* records,
                     const EncryptionKey* key = nullptr);

}  // namespace kafka_backup::format
