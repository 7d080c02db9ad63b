// Google Cloud Storage over the JSON API, authorised with OAuth2 access
// tokens from a service-account key (an RS256-signed JWT exchanged at the
// key's token_uri) or a given token.
//
// Addressed as gs://bucket/prefix?endpoint=URL. Credentials, in order:
// STORAGE_EMULATOR_HOST (an emulator, as Google's client libraries take it:
// no authentication); GOOGLE_OAUTH_ACCESS_TOKEN (a token, e.g. from
// `gcloud auth print-access-token`); GOOGLE_APPLICATION_CREDENTIALS (a
// service-account JSON key); else the metadata server of a GCE VM or a GKE
// pod with workload identity (GCE_METADATA_HOST, default
// metadata.google.internal: GET .../service-accounts/default/token with
// Metadata-Flavor: Google). HMAC keys (GCS_HMAC_ACCESS_ID, GCS_HMAC_SECRET)
// go through GCS's S3-compatible XML API instead: see OpenStore.
//
// Objects up to 32 MiB are one media upload; larger ones a resumable upload
// in 16 MiB chunks, which GCS makes visible only when the last chunk lands.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "storage/http.h"
#include "storage/oauth.h"
#include "storage/object_store.h"

namespace kafka_backup::storage {

struct ServiceAccountKey {
  std::string client_email;
  std::string private_key;  // PEM
  std::string token_uri = "https://oauth2.googleapis.com/token";
};

// Reads a service-account JSON key file (type "service_account").
Result<ServiceAccountKey> ParseServiceAccountKey(const std::string& json, const std::string& source);

// The signed JWT assertion for the OAuth2 JWT-bearer grant (RFC 7523).
Result<std::string> MakeJwtAssertion(const ServiceAccountKey& key, const std::string& scope, int64_t now_seconds);

struct GcsOptions {
  std::string bucket;
  std::string prefix;
  std::string endpoint = "https://storage.googleapis.com";
  bool anonymous = false;    // an emulator
  std::string access_token;  // a fixed token
  std::optional<ServiceAccountKey> service_account;
  // host[:port] of the metadata server, when no other credentials are given;
  // metadata_host_defaulted when GCE_METADATA_HOST did not name it.
  std::string metadata_host;
  bool metadata_host_defaulted = false;
  uint64_t single_put_max = 32ull << 20;
  uint64_t chunk_size = 16ull << 20;  // a multiple of 256 KiB
};

Result<GcsOptions> ParseGcsUrl(std::string_view url);

class GcsStore : public ObjectStore {
 public:
  explicit GcsStore(GcsOptions options, HttpOptions http = {});

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  std::string Url() const override;

  Status CreateBucket(const std::string& project);

 private:
  Result<HttpResponse> Send(HttpRequest request);
  Result<std::string> Token();
  Status ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const;
  std::string FullKey(std::string_view key) const;
  std::string ObjectUrl(std::string_view key) const;
  Status PutResumable(std::string_view key, std::string_view data);
  // One media upload; with only_if_absent, ifGenerationMatch=0 (Create).
  Status Upload(std::string_view key, std::string_view data, bool only_if_absent);

  GcsOptions options_;
  Result<OAuthToken> MetadataToken();

  HttpClient http_;
  HttpClient metadata_http_{HttpOptions{2, 10, 1}};  // quick to give up off GCP
  std::mutex token_mu_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expiry_;
};

}  // namespace kafka_backup::storage
