#include "format/encryption.h"

#include <cctype>

#include <fmt/format.h>

#include "util/crypto.h"

namespace kafka_backup::format {
namespace {

bool DecodeHex(std::string_view text, std::string* out) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = digit(text[i]);
    int lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

}  // namespace

Result<EncryptionKey> EncryptionKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kKeySize) {
    return Status::InvalidArgument(fmt::format("an encryption key is {} bytes, not {}", kKeySize, bytes.size()));
  }
  EncryptionKey key;
  key.key_ = std::string(bytes);
  key.id_ = util::HmacSha256(key.key_, kKeyIdLabel).substr(0, kKeyIdSize);
  return key;
}

Result<EncryptionKey> EncryptionKey::Parse(std::string_view text, const std::string& source) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  std::string bytes;
  bool ok = false;
  if (text.size() == 2 * kKeySize) {
    ok = DecodeHex(text, &bytes);
  } else {
    ok = util::Base64Decode(text, &bytes) && bytes.size() == kKeySize;
  }
  if (!ok) {
    util::Cleanse(&bytes);
    return Status::InvalidArgument(
        fmt::format("the encryption key in {} is not a 32-byte key: expected 64 hex digits or the base64 of 32 bytes "
                    "(44 characters), e.g. the output of 'openssl rand -hex 32'; found {} characters",
                    source, text.size()));
  }
  auto key = FromBytes(bytes);
  util::Cleanse(&bytes);
  return key;
}

EncryptionKey::~EncryptionKey() {
  util::Cleanse(&key_);
}

std::string EncryptionKey::id() const {
  return KeyIdHex(id_);
}

std::string KeyIdHex(std::string_view id_bytes) {
  return util::HexEncode(id_bytes);
}

Status WrapDataKey(const EncryptionKey& key, std::string_view data_key, std::string_view aad, std::string* out) {
  std::string nonce;
  if (!util::RandomBytes(kNonceSize, &nonce)) return Status::Internal("the random number generator failed");
  out->append(nonce);
  if (!util::AesGcmEncrypt(key.bytes(), nonce, aad, data_key, out)) {
    return Status::Internal("AES-256-GCM encryption failed (OpenSSL)");
  }
  return Status::Ok();
}

Result<std::string> UnwrapDataKey(const EncryptionKey& key, std::string_view wrapped, std::string_view aad) {
  if (wrapped.size() != kWrappedKeySize) {
    return Status::Corruption(
        fmt::format("wrapped data key is {} bytes, expected {}", wrapped.size(), kWrappedKeySize));
  }
  std::string data_key;
  if (!util::AesGcmDecrypt(key.bytes(), wrapped.substr(0, kNonceSize), aad, wrapped.substr(kNonceSize), &data_key)) {
    return Status::Corruption(
        "the segment's wrapped data key fails its authentication tag: the header was altered or damaged");
  }
  return data_key;
}

}  // namespace kafka_backup::format
