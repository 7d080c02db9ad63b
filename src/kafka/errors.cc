// librdkafka's errors as Status: the table of error codes, what a refused
// authentication means (SASL, TLS, MSK IAM, OIDC, Kerberos) and what to
// check, and Client's record of the last error its callbacks saw.
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string>

#include <fmt/format.h>

#include "kafka/client.h"
#include "kafka/client_internal.h"
#include "kafka/msk_iam.h"

namespace kafka_backup::kafka {
namespace internal {

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

bool CoordinatorBusy(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS || err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
         err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
}

}  // namespace internal

namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this component's own helpers

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

}  // namespace

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

}  // namespace kafka_backup::kafka
