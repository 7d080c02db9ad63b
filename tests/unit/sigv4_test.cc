// SigV4 against AWS's published vectors: the Signature Version 4 test suite
// (credentials AKIDEXAMPLE, region us-east-1, service "service", 2015-08-30)
// and the examples of the S3 API reference ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk").
#include <gtest/gtest.h>

#include "storage/sigv4.h"
#include "util/crypto.h"

namespace kafka_backup::storage {
namespace {

const AwsCredentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const std::string kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kSuiteDate = "20150830T123600Z";

SigV4Request SuiteRequest(std::string method, std::vector<std::pair<std::string, std::string>> query = {},
                          std::vector<std::pair<std::string, std::string>> extra = {}) {
  SigV4Request r;
  r.method = std::move(method);
  r.path = "/";
  r.query = std::move(query);
  r.headers = {{"Host", "example.amazonaws.com"}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.headers.emplace_back("X-Amz-Date", kSuiteDate);
  r.payload_hash = kEmptyHash;
  return r;
}

std::string SuiteSignature(const SigV4Request& r) {
  return SignV4(r, kSuite, "us-east-1", "service", kSuiteDate).signature;
}

TEST(SigV4, GetVanilla) {
  SigV4Signature s = SignV4(SuiteRequest("GET"), kSuite, "us-east-1", "service", kSuiteDate);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + kEmptyHash);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, PostVanilla) {
  EXPECT_EQ(SuiteSignature(SuiteRequest("POST")), "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, QueryParametersAreSortedByKeyThenValue) {
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", {{"Param2", "value2"}, {"Param1", "value1"}})),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", {{"Param1", "value2"}, {"Param1", "Value1"}})),
            "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1");
  EXPECT_EQ(SuiteSignature(SuiteRequest("POST", {{"Param1", "value1"}})),
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

TEST(SigV4, RepeatedHeadersJoinInOrder) {
  auto r = SuiteRequest(
      "GET", {},
      {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}});
  SigV4Signature s = SignV4(r, kSuite, "us-east-1", "service", kSuiteDate);
  EXPECT_NE(s.canonical_request.find("my-header1:value4,value1,value3,value2\n"), std::string::npos);
  EXPECT_EQ(s.signature, "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
  EXPECT_EQ(SuiteSignature(SuiteRequest(
                "GET", {}, {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}})),
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
}

TEST(SigV4, SessionTokenIsSignedWhenSentAsAHeader) {
  const std::string token =
      "AQoDYXdzEPT//////////"
      "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwth"
      "Ax7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVX"
      "AkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/"
      "oLxBA==";
  auto r = SuiteRequest("POST");
  r.headers.emplace_back("X-Amz-Security-Token", token);
  SigV4Signature s = SignV4(r, kSuite, "us-east-1", "service", kSuiteDate);
  EXPECT_EQ(s.signed_headers, "host;x-amz-date;x-amz-security-token");
  EXPECT_EQ(s.signature, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

// The S3 API reference's examples: bucket examplebucket, 2013-05-24.
const AwsCredentials kS3Example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

TEST(SigV4, S3GetObjectWithRange) {
  SigV4Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptyHash},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_hash = kEmptyHash;
  SigV4Signature s = SignV4(r, kS3Example, "us-east-1", "s3", "20130524T000000Z");
  EXPECT_EQ(util::HexEncode(util::Sha256(s.canonical_request)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectSignsThePayloadHash) {
  const std::string body = "Welcome to Amazon S3.";
  std::string hash = util::HexEncode(util::Sha256(body));
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request r;
  r.method = "PUT";
  r.path = "/test%24file.text";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-content-sha256", hash},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  r.payload_hash = hash;
  EXPECT_EQ(SignV4(r, kS3Example, "us-east-1", "s3", "20130524T000000Z").signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3ListObjectsEncodesQuery) {
  SigV4Request r;
  r.method = "GET";
  r.path = "/";
  r.query = {{"max-keys", "2"}, {"prefix", "J"}};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", kEmptyHash},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_hash = kEmptyHash;
  EXPECT_EQ(SignV4(r, kS3Example, "us-east-1", "s3", "20130524T000000Z").signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  r.query = {{"lifecycle", ""}};
  EXPECT_EQ(SignV4(r, kS3Example, "us-east-1", "s3", "20130524T000000Z").signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, AmzDateAndEncoding) {
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(AmzDate(951782400), "20000229T000000Z");
  EXPECT_EQ(util::UriEncode("a b/c~d*+"), "a%20b%2Fc~d%2A%2B");
  EXPECT_EQ(util::UriEncode("data/t 1/0.kbseg", true), "data/t%201/0.kbseg");
  EXPECT_EQ(CanonicalQuery({{"prefix", "a/b c"}, {"list-type", "2"}}), "list-type=2&prefix=a%2Fb%20c");
}

TEST(Crypto, Base64RoundTripAndMd5) {
  std::string decoded;
  EXPECT_EQ(util::Base64Encode("hello"), "aGVsbG8=");
  ASSERT_TRUE(util::Base64Decode("aGVsbG8=", &decoded));
  EXPECT_EQ(decoded, "hello");
  EXPECT_FALSE(util::Base64Decode("abc", &decoded));
  EXPECT_EQ(util::HexEncode(util::Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(util::Base64Encode(util::Md5("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

}  // namespace
}  // namespace kafka_backup::storage
