// Where S3 requests get their AWS credentials, as the AWS SDKs look for them:
//   1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN);
//   2. web identity (Kubernetes IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      (+ AWS_ROLE_SESSION_NAME), exchanged at STS by AssumeRoleWithWebIdentity
//      (endpoint AWS_ENDPOINT_URL_STS, else https://sts.REGION.amazonaws.com);
//   3. the profile AWS_PROFILE (else "default") of the shared credentials file;
//   4. the EC2 instance metadata service, IMDSv2 (session token first), at
//      AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254, unless
//      AWS_EC2_METADATA_DISABLED=true.
// Temporary credentials (2, 4) are renewed five minutes before they expire.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "kafka_backup/status.h"
#include "storage/sigv4.h"

namespace kafka_backup::storage {

class AwsCredentialProvider {
 public:
  virtual ~AwsCredentialProvider() = default;
  // The credentials to sign the next request with.
  virtual Result<AwsCredentials> Get() = 0;
  // Where they come from, for messages ("web identity role arn:...").
  virtual std::string Source() const = 0;
};

std::shared_ptr<AwsCredentialProvider> StaticAwsCredentials(AwsCredentials credentials, std::string source);

// The chain above; `region` picks the STS endpoint.
Result<std::shared_ptr<AwsCredentialProvider>> DefaultAwsCredentials(const std::string& region);

// "2026-11-25T14:00:00Z" -> seconds since the epoch; nullopt if malformed.
std::optional<int64_t> ParseIso8601(const std::string& text);

}  // namespace kafka_backup::storage
