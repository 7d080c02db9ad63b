// The source: and target: sections: a Kafka cluster's bootstrap servers,
// client properties and topics, and its security (protocols, SASL mechanisms
// and the keys that belong to one mechanism only).
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "config/sections.h"

namespace kafka_backup::config {
namespace {

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// Keys that belong to one SASL mechanism: each is an error with any other.
struct MechanismKeys {
  const char* mechanism;
  std::vector<const char*> required;
  std::vector<const char*> optional;
};

const std::vector<MechanismKeys>& MechanismOnlyKeys() {
  static const std::vector<MechanismKeys> kKeys = {
      {"AWS_MSK_IAM", {}, {"aws_region"}},
      {"OAUTHBEARER", {"oauth_token_endpoint_url", "oauth_client_id", "oauth_client_secret"}, {"oauth_scope"}},
      {"GSSAPI", {"kerberos_principal", "kerberos_keytab"}, {"kerberos_service_name"}},
  };
  return kKeys;
}

void CheckMechanismKeys(MapReader& r, const SecurityConfig& s) {
  for (const MechanismKeys& m : MechanismOnlyKeys()) {
    const bool chosen = s.sasl_mechanism == m.mechanism;
    for (const auto* list : {&m.required, &m.optional}) {
      for (const char* key : *list) {
        if (!chosen && r.Get(key)) {
          r.FailKey(r.Get(key), key, fmt::format("only used with sasl_mechanism: {}: remove it", m.mechanism));
        }
      }
    }
    if (!chosen) continue;
    for (const char* key : m.required) {
      if (!r.Get(key) || r.String(key)->empty()) {
        r.FailKey(r.Get("sasl_mechanism"), "sasl_mechanism",
                  fmt::format("{} needs security.{} (see docs/config.md)", m.mechanism, key));
      }
    }
  }
  // Mechanisms that log in with something else than a username and password.
  static const std::map<std::string, std::string> kLogsInWith = {
      {"AWS_MSK_IAM", "AWS credentials (environment, profile, web identity, instance metadata)"},
      {"OAUTHBEARER", "a token from oauth_token_endpoint_url (oauth_client_id, oauth_client_secret)"},
      {"GSSAPI", "Kerberos tickets from kerberos_keytab (kerberos_principal)"},
  };
  auto with = kLogsInWith.find(s.sasl_mechanism);
  if (with == kLogsInWith.end()) return;
  if (!s.security_protocol.starts_with("SASL_")) {
    r.FailKey(r.Get("sasl_mechanism"), "sasl_mechanism",
              fmt::format("{} is a SASL mechanism, but security_protocol is {}: set security_protocol: SASL_SSL "
                          "(or SASL_PLAINTEXT){}",
                          s.sasl_mechanism, s.security_protocol,
                          s.sasl_mechanism == "AWS_MSK_IAM" ? " (MSK's IAM listener is SASL_SSL, port 9098)" : ""));
  }
  for (const char* key : {"sasl_username", "sasl_password"}) {
    if (r.Get(key)) {
      r.FailKey(r.Get(key), key,
                fmt::format("{} authenticates with {}, not a username and password: remove it", s.sasl_mechanism,
                            with->second));
    }
  }
  if (!s.oauth_token_endpoint_url.empty() && !s.oauth_token_endpoint_url.starts_with("https://") &&
      !s.oauth_token_endpoint_url.starts_with("http://")) {
    r.FailKey(r.Get("oauth_token_endpoint_url"), "oauth_token_endpoint_url",
              fmt::format("'{}' is not an http:// or https:// URL", s.oauth_token_endpoint_url));
  }
}

void ReadSecurity(MapReader& r, SecurityConfig* s) {
  if (auto v = r.String("security_protocol")) {
    s->security_protocol = Upper(*v);
    static const std::set<std::string> kProtocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    if (kProtocols.count(s->security_protocol) == 0) {
      r.FailKey(r.Get("security_protocol"), "security_protocol",
                fmt::format("unknown protocol '{}': expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", *v));
    }
  }
  if (auto v = r.String("sasl_mechanism")) {
    s->sasl_mechanism = Upper(*v);
    static const std::set<std::string> kMechanisms = {"PLAIN",       "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                      "AWS_MSK_IAM", "OAUTHBEARER",   "GSSAPI"};
    if (kMechanisms.count(s->sasl_mechanism) == 0) {
      r.FailKey(r.Get("sasl_mechanism"), "sasl_mechanism",
                fmt::format("unknown mechanism '{}': expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, AWS_MSK_IAM, "
                            "OAUTHBEARER or GSSAPI",
                            *v));
    }
  }
  if (auto v = r.String("aws_region")) s->aws_region = *v;
  if (auto v = r.String("oauth_token_endpoint_url")) s->oauth_token_endpoint_url = *v;
  if (auto v = r.String("oauth_client_id")) s->oauth_client_id = *v;
  if (auto v = r.String("oauth_client_secret")) s->oauth_client_secret = *v;
  if (auto v = r.String("oauth_scope")) s->oauth_scope = *v;
  if (auto v = r.String("kerberos_principal")) s->kerberos_principal = *v;
  if (auto v = r.String("kerberos_keytab")) s->kerberos_keytab = *v;
  if (auto v = r.String("kerberos_service_name")) s->kerberos_service_name = *v;
  if (auto v = r.String("sasl_username")) s->sasl_username = *v;
  if (auto v = r.String("sasl_password")) s->sasl_password = *v;
  if (auto v = r.String("ssl_ca_location")) s->ssl_ca_location = *v;
  if (auto v = r.String("ssl_certificate_location")) s->ssl_certificate_location = *v;
  if (auto v = r.String("ssl_key_location")) s->ssl_key_location = *v;
  if (auto v = r.String("ssl_key_password")) s->ssl_key_password = *v;
  CheckMechanismKeys(r, *s);
  r.CheckNoUnknownKeys();
}

}  // namespace

void ReadKafka(MapReader& r, KafkaConfig* k) {
  if (auto v = r.StringList("bootstrap_servers", /*split_commas=*/true)) k->bootstrap_servers = *v;
  if (auto sec = r.Map("security")) ReadSecurity(*sec, &k->security);
  if (auto topics = r.Map("topics")) {
    if (auto v = topics->StringList("include")) k->topics.include = *v;
    if (auto v = topics->StringList("exclude")) k->topics.exclude = *v;
    if (auto v = topics->String("on_missing")) {
      if (*v != "fail" && *v != "warn") {
        topics->FailKey(topics->Get("on_missing"), "on_missing", fmt::format("expected fail or warn, got '{}'", *v));
      }
      k->topics.on_missing = *v;
    }
    topics->CheckNoUnknownKeys();
  }
  if (auto v = r.StringMap("client_properties")) k->client_properties = *v;
  if (auto v = r.Int("connect_timeout_secs", 1, 3600)) k->connect_timeout_secs = static_cast<int>(*v);
  r.CheckNoUnknownKeys();
}

}  // namespace kafka_backup::config
