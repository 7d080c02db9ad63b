// Azure SharedKey against the Azure SDK for Python's signer
// (azure-storage-blob 12.31.1, SharedKeyCredentialPolicy) on the same requests,
// with the Azurite development account; and azure:// URL parsing.
#include <gtest/gtest.h>

#include <cstdlib>

#include "storage/azure_store.h"

namespace kafka_backup::storage {
namespace {

const std::string kAccount = "devstoreaccount1";
const std::string kKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

HttpHeaders Base(HttpHeaders extra = {}) {
  HttpHeaders h = {{"x-ms-date", "Wed, 25 Nov 2026 12:00:00 GMT"}, {"x-ms-version", "2021-08-06"}};
  for (auto& e : extra) h.push_back(std::move(e));
  return h;
}

TEST(AzureSharedKey, MatchesTheAzureSdk) {
  EXPECT_EQ(AzureSharedKey("PUT", "/backups/data/a%20b.kbseg", {},
                           Base({{"x-ms-blob-type", "BlockBlob"},
                                 {"Content-Length", "11"},
                                 {"Content-MD5", "sQqNsWTgdUEFt6mb5y4/5Q=="}}),
                           kAccount, kKey),
            "SharedKey devstoreaccount1:/OMDydJpmodcZPt5GuHpcyT0bx/5hwURxGVZErelPeo=");
  EXPECT_EQ(AzureSharedKey("GET", "/backups",
                           {{"restype", "container"}, {"comp", "list"}, {"prefix", "data/"}, {"maxresults", "1000"}},
                           Base(), kAccount, kKey),
            "SharedKey devstoreaccount1:aZ6SHFObc9rk4XUG0fm6LskfSdcVAheNSJqHU0z+ZpQ=");
  EXPECT_EQ(AzureSharedKey("GET", "/backups/data/x", {}, Base({{"x-ms-range", "bytes=3-6"}}), kAccount, kKey),
            "SharedKey devstoreaccount1:Ea09FaIw9L8n0EgUe55sBpQU5lR5ICtBl3dEekFrAGM=");
  EXPECT_EQ(AzureSharedKey("PUT", "/backups/big", {{"comp", "block"}, {"blockid", "YmxvY2stMDAwMDAx"}},
                           Base({{"Content-Length", "5"}}), kAccount, kKey),
            "SharedKey devstoreaccount1:hBwde9IeLm5bXp8AzIpTM3xkWhVsIQoSj1iZ9qOCBgg=");
  // Azurite's path-style URL: the account appears twice in the resource.
  EXPECT_EQ(AzureSharedKey("GET", "/devstoreaccount1/backups/data/x", {}, Base(), kAccount, kKey),
            "SharedKey devstoreaccount1:aLOgjz/9uJf2KvIjWiBsZfSjpJKCVfzLGcddpbZc6g4=");
}

TEST(AzureSharedKey, ZeroContentLengthIsSignedAsEmpty) {
  EXPECT_EQ(AzureSharedKey("PUT", "/c", {{"restype", "container"}}, Base({{"Content-Length", "0"}}), kAccount, kKey),
            AzureSharedKey("PUT", "/c", {{"restype", "container"}}, Base(), kAccount, kKey));
}

TEST(AzureUrl, ContainerPrefixAccountAndEnvironment) {
  setenv("AZURE_STORAGE_CONNECTION_STRING",
         ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + kKey +
          ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
             .c_str(),
         1);
  auto o = ParseAzureUrl("azure://backups/production/hourly/");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->container, "backups");
  EXPECT_EQ(o->prefix, "production/hourly");
  EXPECT_EQ(o->account, "devstoreaccount1");
  EXPECT_EQ(o->key, kKey) << "the key keeps its '=' padding";
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  unsetenv("AZURE_STORAGE_CONNECTION_STRING");

  setenv("AZURE_STORAGE_ACCOUNT", "acct", 1);
  setenv("AZURE_STORAGE_KEY", "bm90IGEga2V5", 1);
  o = ParseAzureUrl("azure://c");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->endpoint, "https://acct.blob.core.windows.net");
  setenv("AZURE_STORAGE_KEY", "not base64!", 1);
  EXPECT_EQ(ParseAzureUrl("azure://c").status().code(), Status::Code::kInvalidArgument);
  unsetenv("AZURE_STORAGE_KEY");
  auto none = ParseAzureUrl("azure://c");
  EXPECT_EQ(none.status().code(), Status::Code::kAuth);
  EXPECT_NE(none.status().message().find("acct"), std::string::npos);
  unsetenv("AZURE_STORAGE_ACCOUNT");
  EXPECT_EQ(ParseAzureUrl("azure://c?colour=blue").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseAzureUrl("azure:///p").status().code(), Status::Code::kInvalidArgument);
}

TEST(AzureUrl, AzureAdFromTheIdentityVariables) {
  setenv("AZURE_STORAGE_ACCOUNT", "acct", 1);
  setenv("AZURE_TENANT_ID", "tenant-1", 1);
  setenv("AZURE_CLIENT_ID", "app-1", 1);
  setenv("AZURE_CLIENT_SECRET", "s3cret", 1);
  auto o = ParseAzureUrl("azure://c");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_TRUE(o->azure_ad.has_value());
  EXPECT_EQ(o->azure_ad->TokenUrl(), "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token");
  EXPECT_EQ(o->azure_ad->client_secret, "s3cret");

  // Workload identity: the webhook's variables, the authority with its trailing '/'.
  unsetenv("AZURE_CLIENT_SECRET");
  setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token", 1);
  setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/", 1);
  o = ParseAzureUrl("azure://c");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->azure_ad->TokenUrl(), "https://login.microsoftonline.us/tenant-1/oauth2/v2.0/token");
  EXPECT_EQ(o->azure_ad->federated_token_file, "/var/run/secrets/azure/tokens/azure-identity-token");

  // An account key wins over Azure AD.
  setenv("AZURE_STORAGE_KEY", "bm90IGEga2V5", 1);
  o = ParseAzureUrl("azure://c");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->azure_ad.has_value());
  unsetenv("AZURE_STORAGE_KEY");

  // Half of the variables: bad input naming what is missing.
  unsetenv("AZURE_FEDERATED_TOKEN_FILE");
  auto half = ParseAzureUrl("azure://c");
  EXPECT_EQ(half.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(half.status().message().find("AZURE_CLIENT_SECRET"), std::string::npos);
  for (const char* v : {"AZURE_STORAGE_ACCOUNT", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_AUTHORITY_HOST"}) {
    unsetenv(v);
  }
}

}  // namespace
}  // namespace kafka_backup::storage
