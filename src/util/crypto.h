// Hashes, MACs and encodings over OpenSSL, for request signing (SigV4, Azure
// SharedKey, GCS) and anything else that needs them. Byte strings in and out
// are std::string; "hex" is lower-case.
#pragma once

#include <cstddef>
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
// Ed25519 (RFC 8032) over OpenSSL. Sign takes a PEM private key and returns
// the 64-byte signature and the 32-byte raw public key; false (and *error,
// which never holds key material) when the key is not an Ed25519 private key.
bool SignEd25519(std::string_view pem_private_key, std::string_view data, std::string* signature,
                 std::string* public_key, std::string* error);
// The 32-byte raw public key of a PEM key, public or private.
bool Ed25519PublicKey(std::string_view pem_key, std::string* public_key, std::string* error);
bool VerifyEd25519(std::string_view public_key, std::string_view data, std::string_view signature);
// Empty optional-free form: returns false on malformed input.
bool Base64Decode(std::string_view text, std::string* out);
// Cryptographically strong random bytes (OpenSSL RAND_bytes); false if the
// generator fails.
bool RandomBytes(size_t n, std::string* out);
// AES-256-GCM (NIST SP 800-38D) with a 12-byte IV and a 16-byte tag, over
// OpenSSL EVP; each call has its own cipher context, so calls may run on any
// threads at once. Encrypt appends ciphertext then tag to `*out`; false when
// the key or IV has the wrong size or OpenSSL fails. Decrypt takes ciphertext
// followed by its tag and appends the plaintext to `*out` only when the tag
// verifies; false otherwise (`*out` is then unchanged).
bool AesGcmEncrypt(std::string_view key, std::string_view iv, std::string_view aad, std::string_view plaintext,
                   std::string* out);
bool AesGcmDecrypt(std::string_view key, std::string_view iv, std::string_view aad, std::string_view ciphertext_and_tag,
                   std::string* out);
// Overwrites `s` with zeros in a way the compiler does not optimize away.
void Cleanse(std::string* s);
// RFC 3986 percent-encoding: every byte but A-Z a-z 0-9 - _ . ~ is encoded
// (upper-case hex), and '/' too unless keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash = false);

}  // namespace kafka_backup::util
