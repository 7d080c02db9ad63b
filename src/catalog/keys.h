// The encryption key a command was given, and the checks that it is the key a
// backup needs (docs/config.md, "encryption"). Error messages name where the
// key came from and key ids, never the key.
#pragma once

#include <optional>
#include <string>

#include "format/encryption.h"
#include "format/manifest.h"
#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup::catalog {

// The environment variable read when a backup is encrypted and no key is
// configured.
inline constexpr const char* kDefaultKeyEnv = "KAFKA_BACKUP_ENCRYPTION_KEY";

// The key `config` names (a file or an environment variable), or nullopt
// when it names none. InvalidArgument when the file cannot be read, the
// variable is unset, or the text is not a 32-byte key.
Result<std::optional<format::EncryptionKey>> LoadKey(const EncryptionConfig& config);

// The key to read backup `manifest` with. Not encrypted: the configured key
// if any (segments it inherited from an earlier backup may be encrypted),
// else nullopt. Encrypted: the configured key, or the one in
// KAFKA_BACKUP_ENCRYPTION_KEY when none is configured. InvalidArgument when there is none, Auth when the key
// given is not the one the backup was encrypted with (both name key ids).
Result<std::optional<format::EncryptionKey>> KeyForBackup(const format::Manifest& manifest,
                                                          const EncryptionConfig& config);

// What the manifest records for backups encrypted with `key`.
format::ManifestEncryption ManifestEncryptionFor(const format::EncryptionKey& key);

}  // namespace kafka_backup::catalog
