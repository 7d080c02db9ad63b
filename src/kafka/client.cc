// The Kafka client's common part: the librdkafka settings every client gets
// (bootstrap, security: SASL mechanisms, TLS, MSK IAM tokens, OIDC,
// Kerberos), the callbacks, and Client's life cycle. Admin, Consumer and
// Producer live in admin.cc, consumer.cc and producer.cc; errors in errors.cc.
#include "kafka/client.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include <fmt/format.h>

#include "kafka/client_internal.h"
#include "kafka/kerberos.h"
#include "kafka/msk_iam.h"

namespace kafka_backup::kafka {
namespace internal {

std::string JoinServers(const std::vector<std::string>& servers) {
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "" : ",") + s;
  return out;
}

void ServeErrors(rd_kafka_t* rk) {
  rd_kafka_poll(rk, 0);
}

Status SetProp(rd_kafka_conf_t* conf, const std::string& name, const std::string& value, bool secret) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument(
        fmt::format("Kafka client setting {}={}: {}", name, secret ? "<redacted>" : value, errstr));
  }
  return Status::Ok();
}

// Builds the librdkafka configuration shared by every client.
Status ApplyCommon(const KafkaConfig& config, rd_kafka_conf_t* conf) {
  if (config.bootstrap_servers.empty()) {
    return Status::InvalidArgument("no Kafka bootstrap servers: set bootstrap_servers (or --bootstrap-servers)");
  }
  KB_RETURN_IF_ERROR(SetProp(conf, "bootstrap.servers", JoinServers(config.bootstrap_servers)));
  KB_RETURN_IF_ERROR(SetProp(conf, "client.id", "kafka-backup"));
  const SecurityConfig& s = config.security;
  KB_RETURN_IF_ERROR(SetProp(conf, "security.protocol", s.security_protocol));
  if (s.sasl_mechanism == "AWS_MSK_IAM") {
    // OAUTHBEARER with a SigV4-signed token (msk_iam.h); Client::Init installs the refresh callback.
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.mechanism", "OAUTHBEARER"));
  } else if (!s.sasl_mechanism.empty()) {
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.mechanism", s.sasl_mechanism));
  }
  if (s.sasl_mechanism == "OAUTHBEARER") {
    // OIDC: librdkafka fetches the JWT with the client credentials grant and
    // renews it on its background thread (the SASL queue, enabled in Init).
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.oauthbearer.method", "oidc"));
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.oauthbearer.token.endpoint.url", s.oauth_token_endpoint_url));
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.oauthbearer.client.id", s.oauth_client_id));
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.oauthbearer.client.secret", s.oauth_client_secret, true));
    if (!s.oauth_scope.empty()) KB_RETURN_IF_ERROR(SetProp(conf, "sasl.oauthbearer.scope", s.oauth_scope));
  }
  if (s.sasl_mechanism == "GSSAPI") {
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.kerberos.service.name", s.kerberos_service_name));
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.kerberos.principal", s.kerberos_principal));
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.kerberos.keytab", s.kerberos_keytab));
    KB_RETURN_IF_ERROR(SetProp(conf, "sasl.kerberos.kinit.cmd", kKinitCommand));
  }
  if (!s.sasl_username.empty()) KB_RETURN_IF_ERROR(SetProp(conf, "sasl.username", s.sasl_username));
  if (!s.sasl_password.empty()) KB_RETURN_IF_ERROR(SetProp(conf, "sasl.password", s.sasl_password, true));
  if (!s.ssl_ca_location.empty()) KB_RETURN_IF_ERROR(SetProp(conf, "ssl.ca.location", s.ssl_ca_location));
  if (!s.ssl_certificate_location.empty()) {
    KB_RETURN_IF_ERROR(SetProp(conf, "ssl.certificate.location", s.ssl_certificate_location));
  }
  if (!s.ssl_key_location.empty()) KB_RETURN_IF_ERROR(SetProp(conf, "ssl.key.location", s.ssl_key_location));
  if (!s.ssl_key_password.empty()) KB_RETURN_IF_ERROR(SetProp(conf, "ssl.key.password", s.ssl_key_password, true));
  for (const auto& [k, v] : config.client_properties) {
    bool secret = k.find("password") != std::string::npos || k.find("secret") != std::string::npos;
    KB_RETURN_IF_ERROR(SetProp(conf, k, v, secret));
  }
  return Status::Ok();
}

}  // namespace internal

namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this component's own helpers

void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* message) {
  // librdkafka is chatty about connection attempts; its errors reach us
  // through the error callback and are reported there with context.
  if (level <= 3) {
    spdlog::debug("librdkafka {}: {}", facility, message);
  } else {
    spdlog::trace("librdkafka {}: {}", facility, message);
  }
}

void ErrorCallback(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  static_cast<Client*>(opaque)->OnError(err, reason ? reason : "");
}

void TokenRefreshCallback(rd_kafka_t* rk, const char* /*oauthbearer_config*/, void* opaque) {
  static_cast<Client*>(opaque)->OnTokenRefresh(rk);
}

}  // namespace

const TopicInfo* ClusterInfo::Find(const std::string& name) const {
  for (const auto& t : topics)
    if (t.name == name) return &t;
  return nullptr;
}

Client::~Client() {
  if (rk_) rd_kafka_destroy(rk_);
}

Status Client::Init(const KafkaConfig& config, int type, rd_kafka_conf_t* raw_conf) {
  ConfPtr conf(raw_conf);
  bootstrap_ = JoinServers(config.bootstrap_servers);
  timeout_ms_ = config.connect_timeout_secs * 1000;
  KB_RETURN_IF_ERROR(ApplyCommon(config, conf.get()));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_error_cb(conf.get(), ErrorCallback);
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  if (config.security.sasl_mechanism == "AWS_MSK_IAM") {
    KB_ASSIGN_OR_RETURN(msk_iam_, MskIamAuth::Create(config.security.aws_region, config.bootstrap_servers));
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf.get(), TokenRefreshCallback);
    rd_kafka_conf_enable_sasl_queue(conf.get(), 1);  // served in the background, below
  } else if (config.security.sasl_mechanism == "GSSAPI") {
    KB_RETURN_IF_ERROR(KerberosLogin(config.security));
    kerberos_service_ = config.security.kerberos_service_name;
  } else if (config.security.sasl_mechanism == "OAUTHBEARER") {
    // (librdkafka moves its own OIDC refresh to the background thread, but
    // only when the SASL queue exists)
    rd_kafka_conf_enable_sasl_queue(conf.get(), 1);
    oidc_endpoint_ = config.security.oauth_token_endpoint_url;
  }
  char errstr[512];
  rk_ = rd_kafka_new(static_cast<rd_kafka_type_t>(type), conf.get(), errstr, sizeof(errstr));
  if (!rk_) {
    std::string hint;
    if (Contains(errstr, "ssl.key")) {
      hint = " (check ssl_key_location, and ssl_key_password for an encrypted key)";
    } else if (Contains(errstr, "ssl.")) {
      hint = " (check the ssl_* settings: files that exist and are PEM)";
    }
    return Status::InvalidArgument(fmt::format("cannot create Kafka client: {}{}", errstr, hint));
  }
  static_cast<void>(conf.release());  // owned by rk_ now
  if (msk_iam_) {
    // Tokens are refreshed on librdkafka's background thread, whatever queue
    // the caller polls (or none, between admin calls).
    if (rd_kafka_error_t* e = rd_kafka_sasl_background_callbacks_enable(rk_)) {
      std::string why = rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return Status::Internal("cannot refresh MSK IAM tokens in the background: " + why);
    }
  }
  return Status::Ok();
}

void Client::OnTokenRefresh(rd_kafka_t* rk) {
  Result<MskIamToken> token = msk_iam_->Next();
  if (!token.ok()) {
    OnError(RD_KAFKA_RESP_ERR__AUTHENTICATION, token.status().message());
    rd_kafka_oauthbearer_set_token_failure(rk, token.status().message().c_str());
    return;
  }
  char errstr[512];
  // The principal is librdkafka's bookkeeping only: OAUTHBEARER sends the token.
  if (rd_kafka_oauthbearer_set_token(rk, token->token.c_str(), token->expiry_ms, "kafka-backup", nullptr, 0, errstr,
                                     sizeof(errstr)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    OnError(RD_KAFKA_RESP_ERR__AUTHENTICATION, errstr);
    rd_kafka_oauthbearer_set_token_failure(rk, errstr);
  }
}

}  // namespace kafka_backup::kafka
