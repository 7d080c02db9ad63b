// Hashes, MACs and encodings over OpenSSL, for request signing (SigV4, Azure
// SharedKey, GCS) and anything else that needs them. Byte strings in and out
// are std::string; "hex" is lower-case.
#pragma once

#include <string>
#include <string_view>

namespace kafka_backup::util {

std::string Sha256(std::string_view data);                            // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::string Md5(std::string_view data);                               // 16 raw bytes
std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
// RFC 4648 section 5 (URL-safe alphabet, no padding), as JWTs use.
std::string Base64UrlEncode(std::string_view bytes);
// RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256") of `data` under a PEM private
// key; false (and *error) when the key cannot be read or signing fails.
bool SignRs256(std::string_view pem_private_key, std::string_view data, std::string* signature, std::string* error);
// Verifies an RS256 signature with a PEM public key (tests, and checking our
// own JWTs).
bool VerifyRs256(std::string_view pem_public_key, std::string_view data, std::string_view signature);
// Empty optional-free form: returns false on malformed input.
bool Base64Decode(std::string_view text, std::string* out);
// RFC 3986 percent-encoding: every byte but A-Z a-z 0-9 - _ . ~ is encoded
// (upper-case hex), and '/' too unless keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash = false);

}  // namespace kafka_backup::util
