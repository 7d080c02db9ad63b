// AWS MSK IAM authentication (SASL OAUTHBEARER with a SigV4-presigned URL as
// the token), as AWS's signer libraries make it (aws-msk-iam-sasl-signer-*):
// the base64url (no padding) of
//   https://kafka.REGION.amazonaws.com/?Action=kafka-cluster%3AConnect&...
// presigned for GET with service "kafka-cluster", X-Amz-Expires=900, the host
// header signed, the payload hash of the empty string, X-Amz-Security-Token
// signed when the credentials are temporary, and User-Agent added to the query
// after signing. Checked against tokens made by AWS's Go signer
// (tests/unit/testdata/msk_iam, tests/msk-iam-golden).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka_backup/status.h"
#include "storage/aws_credentials.h"
#include "storage/sigv4.h"

namespace kafka_backup::kafka {

inline constexpr int kMskIamTokenSeconds = 900;
inline constexpr const char* kMskIamUserAgent = "kafka-backup";

struct MskIamToken {
  std::string token;      // what OAUTHBEARER sends
  int64_t expiry_ms = 0;  // signing time + 900 s, in ms since the epoch
};

// The token for `credentials` in `region`, signed at `unix_seconds`.
MskIamToken MakeMskIamToken(const storage::AwsCredentials& credentials, const std::string& region, int64_t unix_seconds,
                            const std::string& user_agent = kMskIamUserAgent);

// The region an MSK broker address names ("b-1.c.x1.kafka.eu-west-1.amazonaws.com:9098",
// also kafka-serverless.REGION), or nullopt.
std::optional<std::string> MskRegionOf(const std::vector<std::string>& bootstrap_servers);

// What a client signs its tokens with: the region and the AWS credential chain
// of the S3 code (environment, web identity, profile, instance metadata).
class MskIamAuth {
 public:
  // The region: `region` if set, else the one the broker addresses name, else
  // AWS_REGION / AWS_DEFAULT_REGION; InvalidArgument naming the key if none.
  static Result<std::unique_ptr<MskIamAuth>> Create(const std::string& region,
                                                    const std::vector<std::string>& bootstrap_servers);
  // A fresh token, signed now.
  Result<MskIamToken> Next() const;
  const std::string& region() const { return region_; }
  // Where the credentials come from ("the environment (AWS_ACCESS_KEY_ID)", ...).
  std::string credentials_source() const { return credentials_->Source(); }

 private:
  MskIamAuth(std::string region, std::shared_ptr<storage::AwsCredentialProvider> credentials)
      : region_(std::move(region)), credentials_(std::move(credentials)) {}
  std::string region_;
  std::shared_ptr<storage::AwsCredentialProvider> credentials_;
};

}  // namespace kafka_backup::kafka
