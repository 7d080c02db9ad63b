// The MSK IAM token against tokens made by AWS's own signer library
// (aws-msk-iam-sasl-signer-go; tests/msk-iam-golden makes them).
#include "kafka/msk_iam.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "util/crypto.h"

namespace kafka_backup::kafka {
namespace {

std::string FromBase64Url(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4 != 0) s.push_back('=');
  std::string out;
  return util::Base64Decode(s, &out) ? out : "<not base64url>";
}

std::vector<nlohmann::json> GoldenTokens() {
  std::ifstream in(std::string(KB_SOURCE_DIR) + "/tests/unit/testdata/msk_iam/tokens.jsonl");
  std::vector<nlohmann::json> cases;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) cases.push_back(nlohmann::json::parse(line));
  }
  return cases;
}

TEST(MskIam, TokensEqualThoseOfAwsSigner) {
  std::vector<nlohmann::json> cases = GoldenTokens();
  ASSERT_GE(cases.size(), 2u);
  bool temporary_seen = false;
  for (const nlohmann::json& c : cases) {
    SCOPED_TRACE(c.dump());
    storage::AwsCredentials creds{c["access_key_id"], c["secret_access_key"], c["session_token"]};
    temporary_seen |= !creds.session_token.empty();
    const int64_t expiry_ms = c["expiry_ms"];
    const int64_t signed_at = expiry_ms / 1000 - kMskIamTokenSeconds;
    ASSERT_EQ(storage::AmzDate(signed_at), c["amz_date"].get<std::string>());

    MskIamToken t = MakeMskIamToken(creds, c["region"], signed_at, c["user_agent"]);
    EXPECT_EQ(FromBase64Url(t.token), c["url"].get<std::string>());
    EXPECT_EQ(t.token, c["token"].get<std::string>());
    EXPECT_EQ(t.expiry_ms, expiry_ms);
  }
  EXPECT_TRUE(temporary_seen) << "no case with a session token";
}

TEST(MskIam, AnotherSecretOrTimeGivesAnotherSignature) {
  storage::AwsCredentials creds{"AKIDEXAMPLE", "secret-1", ""};
  std::string a = MakeMskIamToken(creds, "us-east-1", 1'800'000'000).token;
  creds.secret_access_key = "secret-2";
  EXPECT_NE(MakeMskIamToken(creds, "us-east-1", 1'800'000'000).token, a);
  creds.secret_access_key = "secret-1";
  EXPECT_NE(MakeMskIamToken(creds, "us-east-1", 1'800'000'001).token, a);
  EXPECT_EQ(MakeMskIamToken(creds, "us-east-1", 1'800'000'000).token, a);
  std::string url = FromBase64Url(a);
  EXPECT_NE(url.find("User-Agent=kafka-backup"), std::string::npos) << url;
  EXPECT_EQ(url.find("X-Amz-Security-Token"), std::string::npos) << url;
}

TEST(MskIam, RegionFromBrokerAddresses) {
  EXPECT_EQ(MskRegionOf({"b-1.prod.ab12cd.c3.kafka.eu-west-1.amazonaws.com:9098"}), "eu-west-1");
  EXPECT_EQ(MskRegionOf({"localhost:9092", "boot-x.c1.kafka-serverless.us-east-2.amazonaws.com:9098"}), "us-east-2");
  EXPECT_EQ(MskRegionOf({"b-2.c.x.kafka.cn-north-1.amazonaws.com.cn:9098"}), "cn-north-1");
  EXPECT_EQ(MskRegionOf({"b-3.c.x.kafka.us-gov-west-1.amazonaws.com:9098"}), "us-gov-west-1");
  EXPECT_EQ(MskRegionOf({"kafka-prod-1:9092"}), std::nullopt);
  EXPECT_EQ(MskRegionOf({"kafka.example.com:9092"}), std::nullopt);
}

}  // namespace
}  // namespace kafka_backup::kafka
