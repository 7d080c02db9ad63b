// Azure Blob Storage over the REST API (block blobs), authorised with
// SharedKey (signed with the account key), a SAS token, or an Azure AD
// (Entra ID) bearer token.
//
// Addressed as azure://container/prefix?account=A&endpoint=URL. The account,
// key and endpoint also come from the environment: AZURE_STORAGE_CONNECTION_STRING
// (AccountName, AccountKey, BlobEndpoint, SharedAccessSignature, ...), else
// AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, else
// Azure AD with the azure-identity variables: AZURE_TENANT_ID and
// AZURE_CLIENT_ID with AZURE_CLIENT_SECRET (a service principal) or
// AZURE_FEDERATED_TOKEN_FILE (AKS workload identity: the file's token is the
// client assertion, re-read for each new token), at AZURE_AUTHORITY_HOST
// (default https://login.microsoftonline.com/). The
// default endpoint is https://ACCOUNT.blob.core.windows.net; an endpoint with
// a path (Azurite: http://127.0.0.1:10000/ACCOUNT) is used as the base.
//
// Objects up to 32 MiB are one Put Blob; larger ones are staged as 16 MiB
// blocks and committed with Put Block List, so a reader never sees a partial
// blob. Azure discards uncommitted blocks of a failed upload after a week;
// they are invisible to readers, so AbortIncomplete has nothing to do.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/http.h"
#include "storage/object_store.h"

namespace kafka_backup::storage {

// An Azure AD application the store gets tokens for (client credentials grant,
// scope https://storage.azure.com/.default).
struct AzureAdCredentials {
  std::string authority = "https://login.microsoftonline.com";  // without trailing '/'
  std::string tenant;
  std::string client_id;
  std::string client_secret;         // secret; or
  std::string federated_token_file;  // workload identity
  std::string TokenUrl() const { return authority + "/" + tenant + "/oauth2/v2.0/token"; }
};

struct AzureOptions {
  std::string container;
  std::string prefix;
  std::string account;
  std::string key;                             // base64 account key (SharedKey), or empty
  std::string sas_token;                       // without the leading '?', or empty
  std::optional<AzureAdCredentials> azure_ad;  // when neither key nor SAS token
  std::string endpoint;                        // base URL of the blob service, without trailing '/'
  uint64_t single_put_max = 32ull << 20;
  uint64_t block_size = 16ull << 20;
};

// Parses "azure://container/prefix?..." and fills the rest from the environment.
Result<AzureOptions> ParseAzureUrl(std::string_view url);

// The SharedKey Authorization header value ("SharedKey account:signature") for
// a request: `path` as sent (percent-encoded), `query` decoded, `headers` all
// headers sent (any case). Checked against the Azure SDK's signer.
std::string AzureSharedKey(const std::string& method, const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& query, const HttpHeaders& headers,
                           const std::string& account, const std::string& key_base64);

class AzureStore : public ObjectStore {
 public:
  explicit AzureStore(AzureOptions options, HttpOptions http = {});

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  std::string Url() const override;
  uint64_t PartSize() const override { return options_.block_size; }
  Result<std::string> StartUpload(std::string_view key) override;
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override;
  Status CompleteUpload(std::string_view key, std::string_view upload_id,
                        const std::vector<std::string>& tokens) override;
  Status AbortUpload(std::string_view key, std::string_view upload_id) override;

  // Creates the container (tests and first-time setup); an existing one is OK.
  Status CreateContainer();

 private:
  Result<HttpResponse> Send(const std::string& method, std::string_view key, bool container_call,
                            const std::vector<std::pair<std::string, std::string>>& query, HttpHeaders headers,
                            std::string_view body);
  Status ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const;
  std::string FullKey(std::string_view key) const;
  Status PutBlocks(std::string_view key, std::string_view data);
  // One Put Blob; with only_if_absent, If-None-Match: * (Create).
  Status PutBlob(std::string_view key, std::string_view data, bool only_if_absent);

  // The Azure AD bearer token, renewed a few minutes before it expires.
  Result<std::string> AdToken();

  AzureOptions options_;
  HttpClient http_;
  std::mutex token_mu_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expiry_;
  std::string base_path_;  // the endpoint's path ("/ACCOUNT" on Azurite, "" on Azure)
};

}  // namespace kafka_backup::storage
