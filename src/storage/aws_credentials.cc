#include "storage/aws_credentials.h"
#include "util/strings.h"

#include <fmt/format.h>
#include <tinyxml2.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "storage/http.h"
#include "storage/s3_store.h"
#include "util/crypto.h"

namespace kafka_backup::storage {
namespace {

using util::Env;

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Static : public AwsCredentialProvider {
 public:
  Static(AwsCredentials c, std::string source) : c_(std::move(c)), source_(std::move(source)) {}
  Result<AwsCredentials> Get() override { return c_; }
  std::string Source() const override { return source_; }

 private:
  AwsCredentials c_;
  std::string source_;
};

// Caches temporary credentials and fetches new ones five minutes before
// they expire.
class Refreshing : public AwsCredentialProvider {
 public:
  Result<AwsCredentials> Get() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (expires_ == 0 || Now() > expires_ - 300) {
      KB_ASSIGN_OR_RETURN(auto fetched, Fetch());
      current_ = std::move(fetched.first);
      expires_ = fetched.second;
    }
    return current_;
  }

 protected:
  // New credentials and their expiry (seconds since the epoch).
  virtual Result<std::pair<AwsCredentials, int64_t>> Fetch() = 0;
  HttpClient http_{HttpOptions{2, 10, 1}};

 private:
  std::mutex mu_;
  AwsCredentials current_;
  int64_t expires_ = 0;
};

class WebIdentity : public Refreshing {
 public:
  WebIdentity(std::string token_file, std::string role_arn, std::string session, std::string endpoint)
      : token_file_(std::move(token_file)),
        role_arn_(std::move(role_arn)),
        session_(std::move(session)),
        endpoint_(std::move(endpoint)) {}
  std::string Source() const override { return fmt::format("web identity role {} (STS {})", role_arn_, endpoint_); }

 protected:
  Result<std::pair<AwsCredentials, int64_t>> Fetch() override {
    std::ifstream in(token_file_);  // re-read each time: Kubernetes rotates it
    std::stringstream token;
    token << in.rdbuf();
    if (!in || token.str().empty()) {
      return Status::Auth(fmt::format("AWS_WEB_IDENTITY_TOKEN_FILE {} cannot be read or is empty", token_file_));
    }
    std::string t = token.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    std::string body = fmt::format(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
        util::UriEncode(role_arn_), util::UriEncode(session_), util::UriEncode(t));
    HttpRequest req;
    req.method = "POST";
    req.url = endpoint_ + "/";
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/xml"}};
    req.body = body;
    KB_ASSIGN_OR_RETURN(HttpResponse r, http_.Send(req));
    tinyxml2::XMLDocument doc;
    bool parsed = doc.Parse(r.body.data(), r.body.size()) == tinyxml2::XML_SUCCESS && doc.RootElement();
    auto text = [](const tinyxml2::XMLElement* e, const char* name) {
      const tinyxml2::XMLElement* c = e ? e->FirstChildElement(name) : nullptr;
      return c && c->GetText() ? std::string(c->GetText()) : std::string();
    };
    if (r.status / 100 != 2 || !parsed) {
      const tinyxml2::XMLElement* err = parsed ? doc.RootElement()->FirstChildElement("Error") : nullptr;
      std::string msg = fmt::format("{}: AssumeRoleWithWebIdentity: HTTP {} {} {}", Source(), r.status,
                                    text(err, "Code"), text(err, "Message"));
      return TransientHttpStatus(r.status) ? Status::Unavailable(msg) : Status::Auth(msg);
    }
    const tinyxml2::XMLElement* result = doc.RootElement()->FirstChildElement("AssumeRoleWithWebIdentityResult");
    const tinyxml2::XMLElement* creds = result ? result->FirstChildElement("Credentials") : nullptr;
    AwsCredentials c{text(creds, "AccessKeyId"), text(creds, "SecretAccessKey"), text(creds, "SessionToken")};
    auto expires = ParseIso8601(text(creds, "Expiration"));
    if (c.access_key_id.empty() || c.secret_access_key.empty() || !expires) {
      return Status::Auth(fmt::format("{}: STS answered without complete credentials", Source()));
    }
    return std::make_pair(std::move(c), *expires);
  }

 private:
  std::string token_file_, role_arn_, session_, endpoint_;
};

class InstanceMetadata : public Refreshing {
 public:
  explicit InstanceMetadata(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  std::string Source() const override { return fmt::format("EC2 instance metadata (IMDSv2 at {})", endpoint_); }

 protected:
  Result<std::pair<AwsCredentials, int64_t>> Fetch() override {
    auto fail = [&](const std::string& why) {
      return Status::Auth(
          fmt::format("no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), no web identity "
                      "(AWS_WEB_IDENTITY_TOKEN_FILE), no shared credentials file, and {}: {}",
                      Source(), why));
    };
    HttpRequest token_req;
    token_req.method = "PUT";
    token_req.url = endpoint_ + "/latest/api/token";
    token_req.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    auto token = http_.Send(token_req);
    if (!token.ok()) return fail(token.status().message());
    if (token->status != 200 || token->body.empty()) return fail(fmt::format("token request: HTTP {}", token->status));
    HttpHeaders auth = {{"X-aws-ec2-metadata-token", token->body}};

    HttpRequest role_req;
    role_req.url = endpoint_ + "/latest/meta-data/iam/security-credentials/";
    role_req.headers = auth;
    KB_ASSIGN_OR_RETURN(HttpResponse roles, http_.Send(role_req));
    std::string role = roles.body.substr(0, roles.body.find('\n'));
    if (roles.status != 200 || role.empty()) {
      return fail(fmt::format("no IAM role attached to the instance (HTTP {})", roles.status));
    }
    HttpRequest cred_req;
    cred_req.url = endpoint_ + "/latest/meta-data/iam/security-credentials/" + util::UriEncode(role);
    cred_req.headers = auth;
    KB_ASSIGN_OR_RETURN(HttpResponse r, http_.Send(cred_req));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded() || j.value("Code", "Success") != "Success") {
      return fail(fmt::format("role {}: HTTP {}", role, r.status));
    }
    AwsCredentials c{j.value("AccessKeyId", ""), j.value("SecretAccessKey", ""), j.value("Token", "")};
    auto expires = ParseIso8601(j.value("Expiration", ""));
    if (c.access_key_id.empty() || c.secret_access_key.empty() || !expires) {
      return fail(fmt::format("role {}: incomplete credentials", role));
    }
    return std::make_pair(std::move(c), *expires);
  }

 private:
  std::string endpoint_;
};

}  // namespace

std::optional<int64_t> ParseIso8601(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

std::shared_ptr<AwsCredentialProvider> StaticAwsCredentials(AwsCredentials credentials, std::string source) {
  return std::make_shared<Static>(std::move(credentials), std::move(source));
}

Result<std::shared_ptr<AwsCredentialProvider>> DefaultAwsCredentials(const std::string& region) {
  if (!Env("AWS_ACCESS_KEY_ID").empty() || !Env("AWS_SECRET_ACCESS_KEY").empty()) {
    KB_ASSIGN_OR_RETURN(AwsCredentials c, ResolveAwsCredentials());
    return StaticAwsCredentials(std::move(c), "the environment (AWS_ACCESS_KEY_ID)");
  }
  std::string token_file = Env("AWS_WEB_IDENTITY_TOKEN_FILE");
  std::string role_arn = Env("AWS_ROLE_ARN");
  if (!token_file.empty() || !role_arn.empty()) {
    if (token_file.empty() || role_arn.empty()) {
      return Status::Auth("web identity needs both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN");
    }
    std::string session = Env("AWS_ROLE_SESSION_NAME");
    if (session.empty()) session = fmt::format("kafka-backup-{}", Now());
    std::string endpoint = Env("AWS_ENDPOINT_URL_STS");
    if (endpoint.empty()) endpoint = fmt::format("https://sts.{}.amazonaws.com", region);
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    return std::shared_ptr<AwsCredentialProvider>(
        std::make_shared<WebIdentity>(token_file, role_arn, session, endpoint));
  }
  auto from_file = ResolveAwsCredentials();
  if (from_file.ok()) return StaticAwsCredentials(std::move(*from_file), "the shared credentials file");
  // A named profile or a broken file is an error, not a reason to look further.
  bool nothing_configured = Env("AWS_PROFILE").empty() && from_file.status().message().starts_with("no AWS");
  if (!nothing_configured) return from_file.status();
  std::string disabled = Env("AWS_EC2_METADATA_DISABLED");
  if (disabled == "true" || disabled == "TRUE" || disabled == "1") return from_file.status();
  std::string endpoint = Env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint.empty()) endpoint = "http://169.254.169.254";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return std::shared_ptr<AwsCredentialProvider>(std::make_shared<InstanceMetadata>(endpoint));
}

}  // namespace kafka_backup::storage
