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
// Empty optional-free form: returns false on malformed input.
bool Base64Decode(std::string_view text, std::string* out);
// RFC 3986 percent-encoding: every byte but A-Z a-z 0-9 - _ . ~ is encoded
// (upper-case hex), and '/' too unless keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash = false);

}  // namespace kafka_backup::util
