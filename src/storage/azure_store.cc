#include "storage/azure_store.h"
#include "storage/xml.h"
#include "util/strings.h"

#include <fmt/format.h>

#include <tinyxml2.h>
#include <atomic>
#include <random>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "storage/oauth.h"
#include "util/crypto.h"

namespace kafka_backup::storage {
namespace {

using util::Env;
using util::Lower;
using util::Trim;

constexpr const char* kApiVersion = "2021-08-06";

std::string HttpDate() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "k=v;k=v" (values may contain '=').
std::map<std::string, std::string> ParseConnectionString(const std::string& cs) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < cs.size()) {
    size_t end = cs.find(';', pos);
    if (end == std::string::npos) end = cs.size();
    std::string part = cs.substr(pos, end - pos);
    auto eq = part.find('=');
    if (eq != std::string::npos) out[Trim(part.substr(0, eq))] = Trim(part.substr(eq + 1));
    pos = end + 1;
  }
  return out;
}

// Azure AD from the azure-identity variables, or nullopt when they name no
// application; InvalidArgument when they are half there.
Result<std::optional<AzureAdCredentials>> AzureAdFromEnvironment() {
  AzureAdCredentials ad;
  ad.tenant = Env("AZURE_TENANT_ID");
  ad.client_id = Env("AZURE_CLIENT_ID");
  ad.client_secret = Env("AZURE_CLIENT_SECRET");
  ad.federated_token_file = Env("AZURE_FEDERATED_TOKEN_FILE");
  if (std::string host = Env("AZURE_AUTHORITY_HOST"); !host.empty()) ad.authority = host;
  while (!ad.authority.empty() && ad.authority.back() == '/') ad.authority.pop_back();
  const bool secret = !ad.client_secret.empty(), federated = !ad.federated_token_file.empty();
  if (ad.tenant.empty() && ad.client_id.empty() && !secret && !federated) return std::optional<AzureAdCredentials>();
  if (ad.tenant.empty() || ad.client_id.empty() || (!secret && !federated)) {
    return Status::InvalidArgument(
        "Azure AD credentials are incomplete: set AZURE_TENANT_ID and AZURE_CLIENT_ID, and AZURE_CLIENT_SECRET (a "
        "service principal) or AZURE_FEDERATED_TOKEN_FILE (workload identity)");
  }
  if (!ad.authority.starts_with("https://") && !ad.authority.starts_with("http://")) {
    return Status::InvalidArgument(
        fmt::format("AZURE_AUTHORITY_HOST '{}' must start with https:// (or http://)", ad.authority));
  }
  return std::optional<AzureAdCredentials>(std::move(ad));
}

}  // namespace

Result<AzureOptions> ParseAzureUrl(std::string_view url) {
  KB_ASSIGN_OR_RETURN(StorageUrl parts, SplitStorageUrl(url, "azure", "container"));
  AzureOptions o;
  o.container = std::move(parts.bucket);
  o.prefix = std::move(parts.prefix);
  for (const auto& [k, v] : parts.params) {
    if (k == "account") {
      o.account = v;
    } else if (k == "endpoint") {
      o.endpoint = v;
    } else {
      return UnknownUrlParameter(url, k, "account, endpoint");
    }
  }
  if (std::string cs = Env("AZURE_STORAGE_CONNECTION_STRING"); !cs.empty()) {
    auto kv = ParseConnectionString(cs);
    if (o.account.empty()) o.account = kv["AccountName"];
    o.key = kv["AccountKey"];
    o.sas_token = kv["SharedAccessSignature"];
    if (o.endpoint.empty()) o.endpoint = kv["BlobEndpoint"];
    if (o.endpoint.empty() && !o.account.empty()) {
      std::string protocol = kv.count("DefaultEndpointsProtocol") ? kv["DefaultEndpointsProtocol"] : "https";
      std::string suffix = kv.count("EndpointSuffix") ? kv["EndpointSuffix"] : "core.windows.net";
      o.endpoint = fmt::format("{}://{}.blob.{}", protocol, o.account, suffix);
    }
  }
  if (o.account.empty()) o.account = Env("AZURE_STORAGE_ACCOUNT");
  if (o.key.empty() && o.sas_token.empty()) {
    o.key = Env("AZURE_STORAGE_KEY");
    o.sas_token = Env("AZURE_STORAGE_SAS_TOKEN");
  }
  while (!o.sas_token.empty() && o.sas_token.front() == '?') o.sas_token.erase(0, 1);
  if (o.key.empty() && o.sas_token.empty()) {
    KB_ASSIGN_OR_RETURN(o.azure_ad, AzureAdFromEnvironment());
  }
  if (o.account.empty()) {
    return Status::InvalidArgument(
        fmt::format("storage URL '{}': no Azure storage account: add ?account=NAME, or set AZURE_STORAGE_ACCOUNT or "
                    "AZURE_STORAGE_CONNECTION_STRING",
                    url));
  }
  if (o.key.empty() && o.sas_token.empty() && !o.azure_ad) {
    return Status::Auth(
        fmt::format("no credentials for Azure storage account '{}': set AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or "
                    "AZURE_STORAGE_CONNECTION_STRING, or for Azure AD AZURE_TENANT_ID and AZURE_CLIENT_ID with "
                    "AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE",
                    o.account));
  }
  std::string decoded;
  if (!o.key.empty() && !util::Base64Decode(o.key, &decoded)) {
    return Status::InvalidArgument(
        fmt::format("the key of Azure storage account '{}' is not valid base64 (check AZURE_STORAGE_KEY)", o.account));
  }
  if (o.endpoint.empty()) o.endpoint = fmt::format("https://{}.blob.core.windows.net", o.account);
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (!o.endpoint.starts_with("http://") && !o.endpoint.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format("Azure endpoint '{}' must start with http:// or https://", o.endpoint));
  }
  return o;
}

std::string AzureSharedKey(const std::string& method, const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& query, const HttpHeaders& headers,
                           const std::string& account, const std::string& key_base64) {
  std::map<std::string, std::string> h;
  for (const auto& [name, value] : headers) h[Lower(name)] = Trim(value);
  auto get = [&h](const char* name) {
    auto it = h.find(name);
    return it == h.end() ? std::string() : it->second;
  };
  std::string content_length = get("content-length");
  if (content_length == "0") content_length.clear();  // signed as empty since version 2015-02-21
  std::string to_sign = fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n", method, get("content-encoding"),
                                    get("content-language"), content_length, get("content-md5"), get("content-type"),
                                    get("date"), get("if-modified-since"), get("if-match"), get("if-none-match"),
                                    get("if-unmodified-since"), get("range"));
  for (const auto& [name, value] : h) {
    if (name.starts_with("x-ms-")) to_sign += fmt::format("{}:{}\n", name, value);
  }
  to_sign += "/" + account + path;
  std::map<std::string, std::vector<std::string>> params;
  for (const auto& [k, v] : query) params[Lower(k)].push_back(v);
  for (auto& [k, values] : params) {
    std::sort(values.begin(), values.end());
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
    to_sign += fmt::format("\n{}:{}", k, joined);
  }
  std::string key;
  util::Base64Decode(key_base64, &key);
  return fmt::format("SharedKey {}:{}", account, util::Base64Encode(util::HmacSha256(key, to_sign)));
}

AzureStore::AzureStore(AzureOptions options, HttpOptions http) : options_(std::move(options)), http_(http) {
  std::string after_scheme = options_.endpoint.substr(options_.endpoint.find("://") + 3);
  auto slash = after_scheme.find('/');
  if (slash != std::string::npos) base_path_ = after_scheme.substr(slash);
}

std::string AzureStore::Url() const {
  std::string url = "azure://" + options_.container;
  if (!options_.prefix.empty()) url += "/" + options_.prefix;
  return url;
}

std::string AzureStore::FullKey(std::string_view key) const {
  return options_.prefix.empty() ? std::string(key) : options_.prefix + "/" + std::string(key);
}

Result<HttpResponse> AzureStore::Send(const std::string& method, std::string_view key, bool container_call,
                                      const std::vector<std::pair<std::string, std::string>>& query,
                                      HttpHeaders headers, std::string_view body) {
  std::string path = base_path_ + "/" + util::UriEncode(options_.container);
  if (!container_call) path += "/" + util::UriEncode(FullKey(key), true);
  std::string url = options_.endpoint.substr(0, options_.endpoint.size() - base_path_.size()) + path;
  std::string qs;
  for (const auto& [k, v] : query) qs += (qs.empty() ? "" : "&") + k + "=" + util::UriEncode(v);
  if (!options_.sas_token.empty()) qs += (qs.empty() ? "" : "&") + options_.sas_token;
  if (!qs.empty()) url += "?" + qs;

  headers.emplace_back("x-ms-date", HttpDate());
  headers.emplace_back("x-ms-version", kApiVersion);
  if (method == "PUT" || method == "POST") headers.emplace_back("Content-Length", std::to_string(body.size()));
  if (!options_.key.empty()) {
    headers.emplace_back("Authorization", AzureSharedKey(method, path, query, headers, options_.account, options_.key));
  } else if (options_.azure_ad) {
    KB_ASSIGN_OR_RETURN(std::string token, AdToken());
    headers.emplace_back("Authorization", "Bearer " + token);
  }
  HttpRequest req;
  req.method = method;
  req.url = std::move(url);
  req.headers = std::move(headers);
  req.body = body;
  return http_.Send(req);
}

Result<std::string> AzureStore::AdToken() {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (!token_.empty() && std::chrono::steady_clock::now() < token_expiry_) return token_;
  const AzureAdCredentials& ad = *options_.azure_ad;
  OAuthTokenRequest req;
  req.url = ad.TokenUrl();
  req.form = "grant_type=client_credentials&client_id=" + util::UriEncode(ad.client_id) +
             "&scope=" + util::UriEncode("https://storage.azure.com/.default");
  if (!ad.client_secret.empty()) {
    req.form += "&client_secret=" + util::UriEncode(ad.client_secret);
    req.who = fmt::format("Azure AD application {} (tenant {}, AZURE_CLIENT_SECRET)", ad.client_id, ad.tenant);
    req.hint = "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET";
  } else {
    // Re-read each time: the kubelet rotates the projected token.
    std::ifstream in(ad.federated_token_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string assertion = Trim(text.str());
    if (!in || assertion.empty()) {
      return Status::Auth(fmt::format("AZURE_FEDERATED_TOKEN_FILE names {}, which cannot be read or is empty",
                                      ad.federated_token_file));
    }
    req.form += "&client_assertion_type=" + util::UriEncode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
                "&client_assertion=" + util::UriEncode(assertion);
    req.who = fmt::format("Azure AD application {} (tenant {}, workload identity {})", ad.client_id, ad.tenant,
                          ad.federated_token_file);
    req.hint = "check the federated identity credential of the application (issuer, subject) and AZURE_CLIENT_ID";
  }
  KB_ASSIGN_OR_RETURN(OAuthToken token, RequestOAuthToken(http_, req));
  token_ = token.access_token;
  // Renewed five minutes early (Azure AD tokens live about an hour).
  token_expiry_ =
      std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(token.expires_in_secs - 300, 30));
  return token_;
}

Status AzureStore::ErrorOf(const HttpResponse& response, std::string_view what, std::string_view key) const {
  std::string code = response.Header("x-ms-error-code"), message;
  tinyxml2::XMLDocument doc;
  if (!response.body.empty() && doc.Parse(response.body.data(), response.body.size()) == tinyxml2::XML_SUCCESS) {
    if (code.empty()) code = ChildText(doc.RootElement(), "Code");
    message = ChildText(doc.RootElement(), "Message");
    if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);  // drops RequestId/Time
  }
  std::string where = fmt::format("Azure container '{}' of account '{}' at {}", options_.container, options_.account,
                                  options_.endpoint);
  std::string object = key.empty() ? std::string() : fmt::format(" '{}'", FullKey(key));
  std::string detail = fmt::format("{} {}{}: HTTP {}{}{}", where, what, object, response.status,
                                   code.empty() ? "" : " " + code, message.empty() ? "" : ": " + message);
  if (code == "ContainerNotFound") {
    return Status::NotFound(
        fmt::format("Azure container '{}' does not exist in account '{}' at {}; create it or fix "
                    "storage.container",
                    options_.container, options_.account, options_.endpoint));
  }
  static const ProviderErrors kAzure{
      "blob",
      "the account key or SAS token (AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING)",
      {},
      {}};
  return ClassifyHttpError(response.status, code, std::move(detail), kAzure);
}

Status AzureStore::Put(std::string_view key, std::string_view data) {
  if (data.size() > options_.single_put_max) return PutBlocks(key, data);
  return PutBlob(key, data, false);
}

// A conditional write is one Put Blob whatever the size: a block list would
// decide the condition only at its commit.
Status AzureStore::Create(std::string_view key, std::string_view data) {
  return PutBlob(key, data, true);
}

Status AzureStore::PutBlob(std::string_view key, std::string_view data, bool only_if_absent) {
  HttpHeaders headers = {{"x-ms-blob-type", "BlockBlob"}, {"Content-MD5", util::Base64Encode(util::Md5(data))}};
  if (only_if_absent) headers.emplace_back("If-None-Match", "*");
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("PUT", key, false, {}, std::move(headers), data));
  // 409 BlobAlreadyExists (412 from some versions of the service).
  if (only_if_absent && (r.status == 409 || r.status == 412)) {
    return Status::AlreadyExists(fmt::format("{}/{} already exists", Url(), key));
  }
  if (r.status / 100 != 2) return ErrorOf(r, "Put Blob", key);
  return Status::Ok();
}

Status AzureStore::PutBlocks(std::string_view key, std::string_view data) {
  KB_ASSIGN_OR_RETURN(std::string upload_id, StartUpload(key));
  std::vector<std::string> ids;
  for (uint64_t off = 0; off < data.size(); off += options_.block_size) {
    KB_ASSIGN_OR_RETURN(std::string id, UploadPart(key, upload_id, static_cast<int>(ids.size()) + 1,
                                                   data.substr(off, options_.block_size)));
    ids.push_back(std::move(id));
  }
  return CompleteUpload(key, upload_id, ids);
}

// Staged blocks stay invisible until Put Block List names them; the service
// drops uncommitted ones after a week, so there is nothing to abort.
Result<std::string> AzureStore::StartUpload(std::string_view /*key*/) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{:08x}", static_cast<uint32_t>(std::random_device{}() ^ counter.fetch_add(1)));
}

Result<std::string> AzureStore::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                           std::string_view data) {
  // Block ids: base64 of equal-length strings, as the service requires.
  std::string id = util::Base64Encode(fmt::format("{}-{:08d}", upload_id, part_number));
  HttpHeaders headers = {{"Content-MD5", util::Base64Encode(util::Md5(data))}};
  KB_ASSIGN_OR_RETURN(HttpResponse r,
                      Send("PUT", key, false, {{"comp", "block"}, {"blockid", id}}, std::move(headers), data));
  if (r.status / 100 != 2) return ErrorOf(r, fmt::format("Put Block {}", part_number), key);
  return id;
}

Status AzureStore::CompleteUpload(std::string_view key, std::string_view /*upload_id*/,
                                  const std::vector<std::string>& tokens) {
  std::string list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const auto& id : tokens) list += "<Latest>" + id + "</Latest>";
  list += "</BlockList>";
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("PUT", key, false, {{"comp", "blocklist"}}, {}, list));
  if (r.status / 100 != 2) return ErrorOf(r, "Put Block List", key);
  return Status::Ok();
}

Status AzureStore::AbortUpload(std::string_view /*key*/, std::string_view /*upload_id*/) {
  return Status::Ok();
}

Result<std::string> AzureStore::Get(std::string_view key, std::optional<ByteRange> range) {
  HttpHeaders headers;
  if (range) {
    if (range->length == 0) return std::string();
    headers.emplace_back("x-ms-range", fmt::format("bytes={}-{}", range->offset, range->offset + range->length - 1));
  }
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("GET", key, false, {}, std::move(headers), {}));
  if (r.status / 100 != 2) return ErrorOf(r, "Get Blob", key);
  if (range && r.body.size() != range->length) {
    return Status::Corruption(fmt::format("Azure blob '{}': asked for {} bytes at {}, got {} (the blob is shorter)",
                                          FullKey(key), range->length, range->offset, r.body.size()));
  }
  return std::move(r.body);
}

Result<ObjectInfo> AzureStore::Head(std::string_view key) {
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("HEAD", key, false, {}, {}, {}));
  if (r.status == 404) return Status::NotFound(fmt::format("Azure blob '{}' not found", FullKey(key)));
  if (r.status / 100 != 2) return ErrorOf(r, "Get Blob Properties", key);
  return ObjectInfo{std::string(key), std::strtoull(r.Header("content-length").c_str(), nullptr, 10)};
}

Result<ListPage> AzureStore::List(std::string_view prefix, std::string_view continuation) {
  std::vector<std::pair<std::string, std::string>> query = {
      {"restype", "container"}, {"comp", "list"}, {"prefix", FullKey(prefix)}, {"maxresults", "1000"}};
  if (!continuation.empty()) query.emplace_back("marker", std::string(continuation));
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("GET", "", true, query, {}, {}));
  if (r.status / 100 != 2) return ErrorOf(r, "List Blobs", "");
  tinyxml2::XMLDocument doc;
  if (doc.Parse(r.body.data(), r.body.size()) != tinyxml2::XML_SUCCESS || !doc.RootElement()) {
    return Status::IoError(
        fmt::format("Azure container '{}': List Blobs answered with unreadable XML", options_.container));
  }
  ListPage page;
  const tinyxml2::XMLElement* blobs = doc.RootElement()->FirstChildElement("Blobs");
  for (auto* b = blobs ? blobs->FirstChildElement("Blob") : nullptr; b; b = b->NextSiblingElement("Blob")) {
    std::string name = ChildText(b, "Name");
    if (!options_.prefix.empty()) name = name.substr(std::min(name.size(), options_.prefix.size() + 1));
    std::string size = ChildText(b->FirstChildElement("Properties"), "Content-Length");
    page.objects.push_back({std::move(name), std::strtoull(size.c_str(), nullptr, 10)});
  }
  page.continuation = ChildText(doc.RootElement(), "NextMarker");
  return page;
}

Status AzureStore::Delete(std::string_view key) {
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("DELETE", key, false, {}, {}, {}));
  if (r.status / 100 == 2 || r.status == 404) return Status::Ok();
  return ErrorOf(r, "Delete Blob", key);
}

Status AzureStore::AbortIncomplete(std::string_view /*prefix*/) {
  return Status::Ok();
}

Status AzureStore::CreateContainer() {
  KB_ASSIGN_OR_RETURN(HttpResponse r, Send("PUT", "", true, {{"restype", "container"}}, {}, {}));
  if (r.status / 100 == 2 || r.status == 409) return Status::Ok();
  return ErrorOf(r, "Create Container", "");
}

}  // namespace kafka_backup::storage
