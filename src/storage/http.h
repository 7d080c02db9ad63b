// A small HTTP client over libcurl for the object-store backends: one request
// in, status + headers + body out. Connections are reused (a pool of curl
// handles); transport failures (refused, reset, timed out, DNS) come back as
// Unavailable, so the retry layer can tell them from answers.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka_backup/status.h"

namespace kafka_backup::storage {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string_view body;  // sent as is (Content-Length set from its size)
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names lower-case
  std::string body;
  // The first header of that (lower-case) name, or "".
  std::string Header(std::string_view name) const;
};

struct HttpOptions {
  int connect_timeout_secs = 10;
  // A request that moves fewer than low_speed_bytes per second for this long is
  // abandoned (Unavailable): a stalled server never hangs a backup.
  int stall_timeout_secs = 60;
  long low_speed_bytes = 1024;
};

// Statuses worth retrying: throttled (429) and the server errors that pass
// (500, 502, 503, 504). 501 Not Implemented and other 5xx are answers.
inline bool TransientHttpStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// How one provider words its error answers, for ClassifyHttpError.
struct ProviderErrors {
  std::string_view noun = "object";               // "object" or "blob", in the range message
  std::string_view credentials_hint;              // appended to an Auth error: what to check
  std::vector<std::string_view> auth_codes;       // error codes meaning bad credentials whatever the status
  std::vector<std::string_view> transient_codes;  // error codes worth retrying whatever the status
};

// The one rule by which the S3, Azure and GCS backends turn an error answer
// into a Status: 404 NotFound; 401, 403 or an auth code Auth (with the hint);
// 416 Corruption (a range past the end); TransientHttpStatus or a transient
// code Unavailable (retried); anything else IoError. `detail` names the store,
// the operation, the key, the status and the provider's code and message.
// Answers that mean something else for one operation (a missing bucket, a
// conditional create's 412) are told apart by the backend before this.
Status ClassifyHttpError(long status, std::string_view code, std::string detail, const ProviderErrors& provider);

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  void* Acquire();
  void Release(void* handle);

  HttpOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, each keeping its connections
};

}  // namespace kafka_backup::storage
