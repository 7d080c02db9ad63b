#include "kafka/client.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "kafka/kerberos.h"
#include "kafka/msk_iam.h"
#include "util/strings.h"

namespace kafka_backup::kafka {
namespace {

using Clock = std::chrono::steady_clock;

std::string JoinServers(const std::vector<std::string>& servers) {
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "" : ",") + s;
  return out;
}

Status Classify(rd_kafka_resp_err_t err, const std::string& message) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return Status::Auth(message);
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
      return Status::Unavailable(message);
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(message);
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return Status::AlreadyExists(message);
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return Status::InvalidArgument(message);
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return Status::InvalidArgument(message +
                                     " (a topic with cleanup.policy compact refuses records without a key: check the "
                                     "topic's configs and restore.topic_configs)");
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR_TOPIC_DELETION_DISABLED:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_INVALID_TRANSACTION_TIMEOUT:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return Status::InvalidArgument(message);
    // Another process took the transactional id (or the group) over: a
    // second restore with the same target and backup id, or a rerun while
    // this one still runs.
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
      return Status::Conflict(
          message +
          " (another process uses the same transactional id or consumer group: a second restore of the same "
          "backup into the same cluster, or a rerun while the first still runs; stop it, then run again)");
    default:
      // An error this table does not know is the cluster's or the network's
      // condition, never input we can tell is wrong: retrying is the advice.
      return Status::Unavailable(message);
  }
}

bool Contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

// A TLS failure that no retry mends: the broker's certificate is not trusted
// (or does not name the host), the broker refused ours, or the handshake
// itself failed. A connection dropped during the handshake is not one: a
// broker restarting does that too (and so does a listener that does not speak
// TLS, which then times out as unreachable, the reason in the message).
bool TlsRefused(int err, const std::string& reason) {
  for (const char* needle : {"certificate verify failed", "alert bad certificate", "alert certificate required",
                             "alert unknown ca", "alert certificate unknown"}) {
    if (Contains(reason, needle)) return true;
  }
  if (err != RD_KAFKA_RESP_ERR__SSL && !Contains(reason, "SSL handshake failed")) return false;
  for (const char* needle : {"Disconnected", "onnection reset", "roken pipe", "timed out", "unexpected eof"}) {
    if (Contains(reason, needle)) return false;
  }
  return true;
}

// What to check, for the security failure the error callback recorded.
std::string SecurityHint(const std::string& reason) {
  if (Contains(reason, "SASL")) {
    return "check the security settings (security_protocol, sasl_mechanism, sasl_username, sasl_password)";
  }
  if (Contains(reason, "certificate verify failed")) {
    return "the broker's TLS certificate could not be verified: check that ssl_ca_location is the CA that signed "
           "it, and that the certificate names the host in bootstrap_servers";
  }
  if (Contains(reason, "alert bad certificate") || Contains(reason, "alert certificate required") ||
      Contains(reason, "alert unknown ca") || Contains(reason, "alert certificate unknown")) {
    return "the broker refused the client's TLS certificate: it requires one it trusts (set "
           "ssl_certificate_location and ssl_key_location)";
  }
  return "check the TLS settings (security_protocol, ssl_ca_location, ssl_certificate_location, ssl_key_location)";
}

// The admin handle has no poll loop: the error callback runs only when its
// main queue is served, so every admin error path serves it first.
void ServeErrors(rd_kafka_t* rk) {
  rd_kafka_poll(rk, 0);
}

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

void DeliveryCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  static_cast<Producer*>(opaque)->OnDelivery(m->err, m->err ? rd_kafka_topic_name(m->rkt) : "", m->partition, m->offset,
                                             m->_private);
}

Status SetProp(rd_kafka_conf_t* conf, const std::string& name, const std::string& value, bool secret = false) {
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

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const {
    if (c) rd_kafka_conf_destroy(c);
  }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// RAII for admin call plumbing.
bool CoordinatorBusy(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS || err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
         err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
}

struct AdminCall {
  rd_kafka_queue_t* queue = nullptr;
  rd_kafka_AdminOptions_t* options = nullptr;
  rd_kafka_event_t* event = nullptr;
  AdminCall(rd_kafka_t* rk, rd_kafka_admin_op_t op, int timeout_ms) {
    queue = rd_kafka_queue_new(rk);
    options = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETERECORDS) {
      rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof(errstr));
    }
  }
  ~AdminCall() {
    if (event) rd_kafka_event_destroy(event);
    if (options) rd_kafka_AdminOptions_destroy(options);
    if (queue) rd_kafka_queue_destroy(queue);
  }
  AdminCall(const AdminCall&) = delete;
  AdminCall& operator=(const AdminCall&) = delete;

  // Waits for the result event; a request-level error becomes a Status.
  Status Wait(const Client& client, int timeout_ms, const std::string& what) {
    event = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    ServeErrors(client.handle());
    if (!event) return client.ErrorStatus(RD_KAFKA_RESP_ERR__TIMED_OUT, what);
    if (rd_kafka_event_error(event)) {
      return client.ErrorStatus(rd_kafka_event_error(event),
                                fmt::format("{}: {}", what, rd_kafka_event_error_string(event)));
    }
    return Status::Ok();
  }
};

}  // namespace

const TopicInfo* ClusterInfo::Find(const std::string& name) const {
  for (const auto& t : topics)
    if (t.name == name) return &t;
  return nullptr;
}

Client::~Client() {
  if (rk_) rd_kafka_destroy(rk_);
}

void Client::OnError(int err, const std::string& reason) {
  spdlog::debug("Kafka client error ({}): {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
  std::lock_guard<std::mutex> lock(errors_mu_);
  // A refused authentication (SASL, or TLS certificates) is what the user
  // must hear about: the "brokers are down" errors that follow it do not
  // replace it.
  if (auth_failed_) return;
  last_error_code_ = err;
  last_error_ = reason;
  if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || TlsRefused(err, reason)) auth_failed_ = true;
}

Status Client::ErrorStatus(int err, const std::string& what) const {
  std::string last;
  bool auth = false;
  {
    std::lock_guard<std::mutex> lock(errors_mu_);
    last = last_error_;
    auth = auth_failed_;
  }
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  std::string msg = fmt::format("{} (Kafka at {}): {}", what, bootstrap_, rd_kafka_err2str(code));
  if (code == RD_KAFKA_RESP_ERR__FATAL && rk_) {
    // The client's fatal error says what it was (a fenced producer, mostly).
    char reason[512];
    rd_kafka_resp_err_t underlying = rd_kafka_fatal_error(rk_, reason, sizeof(reason));
    if (underlying != RD_KAFKA_RESP_ERR_NO_ERROR) {
      code = underlying;
      msg += fmt::format(": {}", reason);
    }
  }
  if (auth) {
    std::string hint = SecurityHint(last);
    if (msk_iam_ && Contains(last, "SASL")) {
      hint = fmt::format(
          "AWS_MSK_IAM: check the AWS credentials ({}), that security.aws_region ({}) is the cluster's, and that "
          "the IAM policy allows kafka-cluster:Connect",
          msk_iam_->credentials_source(), msk_iam_->region());
    } else if (!oidc_endpoint_.empty() && Contains(last, "acquire SASL OAUTHBEARER token")) {
      hint = fmt::format(
          "the identity provider's token endpoint {} refused the client credentials or could not "
          "be reached: check oauth_client_id, oauth_client_secret and oauth_scope",
          oidc_endpoint_);
    } else if (!kerberos_service_.empty() && Contains(last, "SASL")) {
      hint = fmt::format(
          "Kerberos: check kerberos_service_name ({}): the brokers' principals must be "
          "{}/HOST@REALM, HOST as the brokers advertise themselves, and known to the KDC",
          kerberos_service_, kerberos_service_);
    } else if (!oidc_endpoint_.empty() && Contains(last, "SASL")) {
      hint = fmt::format(
          "the broker refused the token from {}: check that the listener trusts this identity "
          "provider (its JWKS, expected audience and issuer) and the token's scope (oauth_scope)",
          oidc_endpoint_);
    }
    return Status::Auth(fmt::format("{} (Kafka at {}): authentication failed: {}; {}", what, bootstrap_, last, hint));
  }
  if (!last.empty() && last != rd_kafka_err2str(code)) msg += fmt::format("; last broker error: {}", last);
  Status s = Classify(code, msg);
  if (s.code() == Status::Code::kUnavailable) {
    return Status::Unavailable(msg + "; check that the brokers are running and reachable");
  }
  return s;
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

// ---- Admin -------------------------------------------------------------------

Result<std::unique_ptr<Admin>> Admin::Connect(const KafkaConfig& config) {
  std::unique_ptr<Admin> admin(new Admin());
  KB_RETURN_IF_ERROR(admin->Init(config, RD_KAFKA_PRODUCER, rd_kafka_conf_new()));
  return admin;
}

Result<ClusterInfo> Admin::Describe() {
  const rd_kafka_metadata_t* md = nullptr;
  // In slices of at most a second, so that a refused authentication (which
  // librdkafka would retry until the timeout) ends the wait at once.
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    err = rd_kafka_metadata(rk_, 1, nullptr, &md, static_cast<int>(std::clamp<int64_t>(left, 1, 1000)));
    if (!err) break;
    ServeErrors(rk_);
    Status refused = ErrorStatus(err, "cannot read cluster metadata");
    if (refused.code() == Status::Code::kAuth) return refused;
    bool waiting = err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                   err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
    if (!waiting || Clock::now() >= deadline) {
      return ErrorStatus(err, fmt::format("cannot read cluster metadata within {}s", timeout_ms_ / 1000));
    }
  }
  ClusterInfo info;
  info.broker_count = md->broker_cnt;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err) continue;
    TopicInfo ti;
    ti.name = t.topic;
    ti.partition_count = t.partition_cnt;
    for (int p = 0; p < t.partition_cnt; ++p)
      ti.replication_factor = std::max(ti.replication_factor, t.partitions[p].replica_cnt);
    info.topics.push_back(std::move(ti));
  }
  rd_kafka_metadata_destroy(md);
  std::sort(info.topics.begin(), info.topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (char* id = rd_kafka_clusterid(rk_, timeout_ms_)) {
    info.cluster_id = id;
    rd_kafka_mem_free(rk_, id);
  }
  return info;
}

Result<std::map<std::string, std::string>> Admin::TopicConfigs(const std::string& topic) {
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms_);
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_DescribeConfigs(rk_, &res, 1, call.options, call.queue);
  rd_kafka_ConfigResource_destroy(res);
  std::string what = fmt::format("cannot describe the configuration of topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(call.event);
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(result, &count);
  std::map<std::string, std::string> configs;
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i])) {
      return ErrorStatus(rd_kafka_ConfigResource_error(resources[i]),
                         fmt::format("{}: {}", what, rd_kafka_ConfigResource_error_string(resources[i])));
    }
    size_t n = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &n);
    for (size_t e = 0; e < n; ++e) {
      if (rd_kafka_ConfigEntry_source(entries[e]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) continue;
      if (rd_kafka_ConfigEntry_is_sensitive(entries[e])) continue;
      const char* value = rd_kafka_ConfigEntry_value(entries[e]);
      configs[rd_kafka_ConfigEntry_name(entries[e])] = value ? value : "";
    }
  }
  return configs;
}

Result<std::map<std::string, std::string>> Admin::TopicIds(const std::vector<std::string>& topics) {
  std::map<std::string, std::string> ids;
  if (topics.empty()) return ids;
  std::vector<const char*> names;
  names.reserve(topics.size());
  for (const auto& t : topics) names.push_back(t.c_str());
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBETOPICS, timeout_ms_);
  rd_kafka_TopicCollection_t* collection = rd_kafka_TopicCollection_of_topic_names(names.data(), names.size());
  rd_kafka_DescribeTopics(rk_, collection, call.options, call.queue);
  rd_kafka_TopicCollection_destroy(collection);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, "cannot describe topics"));
  size_t count = 0;
  const rd_kafka_TopicDescription_t** described =
      rd_kafka_DescribeTopics_result_topics(rd_kafka_event_DescribeTopics_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_error_t* error = rd_kafka_TopicDescription_error(described[i]);
    if (error && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    if (error) {
      return ErrorStatus(rd_kafka_error_code(error),
                         fmt::format("cannot describe topic '{}': {}", rd_kafka_TopicDescription_name(described[i]),
                                     rd_kafka_error_string(error)));
    }
    const rd_kafka_Uuid_t* id = rd_kafka_TopicDescription_topic_id(described[i]);
    if (id) ids[rd_kafka_TopicDescription_name(described[i])] = rd_kafka_Uuid_base64str(id);
  }
  return ids;
}

Status Admin::CreateTopic(const std::string& topic, int32_t partitions, int32_t replication_factor,
                          const std::map<std::string, std::string>& configs) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, errstr, sizeof(errstr));
  if (!nt) return Status::InvalidArgument(fmt::format("cannot create topic '{}': {}", topic, errstr));
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms_);
  rd_kafka_CreateTopics(rk_, &nt, 1, call.options, call.queue);
  rd_kafka_NewTopic_destroy(nt);
  std::string what = fmt::format("cannot create topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_topic_result_error(results[i])) {
      const char* detail = rd_kafka_topic_result_error_string(results[i]);
      return ErrorStatus(rd_kafka_topic_result_error(results[i]), fmt::format("{}: {}", what, detail ? detail : ""));
    }
  }
  return Status::Ok();
}

Status Admin::SetTopicConfigs(const std::string& topic, const std::map<std::string, std::string>& configs) {
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_ms_);
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [k, v] : configs) rd_kafka_ConfigResource_set_config(res, k.c_str(), v.c_str());
  rd_kafka_AlterConfigs(rk_, &res, 1, call.options, call.queue);
  rd_kafka_ConfigResource_destroy(res);
  std::string what = fmt::format("cannot set the configuration of topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i])) {
      return ErrorStatus(rd_kafka_ConfigResource_error(resources[i]),
                         fmt::format("{}: {}", what, rd_kafka_ConfigResource_error_string(resources[i])));
    }
  }
  return Status::Ok();
}

Result<Watermarks> Admin::QueryWatermarks(const std::string& topic, int32_t partition) {
  Watermarks w;
  // A just-created topic may not have a leader yet: retry briefly.
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &w.low, &w.high, timeout_ms_);
    if (!err) return w;
    bool transient = err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                     err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                     err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!transient || Clock::now() > deadline) {
      ServeErrors(rk_);
      return ErrorStatus(err, fmt::format("cannot read the offsets of {}[{}]", topic, partition));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<std::vector<int64_t>> Admin::HighWatermarks(const std::string& topic, int32_t partitions) {
  return ListOffsets(topic, partitions, RD_KAFKA_OFFSET_SPEC_LATEST, false,
                     fmt::format("cannot read the high watermarks of topic {}", topic));
}

Result<std::vector<int64_t>> Admin::OffsetsForTime(const std::string& topic, int32_t partitions, int64_t timestamp_ms) {
  return ListOffsets(topic, partitions, timestamp_ms, true,
                     fmt::format("cannot look up the offsets of topic {} at time {}", topic, timestamp_ms));
}

Result<std::vector<int64_t>> Admin::ListOffsets(const std::string& topic, int32_t partitions, int64_t spec,
                                                bool read_committed, const std::string& what) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = spec;
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_LISTOFFSETS, timeout_ms_);
  if (rd_kafka_error_t* e = rd_kafka_AdminOptions_set_isolation_level(
          call.options,
          read_committed ? RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED : RD_KAFKA_ISOLATION_LEVEL_READ_UNCOMMITTED)) {
    rd_kafka_error_destroy(e);  // (only refused for an operation that takes no isolation level)
  }
  rd_kafka_ListOffsets(rk_, list, call.options, call.queue);
  rd_kafka_topic_partition_list_destroy(list);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_ListOffsetsResultInfo_t** infos =
      rd_kafka_ListOffsets_result_infos(rd_kafka_event_ListOffsets_result(call.event), &count);
  // -1 stays for a partition with no answer, and (a timestamp) for one with no
  // record at or after it.
  std::vector<int64_t> offsets(static_cast<size_t>(partitions), -1);
  std::vector<bool> answered(static_cast<size_t>(partitions), false);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_topic_partition_t* tp = rd_kafka_ListOffsetsResultInfo_topic_partition(infos[i]);
    if (tp->err) return ErrorStatus(tp->err, fmt::format("{} (partition {})", what, tp->partition));
    if (tp->partition >= 0 && tp->partition < partitions) {
      offsets[static_cast<size_t>(tp->partition)] = tp->offset;
      answered[static_cast<size_t>(tp->partition)] = true;
    }
  }
  for (int32_t p = 0; p < partitions; ++p) {
    bool missing = !answered[static_cast<size_t>(p)] || (spec < 0 && offsets[static_cast<size_t>(p)] < 0);
    if (missing) return Status::Unavailable(fmt::format("{}: no answer for partition {}", what, p));
  }
  return offsets;
}

Result<std::vector<std::string>> Admin::ListGroups() {
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout_ms_);
  rd_kafka_ListConsumerGroups(rk_, call.options, call.queue);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, "cannot list consumer groups"));
  size_t count = 0;
  const rd_kafka_ConsumerGroupListing_t** groups =
      rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(call.event), &count);
  std::vector<std::string> ids;
  for (size_t i = 0; i < count; ++i) ids.emplace_back(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<TopicPartitionOffset>> Admin::GroupOffsets(const std::string& group, bool require_stable) {
  std::string what = fmt::format("cannot read the committed offsets of consumer group '{}'", group);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    // librdkafka 2.0.2 (and later, confluentinc/librdkafka#5040) crashes
    // when an admin ListConsumerGroupOffsets meets NOT_COORDINATOR: it
    // dereferences the consumer-group state a non-consumer handle lacks. A
    // describe first waits until the coordinator answers, which closes that
    // window in practice (it opens when __consumer_offsets is still loading).
    KB_RETURN_IF_ERROR(DescribeGroup(group).status());
    AdminCall call(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms_);
    // Stable: offsets committed inside a transaction whose markers are still
    // being written are waited for, never reported as the older value.
    if (rd_kafka_error_t* e = rd_kafka_AdminOptions_set_require_stable_offsets(call.options, require_stable)) {
      rd_kafka_error_destroy(e);
    }
    rd_kafka_ListConsumerGroupOffsets_t* req = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
    rd_kafka_ListConsumerGroupOffsets(rk_, &req, 1, call.options, call.queue);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    Status waited = call.Wait(*this, timeout_ms_, what);
    if (!waited.ok()) {
      // A group coordinator still loading (a broker just started) answers soon.
      if (call.event && CoordinatorBusy(rd_kafka_event_error(call.event)) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      return waited;
    }
    size_t count = 0;
    const rd_kafka_group_result_t** results = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(call.event), &count);
    std::vector<TopicPartitionOffset> out;
    bool unstable = false;
    for (size_t i = 0; i < count; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i])) {
        if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT ||
            CoordinatorBusy(rd_kafka_error_code(e))) {
          unstable = true;
          continue;
        }
        return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
      }
      const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(results[i]);
      for (int p = 0; parts && p < parts->cnt; ++p) {
        const auto& e = parts->elems[p];
        if (e.err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT) unstable = true;
        if (e.err) {
          if (e.err != RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT) {
            return ErrorStatus(e.err, fmt::format("{} on {}[{}]", what, e.topic, e.partition));
          }
          continue;
        }
        if (e.offset < 0) continue;
        std::string metadata = e.metadata ? std::string(static_cast<const char*>(e.metadata), e.metadata_size) : "";
        out.push_back({e.topic, e.partition, e.offset, std::move(metadata)});
      }
    }
    if (unstable) {
      if (Clock::now() > deadline) return Status::Unavailable(what + ": a transaction holding its offsets is pending");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
    });
    return out;
  }
}

Result<GroupInfo> Admin::DescribeGroup(const std::string& group) {
  std::string what = fmt::format("cannot describe consumer group '{}'", group);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (true) {
    AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms_);
    const char* groups[] = {group.c_str()};
    rd_kafka_DescribeConsumerGroups(rk_, groups, 1, call.options, call.queue);
    Status waited = call.Wait(*this, timeout_ms_, what);
    bool busy = false;
    if (!waited.ok()) {
      busy = call.event && CoordinatorBusy(rd_kafka_event_error(call.event));
      if (!busy) return waited;
    }
    GroupInfo info;
    info.group_id = group;
    info.state = "Dead";
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** descs =
        busy ? nullptr
             : rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(call.event),
                                                             &count);
    for (size_t i = 0; i < count; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(descs[i])) {
        if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
        if (CoordinatorBusy(rd_kafka_error_code(e))) {
          busy = true;
          break;
        }
        return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
      }
      info.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(descs[i]));
      info.members = rd_kafka_ConsumerGroupDescription_member_count(descs[i]);
    }
    if (!busy) return info;
    // The group's coordinator is still loading (a broker just started, or
    // the coordinator moved): it answers soon.
    if (Clock::now() > deadline) return Status::Unavailable(what + ": its group coordinator is not ready");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status Admin::CommitGroupOffsets(const std::string& group, const std::vector<TopicPartitionOffset>& offsets) {
  if (offsets.empty()) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets)
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
  rd_kafka_AlterConsumerGroupOffsets_t* req = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_ms_);
  rd_kafka_AlterConsumerGroupOffsets(rk_, &req, 1, call.options, call.queue);
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  std::string what = fmt::format("cannot commit offsets for consumer group '{}'", group);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i])) {
      return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(results[i]);
    for (int p = 0; parts && p < parts->cnt; ++p) {
      if (parts->elems[p].err) {
        return ErrorStatus(parts->elems[p].err,
                           fmt::format("{} on {}[{}]", what, parts->elems[p].topic, parts->elems[p].partition));
      }
    }
  }
  return Status::Ok();
}

Status Admin::DeleteGroupOffsets(const std::string& group, const std::vector<TopicPartitionOffset>& partitions) {
  if (partitions.empty()) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& o : partitions) rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
  rd_kafka_DeleteConsumerGroupOffsets_t* req = rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, timeout_ms_);
  rd_kafka_DeleteConsumerGroupOffsets(rk_, &req, 1, call.options, call.queue);
  rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
  std::string what = fmt::format("cannot delete offsets of consumer group '{}'", group);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
      rd_kafka_event_DeleteConsumerGroupOffsets_result(call.event), &count);
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(results[i])) {
      return ErrorStatus(rd_kafka_error_code(e), fmt::format("{}: {}", what, rd_kafka_error_string(e)));
    }
  }
  return Status::Ok();
}

Status Admin::DeleteRecords(const std::string& topic, const std::vector<int32_t>& partitions) {
  if (partitions.empty()) return Status::Ok();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_DeleteRecords_t* req = rd_kafka_DeleteRecords_new(list);
  rd_kafka_topic_partition_list_destroy(list);
  AdminCall call(rk_, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout_ms_);
  rd_kafka_DeleteRecords(rk_, &req, 1, call.options, call.queue);
  rd_kafka_DeleteRecords_destroy(req);
  std::string what = fmt::format("cannot delete the records of topic '{}'", topic);
  KB_RETURN_IF_ERROR(call.Wait(*this, timeout_ms_, what));
  const rd_kafka_topic_partition_list_t* done =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(call.event));
  if (!done) return Status::Unavailable(fmt::format("{}: no answer", what));
  for (int i = 0; i < done->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = done->elems[i];
    if (tp.err == RD_KAFKA_RESP_ERR_POLICY_VIOLATION) {
      return Status::Conflict(fmt::format(
          "{} (partition {}): the broker refuses DeleteRecords on it ({}); a topic whose cleanup.policy is only "
          "compact cannot be emptied this way: delete the topic, or use restore.on_existing_data: append",
          what, tp.partition, rd_kafka_err2str(tp.err)));
    }
    if (tp.err) return ErrorStatus(tp.err, fmt::format("{} (partition {})", what, tp.partition));
  }
  return Status::Ok();
}

// ---- Consumer ----------------------------------------------------------------

Result<std::unique_ptr<Consumer>> Consumer::Connect(const KafkaConfig& config) {
  std::unique_ptr<Consumer> c(new Consumer());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Defaults first; client_properties (applied in Init) may override them.
  // fetch.max.bytes: a response is held whole while it is parsed, on top of
  // the queue of fetched messages (queued.max.messages.kbytes), so it stays
  // small; larger ones bought no speed on the bench and cost 60 MiB of RSS.
  for (auto [k, v] :
       std::initializer_list<std::pair<const char*, const char*>>{{"group.id", "kafka-backup"},
                                                                  {"enable.auto.commit", "false"},
                                                                  {"enable.auto.offset.store", "false"},
                                                                  {"enable.partition.eof", "true"},
                                                                  {"isolation.level", "read_committed"},
                                                                  // Never skip silently: a position the broker
                                                                  // deleted is reported (kOffsetOutOfRange).
                                                                  {"auto.offset.reset", "error"},
                                                                  {"fetch.max.bytes", "16777216"},
                                                                  {"max.partition.fetch.bytes", "8388608"},
                                                                  {"queued.max.messages.kbytes", "65536"},
                                                                  // When that queue is full, fetch again as soon as
                                                                  // it drains (the default waits a whole second).
                                                                  {"fetch.queue.backoff.ms", "10"},
                                                                  {"fetch.wait.max.ms", "100"}}) {
    Status s = SetProp(conf, k, v);
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  KB_RETURN_IF_ERROR(c->Init(config, RD_KAFKA_CONSUMER, conf));
  rd_kafka_poll_set_consumer(c->rk_);
  c->queue_ = rd_kafka_queue_get_consumer(c->rk_);
  if (!c->queue_) return Status::Internal("the Kafka consumer has no consumer queue");
  return c;
}

Consumer::~Consumer() {
  // Before Client's destructor: the client may not go while messages and
  // queue handles are held.
  DropBuffered(nullptr, 0);
  if (queue_) rd_kafka_queue_destroy(queue_);
}

rd_kafka_message_t* Consumer::Next(int timeout_ms) {
  constexpr size_t kBatch = 1024;
  if (next_ == batch_.size()) {
    batch_.resize(kBatch);
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch_.data(), kBatch);
    batch_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    next_ = 0;
  }
  if (next_ < batch_.size()) return std::exchange(batch_[next_++], nullptr);
  // Nothing fetched yet: wait for the first message (a batch call would wait
  // for a whole batch or the timeout).
  return rd_kafka_consumer_poll(rk_, timeout_ms);
}

void Consumer::DropBuffered(const std::string* topic, int32_t partition) {
  size_t kept = next_;
  for (size_t i = next_; i < batch_.size(); ++i) {
    rd_kafka_message_t* m = batch_[i];
    bool drop = !topic || (m->partition == partition && m->rkt && *topic == rd_kafka_topic_name(m->rkt));
    if (drop) {
      rd_kafka_message_destroy(m);
    } else {
      batch_[kept++] = m;
    }
  }
  batch_.resize(kept);
}

Status Consumer::Assign(const std::vector<Start>& starts) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(starts.size()));
  for (const auto& s : starts) rd_kafka_topic_partition_list_add(list, s.topic.c_str(), s.partition)->offset = s.offset;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) return ErrorStatus(err, "cannot assign partitions to the consumer");
  DropBuffered(nullptr, 0);
  assigned_ = starts;
  return Status::Ok();
}

Status Consumer::AssignMore(const std::vector<Start>& starts) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(starts.size()));
  for (const auto& s : starts) rd_kafka_topic_partition_list_add(list, s.topic.c_str(), s.partition)->offset = s.offset;
  rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string msg = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::Internal(fmt::format("cannot add partitions to the consumer: {}", msg));
  }
  assigned_.insert(assigned_.end(), starts.begin(), starts.end());
  return Status::Ok();
}

Status Consumer::Seek(const std::string& topic, int32_t partition, int64_t offset) {
  // After an offset-out-of-range error (auto.offset.reset=error) librdkafka
  // has stopped fetching the partition and refuses a seek ("Erroneous
  // state"): the partition is assigned again at the new offset instead.
  std::string what = fmt::format("cannot move {}[{}] to offset {}", topic, partition, offset);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, list);
  if (!error) error = rd_kafka_incremental_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string msg = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::Internal(fmt::format("{}: {}", what, msg));
  }
  DropBuffered(&topic, partition);
  for (auto& s : assigned_) {
    if (s.topic == topic && s.partition == partition) s.offset = offset;
  }
  return Status::Ok();
}

int64_t Consumer::CachedHighWatermark(const std::string& topic, int32_t partition) {
  int64_t low = -1;
  int64_t high = -1;
  if (rd_kafka_get_watermark_offsets(rk_, topic.c_str(), partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

Status Consumer::Unassign(const std::string& topic, int32_t partition) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string msg = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::Internal(fmt::format("cannot unassign {}[{}]: {}", topic, partition, msg));
  }
  DropBuffered(&topic, partition);
  return Status::Ok();
}

Result<ConsumedItem> Consumer::Poll(int timeout_ms) {
  ConsumedItem item;
  rd_kafka_message_t* m = Next(timeout_ms);
  if (!m) return item;
  item.message_ = {m, &rd_kafka_message_destroy};
  if (m->rkt) item.topic = rd_kafka_topic_name(m->rkt);
  item.partition = m->partition;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    item.kind = ConsumedItem::Kind::kPartitionEnd;
    item.next_offset = m->offset;
    return item;
  }
  if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && m->rkt) {
    item.kind = ConsumedItem::Kind::kOffsetOutOfRange;
    item.next_offset = m->offset;
    return item;
  }
  if (m->err) {
    std::string what = item.topic.empty() ? std::string("consumer error")
                                          : fmt::format("error reading {}[{}]", item.topic, item.partition);
    Status s = ErrorStatus(m->err, fmt::format("{}: {}", what, rd_kafka_message_errstr(m)));
    // Transport hiccups are retried by librdkafka itself; report them so the
    // caller can decide (it keeps going until its stall deadline).
    return s;
  }
  item.kind = ConsumedItem::Kind::kRecord;
  format::RecordView& r = item.record;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  r.timestamp = rd_kafka_message_timestamp(m, &tstype);
  r.timestamp_type = tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? format::TimestampType::kLogAppendTime
                     : tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME   ? format::TimestampType::kCreateTime
                                                                  : format::TimestampType::kNotAvailable;
  if (m->key) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) r.value.emplace(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
    size_t n = rd_kafka_header_cnt(hdrs);
    item.headers_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_header_get_all(hdrs, i, &name, &value, &size)) break;
      format::HeaderView& h = item.headers_.emplace_back();
      h.name = name;
      if (value) h.value.emplace(static_cast<const char*>(value), size);
    }
    r.headers = item.headers_;
  }
  return item;
}

Result<int64_t> Consumer::OffsetForTime(const std::string& topic, int32_t partition, int64_t timestamp_ms) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = timestamp_ms;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list, timeout_ms_);
  int64_t offset = list->elems[0].offset;
  rd_kafka_resp_err_t perr = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  if (err || perr) {
    return ErrorStatus(err ? err : perr, fmt::format("cannot look up offsets by time in {}[{}]", topic, partition));
  }
  if (offset < 0) {  // no record at or after the time: the end of the partition
    int64_t low = 0;
    int64_t high = 0;
    err = rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &low, &high, timeout_ms_);
    if (err) return ErrorStatus(err, fmt::format("cannot read the offsets of {}[{}]", topic, partition));
    return high;
  }
  return offset;
}

// ---- Producer ----------------------------------------------------------------

Result<std::unique_ptr<Producer>> Producer::Connect(const KafkaConfig& config, const std::string& transactional_id,
                                                    int queue_kbytes) {
  std::unique_ptr<Producer> p(new Producer());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!transactional_id.empty()) {
    Status s = SetProp(conf, "transactional.id", transactional_id);
    if (s.ok()) s = SetProp(conf, "transaction.timeout.ms", "300000");
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  // enable.sparse.connections=false: connected to every broker from the
  // start, a transactional producer asks for its coordinator as soon as a
  // broker is up; sparse, it often waits for librdkafka's 500 ms coordinator
  // query timer (InitTransactions took 10-30 ms against 0.5 s here).
  for (auto [k, v] :
       std::initializer_list<std::pair<const char*, const char*>>{{"enable.idempotence", "true"},
                                                                  {"acks", "all"},
                                                                  {"linger.ms", "20"},
                                                                  {"batch.size", "1000000"},
                                                                  {"compression.codec", "lz4"},
                                                                  {"message.max.bytes", "16777216"},
                                                                  {"message.timeout.ms", "300000"},
                                                                  {"enable.sparse.connections", "false"}}) {
    Status s = SetProp(conf, k, v);
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  if (Status s = SetProp(conf, "queue.buffering.max.kbytes", std::to_string(queue_kbytes)); !s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCallback);
  KB_RETURN_IF_ERROR(p->Init(config, RD_KAFKA_PRODUCER, conf));
  return p;
}

Producer::~Producer() {
  for (rd_kafka_topic_t* rkt : topics_) rd_kafka_topic_destroy(rkt);
}

Status Producer::LoadTopics(const std::vector<std::string>& topics) {
  for (const auto& topic : topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (!rkt) return ErrorStatus(rd_kafka_last_error(), fmt::format("cannot use topic {}", topic));
    topics_.push_back(rkt);
  }
  if (topics.empty()) return Status::Ok();
  // One topic is asked for alone; several, with the cluster's whole list (a
  // metadata response updates every topic the producer knows).
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_, topics.size() > 1 ? 1 : 0, topics.size() > 1 ? nullptr : topics_.back(), &md, timeout_ms_);
  if (md) rd_kafka_metadata_destroy(md);
  if (err) return ErrorStatus(err, fmt::format("cannot read the metadata of the topics to write ({})", topics.front()));
  return Status::Ok();
}

void Producer::OnDelivery(int err, const char* topic, int32_t partition, int64_t offset, void* opaque) {
  auto slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(opaque) - 1);
  SendTag tag = send_tags_[slot];
  free_send_tags_.push_back(slot);
  if (err && first_failure_.ok()) {
    first_failure_ = ErrorStatus(err, fmt::format("cannot write to {}[{}]", topic, partition));
  }
  if (!err && on_delivered_) on_delivered_(Delivery{tag.tag, tag.source_offset, partition, offset});
  delivered_.fetch_add(1);
}

void Producer::Poll() {
  rd_kafka_poll(rk_, 0);
}

namespace {

// Takes ownership of a librdkafka error object and turns it into a Status.
// A transaction that did not commit is aborted by the next run, which resumes
// from the last committed one.
Status TxnError(const Client& client, rd_kafka_error_t* error, const std::string& what) {
  if (!error) return Status::Ok();
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  std::string msg =
      fmt::format("{}: {}{}", what, rd_kafka_error_string(error), rd_kafka_error_is_fatal(error) ? " (fatal)" : "");
  rd_kafka_error_destroy(error);
  return client.ErrorStatus(code, msg);
}

// KAFKA_BACKUP_TEST_KILL_AFTER_COMMITS=N: the process dies (exit 137, as if
// killed) right after its Nth transaction commit, counted over all its
// producers; for the tests of a crash between two producers' commits. Never
// set it in production.
void DieAfterCommitsForTest() {
  static const uint64_t kill_after =
      std::strtoull(util::Env("KAFKA_BACKUP_TEST_KILL_AFTER_COMMITS").c_str(), nullptr, 10);
  static std::atomic<uint64_t> commits{0};
  if (kill_after != 0 && ++commits == kill_after) {
    spdlog::default_logger()->flush();
    std::_Exit(137);
  }
}

}  // namespace

int64_t Producer::TransactionTimeoutMs() const {
  char value[32];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(rd_kafka_conf(rk_), "transaction.timeout.ms", value, &size) != RD_KAFKA_CONF_OK) return 60000;
  return util::ParseDecimal<int64_t>(value).value_or(60000);
}

Status Producer::InitTransactions() {
  return TxnError(*this, rd_kafka_init_transactions(rk_, timeout_ms_), "cannot initialise transactions");
}

Status Producer::BeginTransaction() {
  return TxnError(*this, rd_kafka_begin_transaction(rk_), "cannot begin a transaction");
}

Status Producer::CommitTransaction(const std::string& group, const std::vector<TopicPartitionOffset>& offsets) {
  if (!offsets.empty()) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& o : offsets) {
      rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
      tp->offset = o.offset;
      if (!o.metadata.empty()) {
        tp->metadata = std::malloc(o.metadata.size());  // freed with the list
        std::memcpy(tp->metadata, o.metadata.data(), o.metadata.size());
        tp->metadata_size = o.metadata.size();
      }
    }
    rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata_new(group.c_str());
    rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(rk_, list, cgmd, timeout_ms_);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(list);
    KB_RETURN_IF_ERROR(TxnError(*this, error, "cannot add the restore's progress to the transaction"));
  }
  KB_RETURN_IF_ERROR(TxnError(*this, rd_kafka_commit_transaction(rk_, timeout_ms_), "cannot commit a transaction"));
  DieAfterCommitsForTest();
  return first_failure_;
}

namespace {

// Adds headers (format::RecordHeader or HeaderView) to a librdkafka list,
// which copies them.
template <typename Headers>
void AddHeaders(rd_kafka_headers_t* hdrs, const Headers& headers) {
  static const char kEmpty = 0;
  for (const auto& h : headers) {
    const void* value = h.value ? (h.value->empty() ? &kEmpty : h.value->data()) : nullptr;
    rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), value,
                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
  }
}

}  // namespace

Status Producer::Send(const std::string& topic, int32_t partition, const format::RecordView& r,
                      const std::vector<format::RecordHeader>& extra_headers, uint64_t tag) {
  if (!first_failure_.ok()) return first_failure_;
  static const char kEmpty = 0;
  rd_kafka_headers_t* hdrs = nullptr;
  if (!r.headers.empty() || !extra_headers.empty()) {
    hdrs = rd_kafka_headers_new(r.headers.size() + extra_headers.size());
    AddHeaders(hdrs, r.headers);
    AddHeaders(hdrs, extra_headers);
  }
  // Null stays null; empty must be a non-null pointer with length 0.
  void* key = r.key ? const_cast<char*>(r.key->empty() ? &kEmpty : r.key->data()) : nullptr;
  void* value = r.value ? const_cast<char*>(r.value->empty() ? &kEmpty : r.value->data()) : nullptr;
  size_t key_len = r.key ? r.key->size() : 0;
  size_t value_len = r.value ? r.value->size() : 0;
  // librdkafka sends a timestamp of 0 as "now"; our build of it (patched by
  // scripts/setup.sh, scripts/patches/librdkafka-create-time-zero.patch)
  // sends INT64_MIN as CreateTime 0 itself.
  int64_t timestamp = r.timestamp == 0 ? INT64_MIN : r.timestamp;
  // A slot for the delivery report; given back if the record is not queued.
  uint32_t slot = 0;
  if (free_send_tags_.empty()) {
    slot = static_cast<uint32_t>(send_tags_.size());
    send_tags_.push_back({tag, r.offset});
  } else {
    slot = free_send_tags_.back();
    free_send_tags_.pop_back();
    send_tags_[slot] = {tag, r.offset};
  }
  // The message's opaque carries the slot's index, not a pointer (the slots
  // move as they grow).
  void* opaque = reinterpret_cast<void*>(uintptr_t{slot} + 1);  // NOLINT(performance-no-int-to-ptr)
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                                                RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_TIMESTAMP(timestamp),
                                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (while_waiting_) while_waiting_();
      rd_kafka_poll(rk_, while_waiting_ ? 10 : 50);
      if (!first_failure_.ok()) {
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        free_send_tags_.push_back(slot);
        return first_failure_;
      }
      continue;
    }
    if (err) {
      if (hdrs) rd_kafka_headers_destroy(hdrs);
      free_send_tags_.push_back(slot);
      return ErrorStatus(
          err, fmt::format("cannot queue a record for {}[{}] (offset {} in the backup)", topic, partition, r.offset));
    }
    ++sent_;
    return Status::Ok();
  }
}

Status Producer::Flush(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (in_flight() > 0 && first_failure_.ok()) {
    rd_kafka_poll(rk_, 100);
    if (Clock::now() > deadline) {
      return Status::Unavailable(fmt::format("{} records were not acknowledged by Kafka at {} within {}s", in_flight(),
                                             bootstrap_, timeout_ms / 1000));
    }
  }
  return first_failure_;
}

}  // namespace kafka_backup::kafka
