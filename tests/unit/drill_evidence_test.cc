// A drill's evidence (src/drill/evidence.h, html.cc, after_restore.h): the
// report signed with Ed25519 verifies, and fails once any byte of it changes,
// under another key, or unsigned; the page escapes what it shows and loads
// nothing; the after_restore command's exit, timeout and environment.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "drill/after_restore.h"
#include "drill/evidence.h"
#include "kafka_backup/drill.h"
#include "util/crypto.h"

namespace kafka_backup::drill {
namespace {

// RFC 8032 section 7.1, test 1: the secret key as PKCS#8 PEM (OpenSSL's form).
constexpr const char* kKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr const char* kOtherKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n"
    "-----END PRIVATE KEY-----\n";

TEST(DrillEvidenceTest, Ed25519MatchesTheRfc8032Vector) {
  std::string signature, public_key, error;
  ASSERT_TRUE(util::SignEd25519(kKey, "", &signature, &public_key, &error)) << error;
  EXPECT_EQ(util::HexEncode(public_key), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(util::HexEncode(signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0"
            "595bbe24655141438e7a100b");
  EXPECT_TRUE(util::VerifyEd25519(public_key, "", signature));
  EXPECT_FALSE(util::VerifyEd25519(public_key, "x", signature));
}

DrillReport Report() {
  DrillReport r;
  r.drill_id = "drill-20261207T200000Z";
  r.backup_id = "nightly";
  r.tool_version = "test";
  r.validation = "deep";
  r.topic_prefix = "drill-x-";
  r.topics.push_back({"orders<&>", "drill-x-orders<&>", 2, 2, 10, 1000, 0.5});
  r.throughput = {{0.2, 2, 200}, {0.4, 6, 600}, {0.6, 10, 1000}};
  return r;
}

TEST(DrillEvidenceTest, ASignedReportVerifiesAndAnyChangedByteFails) {
  std::string body = DrillReportJson(Report());
  std::string key_id;
  auto signed_json = SignReport(body, kKey, &key_id);
  ASSERT_TRUE(signed_json.ok()) << signed_json.status().ToString();
  EXPECT_EQ(key_id, "sha256:" + util::HexEncode(util::Sha256(std::string(
                                    "\xd7\x5a\x98\x01\x82\xb1\x0a\xb7\xd5\x4b\xfe\xd3\xc9\x64\x07\x3a\x0e\xe1\x72\xf3"
                                    "\xda\xa6\x23\x25\xaf\x02\x1a\x68\xf7\x07\x51\x1a",
                                    32))));
  DrillVerification v = VerifyDrillReport(*signed_json, kKey);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_TRUE(v.pinned);
  EXPECT_EQ(v.drill_id, "drill-20261207T200000Z");
  EXPECT_TRUE(VerifyDrillReport(*signed_json + "\n", "").ok);  // as --format json prints it
  EXPECT_FALSE(VerifyDrillReport(*signed_json + "\n", "").pinned);
  for (size_t i = 0; i < signed_json->size(); ++i) {
    std::string changed = *signed_json;
    changed[i] = static_cast<char>(changed[i] ^ 1);
    EXPECT_FALSE(VerifyDrillReport(changed, kKey).ok) << "byte " << i << " changed and still verified";
  }
  DrillVerification other = VerifyDrillReport(*signed_json, kOtherKey);
  EXPECT_FALSE(other.ok);
  EXPECT_NE(other.problem.find("not by the key given"), std::string::npos) << other.problem;
  EXPECT_NE(VerifyDrillReport(body, "").problem.find("not signed"), std::string::npos);
  EXPECT_NE(VerifyDrillReport("{not json", "").problem.find("not a JSON document"), std::string::npos);
}

TEST(DrillEvidenceTest, ASigningKeyThatIsNotEd25519IsRefusedWithoutQuotingIt) {
  DrillConfig config;
  config.signing_key_file = "/nonexistent/key.pem";
  auto missing = SigningKey(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/key.pem"), std::string::npos);
  std::string path = testing::TempDir() + "/not-a-key.pem";
  std::ofstream(path) << "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n";
  config.signing_key_file = path;
  auto bad = SigningKey(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("openssl genpkey -algorithm ed25519"), std::string::npos);
  EXPECT_EQ(bad.status().message().find("c2VjcmV0LXN0dWZm"), std::string::npos);
  std::ofstream(path) << kKey;
  auto good = SigningKey(config);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(*good, kKey);
  EXPECT_TRUE(SigningKey(DrillConfig{})->empty());
}

TEST(DrillEvidenceTest, ThePageEscapesNamesAndLoadsNothing) {
  DrillReport r = Report();
  std::string html = DrillReportHtml(r);
  EXPECT_NE(html.find("orders&lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(html.find("orders<&>"), std::string::npos);
  EXPECT_NE(html.find("Restore drill passed"), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  r.partitions.push_back({"orders<&>", "drill-x-orders<&>", 3, 10, 9, 0, 8, 0, 9, "differs", "segment s", false,
                          "9 records read back, the backup holds 10"});
  html = DrillReportHtml(r);
  EXPECT_NE(html.find("Restore drill FAILED"), std::string::npos);
  EXPECT_NE(html.find("9 records read back, the backup holds 10"), std::string::npos);
  r.throughput.resize(1);
  EXPECT_NE(DrillReportHtml(r).find("too short to chart"), std::string::npos);
}

TEST(DrillEvidenceTest, AfterRestoreReportsItsExitAndSeesTheDrill) {
  DrillHook ok = RunAfterRestore({"/bin/sh", "-c", "test \"$KAFKA_BACKUP_DRILL_TOPICS\" = a,b"},
                                 {{"KAFKA_BACKUP_DRILL_TOPICS", "a,b"}}, 30);
  EXPECT_TRUE(ok.ok()) << ok.problem;
  EXPECT_EQ(ok.exit_code, 0);
  DrillHook failed = RunAfterRestore({"/bin/sh", "-c", "exit 3"}, {}, 30);
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.problem, "drill.after_restore exited 3");
  DrillHook missing = RunAfterRestore({"/nonexistent/check"}, {}, 30);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.problem.find("/nonexistent/check"), std::string::npos) << missing.problem;
}

TEST(DrillEvidenceTest, AfterRestoreNeverSeesTheSigningKey) {
  ::setenv("KAFKA_BACKUP_DRILL_SIGNING_KEY", kKey, 1);
  DrillHook hook = RunAfterRestore({"/bin/sh", "-c", "test -z \"${KAFKA_BACKUP_DRILL_SIGNING_KEY:-}\""}, {}, 30);
  ::unsetenv("KAFKA_BACKUP_DRILL_SIGNING_KEY");
  EXPECT_TRUE(hook.ok()) << hook.problem;
}

TEST(DrillEvidenceTest, AfterRestoreIsStoppedAtItsTimeoutWithWhatItStarted) {
  DrillHook hook = RunAfterRestore({"/bin/sh", "-c", "sleep 30 & sleep 30"}, {}, 1);
  EXPECT_EQ(hook.exit_code, -1);
  EXPECT_NE(hook.problem.find("did not finish within 1 s"), std::string::npos) << hook.problem;
  EXPECT_LT(hook.seconds, 10);
}

}  // namespace
}  // namespace kafka_backup::drill
