#include "storage/s3_store.h"
#include "storage/xml.h"
#include "util/strings.h"

#include <fmt/format.h>
#include <tinyxml2.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "util/crypto.h"

namespace kafka_backup::storage {
namespace {

using util::Env;
using util::Trim;

// Shared credentials file: INI sections "[profile]" with key = value lines.
Result<AwsCredentials> FromCredentialsFile(const std::filesystem::path& file, const std::string& profile) {
  std::ifstream in(file);
  if (!in) return Status::NotFound(fmt::format("no shared credentials file at {}", file.string()));
  AwsCredentials c;
  std::string line, section;
  bool found = false;
  while (std::getline(in, line)) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = Trim(std::string_view(t).substr(1, t.size() - 2));
      found = found || section == profile;
      continue;
    }
    if (section != profile) continue;
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(std::string_view(t).substr(0, eq));
    std::string value = Trim(std::string_view(t).substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (!found) return Status::NotFound(fmt::format("profile '{}' is not in {}", profile, file.string()));
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument(
        fmt::format("profile '{}' in {} lacks aws_access_key_id or aws_secret_access_key", profile, file.string()));
  }
  return c;
}

}  // namespace

Result<S3Options> ParseS3Url(std::string_view url) {
  KB_ASSIGN_OR_RETURN(StorageUrl parts, SplitStorageUrl(url, "s3", "bucket"));
  S3Options o;
  o.bucket = std::move(parts.bucket);
  o.prefix = std::move(parts.prefix);
  bool path_style_given = false;
  for (const auto& [k, v] : parts.params) {
    if (k == "region") {
      o.region = v;
    } else if (k == "endpoint") {
      o.endpoint = v;
    } else if (k == "path_style") {
      if (v != "true" && v != "false") {
        return Status::InvalidArgument(fmt::format("storage URL '{}': path_style must be true or false", url));
      }
      o.path_style = v == "true";
      path_style_given = true;
    } else if (k == "storage_class") {
      o.storage_class = v;
    } else if (k == "sse") {
      if (v != "AES256" && v != "aws:kms") {
        return Status::InvalidArgument(fmt::format("storage URL '{}': sse must be AES256 or aws:kms", url));
      }
      o.sse = v;
    } else if (k == "kms_key_id") {
      o.kms_key_id = v;
    } else if (k == "object_lock_mode") {
      if (v != "GOVERNANCE" && v != "COMPLIANCE") {
        return Status::InvalidArgument(
            fmt::format("storage URL '{}': object_lock_mode must be GOVERNANCE or COMPLIANCE", url));
      }
      o.object_lock_mode = v;
    } else if (k == "object_lock_days") {
      char* end = nullptr;
      long days = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != 0 || days < 1 || days > 36500) {
        return Status::InvalidArgument(
            fmt::format("storage URL '{}': object_lock_days must be a number of days from 1 to 36500", url));
      }
      o.object_lock_days = static_cast<int>(days);
    } else {
      return UnknownUrlParameter(
          url, k, "region, endpoint, path_style, storage_class, sse, kms_key_id, object_lock_mode, object_lock_days");
    }
  }
  if (o.object_lock_mode.empty() != (o.object_lock_days == 0)) {
    return Status::InvalidArgument(fmt::format(
        "storage URL '{}': object_lock_mode and object_lock_days go together (e.g. GOVERNANCE and 30)", url));
  }
  if (!o.kms_key_id.empty() && o.sse.empty()) o.sse = "aws:kms";
  if (o.region.empty()) o.region = Env("AWS_REGION");
  if (o.region.empty()) o.region = Env("AWS_DEFAULT_REGION");
  if (o.region.empty()) o.region = "us-east-1";
  if (o.endpoint.empty()) o.endpoint = Env("AWS_ENDPOINT_URL_S3");
  if (o.endpoint.empty()) o.endpoint = Env("AWS_ENDPOINT_URL");
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (!o.endpoint.empty() && !o.endpoint.starts_with("http://") && !o.endpoint.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format("S3 endpoint '{}' must start with http:// or https://", o.endpoint));
  }
  // A custom endpoint (MinIO, Ceph, a local server) is addressed by path
  // unless told otherwise; AWS by virtual host.
  if (!path_style_given) o.path_style = !o.endpoint.empty();
  return o;
}

Result<AwsCredentials> ResolveAwsCredentials() {
  AwsCredentials c;
  c.access_key_id = Env("AWS_ACCESS_KEY_ID");
  c.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  c.session_token = Env("AWS_SESSION_TOKEN");
  if (!c.access_key_id.empty() || !c.secret_access_key.empty()) {
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Status::Auth("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    return c;
  }
  std::string profile = Env("AWS_PROFILE");
  bool profile_named = !profile.empty();
  if (profile.empty()) profile = "default";
  std::filesystem::path file = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty()) {
    std::string home = Env("HOME");
    file = std::filesystem::path(home.empty() ? "/" : home) / ".aws" / "credentials";
  }
  auto from_file = FromCredentialsFile(file, profile);
  if (from_file.ok()) return from_file;
  if (profile_named || from_file.status().code() != Status::Code::kNotFound) {
    return Status::Auth(fmt::format("AWS credentials: {}", from_file.status().message()));
  }
  return Status::Auth(
      "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared "
      "credentials file (~/.aws/credentials)");
}

S3Store::S3Store(S3Options options, std::shared_ptr<AwsCredentialProvider> credentials, HttpOptions http)
    : options_(std::move(options)), credentials_(std::move(credentials)), http_(http) {
  std::string scheme = "https";
  std::string host;
  if (options_.endpoint.empty()) {
    host = fmt::format("s3.{}.amazonaws.com", options_.region);
  } else {
    auto sep = options_.endpoint.find("://");
    scheme = options_.endpoint.substr(0, sep);
    host = options_.endpoint.substr(sep + 3);
    if (auto slash = host.find('/'); slash != std::string::npos) host.resize(slash);
  }
  if (options_.path_style) {
    host_ = host;
    base_url_ = fmt::format("{}://{}/{}", scheme, host, util::UriEncode(options_.bucket));
  } else {
    host_ = options_.bucket + "." + host;
    base_url_ = fmt::format("{}://{}", scheme, host_);
  }
}

std::string S3Store::Url() const {
  std::string url = "s3://" + options_.bucket;
  if (!options_.prefix.empty()) url += "/" + options_.prefix;
  return url;
}

std::string S3Store::FullKey(std::string_view key) const {
  return options_.prefix.empty() ? std::string(key) : options_.prefix + "/" + std::string(key);
}

std::string S3Store::StripPrefix(std::string_view full_key) const {
  if (options_.prefix.empty()) return std::string(full_key);
  return std::string(full_key.substr(std::min(full_key.size(), options_.prefix.size() + 1)));
}

Result<HttpResponse> S3Store::Send(const Call& call) {
  std::string path = options_.path_style ? "/" + util::UriEncode(options_.bucket) : "";
  std::string url = base_url_;
  if (!call.bucket_call) {
    std::string encoded = util::UriEncode(FullKey(call.key), true);
    path += "/" + encoded;
    url += "/" + encoded;
  } else {
    path += "/";
    url += "/";
  }
  std::string query = CanonicalQuery(call.query);
  if (!query.empty()) url += "?" + query;

  KB_ASSIGN_OR_RETURN(AwsCredentials credentials, credentials_->Get());
  auto now = std::chrono::system_clock::now();
  std::string amz_date = AmzDate(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  std::string payload_hash = util::HexEncode(util::Sha256(call.body));

  SigV4Request req;
  req.method = call.method;
  req.path = path;
  req.query = call.query;
  req.headers = call.headers;
  req.headers.emplace_back("host", host_);
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty()) req.headers.emplace_back("x-amz-security-token", credentials.session_token);
  req.payload_hash = payload_hash;
  SigV4Signature sig = SignV4(req, credentials, options_.region, "s3", amz_date);

  HttpRequest http;
  http.method = call.method;
  http.url = std::move(url);
  http.headers = std::move(req.headers);
  http.headers.emplace_back("Authorization", sig.authorization);
  http.body = call.body;
  return http_.Send(http);
}

Status S3Store::ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const {
  std::string code, message;
  tinyxml2::XMLDocument doc;
  if (!response.body.empty() && doc.Parse(response.body.data(), response.body.size()) == tinyxml2::XML_SUCCESS) {
    const tinyxml2::XMLElement* root = doc.RootElement();
    code = ChildText(root, "Code");
    message = ChildText(root, "Message");
  }
  std::string where =
      fmt::format("S3 bucket '{}'{}", options_.bucket, options_.endpoint.empty() ? "" : " at " + options_.endpoint);
  std::string object = key.empty() ? std::string() : fmt::format(" '{}'", FullKey(key));
  std::string detail = fmt::format("{} {}{}: HTTP {}{}{}", where, what, object, response.status,
                                   code.empty() ? "" : " " + code, message.empty() ? "" : ": " + message);
  if (code == "NoSuchBucket") {
    return Status::NotFound(fmt::format("S3 bucket '{}' does not exist{}; create it or fix storage.bucket",
                                        options_.bucket, options_.endpoint.empty() ? "" : " at " + options_.endpoint));
  }
  if (response.status == 400 && code == "AuthorizationHeaderMalformed") {
    return Status::InvalidArgument(detail + "; check the region");
  }
  // A session token that is wrong or expired is an HTTP 400 with one of the last three codes.
  static const ProviderErrors kS3{
      "object",
      "the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the profile) and the "
      "bucket policy",
      {"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "TokenRefreshRequired"},
      {"SlowDown", "RequestTimeout"}};
  return ClassifyHttpError(response.status, code, std::move(detail), kS3);
}

void S3Store::AddPutHeaders(HttpHeaders* headers) const {
  if (!options_.storage_class.empty()) headers->emplace_back("x-amz-storage-class", options_.storage_class);
  if (!options_.sse.empty()) headers->emplace_back("x-amz-server-side-encryption", options_.sse);
  if (!options_.kms_key_id.empty()) {
    headers->emplace_back("x-amz-server-side-encryption-aws-kms-key-id", options_.kms_key_id);
  }
  if (!options_.object_lock_mode.empty()) {
    auto until = std::chrono::system_clock::now() + std::chrono::hours(24) * options_.object_lock_days;
    std::time_t t = std::chrono::system_clock::to_time_t(until);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    headers->emplace_back("x-amz-object-lock-mode", options_.object_lock_mode);
    headers->emplace_back("x-amz-object-lock-retain-until-date", buf);
  }
}

Status S3Store::Put(std::string_view key, std::string_view data) {
  if (data.size() > options_.multipart_threshold) return PutMultipart(key, data);
  return PutObject(key, data, false);
}

// A conditional write is one request whatever the size: a multipart upload
// would decide the condition only at its completion.
Status S3Store::Create(std::string_view key, std::string_view data) {
  return PutObject(key, data, true);
}

Status S3Store::PutObject(std::string_view key, std::string_view data, bool only_if_absent) {
  // No Content-MD5: the signed x-amz-content-sha256 already lets the server
  // refuse a body damaged on the way.
  Call call{"PUT", std::string(key), {}, {}, data, false};
  AddPutHeaders(&call.headers);
  if (only_if_absent) call.headers.emplace_back("If-None-Match", "*");
  // S3 asks for Content-MD5 on every upload into an Object Lock bucket.
  if (!options_.object_lock_mode.empty()) call.headers.emplace_back("Content-MD5", util::Base64Encode(util::Md5(data)));
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(call));
  if (only_if_absent) {
    // 412: the object exists. 409 (ConditionalRequestConflict): a concurrent
    // conditional write of the same key is in flight; retried, it answers 412.
    if (r.status == 412) return Status::AlreadyExists(fmt::format("{}/{} already exists", Url(), key));
    if (r.status == 409) {
      return Status::Unavailable(fmt::format("{}/{}: a concurrent write of the same key", Url(), key));
    }
  }
  if (r.status / 100 != 2) return ErrorOf(r, "PUT", key);
  return Status::Ok();
}

Status S3Store::PutMultipart(std::string_view key, std::string_view data) {
  KB_ASSIGN_OR_RETURN(std::string upload_id, StartUpload(key));
  std::vector<std::string> tokens;
  Status s;
  for (uint64_t off = 0; off < data.size() && s.ok(); off += options_.part_size) {
    auto token = UploadPart(key, upload_id, static_cast<int>(tokens.size()) + 1, data.substr(off, options_.part_size));
    if (token.ok()) {
      tokens.push_back(std::move(*token));
    } else {
      s = token.status();
    }
  }
  if (s.ok()) s = CompleteUpload(key, upload_id, tokens);
  if (!s.ok()) (void)AbortUpload(key, upload_id);  // best effort: AbortIncomplete cleans up what this misses
  return s;
}

Result<std::string> S3Store::StartUpload(std::string_view key) {
  Call create{"POST", std::string(key), {{"uploads", ""}}, {}, {}, false};
  AddPutHeaders(&create.headers);
  KB_ASSIGN_OR_RETURN(HttpResponse created, Send(create));
  if (created.status / 100 != 2) return ErrorOf(created, "CreateMultipartUpload", key);
  tinyxml2::XMLDocument doc;
  doc.Parse(created.body.data(), created.body.size());
  std::string upload_id = ChildText(doc.RootElement(), "UploadId");
  if (upload_id.empty()) {
    return Status::IoError(fmt::format("S3 bucket '{}': CreateMultipartUpload of '{}' returned no UploadId",
                                       options_.bucket, FullKey(key)));
  }
  return upload_id;
}

Result<std::string> S3Store::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                        std::string_view data) {
  Call up{"PUT",
          std::string(key),
          {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}},
          {},
          data,
          false};
  if (!options_.object_lock_mode.empty()) up.headers.emplace_back("Content-MD5", util::Base64Encode(util::Md5(data)));
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(up));
  if (r.status / 100 != 2) return ErrorOf(r, fmt::format("UploadPart {}", part_number), key);
  std::string etag = r.Header("etag");
  if (etag.empty()) {
    return Status::IoError(fmt::format("S3 bucket '{}': UploadPart {} of '{}' returned no ETag", options_.bucket,
                                       part_number, FullKey(key)));
  }
  return etag;
}

Status S3Store::CompleteUpload(std::string_view key, std::string_view upload_id,
                               const std::vector<std::string>& tokens) {
  std::string complete = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < tokens.size(); ++i) {
    complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, tokens[i]);
  }
  complete += "</CompleteMultipartUpload>";
  Call done{
      "POST", std::string(key), {{"uploadId", std::string(upload_id)}}, {{"Content-Type", "application/xml"}}, complete,
      false};
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(done));
  // A repeated Complete whose first answer was lost finds the upload gone and
  // the object in place.
  if (r.status == 404 && r.body.find("NoSuchUpload") != std::string::npos && Head(key).ok()) return Status::Ok();
  // CompleteMultipartUpload can answer 200 with an error document.
  if (r.status / 100 != 2 || r.body.find("<Error>") != std::string::npos) {
    if (r.status / 100 == 2) r.status = 500;
    return ErrorOf(r, "CompleteMultipartUpload", key);
  }
  return Status::Ok();
}

Status S3Store::AbortUpload(std::string_view key, std::string_view upload_id) {
  Call a{"DELETE", std::string(key), {{"uploadId", std::string(upload_id)}}, {}, {}, false};
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(a));
  if (r.status / 100 != 2 && r.status != 404) return ErrorOf(r, "AbortMultipartUpload", key);
  return Status::Ok();
}

Result<std::string> S3Store::Get(std::string_view key, std::optional<ByteRange> range) {
  Call call{"GET", std::string(key), {}, {}, {}, false};
  if (range) {
    if (range->length == 0) return std::string();
    call.headers.emplace_back("Range", fmt::format("bytes={}-{}", range->offset, range->offset + range->length - 1));
  }
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(call));
  if (r.status / 100 != 2) return ErrorOf(r, "GET", key);
  if (range && r.body.size() != range->length) {
    return Status::Corruption(fmt::format("S3 object '{}': asked for {} bytes at {}, got {} (the object is shorter)",
                                          FullKey(key), range->length, range->offset, r.body.size()));
  }
  return std::move(r.body);
}

Result<ObjectInfo> S3Store::Head(std::string_view key) {
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(Call{"HEAD", std::string(key), {}, {}, {}, false}));
  if (r.status == 404) return Status::NotFound(fmt::format("S3 object '{}' not found", FullKey(key)));
  if (r.status / 100 != 2) return ErrorOf(r, "HEAD", key);
  return ObjectInfo{std::string(key), std::strtoull(r.Header("content-length").c_str(), nullptr, 10)};
}

Result<ListPage> S3Store::List(std::string_view prefix, std::string_view continuation) {
  Call call{"GET", "", {{"list-type", "2"}, {"prefix", FullKey(prefix)}}, {}, {}, true};
  if (!continuation.empty()) call.query.emplace_back("continuation-token", std::string(continuation));
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(call));
  if (r.status / 100 != 2) return ErrorOf(r, "ListObjectsV2", "");
  tinyxml2::XMLDocument doc;
  if (doc.Parse(r.body.data(), r.body.size()) != tinyxml2::XML_SUCCESS || !doc.RootElement()) {
    return Status::IoError(fmt::format("S3 bucket '{}': ListObjectsV2 answered with unreadable XML", options_.bucket));
  }
  ListPage page;
  for (auto* c = doc.RootElement()->FirstChildElement("Contents"); c; c = c->NextSiblingElement("Contents")) {
    std::string size = ChildText(c, "Size");
    page.objects.push_back({StripPrefix(ChildText(c, "Key")), std::strtoull(size.c_str(), nullptr, 10)});
  }
  if (ChildText(doc.RootElement(), "IsTruncated") == "true") {
    page.continuation = ChildText(doc.RootElement(), "NextContinuationToken");
    if (page.continuation.empty()) {
      return Status::IoError(
          fmt::format("S3 bucket '{}': a truncated listing without NextContinuationToken", options_.bucket));
    }
  }
  return page;
}

Status S3Store::Delete(std::string_view key) {
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(Call{"DELETE", std::string(key), {}, {}, {}, false}));
  if (r.status / 100 == 2 || r.status == 404) return Status::Ok();
  return ErrorOf(r, "DELETE", key);
}

Status S3Store::AbortIncomplete(std::string_view prefix) {
  std::string key_marker, upload_marker;
  while (true) {
    Call call{"GET", "", {{"uploads", ""}, {"prefix", FullKey(prefix)}}, {}, {}, true};
    if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
    if (!upload_marker.empty()) call.query.emplace_back("upload-id-marker", upload_marker);
    KB_ASSIGN_OR_RETURN(HttpResponse r, Send(call));
    if (r.status / 100 != 2) return ErrorOf(r, "ListMultipartUploads", "");
    tinyxml2::XMLDocument doc;
    if (doc.Parse(r.body.data(), r.body.size()) != tinyxml2::XML_SUCCESS || !doc.RootElement()) {
      return Status::IoError(
          fmt::format("S3 bucket '{}': ListMultipartUploads answered with unreadable XML", options_.bucket));
    }
    const tinyxml2::XMLElement* root = doc.RootElement();
    for (auto* u = root->FirstChildElement("Upload"); u; u = u->NextSiblingElement("Upload")) {
      std::string key = StripPrefix(ChildText(u, "Key"));
      Call a{"DELETE", key, {{"uploadId", ChildText(u, "UploadId")}}, {}, {}, false};
      KB_ASSIGN_OR_RETURN(HttpResponse ar, Send(a));
      if (ar.status / 100 != 2 && ar.status != 404) return ErrorOf(ar, "AbortMultipartUpload", key);
    }
    if (ChildText(root, "IsTruncated") != "true") return Status::Ok();
    key_marker = ChildText(root, "NextKeyMarker");
    upload_marker = ChildText(root, "NextUploadIdMarker");
    if (key_marker.empty() && upload_marker.empty()) return Status::Ok();
  }
}

Status S3Store::CreateBucket() {
  std::string body;
  if (options_.region != "us-east-1") {
    body = fmt::format(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}"
        "</LocationConstraint></CreateBucketConfiguration>",
        options_.region);
  }
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(Call{"PUT", "", {}, {}, body, true}));
  if (r.status / 100 == 2 || r.body.find("BucketAlreadyOwnedByYou") != std::string::npos) return Status::Ok();
  return ErrorOf(r, "CreateBucket", "");
}

Status S3Store::Probe() {
  Call call{"GET", "", {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", options_.prefix}}, {}, {}, true};
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send(call));
  if (r.status / 100 != 2) return ErrorOf(r, "ListObjectsV2", "");
  return Status::Ok();
}

}  // namespace kafka_backup::storage
