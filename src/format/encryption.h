// Encryption at rest: the user's key, its id, and the wrapping of the
// per-segment data keys (docs/format/segment.md, "Encryption"; the constants
// below are the ones named there). Pure functions over bytes, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kafka_backup/status.h"

namespace kafka_backup::format {

inline constexpr const char* kEncryptionAlgorithm = "AES-256-GCM";
inline constexpr size_t kKeySize = 32;         // AES-256: user keys and data keys
inline constexpr size_t kKeyIdSize = 8;        // raw bytes in a segment header; 16 hex digits when shown
inline constexpr size_t kNonceSize = 12;       // GCM IV
inline constexpr size_t kTagSize = 16;         // GCM tag
inline constexpr size_t kNoncePrefixSize = 4;  // block nonce = prefix | u64 block sequence number
inline constexpr size_t kWrappedKeySize = kNonceSize + kKeySize + kTagSize;
inline constexpr std::string_view kKeyIdLabel = "kafka-backup key id v1";

// A 32-byte AES-256 key that the user holds. Its bytes are wiped when it is
// destroyed and must never be printed; id() is safe to show anywhere.
class EncryptionKey {
 public:
  // `text` is 64 hex digits or the base64 of 32 bytes; surrounding whitespace
  // is ignored. `source` says where the text came from ("file /etc/kb.key",
  // "environment variable KB_KEY"); an InvalidArgument error names it and what
  // is expected, never the text.
  static Result<EncryptionKey> Parse(std::string_view text, const std::string& source);
  // InvalidArgument unless `bytes` is kKeySize bytes.
  static Result<EncryptionKey> FromBytes(std::string_view bytes);

  EncryptionKey(const EncryptionKey&) = default;
  EncryptionKey(EncryptionKey&&) = default;
  EncryptionKey& operator=(const EncryptionKey&) = default;
  EncryptionKey& operator=(EncryptionKey&&) = default;
  ~EncryptionKey();

  const std::string& bytes() const { return key_; }
  // The key id: the first kKeyIdSize bytes of HMAC-SHA256(key, kKeyIdLabel).
  const std::string& id_bytes() const { return id_; }
  // ... as 16 lower-case hex digits.
  std::string id() const;

 private:
  EncryptionKey() = default;
  std::string key_;
  std::string id_;
};

// A raw key id as 16 lower-case hex digits.
std::string KeyIdHex(std::string_view id_bytes);

// Appends `data_key` wrapped with `key` to `*out`: a random nonce, the
// encrypted data key and its tag (kWrappedKeySize bytes), authenticated with
// `aad`. Internal if the random generator or the cipher fails.
Status WrapDataKey(const EncryptionKey& key, std::string_view data_key, std::string_view aad, std::string* out);
// The data key from the bytes WrapDataKey wrote; Corruption when they, or
// `aad`, are not what was wrapped.
Result<std::string> UnwrapDataKey(const EncryptionKey& key, std::string_view wrapped, std::string_view aad);

}  // namespace kafka_backup::format
