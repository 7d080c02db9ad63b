// A drill's evidence: the report as JSON (docs/schemas/drill.schema.json),
// signed with Ed25519 when a key is set, the signature's check, and the
// reports stored beside the backups, listed.
#pragma once

#include <string>

#include "kafka_backup/config.h"
#include "kafka_backup/status.h"

namespace kafka_backup::drill {

// The PEM text of the signing key: KAFKA_BACKUP_DRILL_SIGNING_KEY, else
// drill.signing_key_file; empty when neither is set. InvalidArgument when
// what is named is not an Ed25519 private key (never quoting it).
Result<std::string> SigningKey(const DrillConfig& config);

// `body` (a JSON object's compact text) with a last member "signature"
// appended: {"algorithm":"ed25519","key_id":...,"public_key":...,"value":...},
// the signature over the bytes of `body` exactly. *key_id: "sha256:<hex>" of
// the raw public key.
Result<std::string> SignReport(const std::string& body, const std::string& private_key_pem, std::string* key_id);

}  // namespace kafka_backup::drill
