// Encryption at rest (docs/format/segment.md, "Encryption"): the AES-256-GCM
// wrapper against a published vector, user keys and their ids, and encrypted
// segments: round trip, tampering, wrong and missing keys, nonces.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "catalog/keys.h"
#include "format/bytes.h"
#include "format/checkpoint.h"
#include "format/crc32c.h"
#include "format/encryption.h"
#include "format/segment.h"
#include "util/crypto.h"

namespace kafka_backup::format {
namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The test key of testdata/format/test-encryption.key: bytes 00..1f.
EncryptionKey TestKey() {
  std::string bytes;
  for (int i = 0; i < 32; ++i) bytes.push_back(static_cast<char>(i));
  return EncryptionKey::FromBytes(bytes).value();
}

EncryptionKey OtherKey() {
  return EncryptionKey::FromBytes(std::string(32, '\x42')).value();
}

Record MakeRecord(int64_t offset, std::string value) {
  Record r;
  r.offset = offset;
  r.timestamp = 1700000000000 + offset;
  r.timestamp_type = TimestampType::kCreateTime;
  r.key = "key-" + std::to_string(offset);
  r.value = std::move(value);
  return r;
}

// A distinctive, incompressible-looking value for record `i`.
std::string SecretValue(int i) {
  return "plaintext-marker-" + std::to_string(i) + "-Zq8vK2mXw9";
}

// Records of equal size, so that blocks of equal size can be swapped.
std::string EncryptedSegment(const EncryptionKey& key, Codec codec, int records = 40, size_t block_bytes = 256) {
  SegmentWriter w("orders", 3, codec, 3, block_bytes, &key);
  for (int i = 0; i < records; ++i) EXPECT_TRUE(w.Append(MakeRecord(100 + i, SecretValue(1000 + i))).ok());
  return std::move(w.Finish()).value();
}

struct Layout {
  SegmentHeader header;
  uint64_t header_size = 0;
  std::vector<BlockInfo> blocks;
};

Layout Parse(const std::string& seg) {
  Layout l;
  SegmentTrailer t = ParseTrailer(seg, seg.size()).value();
  l.blocks = ParseIndex(std::string_view(seg).substr(t.index_position, t.block_count * kIndexEntrySize), t).value();
  l.header = ParseHeader(seg).value();
  l.header_size = EncodedHeaderSize(l.header);
  return l;
}

// Recomputes a block's CRC after its bytes were changed, as an attacker would.
void FixBlockCrc(std::string* seg, const BlockInfo& b) {
  std::string_view v(*seg);
  uint32_t crc = Crc32cExtend(Crc32c(v.substr(b.position, 44)),
                              v.substr(b.position + kBlockHeaderSize, b.size - kBlockHeaderSize));
  std::string fixed;
  PutFixed32(&fixed, crc);
  seg->replace(b.position + 44, 4, fixed);
}

void FixHeaderCrc(std::string* seg, uint64_t header_size) {
  std::string fixed;
  PutFixed32(&fixed, Crc32c(std::string_view(*seg).substr(0, header_size - 4)));
  seg->replace(header_size - 4, 4, fixed);
}

Status Decode(const std::string& seg, const EncryptionKey* key) {
  SegmentHeader h;
  std::vector<Record> records;
  return DecodeSegment(seg, &h, &records, key);
}

// gcmEncryptExtIV256, Test Case 16 of McGrew and Viega, "The Galois/Counter
// Mode of Operation (GCM)": a 256-bit key, 60 bytes of plaintext, 20 of AAD.
TEST(AesGcmTest, MatchesPublishedTestCase16) {
  const std::string key = Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string iv = Unhex("cafebabefacedbaddecaf888");
  const std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string plaintext = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de"
      "657ba637b39");
  const std::string ciphertext = Unhex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a"
      "0abcc9f662");
  const std::string tag = Unhex("76fc6ece0f4e1768cddf8853bb2d551b");
  std::string out;
  ASSERT_TRUE(util::AesGcmEncrypt(key, iv, aad, plaintext, &out));
  EXPECT_EQ(util::HexEncode(out), util::HexEncode(ciphertext + tag));
  std::string back;
  ASSERT_TRUE(util::AesGcmDecrypt(key, iv, aad, ciphertext + tag, &back));
  EXPECT_EQ(back, plaintext);
}

TEST(AesGcmTest, AnyAlteredByteFailsAndYieldsNothing) {
  const std::string key(32, 'k');
  const std::string iv(12, 'i');
  std::string sealed;
  ASSERT_TRUE(util::AesGcmEncrypt(key, iv, "aad", "some plaintext", &sealed));
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    std::string out = "prefix";
    EXPECT_FALSE(util::AesGcmDecrypt(key, iv, "aad", bad, &out)) << "byte " << i;
    EXPECT_EQ(out, "prefix");
  }
  std::string out;
  EXPECT_FALSE(util::AesGcmDecrypt(key, iv, "aaD", sealed, &out));
  EXPECT_FALSE(util::AesGcmDecrypt(key, std::string(12, 'j'), "aad", sealed, &out));
  EXPECT_FALSE(util::AesGcmDecrypt(std::string(32, 'K'), iv, "aad", sealed, &out));
  EXPECT_FALSE(util::AesGcmEncrypt(std::string(16, 'k'), iv, "", "x", &out)) << "AES-128 key accepted";
}

TEST(EncryptionKeyTest, ParsesHexAndBase64WithWhitespace) {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
  auto hex = EncryptionKey::Parse("  " + util::HexEncode(raw) + "\n", "file k.key");
  ASSERT_TRUE(hex.ok()) << hex.status().ToString();
  EXPECT_EQ(hex->bytes(), raw);
  auto upper = EncryptionKey::Parse("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "x");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->bytes(), raw);
  auto b64 = EncryptionKey::Parse(util::Base64Encode(raw) + "\r\n", "environment variable K");
  ASSERT_TRUE(b64.ok()) << b64.status().ToString();
  EXPECT_EQ(b64->bytes(), raw);
}

// The id the independent implementation in testdata/format/make_golden.py
// computes for the test key.
TEST(EncryptionKeyTest, IdIsTheDocumentedHmacPrefix) {
  EXPECT_EQ(TestKey().id(), "734cc1049dbc37c8");
  EXPECT_EQ(TestKey().id_bytes().size(), kKeyIdSize);
  EXPECT_NE(OtherKey().id(), TestKey().id());
}

TEST(EncryptionKeyTest, BadKeyNamesTheSourceButNeverTheText) {
  const std::string short_hex = "00112233445566778899aabbccddeeff";  // 16 bytes
  const std::string not_hex = std::string(63, 'a') + "g";
  const std::string b64_short = util::Base64Encode(std::string(24, 'x'));
  for (const std::string& text : {short_hex, not_hex, b64_short, std::string("secret!"), std::string()}) {
    auto k = EncryptionKey::Parse(text, "file /etc/kb/backup.key");
    ASSERT_FALSE(k.ok()) << text;
    EXPECT_EQ(k.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(k.status().message().find("/etc/kb/backup.key"), std::string::npos);
    EXPECT_NE(k.status().message().find("64 hex digits"), std::string::npos);
    if (!text.empty()) {
      EXPECT_EQ(k.status().message().find(text), std::string::npos) << k.status().message();
    }
  }
}

TEST(EncryptedSegmentTest, RoundTripsWithEveryCodec) {
  EncryptionKey key = TestKey();
  for (Codec codec : {Codec::kNone, Codec::kZstd, Codec::kLz4}) {
    std::string seg = EncryptedSegment(key, codec);
    SegmentHeader h;
    std::vector<Record> records;
    Status s = DecodeSegment(seg, &h, &records, &key);
    ASSERT_TRUE(s.ok()) << CodecName(codec) << ": " << s.ToString();
    EXPECT_TRUE(h.encrypted);
    EXPECT_EQ(h.version, kEncryptedSegmentFormatVersion);
    EXPECT_EQ(h.codec, codec);
    EXPECT_EQ(h.topic, "orders");
    EXPECT_EQ(KeyIdHex(h.key_id), key.id());
    ASSERT_EQ(records.size(), 40u);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(records[i], MakeRecord(100 + i, SecretValue(1000 + i)));
    EXPECT_GT(Parse(seg).blocks.size(), 5u);
  }
}

TEST(EncryptedSegmentTest, StoredBytesHoldNoPlaintext) {
  EncryptionKey key = TestKey();
  std::string seg = EncryptedSegment(key, Codec::kNone);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(seg.find(SecretValue(1000 + i)), std::string::npos) << i;
    EXPECT_EQ(seg.find("key-" + std::to_string(100 + i)), std::string::npos) << i;
  }
  EXPECT_EQ(seg.find("plaintext-marker"), std::string::npos);
  EXPECT_EQ(seg.find(key.bytes()), std::string::npos);
}

TEST(EncryptedSegmentTest, UnencryptedSegmentsAreWhatVersion1Wrote) {
  // The worked example, written by today's writer, is the golden file byte for byte.
  SegmentWriter w("t", 0, Codec::kNone, 0);
  Record r1;
  r1.offset = 5;
  r1.timestamp = 1000;
  r1.timestamp_type = TimestampType::kCreateTime;
  r1.key = "k";
  r1.value = "v";
  r1.headers = {{"h", std::nullopt}};
  Record r2;
  r2.offset = 7;
  r2.timestamp = 999;
  r2.timestamp_type = TimestampType::kCreateTime;
  ASSERT_TRUE(w.Append(r1).ok());
  ASSERT_TRUE(w.Append(r2).ok());
  EXPECT_EQ(w.Finish().value(), ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/v1-example.kbseg"));
}

TEST(EncryptedSegmentTest, WithoutTheKeyIsInvalidArgumentNamingTheKeyId) {
  EncryptionKey key = TestKey();
  Status s = Decode(EncryptedSegment(key, Codec::kZstd), nullptr);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(key.id()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--encryption-key-file"), std::string::npos);
}

TEST(EncryptedSegmentTest, WrongKeyIsAuthNamingBothIds) {
  EncryptionKey key = TestKey();
  EncryptionKey other = OtherKey();
  Status s = Decode(EncryptedSegment(key, Codec::kZstd), &other);
  EXPECT_EQ(s.code(), Status::Code::kAuth) << s.ToString();
  EXPECT_NE(s.message().find(key.id()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(other.id()), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(other.bytes()), std::string::npos);
}

// Every bit of an encrypted segment matters: a flip is found by a CRC, a
// structural check or a tag (with the key), never decoded as data.
TEST(EncryptedSegmentTest, EveryBitFlipIsDetected) {
  EncryptionKey key = TestKey();
  std::string good = EncryptedSegment(key, Codec::kLz4, 4, 1 << 20);
  for (size_t byte = 0; byte < good.size(); ++byte) {
    std::string bad = good;
    bad[byte] ^= 0x10;
    Status s = Decode(bad, &key);
    EXPECT_FALSE(s.ok()) << "flip at byte " << byte << " went unnoticed";
  }
}

// An attacker who recomputes the CRCs is stopped by the tags.
TEST(EncryptedSegmentTest, TamperingWithCrcRecomputedIsCorruption) {
  EncryptionKey key = TestKey();
  const std::string good = EncryptedSegment(key, Codec::kNone);
  const Layout l = Parse(good);
  const BlockInfo& b = l.blocks[1];
  struct Case {
    const char* what;
    uint64_t position;
    bool block;  // else the header
  };
  const Case cases[] = {
      {"ciphertext", b.position + kBlockHeaderSize + kNonceSize + 3, true},
      {"tag", b.position + b.size - 1, true},
      {"nonce", b.position + kBlockHeaderSize, true},
      {"block max timestamp (AAD)", b.position + 36, true},
      {"wrapped key", l.header_size - 4 - kTagSize - 5, false},
      {"wrap tag", l.header_size - 5, false},
      {"topic name (wrap AAD)", 18, false},
      {"codec (wrap AAD)", 10, false},
  };
  for (const Case& c : cases) {
    std::string bad = good;
    bad[c.position] ^= 0x01;
    if (c.block) {
      FixBlockCrc(&bad, b);
    } else {
      FixHeaderCrc(&bad, l.header_size);
    }
    Status s = Decode(bad, &key);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << c.what << ": " << s.ToString();
    if (c.block) {
      EXPECT_NE(s.message().find(fmt::format("block at byte {}", b.position)), std::string::npos) << s.message();
    }
  }
}

TEST(EncryptedSegmentTest, SwappedBlocksFailTheirTags) {
  EncryptionKey key = TestKey();
  std::string seg = EncryptedSegment(key, Codec::kNone);
  const Layout l = Parse(seg);
  const BlockInfo& a = l.blocks[0];
  const BlockInfo& b = l.blocks[1];
  ASSERT_EQ(a.size, b.size);
  // Swap the blocks and their index entries; fix the index CRC.
  std::string block_a = seg.substr(a.position, a.size);
  std::string block_b = seg.substr(b.position, b.size);
  seg.replace(a.position, a.size, block_b);
  seg.replace(b.position, b.size, block_a);
  SegmentTrailer t = ParseTrailer(seg, seg.size()).value();
  std::string entry_a = seg.substr(t.index_position, kIndexEntrySize);
  std::string entry_b = seg.substr(t.index_position + kIndexEntrySize, kIndexEntrySize);
  std::string pos_a = entry_a.substr(0, 8);
  entry_a.replace(0, 8, entry_b.substr(0, 8));
  entry_b.replace(0, 8, pos_a);
  seg.replace(t.index_position, kIndexEntrySize, entry_b);
  seg.replace(t.index_position + kIndexEntrySize, kIndexEntrySize, entry_a);
  std::string crc;
  PutFixed32(&crc, Crc32c(std::string_view(seg).substr(t.index_position, t.block_count * kIndexEntrySize)));
  seg.replace(seg.size() - kTrailerSize + 12, 4, crc);
  Status s = Decode(seg, &key);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("authentication tag"), std::string::npos) << s.message();
}

TEST(EncryptedSegmentTest, NoncesAndDataKeysAreNeverReused) {
  EncryptionKey key = TestKey();
  std::set<std::string> block_nonces;
  std::set<std::string> wraps;
  size_t blocks = 0;
  for (int segment = 0; segment < 20; ++segment) {
    std::string seg = EncryptedSegment(key, Codec::kZstd);
    Layout l = Parse(seg);
    wraps.insert(l.header.wrapped_key);  // its own nonce and data key
    for (const auto& b : l.blocks) {
      block_nonces.insert(seg.substr(b.position + kBlockHeaderSize, kNonceSize));
      ++blocks;
    }
  }
  EXPECT_EQ(block_nonces.size(), blocks);
  EXPECT_EQ(wraps.size(), 20u);
  std::set<std::string> wrap_nonces;
  for (const auto& w : wraps) wrap_nonces.insert(w.substr(0, kNonceSize));
  EXPECT_EQ(wrap_nonces.size(), 20u);
}

// The encrypted worked example of docs/format/segment.md, written by
// testdata/format/make_golden.py from the document alone with the test key.
TEST(GoldenTest, V2EncryptedExampleDecodesWithTheTestKey) {
  std::string bytes = ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/v2-encrypted-example.kbseg");
  ASSERT_FALSE(bytes.empty()) << "golden file missing";
  auto key = EncryptionKey::Parse(ReadFile(std::string(KB_SOURCE_DIR) + "/testdata/format/test-encryption.key"),
                                  "file testdata/format/test-encryption.key");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  SegmentHeader h;
  std::vector<Record> rs;
  Status s = DecodeSegment(bytes, &h, &rs, &*key);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(h.version, 2);
  EXPECT_TRUE(h.encrypted);
  EXPECT_EQ(h.topic, "t");
  EXPECT_EQ(EncodedHeaderSize(h), 91u);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].offset, 5);
  EXPECT_EQ(rs[0].key, std::optional<std::string>("k"));
  EXPECT_EQ(rs[1].offset, 7);
  EXPECT_EQ(rs[1].value, std::nullopt);
  // The records are not in the clear.
  EXPECT_EQ(bytes.find(std::string("\x01\x00\xD0\x0F\x02k\x02v", 8)), std::string::npos);
  EXPECT_EQ(Decode(bytes, nullptr).code(), Status::Code::kInvalidArgument);
}

Manifest EncryptedManifest(const EncryptionKey& key) {
  Manifest m;
  m.backup_id = "nightly";
  m.encryption = catalog::ManifestEncryptionFor(key);
  return m;
}

TEST(BackupKeyTest, KeyComesFromTheFileOrTheVariable) {
  std::string path = (std::filesystem::temp_directory_path() / "kb-encryption-test.key").string();
  std::ofstream(path) << util::HexEncode(TestKey().bytes()) << "\n";
  auto from_file = catalog::LoadKey({path, ""});
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  ASSERT_TRUE(from_file->has_value());
  EXPECT_EQ((*from_file)->id(), TestKey().id());
  std::filesystem::remove(path);
  auto gone = catalog::LoadKey({path, ""});
  EXPECT_EQ(gone.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(gone.status().message().find(path), std::string::npos);

  ::setenv("KB_UNIT_TEST_KEY", util::Base64Encode(TestKey().bytes()).c_str(), 1);
  auto from_env = catalog::LoadKey({"", "KB_UNIT_TEST_KEY"});
  ASSERT_TRUE(from_env.ok() && from_env->has_value());
  EXPECT_EQ((*from_env)->id(), TestKey().id());
  ::unsetenv("KB_UNIT_TEST_KEY");
  auto unset = catalog::LoadKey({"", "KB_UNIT_TEST_KEY"});
  EXPECT_EQ(unset.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(unset.status().message().find("KB_UNIT_TEST_KEY"), std::string::npos);

  auto nothing = catalog::LoadKey({});
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
}

TEST(BackupKeyTest, EncryptedBackupNeedsItsOwnKey) {
  ::unsetenv(catalog::kDefaultKeyEnv);
  const Manifest m = EncryptedManifest(TestKey());
  auto missing = catalog::KeyForBackup(m, {});
  EXPECT_EQ(missing.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("backup nightly is encrypted (key id " + TestKey().id() + ")"),
            std::string::npos)
      << missing.status().message();

  ::setenv("KB_UNIT_TEST_KEY", util::HexEncode(OtherKey().bytes()).c_str(), 1);
  auto wrong = catalog::KeyForBackup(m, {"", "KB_UNIT_TEST_KEY"});
  EXPECT_EQ(wrong.status().code(), Status::Code::kAuth);
  EXPECT_NE(wrong.status().message().find("the key given (id " + OtherKey().id() +
                                          ") is not the key backup nightly was encrypted with (key id " +
                                          TestKey().id() + ")"),
            std::string::npos)
      << wrong.status().message();

  // With nothing configured, KAFKA_BACKUP_ENCRYPTION_KEY serves.
  ::setenv(catalog::kDefaultKeyEnv, util::HexEncode(TestKey().bytes()).c_str(), 1);
  auto fallback = catalog::KeyForBackup(m, {});
  ASSERT_TRUE(fallback.ok() && fallback->has_value()) << fallback.status().ToString();
  ::unsetenv(catalog::kDefaultKeyEnv);
  ::unsetenv("KB_UNIT_TEST_KEY");

  Manifest plain;
  auto none = catalog::KeyForBackup(plain, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // A key given for an unencrypted backup is passed on (for segments it
  // inherited from an encrypted one).
  ::setenv("KB_UNIT_TEST_KEY", util::HexEncode(TestKey().bytes()).c_str(), 1);
  auto given = catalog::KeyForBackup(plain, {"", "KB_UNIT_TEST_KEY"});
  ::unsetenv("KB_UNIT_TEST_KEY");
  ASSERT_TRUE(given.ok() && given->has_value());
  EXPECT_EQ((*given)->id(), TestKey().id());
}

// The manifest, and so a checkpoint journal's base, says how the backup is
// encrypted: a partial or continuous backup read from its journal knows too.
TEST(BackupKeyTest, ManifestAndCheckpointBaseRecordTheEncryption) {
  Manifest m = EncryptedManifest(TestKey());
  m.compression = "zstd";
  std::string json = SerializeManifest(m);
  EXPECT_NE(json.find("\"key_id\": \"" + TestKey().id() + "\""), std::string::npos) << json;
  EXPECT_EQ(json.find(util::HexEncode(TestKey().bytes())), std::string::npos);
  auto parsed = ParseManifest(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_TRUE(parsed->encryption.has_value());
  EXPECT_EQ(parsed->encryption->algorithm, "AES-256-GCM");
  EXPECT_EQ(parsed->encryption->key_id, TestKey().id());

  CheckpointEntry base;
  base.backup_id = "nightly";
  base.base = m;
  auto entry = ParseCheckpoint(SerializeCheckpoint(base));
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  auto journal = ReplayJournal({*entry});
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  ASSERT_TRUE(journal->manifest.encryption.has_value());
  EXPECT_EQ(journal->manifest.encryption->key_id, TestKey().id());

  Manifest plain;
  plain.compression = "zstd";
  EXPECT_EQ(SerializeManifest(plain).find("encryption"), std::string::npos);
  EXPECT_FALSE(ParseManifest(SerializeManifest(plain))->encryption.has_value());

  std::string unknown = json;
  unknown.replace(unknown.find("AES-256-GCM"), 11, "XChaCha20");
  auto refused = ParseManifest(unknown);
  EXPECT_EQ(refused.status().code(), Status::Code::kCorruption);
  EXPECT_NE(refused.status().message().find("XChaCha20"), std::string::npos);
}

}  // namespace
}  // namespace kafka_backup::format
