// S3 URL parsing, credential resolution and the retry decorator; the S3
// client against a real server is in tests/conformance (run by the
// integration suite against s3proxy).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "storage/filesystem_store.h"
#include "storage/retry.h"
#include "storage/s3_store.h"

namespace kafka_backup::storage {
namespace {

// Sets environment variables for one test and restores them after.
class ScopedEnv {
 public:
  void Set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        unsetenv(it->first.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(S3Url, BucketPrefixAndParameters) {
  ScopedEnv env;
  env.Set("AWS_ENDPOINT_URL", nullptr);
  env.Set("AWS_ENDPOINT_URL_S3", nullptr);
  env.Set("AWS_REGION", nullptr);
  env.Set("AWS_DEFAULT_REGION", nullptr);
  auto o = ParseS3Url("s3://kafka-dr-backups/production/hourly/?region=eu-west-1");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->bucket, "kafka-dr-backups");
  EXPECT_EQ(o->prefix, "production/hourly");
  EXPECT_EQ(o->region, "eu-west-1");
  EXPECT_TRUE(o->endpoint.empty());
  EXPECT_FALSE(o->path_style) << "AWS itself: virtual-hosted";

  o = ParseS3Url("s3://b?endpoint=http://127.0.0.1:9000/&sse=aws:kms&kms_key_id=arn:aws:kms:k");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->prefix, "");
  EXPECT_EQ(o->region, "us-east-1");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:9000");
  EXPECT_TRUE(o->path_style) << "a custom endpoint: path-style";
  EXPECT_EQ(o->sse, "aws:kms");
  EXPECT_EQ(o->kms_key_id, "arn:aws:kms:k");

  EXPECT_EQ(ParseS3Url("s3:///prefix").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseS3Url("s3://b?colour=blue").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseS3Url("s3://b?endpoint=localhost:9000").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseS3Url("s3://b?sse=rot13").status().code(), Status::Code::kInvalidArgument);
}

TEST(S3Url, EndpointAndRegionFromTheEnvironmentAsTheAwsCli) {
  ScopedEnv env;
  env.Set("AWS_ENDPOINT_URL_S3", nullptr);
  env.Set("AWS_ENDPOINT_URL", "http://localhost:4566");
  env.Set("AWS_REGION", "ap-south-1");
  auto o = ParseS3Url("s3://b/p");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->endpoint, "http://localhost:4566");
  EXPECT_EQ(o->region, "ap-south-1");
  env.Set("AWS_ENDPOINT_URL_S3", "http://s3only:1");
  EXPECT_EQ(ParseS3Url("s3://b/p")->endpoint, "http://s3only:1");
  EXPECT_EQ(ParseS3Url("s3://b/p?endpoint=http://given:2")->endpoint, "http://given:2") << "the URL wins";
}

TEST(AwsCredentials, EnvironmentThenSharedFileProfile) {
  ScopedEnv env;
  env.Set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.Set("AWS_SECRET_ACCESS_KEY", "envsecret");
  env.Set("AWS_SESSION_TOKEN", nullptr);
  auto c = ResolveAwsCredentials();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIDENV");

  env.Set("AWS_SECRET_ACCESS_KEY", nullptr);
  EXPECT_EQ(ResolveAwsCredentials().status().code(), Status::Code::kAuth) << "a key id without a secret";

  auto file = std::filesystem::temp_directory_path() / ("kb-aws-credentials-" + std::to_string(::getpid()));
  {
    std::ofstream out(file);
    out << "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = defsecret\n\n"
           "[backup]\naws_access_key_id=AKIDBACKUP\naws_secret_access_key=backupsecret\naws_session_token = tok\n";
  }
  env.Set("AWS_ACCESS_KEY_ID", nullptr);
  env.Set("AWS_SHARED_CREDENTIALS_FILE", file.c_str());
  env.Set("AWS_PROFILE", nullptr);
  c = ResolveAwsCredentials();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDDEFAULT");
  env.Set("AWS_PROFILE", "backup");
  c = ResolveAwsCredentials();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->secret_access_key, "backupsecret");
  EXPECT_EQ(c->session_token, "tok");
  env.Set("AWS_PROFILE", "missing");
  auto missing = ResolveAwsCredentials();
  EXPECT_EQ(missing.status().code(), Status::Code::kAuth);
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);
  EXPECT_EQ(missing.status().message().find("backupsecret"), std::string::npos) << "never a secret in a message";
  std::filesystem::remove(file);
}

// A store whose calls fail with a scripted sequence of statuses first.
class ScriptedStore : public FilesystemStore {
 public:
  ScriptedStore(std::filesystem::path root, std::vector<Status> failures)
      : FilesystemStore(std::move(root)), failures_(std::move(failures)) {}
  Status Put(std::string_view key, std::string_view data) override {
    ++calls;
    if (next_ < failures_.size()) return failures_[next_++];
    return FilesystemStore::Put(key, data);
  }
  int calls = 0;

 private:
  std::vector<Status> failures_;
  size_t next_ = 0;
};

TEST(RetryingStore, RetriesTransientFaultsOnly) {
  auto root = std::filesystem::temp_directory_path() / ("kb-retry-" + std::to_string(::getpid()));
  RetryPolicy fast{std::chrono::milliseconds(1), std::chrono::milliseconds(4), std::chrono::seconds(5)};

  auto* scripted = new ScriptedStore(root, {Status::Unavailable("503 SlowDown"), Status::Unavailable("reset")});
  RetryingStore store(std::unique_ptr<ObjectStore>(scripted), fast);
  EXPECT_TRUE(store.Put("k", "v").ok());
  EXPECT_EQ(scripted->calls, 3);
  EXPECT_EQ(store.retries(), 2u);

  auto* denied = new ScriptedStore(root, {Status::Auth("403 SignatureDoesNotMatch")});
  RetryingStore auth(std::unique_ptr<ObjectStore>(denied), fast);
  EXPECT_EQ(auth.Put("k", "v").code(), Status::Code::kAuth);
  EXPECT_EQ(denied->calls, 1) << "a refused credential is not retried";

  RetryPolicy short_deadline{std::chrono::milliseconds(20), std::chrono::milliseconds(20), std::chrono::seconds(0)};
  auto* down = new ScriptedStore(root, std::vector<Status>(100, Status::Unavailable("connection refused")));
  RetryingStore gives_up(std::unique_ptr<ObjectStore>(down), short_deadline);
  Status s = gives_up.Put("k", "v");
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_NE(s.message().find("gave up"), std::string::npos) << s.ToString();
  std::filesystem::remove_all(root);
}

TEST(FaultInjectingStore, FailsAboutTheRateAndRetryingHidesIt) {
  auto root = std::filesystem::temp_directory_path() / ("kb-faults-" + std::to_string(::getpid()));
  auto* faulty = new FaultInjectingStore(std::make_unique<FilesystemStore>(root), 0.3, 42);
  RetryingStore store(
      std::unique_ptr<ObjectStore>(faulty),
      RetryPolicy{std::chrono::milliseconds(1), std::chrono::milliseconds(2), std::chrono::seconds(10)});
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store.Put("k" + std::to_string(i), std::to_string(i)).ok());
    auto got = store.Get("k" + std::to_string(i), std::nullopt);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, std::to_string(i));
  }
  EXPECT_GT(faulty->injected(), 60u);
  EXPECT_LT(faulty->injected(), 200u);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace kafka_backup::storage

namespace kafka_backup::storage {
namespace {

TEST(RateLimitedStore, HoldsTheAverageRate) {
  auto root = std::filesystem::temp_directory_path() / ("kb-rate-" + std::to_string(::getpid()));
  RateLimitedStore store(std::make_unique<FilesystemStore>(root), 4u << 20);  // 4 MiB/s, 4 MiB burst
  std::string mib(1u << 20, 'x');
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store.Put("k" + std::to_string(i), mib).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(store.Get("k" + std::to_string(i), std::nullopt).ok());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // 8 MiB at 4 MiB/s with a 4 MiB burst: about one second, not less.
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 3.0);
  std::filesystem::remove_all(root);
}

TEST(AwsCredentials, Iso8601) {
  EXPECT_EQ(ParseIso8601("2015-08-30T12:36:00Z"), 1440938160);
  EXPECT_EQ(ParseIso8601("2026-11-25T14:00:00.000Z"), 1795615200);
  EXPECT_FALSE(ParseIso8601("yesterday").has_value());
}

}  // namespace
}  // namespace kafka_backup::storage
