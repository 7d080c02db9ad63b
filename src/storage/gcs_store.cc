#include "storage/gcs_store.h"
#include "util/strings.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "storage/oauth.h"
#include "util/crypto.h"

namespace kafka_backup::storage {
namespace {

using util::Env;

using json = nlohmann::json;

constexpr const char* kScope = "https://www.googleapis.com/auth/devstorage.read_write";

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Result<ServiceAccountKey> ParseServiceAccountKey(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(fmt::format("{}: not a JSON service-account key", source));
  }
  if (j.value("type", "") != "service_account") {
    return Status::InvalidArgument(
        fmt::format("{}: \"type\" is \"{}\", expected \"service_account\"", source, j.value("type", "")));
  }
  ServiceAccountKey key;
  key.client_email = j.value("client_email", "");
  key.private_key = j.value("private_key", "");
  key.token_uri = j.value("token_uri", key.token_uri);
  if (key.client_email.empty() || key.private_key.empty()) {
    return Status::InvalidArgument(fmt::format("{}: lacks client_email or private_key", source));
  }
  return key;
}

Result<std::string> MakeJwtAssertion(const ServiceAccountKey& key, const std::string& scope, int64_t now_seconds) {
  std::string header = util::Base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})");
  json claims = {{"iss", key.client_email},
                 {"scope", scope},
                 {"aud", key.token_uri},
                 {"iat", now_seconds},
                 {"exp", now_seconds + 3600}};
  std::string signing_input = header + "." + util::Base64UrlEncode(claims.dump());
  std::string signature, error;
  if (!util::SignRs256(key.private_key, signing_input, &signature, &error)) {
    return Status::Auth(fmt::format("service account {}: {}", key.client_email, error));
  }
  return signing_input + "." + util::Base64UrlEncode(signature);
}

Result<GcsOptions> ParseGcsUrl(std::string_view url) {
  KB_ASSIGN_OR_RETURN(StorageUrl parts, SplitStorageUrl(url, "gs", "bucket"));
  GcsOptions o;
  o.bucket = std::move(parts.bucket);
  o.prefix = std::move(parts.prefix);
  bool endpoint_given = false;
  for (const auto& [k, v] : parts.params) {
    if (k == "endpoint") {
      o.endpoint = v;
      endpoint_given = true;
    } else {
      return UnknownUrlParameter(url, k, "endpoint");
    }
  }
  if (std::string emulator = Env("STORAGE_EMULATOR_HOST"); !emulator.empty()) {
    if (!endpoint_given) o.endpoint = emulator.find("://") == std::string::npos ? "http://" + emulator : emulator;
    o.anonymous = true;
  } else if (std::string token = Env("GOOGLE_OAUTH_ACCESS_TOKEN"); !token.empty()) {
    o.access_token = token;
  } else if (std::string file = Env("GOOGLE_APPLICATION_CREDENTIALS"); !file.empty()) {
    std::ifstream in(file);
    if (!in) {
      return Status::Auth(fmt::format("GOOGLE_APPLICATION_CREDENTIALS names {}, which cannot be read", file));
    }
    std::stringstream text;
    text << in.rdbuf();
    KB_ASSIGN_OR_RETURN(ServiceAccountKey key, ParseServiceAccountKey(text.str(), file));
    o.service_account = std::move(key);
  } else {
    o.metadata_host = Env("GCE_METADATA_HOST");
    o.metadata_host_defaulted = o.metadata_host.empty();
    if (o.metadata_host_defaulted) o.metadata_host = "metadata.google.internal";
  }
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (!o.endpoint.starts_with("http://") && !o.endpoint.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format("GCS endpoint '{}' must start with http:// or https://", o.endpoint));
  }
  return o;
}

GcsStore::GcsStore(GcsOptions options, HttpOptions http) : options_(std::move(options)), http_(http) {}

std::string GcsStore::Url() const {
  std::string url = "gs://" + options_.bucket;
  if (!options_.prefix.empty()) url += "/" + options_.prefix;
  return url;
}

std::string GcsStore::FullKey(std::string_view key) const {
  return options_.prefix.empty() ? std::string(key) : options_.prefix + "/" + std::string(key);
}

std::string GcsStore::ObjectUrl(std::string_view key) const {
  return fmt::format("{}/storage/v1/b/{}/o/{}", options_.endpoint, util::UriEncode(options_.bucket),
                     util::UriEncode(FullKey(key)));
}

Result<std::string> GcsStore::Token() {
  if (options_.anonymous) return std::string();
  if (!options_.access_token.empty()) return options_.access_token;
  std::lock_guard<std::mutex> lock(token_mu_);
  if (!token_.empty() && std::chrono::steady_clock::now() < token_expiry_) return token_;
  if (!options_.metadata_host.empty()) {
    KB_ASSIGN_OR_RETURN(OAuthToken token, MetadataToken());
    token_ = std::move(token.access_token);
    token_expiry_ =
        std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(token.expires_in_secs - 60, 10));
    return token_;
  }
  const ServiceAccountKey& key = *options_.service_account;
  KB_ASSIGN_OR_RETURN(std::string assertion, MakeJwtAssertion(key, kScope, NowSeconds()));
  OAuthTokenRequest req;
  req.url = key.token_uri;
  req.form = "grant_type=" + util::UriEncode("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" + assertion;
  req.who = "service account " + key.client_email;
  KB_ASSIGN_OR_RETURN(OAuthToken token, RequestOAuthToken(http_, req));
  token_ = token.access_token;
  // Renewed a minute early, so a request never carries an expiring token.
  token_expiry_ =
      std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(token.expires_in_secs - 60, 30));
  return token_;
}

Result<OAuthToken> GcsStore::MetadataToken() {
  OAuthTokenRequest req;
  req.method = "GET";
  req.url = fmt::format("http://{}/computeMetadata/v1/instance/service-accounts/default/token", options_.metadata_host);
  req.headers = {{"Metadata-Flavor", "Google"}};
  req.who = fmt::format("the metadata server at {}", options_.metadata_host);
  req.hint =
      "on GKE, check that the pod's Kubernetes service account is bound to a Google service account (workload "
      "identity) that may use the bucket";
  Result<OAuthToken> token = RequestOAuthToken(metadata_http_, req);
  if (!token.ok() && token.status().code() == Status::Code::kUnavailable && options_.metadata_host_defaulted) {
    // Off GCP the default host does not resolve: say what else gives credentials.
    return Status::Auth(fmt::format(
        "no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, "
        "GOOGLE_OAUTH_ACCESS_TOKEN, or GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET (or STORAGE_EMULATOR_HOST for an "
        "emulator); on GCE or GKE (workload identity) the metadata server gives them, but: {}",
        token.status().message()));
  }
  return token;
}

Result<HttpResponse> GcsStore::Send(HttpRequest request) {
  KB_ASSIGN_OR_RETURN(std::string token, Token());
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  return http_.Send(request);
}

Status GcsStore::ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const {
  std::string message;
  json j = json::parse(response.body, nullptr, false);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    message = j["error"].value("message", "");
  }
  std::string object = key.empty() ? std::string() : fmt::format(" '{}'", FullKey(key));
  std::string detail = fmt::format("GCS bucket '{}' at {}: {}{}: HTTP {}{}", options_.bucket, options_.endpoint, what,
                                   object, response.status, message.empty() ? "" : ": " + message);
  if (response.status == 404 && key.empty()) {
    return Status::NotFound(fmt::format("GCS bucket '{}' does not exist at {}; create it or fix storage.bucket",
                                        options_.bucket, options_.endpoint));
  }
  static const ProviderErrors kGcs{
      "object", "the credentials (GOOGLE_APPLICATION_CREDENTIALS) and the bucket's IAM", {}, {}};
  return ClassifyHttpError(response.status, "", std::move(detail), kGcs);
}

Status GcsStore::Put(std::string_view key, std::string_view data) {
  if (data.size() > options_.single_put_max) return PutResumable(key, data);
  return Upload(key, data, false);
}

// A conditional write is one media upload whatever the size.
Status GcsStore::Create(std::string_view key, std::string_view data) {
  return Upload(key, data, true);
}

Status GcsStore::Upload(std::string_view key, std::string_view data, bool only_if_absent) {
  HttpRequest req;
  req.method = "POST";
  req.url = fmt::format("{}/upload/storage/v1/b/{}/o?uploadType=media{}&name={}", options_.endpoint,
                        util::UriEncode(options_.bucket), only_if_absent ? "&ifGenerationMatch=0" : "",
                        util::UriEncode(FullKey(key)));
  req.headers = {{"Content-Type", "application/octet-stream"}};
  req.body = data;
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(std::move(req)));
  if (only_if_absent && r.status == 412) return Status::AlreadyExists(fmt::format("{}/{} already exists", Url(), key));
  if (r.status / 100 != 2) return ErrorOf(r, "upload", key);
  return Status::Ok();
}

Status GcsStore::PutResumable(std::string_view key, std::string_view data) {
  HttpRequest start;
  start.method = "POST";
  start.url = fmt::format("{}/upload/storage/v1/b/{}/o?uploadType=resumable&name={}", options_.endpoint,
                          util::UriEncode(options_.bucket), util::UriEncode(FullKey(key)));
  start.headers = {{"X-Upload-Content-Type", "application/octet-stream"},
                   {"X-Upload-Content-Length", std::to_string(data.size())}};
  KB_ASSIGN_OR_RETURN(HttpResponse started, Send(std::move(start)));
  if (started.status / 100 != 2) return ErrorOf(started, "start resumable upload", key);
  std::string session = started.Header("location");
  if (session.empty()) {
    return Status::IoError(
        fmt::format("GCS bucket '{}': a resumable upload of '{}' got no session URI", options_.bucket, FullKey(key)));
  }
  auto cancel = [&](Status cause) {
    HttpRequest del;
    del.method = "DELETE";
    del.url = session;
    (void)Send(std::move(del));  // best effort: an abandoned session expires after a week
    return cause;
  };
  for (uint64_t off = 0; off < data.size(); off += options_.chunk_size) {
    std::string_view chunk = data.substr(off, options_.chunk_size);
    bool last = off + chunk.size() == data.size();
    HttpRequest put;
    put.method = "PUT";
    put.url = session;
    put.headers = {{"Content-Range", fmt::format("bytes {}-{}/{}", off, off + chunk.size() - 1,
                                                 last ? std::to_string(data.size()) : std::string("*"))}};
    put.body = chunk;
    auto r = Send(std::move(put));
    if (!r.ok()) return cancel(r.status());
    bool ok = last ? r->status / 100 == 2 : (r->status == 308 || r->status / 100 == 2);
    if (!ok) return cancel(ErrorOf(*r, "resumable upload chunk", key));
  }
  return Status::Ok();
}

Result<std::string> GcsStore::Get(std::string_view key, std::optional<ByteRange> range) {
  HttpRequest req;
  req.url = ObjectUrl(key) + "?alt=media";
  if (range) {
    if (range->length == 0) return std::string();
    req.headers.emplace_back("Range", fmt::format("bytes={}-{}", range->offset, range->offset + range->length - 1));
  }
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(std::move(req)));
  if (r.status / 100 != 2) return ErrorOf(r, "download", key);
  if (range && r.body.size() != range->length) {
    return Status::Corruption(fmt::format("GCS object '{}': asked for {} bytes at {}, got {} (the object is shorter)",
                                          FullKey(key), range->length, range->offset, r.body.size()));
  }
  return std::move(r.body);
}

Result<ObjectInfo> GcsStore::Head(std::string_view key) {
  HttpRequest req;
  req.url = ObjectUrl(key);
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(std::move(req)));
  if (r.status == 404) return Status::NotFound(fmt::format("GCS object '{}' not found", FullKey(key)));
  if (r.status / 100 != 2) return ErrorOf(r, "metadata", key);
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Status::IoError(fmt::format("GCS object '{}': unreadable metadata", FullKey(key)));
  const json& size = j["size"];  // a decimal string in the JSON API
  uint64_t n = size.is_string() ? std::strtoull(size.get<std::string>().c_str(), nullptr, 10)
                                : (size.is_number() ? size.get<uint64_t>() : 0);
  return ObjectInfo{std::string(key), n};
}

Result<ListPage> GcsStore::List(std::string_view prefix, std::string_view continuation) {
  HttpRequest req;
  req.url = fmt::format("{}/storage/v1/b/{}/o?prefix={}&maxResults=1000&fields={}", options_.endpoint,
                        util::UriEncode(options_.bucket), util::UriEncode(FullKey(prefix)),
                        util::UriEncode("items(name,size),nextPageToken"));
  if (!continuation.empty()) req.url += "&pageToken=" + util::UriEncode(continuation);
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(std::move(req)));
  if (r.status / 100 != 2) return ErrorOf(r, "list", "");
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Status::IoError(fmt::format("GCS bucket '{}': unreadable listing", options_.bucket));
  ListPage page;
  if (j.contains("items")) {
    for (const auto& item : j["items"]) {
      std::string name = item.value("name", "");
      if (!options_.prefix.empty()) name = name.substr(std::min(name.size(), options_.prefix.size() + 1));
      const json& size = item["size"];
      uint64_t n = size.is_string() ? std::strtoull(size.get<std::string>().c_str(), nullptr, 10)
                                    : (size.is_number() ? size.get<uint64_t>() : 0);
      page.objects.push_back({std::move(name), n});
    }
  }
  std::sort(page.objects.begin(), page.objects.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  page.continuation = j.value("nextPageToken", "");
  return page;
}

Status GcsStore::Delete(std::string_view key) {
  HttpRequest req;
  req.method = "DELETE";
  req.url = ObjectUrl(key);
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(std::move(req)));
  if (r.status / 100 == 2 || r.status == 404) return Status::Ok();
  return ErrorOf(r, "delete", key);
}

// An unfinished resumable upload is invisible and expires after a week.
Status GcsStore::AbortIncomplete(std::string_view /*prefix*/) {
  return Status::Ok();
}

Status GcsStore::CreateBucket(const std::string& project) {
  HttpRequest req;
  req.method = "POST";
  req.url = fmt::format("{}/storage/v1/b?project={}", options_.endpoint, util::UriEncode(project));
  req.headers = {{"Content-Type", "application/json"}};
  std::string body = json{{"name", options_.bucket}}.dump();
  req.body = body;
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(std::move(req)));
  if (r.status / 100 == 2 || r.status == 409) return Status::Ok();
  return ErrorOf(r, "create bucket", "");
}

}  // namespace kafka_backup::storage
