#include "storage/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "util/strings.h"

namespace kafka_backup::storage {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void EnsureGlobalInit() {
  static CurlGlobal once;
}

struct UploadState {
  std::string_view body;
  size_t offset = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* up = static_cast<UploadState*>(userdata);
  size_t n = std::min(size * nitems, up->body.size() - up->offset);
  std::copy_n(up->body.data() + up->offset, n, buffer);
  up->offset += n;
  return n;
}

int SeekBody(void* userdata, curl_off_t offset, int origin) {
  auto* up = static_cast<UploadState*>(userdata);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > up->body.size()) return CURL_SEEKFUNC_FAIL;
  up->offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * nmemb);
  return size * nmemb;
}

size_t WriteHeader(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* headers = static_cast<HttpHeaders*>(userdata);
  std::string_view line(buffer, size * nitems);
  if (line.starts_with("HTTP/")) headers->clear();  // a new response (after 100 Continue or a redirect)
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    headers->emplace_back(std::move(name), std::string(value));
  }
  return size * nitems;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

Status ClassifyHttpError(long status, std::string_view code, std::string detail, const ProviderErrors& provider) {
  auto listed = [&](const std::vector<std::string_view>& codes) {
    return !code.empty() && std::find(codes.begin(), codes.end(), code) != codes.end();
  };
  if (status == 404) return Status::NotFound(std::move(detail));
  if (status == 401 || status == 403 || listed(provider.auth_codes)) {
    return Status::Auth(fmt::format("{}; check {}", detail, provider.credentials_hint));
  }
  if (status == 416)
    return Status::Corruption(fmt::format("{} (the range lies past the {}'s end)", detail, provider.noun));
  if (TransientHttpStatus(status) || listed(provider.transient_codes)) return Status::Unavailable(std::move(detail));
  return Status::IoError(std::move(detail));
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

HttpClient::HttpClient(HttpOptions options) : options_(options) {
  EnsureGlobalInit();
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::Release(void* handle) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(handle);
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (!curl) return Status::Internal("cannot create a curl handle");
  curl_easy_reset(curl);

  HttpResponse response;
  UploadState upload{request.body, 0};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers) {
    std::string line = value.empty() ? fmt::format("{};", name) : fmt::format("{}: {}", name, value);
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }
  // libcurl adds "Expect: 100-continue" to large uploads; servers differ in
  // how they treat it and it costs a round trip.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // SSL_CERT_FILE / SSL_CERT_DIR (OpenSSL's and Go's convention) replace the
  // system's CA certificates: a private CA (MinIO, an on-premises S3, a proxy).
  static const std::string ca_file = util::Env("SSL_CERT_FILE");
  static const std::string ca_dir = util::Env("SSL_CERT_DIR");
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  if (!ca_dir.empty()) curl_easy_setopt(curl, CURLOPT_CAPATH, ca_dir.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout_secs));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout_secs));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  Release(curl);
  if (rc != CURLE_OK) {
    // Neither a query (a SAS token) nor user:password@ goes into a message.
    std::string where = util::WithoutUserinfo(request.url.substr(0, request.url.find('?')));
    std::string msg = fmt::format("{} {}: {}", request.method, where, curl_easy_strerror(rc));
    switch (rc) {
      case CURLE_PEER_FAILED_VERIFICATION:
        return Status::InvalidArgument(msg +
                                       " (the server's TLS certificate is not trusted: if a private CA signed it, "
                                       "set SSL_CERT_FILE to a PEM file with that CA)");
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        // A wrong endpoint or certificate: retrying cannot help.
        return Status::InvalidArgument(msg);
      default:
        // The transport: unreachable, reset, timed out. Worth a retry.
        return Status::Unavailable(msg);
    }
  }
  response.status = status;
  return response;
}

}  // namespace kafka_backup::storage
