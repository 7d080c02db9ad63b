#include "kafka/msk_iam.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>

#include "util/crypto.h"

namespace kafka_backup::kafka {

MskIamToken MakeMskIamToken(const storage::AwsCredentials& credentials, const std::string& region, int64_t unix_seconds,
                            const std::string& user_agent) {
  const std::string amz_date = storage::AmzDate(unix_seconds);
  const std::string host = fmt::format("kafka.{}.amazonaws.com", region);
  storage::SigV4Request request;
  request.method = "GET";
  request.path = "/";
  request.query = {
      {"Action", "kafka-cluster:Connect"},
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Credential",
       fmt::format("{}/{}/{}/kafka-cluster/aws4_request", credentials.access_key_id, amz_date.substr(0, 8), region)},
      {"X-Amz-Date", amz_date},
      {"X-Amz-Expires", std::to_string(kMskIamTokenSeconds)},
      {"X-Amz-SignedHeaders", "host"},
  };
  if (!credentials.session_token.empty()) request.query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  request.headers = {{"host", host}};
  request.payload_hash = util::HexEncode(util::Sha256(""));
  storage::SigV4Signature sig = storage::SignV4(request, credentials, region, "kafka-cluster", amz_date);

  std::vector<std::pair<std::string, std::string>> query = request.query;
  query.emplace_back("X-Amz-Signature", sig.signature);
  query.emplace_back("User-Agent", user_agent);
  const std::string url = fmt::format("https://{}/?{}", host, storage::CanonicalQuery(query));
  return MskIamToken{util::Base64UrlEncode(url), (unix_seconds + kMskIamTokenSeconds) * 1000};
}

std::optional<std::string> MskRegionOf(const std::vector<std::string>& bootstrap_servers) {
  static const std::regex kMskHost(
      R"(\.kafka(?:-serverless)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?(?::\d+)?$)", std::regex::icase);
  for (const std::string& server : bootstrap_servers) {
    std::smatch m;
    if (std::regex_search(server, m, kMskHost)) return m[1].str();
  }
  return std::nullopt;
}

namespace {

// One credential chain per region for the process: every client of a run
// (admin, consumer, producers) signs with it, so temporary credentials (web
// identity, instance metadata) are fetched once, not once per client. The
// chain's providers lock around their renewal.
Result<std::shared_ptr<storage::AwsCredentialProvider>> SharedCredentials(const std::string& region) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<storage::AwsCredentialProvider>> by_region;
  std::lock_guard lock(mu);
  if (auto it = by_region.find(region); it != by_region.end()) return it->second;
  KB_ASSIGN_OR_RETURN(auto credentials, storage::DefaultAwsCredentials(region));
  by_region.emplace(region, credentials);
  return credentials;
}

}  // namespace

Result<std::unique_ptr<MskIamAuth>> MskIamAuth::Create(const std::string& region,
                                                       const std::vector<std::string>& bootstrap_servers) {
  std::string r = region;
  if (r.empty()) r = MskRegionOf(bootstrap_servers).value_or("");
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    const char* v = std::getenv(var);
    if (r.empty() && v != nullptr) r = v;
  }
  if (r.empty()) {
    return Status::InvalidArgument(
        "sasl_mechanism AWS_MSK_IAM needs the cluster's AWS region: set security.aws_region (or AWS_REGION), "
        "or use the brokers' MSK addresses (...kafka.REGION.amazonaws.com)");
  }
  KB_ASSIGN_OR_RETURN(auto credentials, SharedCredentials(r));
  return std::unique_ptr<MskIamAuth>(new MskIamAuth(r, std::move(credentials)));
}

Result<MskIamToken> MskIamAuth::Next() const {
  Result<storage::AwsCredentials> creds = credentials_->Get();
  if (!creds.ok()) {
    return Status::Auth(
        fmt::format("MSK IAM: no AWS credentials ({}): {}", credentials_->Source(), creds.status().message()));
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return MakeMskIamToken(*creds, region_, now);
}

}  // namespace kafka_backup::kafka
