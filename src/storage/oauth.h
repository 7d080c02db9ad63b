// The client side of an OAuth 2.0 token endpoint (RFC 6749 section 5): POST a
// form, read {"access_token", "expires_in"} or {"error", "error_description"}.
// One rule for every caller that trades credentials for a bearer token: GCS
// (a service account's signed assertion, RFC 7523, or the metadata server's
// GET, which answers the same way) and Azure AD (the client credentials
// grant, section 4.4).
#pragma once

#include <cstdint>
#include <string>

#include "kafka_backup/status.h"
#include "storage/http.h"

namespace kafka_backup::storage {

struct OAuthTokenRequest {
  std::string method = "POST";
  std::string url;      // the token endpoint
  std::string form;     // application/x-www-form-urlencoded body, already encoded (POST)
  HttpHeaders headers;  // sent as well (the metadata server's Metadata-Flavor)
  // HTTP Basic client authentication (RFC 6749 section 2.3.1) when set: the
  // id and secret are form-encoded, then joined with ':'.
  std::string basic_user;
  std::string basic_password;  // secret: never in a message
  std::string who;             // names the credentials in messages ("service account x@y")
  std::string hint;            // appended to a refusal: what to check
};

struct OAuthToken {
  std::string access_token;
  int64_t expires_in_secs = 3600;  // as answered (3600 when the answer has none)
};

// Asks for a token. A refusal (any non-2xx answer that is not transient, or
// an answer without an access token) is Auth naming `who`, the endpoint, the
// status and the provider's error; a throttled or failing server and a
// transport failure are Unavailable.
Result<OAuthToken> RequestOAuthToken(HttpClient& http, const OAuthTokenRequest& request);

}  // namespace kafka_backup::storage
