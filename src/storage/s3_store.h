// Amazon S3 and S3-compatible stores (MinIO, Ceph, s3proxy, ...) over the
// REST API, signed with SigV4 (sigv4.h).
//
// Addressed as s3://bucket/prefix?region=R&endpoint=URL&path_style=true|false
// &storage_class=C&sse=AES256|aws:kms&kms_key_id=K&object_lock_mode=GOVERNANCE|COMPLIANCE
// &object_lock_days=N. Without an endpoint the
// AWS endpoint of the region is used (virtual-hosted); the endpoint also comes
// from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, as the AWS CLI takes it.
// Credentials: see aws_credentials.h (environment, web identity, shared
// credentials file, EC2 instance metadata).
//
// Objects up to multipart_threshold go in one PUT; larger ones as a multipart
// upload of part_size parts, aborted if any part fails, so a failed Put leaves
// nothing visible. AbortIncomplete aborts the multipart uploads a killed run
// left under a prefix.
#pragma once

#include <memory>
#include <string>

#include "storage/aws_credentials.h"
#include "storage/http.h"
#include "storage/object_store.h"
#include "storage/sigv4.h"

namespace kafka_backup::storage {

struct S3Options {
  std::string bucket;
  std::string prefix;    // without leading or trailing '/'
  std::string region;    // default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1
  std::string endpoint;  // "http://127.0.0.1:9000"; empty: AWS
  bool path_style = false;
  std::string storage_class;  // x-amz-storage-class, e.g. STANDARD_IA
  std::string sse;            // x-amz-server-side-encryption: AES256 or aws:kms
  std::string kms_key_id;     // with sse=aws:kms: the customer-managed key
  // Object Lock (the bucket must have it enabled): every object written is
  // retained in this mode for object_lock_days from its upload.
  std::string object_lock_mode;  // GOVERNANCE or COMPLIANCE; empty: none
  int object_lock_days = 0;
  uint64_t multipart_threshold = 32ull << 20;
  uint64_t part_size = 16ull << 20;
};

// Parses "s3://bucket/prefix?..." and fills defaults from the environment.
Result<S3Options> ParseS3Url(std::string_view url);

// From the environment or the shared credentials file (AWS_PROFILE, else
// "default", of AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials).
Result<AwsCredentials> ResolveAwsCredentials();

class S3Store : public ObjectStore {
 public:
  S3Store(S3Options options, std::shared_ptr<AwsCredentialProvider> credentials, HttpOptions http = {});

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  std::string Url() const override;
  uint64_t PartSize() const override { return options_.part_size; }
  Result<std::string> StartUpload(std::string_view key) override;
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override;
  Status CompleteUpload(std::string_view key, std::string_view upload_id,
                        const std::vector<std::string>& tokens) override;
  Status AbortUpload(std::string_view key, std::string_view upload_id) override;

  // Checks that the bucket exists and the credentials are accepted.
  Status Probe();
  // Creates the bucket (tests and first-time setup); an existing bucket of
  // ours is OK.
  Status CreateBucket();

 private:
  struct Call {
    std::string method;
    std::string key;  // object key relative to the prefix; empty for bucket calls
    std::vector<std::pair<std::string, std::string>> query;
    HttpHeaders headers;
    std::string_view body;
    bool bucket_call = false;  // the bucket itself (list, uploads) rather than an object
  };
  Result<HttpResponse> Send(const Call& call);
  // The error of a non-2xx response, classified; `what` names the operation.
  Status ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const;
  std::string FullKey(std::string_view key) const;
  std::string StripPrefix(std::string_view full_key) const;
  Status PutMultipart(std::string_view key, std::string_view data);
  // One PUT; with only_if_absent, If-None-Match: * (Create).
  Status PutObject(std::string_view key, std::string_view data, bool only_if_absent);
  // Storage class and server-side encryption, for PUT and CreateMultipartUpload.
  void AddPutHeaders(HttpHeaders* headers) const;

  S3Options options_;
  std::shared_ptr<AwsCredentialProvider> credentials_;
  HttpClient http_;
  std::string host_;      // Host header value
  std::string base_url_;  // scheme://host[/bucket]
};

}  // namespace kafka_backup::storage
