#include <gtest/gtest.h>

#include "storage/http.h"

namespace kafka_backup::storage {
namespace {

const ProviderErrors kProvider{"blob", "the key", {"BadToken"}, {"SlowDown"}};

Status::Code CodeOf(long status, std::string_view code = "") {
  return ClassifyHttpError(status, code, "detail", kProvider).code();
}

TEST(ClassifyHttpError, OneRuleForEveryBackend) {
  EXPECT_EQ(CodeOf(404), Status::Code::kNotFound);
  EXPECT_EQ(CodeOf(401), Status::Code::kAuth);
  EXPECT_EQ(CodeOf(403), Status::Code::kAuth);
  EXPECT_EQ(CodeOf(416), Status::Code::kCorruption);
  for (long transient : {429L, 500L, 502L, 503L, 504L}) EXPECT_EQ(CodeOf(transient), Status::Code::kUnavailable);
  for (long answer : {400L, 405L, 409L, 412L, 501L, 505L}) EXPECT_EQ(CodeOf(answer), Status::Code::kIoError);
}

TEST(ClassifyHttpError, ProviderCodesOverrideTheStatus) {
  EXPECT_EQ(CodeOf(400, "BadToken"), Status::Code::kAuth) << "an expired session token is a 400 on S3";
  EXPECT_EQ(CodeOf(400, "SlowDown"), Status::Code::kUnavailable);
  EXPECT_EQ(CodeOf(400, "Other"), Status::Code::kIoError);
  EXPECT_EQ(CodeOf(404, "BadToken"), Status::Code::kNotFound) << "404 is decided first";
}

TEST(ClassifyHttpError, MessagesSayWhatToCheck) {
  EXPECT_EQ(ClassifyHttpError(403, "", "PUT 'k': HTTP 403", kProvider).message(), "PUT 'k': HTTP 403; check the key");
  EXPECT_EQ(ClassifyHttpError(416, "", "GET 'k': HTTP 416", kProvider).message(),
            "GET 'k': HTTP 416 (the range lies past the blob's end)");
  EXPECT_EQ(ClassifyHttpError(500, "", "GET 'k': HTTP 500", kProvider).message(), "GET 'k': HTTP 500");
}

}  // namespace
}  // namespace kafka_backup::storage
