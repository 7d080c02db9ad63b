// The storage: and encryption: sections: where backups are stored (backend,
// bucket or path, prefix, the backend's options) and the storage URL they
// make (StorageConfig::Url); the key segments are encrypted with.
#include <set>

#include <fmt/format.h>

#include "config/sections.h"

namespace kafka_backup::config {

void ReadStorage(MapReader& r, StorageConfig* s) {
  if (auto v = r.String("backend")) {
    s->backend = *v;
    if (s->backend == "local" || s->backend == "file") s->backend = "filesystem";
    static const std::set<std::string> kBackends = {"filesystem", "s3", "azure", "gcs"};
    if (kBackends.count(s->backend) == 0) {
      r.FailKey(r.Get("backend"), "backend",
                fmt::format("unknown backend '{}': expected filesystem, s3, azure or gcs", *v));
    }
  }
  if (auto v = r.String("path")) s->path = *v;
  if (auto v = r.String("bucket")) s->bucket = *v;
  if (auto v = r.String("container")) s->bucket = *v;
  if (auto v = r.String("region")) s->region = *v;
  if (auto v = r.String("prefix")) s->prefix = *v;
  if (auto v = r.String("endpoint")) s->endpoint = *v;
  if (auto v = r.Bool("path_style")) s->path_style = *v;
  if (auto v = r.String("storage_class")) s->storage_class = *v;
  if (auto v = r.String("server_side_encryption")) {
    s->sse = *v;
    if (s->sse != "AES256" && s->sse != "aws:kms") {
      r.FailKey(r.Get("server_side_encryption"), "server_side_encryption",
                fmt::format("unknown server_side_encryption '{}': expected AES256 or aws:kms", *v));
    }
  }
  if (auto v = r.String("kms_key_id")) s->kms_key_id = *v;
  if (auto v = r.String("object_lock_mode")) {
    s->object_lock_mode = *v;
    if (*v != "GOVERNANCE" && *v != "COMPLIANCE") {
      r.FailKey(r.Get("object_lock_mode"), "object_lock_mode",
                fmt::format("unknown object_lock_mode '{}': expected GOVERNANCE or COMPLIANCE", *v));
    }
  }
  if (auto v = r.Int("object_lock_days", 1, 36500)) s->object_lock_days = static_cast<int>(*v);
  if (auto v = r.String("account")) s->account = *v;
  if (auto v = r.Int("max_bytes_per_sec", 1024, int64_t{1} << 40)) s->max_bytes_per_sec = static_cast<uint64_t>(*v);
  if (auto v = r.Int("stall_timeout_secs", 1, 3600)) s->stall_timeout_secs = static_cast<int>(*v);
  bool remote = s->backend == "s3" || s->backend == "azure" || s->backend == "gcs";
  if (remote && s->bucket.empty() && !s->path.empty() && s->path.find("://") == std::string::npos) {
    r.FailKey(r.Get("path"), "path",
              fmt::format("backend {} takes a bucket (storage.bucket) and a prefix, not a path", s->backend));
  }
  if (remote && s->bucket.empty() && s->path.empty()) {
    r.FailKey(r.Get("backend"), "backend",
              fmt::format("backend {} needs storage.bucket (and optionally storage.prefix)", s->backend));
  }
  r.CheckNoUnknownKeys();
}

void ReadEncryption(MapReader& r, const YAML::Node& at, EncryptionConfig* e) {
  if (auto v = r.String("key_file")) e->key_file = *v;
  if (auto v = r.String("key_env")) e->key_env = *v;
  r.CheckNoUnknownKeys();
  if (!e->key_file.empty() && !e->key_env.empty()) {
    r.FailKey(r.Get("key_env"), "key_env", "give the key in one place: key_file or key_env, not both");
  }
  if (e->key_file.empty() && e->key_env.empty()) {
    r.Fail(at, "expected key_file (a file holding the key) or key_env (the name of a variable holding it)");
  }
}

}  // namespace kafka_backup::config

namespace kafka_backup {

std::string StorageConfig::Url() const {
  auto join = [](const std::string& a, const std::string& b) {
    if (b.empty()) return a;
    return a + "/" + b;
  };
  if (backend.empty() || backend == "filesystem") return join(path, prefix);
  // A remote backend given as a full URL in `path`.
  if (bucket.empty() && path.find("://") != std::string::npos) return path;
  std::string scheme = backend == "gcs" ? "gs" : backend;
  std::string url = join(scheme + "://" + bucket, prefix);
  std::string query;
  auto add = [&query](const char* key, const std::string& value) {
    if (value.empty()) return;
    query += (query.empty() ? "" : "&") + std::string(key) + "=" + value;
  };
  if (backend == "s3") {
    add("region", region);
    add("endpoint", endpoint);
    if (path_style) add("path_style", *path_style ? "true" : "false");
    add("storage_class", storage_class);
    add("sse", sse);
    add("kms_key_id", kms_key_id);
    add("object_lock_mode", object_lock_mode);
    if (object_lock_days) add("object_lock_days", std::to_string(object_lock_days));
  } else if (backend == "azure") {
    add("account", account);
    add("endpoint", endpoint);
  } else {
    add("endpoint", endpoint);
  }
  if (max_bytes_per_sec) add("max_bytes_per_sec", std::to_string(max_bytes_per_sec));
  if (stall_timeout_secs) add("stall_timeout_secs", std::to_string(stall_timeout_secs));
  return query.empty() ? url : url + "?" + query;
}

}  // namespace kafka_backup
