// AWS Signature Version 4 (docs.aws.amazon.com, "Signing AWS API requests"):
// the canonical request, the string to sign, the signing key and the
// Authorization header. Pure functions, checked against AWS's published
// SigV4 test suite and the S3 API reference's examples (tests/unit/sigv4_test.cc).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kafka_backup::storage {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

struct SigV4Request {
  std::string method;  // "GET", "PUT", ...
  // The path as sent, already percent-encoded once (S3 signs it as is; other
  // services would normalise and encode it again, which S3 must not).
  std::string path;
  // Query parameters, not encoded; the signer encodes and sorts them.
  std::vector<std::pair<std::string, std::string>> query;
  // Every header to sign, including host and x-amz-date; names in any case,
  // repeated names allowed (their values are joined with ',' in order).
  std::vector<std::pair<std::string, std::string>> headers;
  // Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // hex
  std::string authorization;   // the Authorization header value
};

// `amz_date` is "YYYYMMDDTHHMMSSZ" (the x-amz-date header's value).
SigV4Signature SignV4(const SigV4Request& request, const AwsCredentials& credentials, const std::string& region,
                      const std::string& service, const std::string& amz_date);

// The canonical query string: keys and values percent-encoded, sorted.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// "YYYYMMDDTHHMMSSZ" for a time in seconds since the epoch (UTC).
std::string AmzDate(int64_t unix_seconds);

}  // namespace kafka_backup::storage
