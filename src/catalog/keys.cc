#include "catalog/keys.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "util/crypto.h"

namespace kafka_backup::catalog {
namespace {

Result<format::EncryptionKey> FromEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return Status::InvalidArgument(fmt::format("environment variable {} (the encryption key) is not set", name));
  }
  return format::EncryptionKey::Parse(value, fmt::format("environment variable {}", name));
}

Result<format::EncryptionKey> FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(
        fmt::format("cannot read the encryption key file '{}': {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto key = format::EncryptionKey::Parse(text, fmt::format("file '{}'", path));
  util::Cleanse(&text);
  return key;
}

}  // namespace

Result<std::optional<format::EncryptionKey>> LoadKey(const EncryptionConfig& config) {
  if (!config.key_file.empty()) {
    KB_ASSIGN_OR_RETURN(format::EncryptionKey key, FromFile(config.key_file));
    return std::optional<format::EncryptionKey>(std::move(key));
  }
  if (!config.key_env.empty()) {
    KB_ASSIGN_OR_RETURN(format::EncryptionKey key, FromEnv(config.key_env));
    return std::optional<format::EncryptionKey>(std::move(key));
  }
  return std::optional<format::EncryptionKey>();
}

Result<std::optional<format::EncryptionKey>> KeyForBackup(const format::Manifest& manifest,
                                                          const EncryptionConfig& config) {
  KB_ASSIGN_OR_RETURN(std::optional<format::EncryptionKey> key, LoadKey(config));
  // Not encrypted itself, the backup may still list encrypted segments of an
  // earlier one (an incremental backup): a key given is passed on for them.
  if (!manifest.encryption) return key;
  const std::string& want = manifest.encryption->key_id;
  if (!key && std::getenv(kDefaultKeyEnv) != nullptr) {
    KB_ASSIGN_OR_RETURN(format::EncryptionKey from_env, FromEnv(kDefaultKeyEnv));
    key = std::move(from_env);
  }
  if (!key) {
    return Status::InvalidArgument(
        fmt::format("backup {} is encrypted (key id {}): give its key with --encryption-key-file or "
                    "encryption.key_file/key_env (or set {})",
                    manifest.backup_id, want, kDefaultKeyEnv));
  }
  if (key->id() != want) {
    return Status::Auth(fmt::format("the key given (id {}) is not the key backup {} was encrypted with (key id {})",
                                    key->id(), manifest.backup_id, want));
  }
  return key;
}

format::ManifestEncryption ManifestEncryptionFor(const format::EncryptionKey& key) {
  return {format::kEncryptionAlgorithm, key.id()};
}

}  // namespace kafka_backup::catalog
