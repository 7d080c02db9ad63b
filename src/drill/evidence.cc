#include "drill/evidence.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "kafka_backup/drill.h"
#include "storage/layout.h"
#include "storage/object_store.h"
#include "util/crypto.h"

namespace kafka_backup {
namespace {

namespace layout = storage::layout;
using nlohmann::json;

constexpr const char* kSigningKeyEnv = "KAFKA_BACKUP_DRILL_SIGNING_KEY";
constexpr std::string_view kSignatureMember = ",\"signature\":";

json OptionalJson(const std::optional<int64_t>& v) {
  return v ? json(*v) : json();
}
json OptionalJson(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

std::string KeyId(const std::string& public_key) {
  return "sha256:" + util::HexEncode(util::Sha256(public_key));
}

}  // namespace

namespace drill {

Result<std::string> SigningKey(const DrillConfig& config) {
  std::string pem;
  std::string from;
  if (const char* env = std::getenv(kSigningKeyEnv); env && *env) {
    pem = env;
    from = kSigningKeyEnv;
    if (!pem.starts_with("-----BEGIN")) {
      return Status::InvalidArgument(fmt::format(
          "{} must hold the PEM text of an Ed25519 private key (openssl genpkey -algorithm ed25519), not a path or "
          "anything else",
          kSigningKeyEnv));
    }
  } else if (!config.signing_key_file.empty()) {
    std::ifstream in(config.signing_key_file, std::ios::binary);
    if (!in) {
      return Status::InvalidArgument(fmt::format("drill.signing_key_file {}: cannot be read", config.signing_key_file));
    }
    std::ostringstream text;
    text << in.rdbuf();
    pem = text.str();
    from = "drill.signing_key_file " + config.signing_key_file;
  } else {
    return std::string();
  }
  std::string signature, public_key, error;
  if (!util::SignEd25519(pem, "probe", &signature, &public_key, &error)) {
    util::Cleanse(&pem);
    return Status::InvalidArgument(fmt::format(
        "{}: {}; a drill signs its evidence with an Ed25519 private key in PEM (make one with: openssl genpkey "
        "-algorithm ed25519 -out drill-key.pem)",
        from, error));
  }
  return pem;
}

Result<std::string> SignReport(const std::string& body, const std::string& private_key_pem, std::string* key_id) {
  if (body.size() < 2 || body.back() != '}') return Status::Internal("a drill report to sign must be a JSON object");
  std::string signature, public_key, error;
  if (!util::SignEd25519(private_key_pem, body, &signature, &public_key, &error)) {
    return Status::InvalidArgument("cannot sign the drill report: " + error);
  }
  *key_id = KeyId(public_key);
  json member{{"algorithm", "ed25519"},
              {"key_id", *key_id},
              {"public_key", util::Base64Encode(public_key)},
              {"value", util::Base64Encode(signature)}};
  return body.substr(0, body.size() - 1) + std::string(kSignatureMember) + member.dump() + "}";
}

}  // namespace drill

DrillVerification VerifyDrillReport(const std::string& report_json, const std::string& public_key_pem) {
  DrillVerification v;
  std::string text = report_json;
  if (text.ends_with("\n")) text.pop_back();  // as --format json prints it
  json j;
  try {
    j = json::parse(text);
    v.drill_id = j.value("drill_id", "");
    v.backup_id = j.value("backup_id", "");
  } catch (const std::exception& e) {
    v.problem = fmt::format("not a JSON document ({}): it is not a drill report, or it was changed", e.what());
    return v;
  }
  if (!j.is_object() || !j.contains("signature") || !j["signature"].is_object()) {
    v.problem = "the report is not signed (the drill that wrote it had no drill.signing_key_file)";
    return v;
  }
  const json& sig = j["signature"];
  std::string tail = std::string(kSignatureMember) + sig.dump() + "}";
  if (!text.ends_with(tail)) {
    v.problem = "the signature is not the report's last member as a drill writes it: the report was changed";
    return v;
  }
  std::string signed_bytes = text.substr(0, text.size() - tail.size()) + "}";
  std::string public_key, value;
  if (sig.value("algorithm", "") != "ed25519") {
    v.problem =
        fmt::format("unknown signature algorithm '{}' (a drill signs with ed25519)", sig.value("algorithm", ""));
    return v;
  }
  if (!util::Base64Decode(sig.value("public_key", ""), &public_key) || public_key.size() != 32 ||
      !util::Base64Decode(sig.value("value", ""), &value) || value.size() != 64) {
    v.problem = "the signature's public_key or value is not the base64 of an Ed25519 key or signature";
    return v;
  }
  v.key_id = KeyId(public_key);
  if (sig.value("key_id", "") != v.key_id) {
    v.problem =
        fmt::format("the signature's key_id {} is not its public key's ({})", sig.value("key_id", ""), v.key_id);
    return v;
  }
  if (!public_key_pem.empty()) {
    std::string expected, error;
    if (!util::Ed25519PublicKey(public_key_pem, &expected, &error)) {
      v.problem = "the key given: " + error;
      return v;
    }
    if (expected != public_key) {
      v.problem = fmt::format("signed by key {}, not by the key given ({})", v.key_id, KeyId(expected));
      return v;
    }
    v.pinned = true;
  }
  if (!util::VerifyEd25519(public_key, signed_bytes, value)) {
    v.problem = "the signature does not match the report's content: it was changed after it was signed";
    return v;
  }
  v.ok = true;
  return v;
}

namespace {

json PartitionsJson(const std::vector<DrillPartition>& partitions) {
  json out = json::array();
  for (const auto& p : partitions) {
    out.push_back({{"topic", p.topic},
                   {"scratch_topic", p.scratch_topic},
                   {"partition", p.partition},
                   {"expected_records", p.expected_records},
                   {"records", p.records},
                   {"first_offset", OptionalJson(p.first_offset)},
                   {"last_offset", OptionalJson(p.last_offset)},
                   {"expected_first_offset", OptionalJson(p.expected_first_offset)},
                   {"expected_last_offset", OptionalJson(p.expected_last_offset)},
                   {"digest", p.digest},
                   {"first_difference", p.first_difference},
                   {"ok", p.ok},
                   {"problem", p.problem}});
  }
  return out;
}

json GroupsJson(const std::vector<DrillGroupCheck>& groups) {
  json out = json::array();
  for (const auto& g : groups) {
    out.push_back({{"group_id", g.group_id},
                   {"topic", g.topic},
                   {"partition", g.partition},
                   {"expected", g.expected},
                   {"committed", OptionalJson(g.committed)},
                   {"ok", g.ok}});
  }
  return out;
}

json TopicsJson(const std::vector<DrillTopic>& topics) {
  json out = json::array();
  for (const auto& t : topics) {
    double secs = t.restore_seconds.value_or(0);
    out.push_back({{"name", t.name},
                   {"scratch_topic", t.scratch_topic},
                   {"partitions", t.partitions},
                   {"drilled_partitions", t.drilled_partitions},
                   {"records", t.records},
                   {"bytes", t.bytes},
                   {"restore_seconds", OptionalJson(t.restore_seconds)},
                   {"mb_per_sec", secs > 0 ? static_cast<double>(t.bytes) / 1e6 / secs : 0.0}});
  }
  return out;
}

json RtoJson(const DrillReport& r) {
  json throughput = json::array();
  for (const auto& s : r.throughput) {
    throughput.push_back({{"seconds", s.seconds}, {"records", s.records}, {"bytes", s.bytes}});
  }
  double mb_per_sec = r.restore_seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.restore_seconds : 0;
  double records_per_sec = r.restore_seconds > 0 ? static_cast<double>(r.records) / r.restore_seconds : 0;
  return {
      {"restore_seconds", r.restore_seconds}, {"records", r.records},    {"bytes", r.bytes}, {"mb_per_sec", mb_per_sec},
      {"records_per_sec", records_per_sec},   {"throughput", throughput}};
}

json HookJson(const std::optional<DrillHook>& hook) {
  if (!hook) return nullptr;
  return {{"command", hook->command},
          {"exit_code", hook->exit_code},
          {"seconds", hook->seconds},
          {"ok", hook->ok()},
          {"problem", hook->problem}};
}

json ValidationJson(const std::optional<ValidateReport>& v) {
  if (!v) return nullptr;
  return {{"deep", v->deep},
          {"ok", v->ok()},
          {"partitions", v->partitions},
          {"segments", v->segments},
          {"records_checked", v->records_checked},
          {"issues", v->issues.size()}};
}

}  // namespace

std::string DrillReportJson(const DrillReport& r) {
  json j{{"drill_id", r.drill_id},
         {"backup_id", r.backup_id},
         {"backup_state", r.backup_state.empty() ? "committed" : r.backup_state},
         {"tool_version", r.tool_version},
         {"started_at_ms", r.started_at_ms},
         {"finished_at_ms", r.finished_at_ms},
         {"ok", r.ok()},
         {"failures", r.Failures()},
         {"not_checked", r.not_checked},
         {"target_bootstrap", r.target_bootstrap},
         {"topic_prefix", r.topic_prefix},
         {"kept", r.kept},
         {"cleaned_up", r.cleaned_up},
         {"validation", r.validation},
         {"validate", ValidationJson(r.validate)},
         {"restore_error", r.restore_error},
         {"rto", RtoJson(r)},
         {"rpo",
          {{"seconds", OptionalJson(r.rpo_seconds)},
           {"newest_record_ms", OptionalJson(r.newest_record_ms)},
           {"checkpoint_age_seconds", OptionalJson(r.checkpoint_age_seconds)}}},
         {"topics", TopicsJson(r.topics)},
         {"after_restore", HookJson(r.after_restore)},
         {"partitions", PartitionsJson(r.partitions)},
         {"groups", GroupsJson(r.groups)},
         {"evidence_key", r.evidence_key},
         {"html_key", r.html_key}};
  return j.dump();
}

Result<std::vector<DrillSummary>> ListDrills(const std::string& storage_url, const std::string& backup_id) {
  KB_ASSIGN_OR_RETURN(auto store, storage::OpenStore(storage_url));
  std::string prefix(layout::kDrillPrefix);
  if (!backup_id.empty()) prefix += backup_id + "/";
  KB_ASSIGN_OR_RETURN(auto objects, storage::ListAll(*store, prefix));
  std::vector<DrillSummary> out;
  for (const auto& o : objects) {
    if (!o.key.ends_with(".json") || o.key.ends_with(layout::kDrillPendingSuffix)) continue;
    KB_ASSIGN_OR_RETURN(std::string text, store->Get(o.key));
    try {
      json j = json::parse(text);
      DrillSummary d;
      d.drill_id = j.at("drill_id").get<std::string>();
      d.backup_id = j.at("backup_id").get<std::string>();
      d.evidence_key = o.key;
      d.ok = j.at("ok").get<bool>();
      d.finished_at_ms = j.at("finished_at_ms").get<int64_t>();
      d.restore_seconds = j.at("rto").at("restore_seconds").get<double>();
      d.records = j.at("rto").at("records").get<uint64_t>();
      d.bytes = j.at("rto").at("bytes").get<uint64_t>();
      if (!j.at("rpo").at("seconds").is_null()) d.rpo_seconds = j.at("rpo").at("seconds").get<double>();
      d.failures = j.at("failures").size();
      out.push_back(std::move(d));
    } catch (const std::exception& e) {
      spdlog::warn("{}: not a drill report ({}); left out", o.key, e.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const DrillSummary& a, const DrillSummary& b) {
    return std::tie(a.finished_at_ms, a.drill_id) < std::tie(b.finished_at_ms, b.drill_id);
  });
  return out;
}

std::optional<double> EstimateRestoreSeconds(const std::vector<DrillSummary>& drills, uint64_t bytes) {
  std::vector<double> rates;  // payload bytes per second
  for (const auto& d : drills) {
    if (d.ok && d.restore_seconds > 0 && d.bytes > 0) rates.push_back(static_cast<double>(d.bytes) / d.restore_seconds);
  }
  if (rates.empty()) return std::nullopt;
  std::sort(rates.begin(), rates.end());
  double median =
      rates.size() % 2 ? rates[rates.size() / 2] : (rates[rates.size() / 2 - 1] + rates[rates.size() / 2]) / 2;
  return static_cast<double>(bytes) / median;
}

}  // namespace kafka_backup
