// GCS: the service-account JWT (RS256 signed with OpenSSL) verifies with the
// key's public half and carries the claims Google's token endpoint expects;
// gs:// URL parsing and credential selection.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "storage/gcs_store.h"
#include "util/crypto.h"

namespace kafka_backup::storage {
namespace {

// A fresh 2048-bit RSA key pair as PEM (private PKCS#8, public SPKI).
std::pair<std::string, std::string> NewRsaKey() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  EXPECT_NE(key, nullptr);
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  auto read = [](BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<size_t>(n));
  };
  std::pair<std::string, std::string> out{read(priv), read(pub)};
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

std::string Base64UrlDecode(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4) s.push_back('=');
  std::string out;
  EXPECT_TRUE(util::Base64Decode(s, &out));
  return out;
}

TEST(GcsJwt, AssertionVerifiesWithThePublicKeyAndCarriesTheClaims) {
  auto [priv, pub] = NewRsaKey();
  ServiceAccountKey key{"backup@project.iam.gserviceaccount.com", priv, "http://127.0.0.1:1/token"};
  auto jwt = MakeJwtAssertion(key, "https://www.googleapis.com/auth/devstorage.read_write", 1'700'000'000);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  auto dot1 = jwt->find('.'), dot2 = jwt->rfind('.');
  ASSERT_NE(dot1, dot2);
  std::string signing_input = jwt->substr(0, dot2);
  std::string signature = Base64UrlDecode(jwt->substr(dot2 + 1));
  EXPECT_TRUE(util::VerifyRs256(pub, signing_input, signature));
  EXPECT_FALSE(util::VerifyRs256(pub, signing_input + "x", signature)) << "a changed claim must not verify";
  EXPECT_FALSE(util::VerifyRs256(NewRsaKey().second, signing_input, signature)) << "another key must not verify";

  auto header = nlohmann::json::parse(Base64UrlDecode(jwt->substr(0, dot1)));
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["typ"], "JWT");
  auto claims = nlohmann::json::parse(Base64UrlDecode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(claims["iss"], key.client_email);
  EXPECT_EQ(claims["aud"], key.token_uri);
  EXPECT_EQ(claims["scope"], "https://www.googleapis.com/auth/devstorage.read_write");
  EXPECT_EQ(claims["iat"], 1'700'000'000);
  EXPECT_EQ(claims["exp"], 1'700'003'600);
  EXPECT_EQ(jwt->find('='), std::string::npos) << "base64url without padding";
}

TEST(GcsJwt, BadPrivateKeyIsAnAuthError) {
  ServiceAccountKey key{"x@y", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", "http://t"};
  auto jwt = MakeJwtAssertion(key, "s", 1);
  EXPECT_EQ(jwt.status().code(), Status::Code::kAuth);
  EXPECT_EQ(jwt.status().message().find("not a key"), std::string::npos) << "never echo key material";
}

TEST(GcsKeyFile, ParsesAServiceAccountKey) {
  auto k = ParseServiceAccountKey(
      R"({"type":"service_account","client_email":"a@b","private_key":"PEM","token_uri":"https://t/token"})", "f");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->client_email, "a@b");
  EXPECT_EQ(k->token_uri, "https://t/token");
  EXPECT_EQ(ParseServiceAccountKey(R"({"type":"authorized_user"})", "f").status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseServiceAccountKey("not json", "f").status().code(), Status::Code::kInvalidArgument);
}

TEST(GcsUrl, EmulatorTokenAndKeyFile) {
  unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
  unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
  setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443", 1);
  auto o = ParseGcsUrl("gs://backups/production/hourly/");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->bucket, "backups");
  EXPECT_EQ(o->prefix, "production/hourly");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:4443");
  EXPECT_TRUE(o->anonymous);
  unsetenv("STORAGE_EMULATOR_HOST");

  // No credentials at all: the metadata server (of GCE, or GKE's workload
  // identity) is asked when the first token is needed.
  auto metadata = ParseGcsUrl("gs://b");
  ASSERT_TRUE(metadata.ok()) << metadata.status().ToString();
  EXPECT_EQ(metadata->metadata_host, "metadata.google.internal");
  EXPECT_TRUE(metadata->metadata_host_defaulted);
  setenv("GCE_METADATA_HOST", "127.0.0.1:8080", 1);
  metadata = ParseGcsUrl("gs://b");
  ASSERT_TRUE(metadata.ok()) << metadata.status().ToString();
  EXPECT_EQ(metadata->metadata_host, "127.0.0.1:8080");
  EXPECT_FALSE(metadata->metadata_host_defaulted);
  unsetenv("GCE_METADATA_HOST");
  setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json", 1);
  auto missing = ParseGcsUrl("gs://b");
  EXPECT_EQ(missing.status().code(), Status::Code::kAuth);
  EXPECT_NE(missing.status().message().find("/nonexistent/key.json"), std::string::npos);

  auto file = std::filesystem::temp_directory_path() / ("kb-gcs-key-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"({"type":"service_account","client_email":"a@b","private_key":"PEM"})";
  setenv("GOOGLE_APPLICATION_CREDENTIALS", file.c_str(), 1);
  o = ParseGcsUrl("gs://b/p");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_TRUE(o->service_account.has_value());
  EXPECT_EQ(o->service_account->token_uri, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(o->endpoint, "https://storage.googleapis.com");
  unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
  std::filesystem::remove(file);
  EXPECT_EQ(ParseGcsUrl("gs:///p").status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace kafka_backup::storage
