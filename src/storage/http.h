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
