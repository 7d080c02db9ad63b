#include "storage/oauth.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/crypto.h"
#include "util/strings.h"

namespace kafka_backup::storage {

using json = nlohmann::json;

Result<OAuthToken> RequestOAuthToken(HttpClient& http, const OAuthTokenRequest& request) {
  HttpRequest req;
  req.method = request.method;
  req.url = request.url;
  req.headers = request.headers;
  req.headers.emplace_back("Accept", "application/json");
  if (request.method == "POST") req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  if (!request.basic_user.empty()) {
    std::string pair = util::UriEncode(request.basic_user) + ":" + util::UriEncode(request.basic_password);
    req.headers.emplace_back("Authorization", "Basic " + util::Base64Encode(pair));
  }
  req.body = request.form;
  Result<HttpResponse> answer = http.Send(req);
  if (!answer.ok()) {
    return Status::Unavailable(
        fmt::format("{}: token endpoint {}: {}", request.who, request.url, answer.status().message()));
  }
  const HttpResponse& r = *answer;
  json j = json::parse(r.body, nullptr, false);
  if (r.status / 100 == 2 && j.is_object() && j.contains("access_token") && j["access_token"].is_string()) {
    OAuthToken token;
    token.access_token = j["access_token"].get<std::string>();
    if (j.contains("expires_in") && j["expires_in"].is_number_integer()) {
      token.expires_in_secs = j["expires_in"].get<int64_t>();
    } else if (j.contains("expires_in") && j["expires_in"].is_string()) {
      // (some providers, Azure AD v1 among them, send the number as a string)
      token.expires_in_secs = util::ParseDecimal<int64_t>(j["expires_in"].get<std::string>()).value_or(3600);
    }
    return token;
  }
  std::string why;
  if (j.is_object()) {
    if (j.contains("error") && j["error"].is_string()) why = j["error"].get<std::string>();
    if (j.contains("error_description") && j["error_description"].is_string()) {
      why += (why.empty() ? "" : ": ") + j["error_description"].get<std::string>();
    }
  }
  if (r.status / 100 == 2) why = "the answer has no access_token";
  if (TransientHttpStatus(r.status)) {
    return Status::Unavailable(
        fmt::format("{}: token endpoint {}: HTTP {} {}", request.who, request.url, r.status, why));
  }
  std::string hint = request.hint.empty() ? "" : "; " + request.hint;
  return Status::Auth(
      fmt::format("{}: the token endpoint {} refused: HTTP {} {}{}", request.who, request.url, r.status, why, hint));
}

}  // namespace kafka_backup::storage
