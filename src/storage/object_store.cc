#include "storage/object_store.h"

#include <fmt/format.h>

#include <cstdlib>

#include "storage/azure_store.h"
#include "storage/filesystem_store.h"
#include "storage/gcs_store.h"
#include "storage/retry.h"
#include "storage/s3_store.h"

namespace kafka_backup::storage {

Result<StorageUrl> SplitStorageUrl(std::string_view url, std::string_view scheme, std::string_view bucket_word) {
  std::string lead = std::string(scheme) + "://";
  if (!url.starts_with(lead)) return Status::InvalidArgument(fmt::format("'{}' is not a {} URL", url, lead));
  std::string_view rest = url.substr(lead.size()), query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  StorageUrl out;
  auto slash = rest.find('/');
  out.bucket = std::string(rest.substr(0, slash));
  if (out.bucket.empty()) {
    std::string upper(bucket_word);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return Status::InvalidArgument(
        fmt::format("storage URL '{}' names no {}: use {}{}/PREFIX", url, bucket_word, lead, upper));
  }
  std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  out.prefix = std::string(prefix);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    out.params.emplace_back(std::string(kv.substr(0, eq)),
                            std::string(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1)));
  }
  return out;
}

Status UnknownUrlParameter(std::string_view url, std::string_view key, std::string_view known) {
  return Status::InvalidArgument(fmt::format("storage URL '{}': unknown parameter '{}'; known: {}", url, key, known));
}

Status CreateOnce(ObjectStore& store, std::string_view key, std::string_view data) {
  Status s = store.Create(key, data);
  if (s.code() != Status::Code::kAlreadyExists) return s;
  auto existing = store.Get(key);
  if (existing.ok() && *existing == data) return Status::Ok();
  return s;
}

Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, std::string_view prefix) {
  std::vector<ObjectInfo> all;
  std::string continuation;
  do {
    KB_ASSIGN_OR_RETURN(ListPage page, store.List(prefix, continuation));
    for (auto& o : page.objects) all.push_back(std::move(o));
    continuation = std::move(page.continuation);
  } while (!continuation.empty());
  return all;
}

Result<std::string> ObjectStore::StartUpload(std::string_view /*key*/) {
  return Status::Internal(fmt::format("{} does not take multipart uploads", Url()));
}
Result<std::string> ObjectStore::UploadPart(std::string_view key, std::string_view /*upload_id*/, int /*part_number*/,
                                            std::string_view /*data*/) {
  return StartUpload(key).status();
}
Status ObjectStore::CompleteUpload(std::string_view key, std::string_view /*upload_id*/,
                                   const std::vector<std::string>& /*tokens*/) {
  return StartUpload(key).status();
}
Status ObjectStore::AbortUpload(std::string_view key, std::string_view /*upload_id*/) {
  return StartUpload(key).status();
}

namespace {

// Sends full parts as they fill; an object smaller than one part is a single Put.
class PartWriter : public ObjectWriter {
 public:
  PartWriter(ObjectStore& store, std::string_view key) : store_(store), key_(key), part_size_(store.PartSize()) {}
  ~PartWriter() override {
    if (!upload_id_.empty() && !committed_) (void)store_.AbortUpload(key_, upload_id_);
  }

  Status Write(std::string_view data) override {
    if (committed_) return Status::Internal(fmt::format("write to '{}' after its commit", key_));
    buffer_.append(data);
    while (part_size_ > 0 && buffer_.size() >= part_size_) {
      KB_RETURN_IF_ERROR(SendPart(std::string_view(buffer_).substr(0, part_size_)));
      buffer_.erase(0, part_size_);
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (committed_) return Status::Internal(fmt::format("'{}' committed twice", key_));
    if (upload_id_.empty()) {
      KB_RETURN_IF_ERROR(store_.Put(key_, buffer_));
    } else {
      if (!buffer_.empty()) KB_RETURN_IF_ERROR(SendPart(buffer_));
      KB_RETURN_IF_ERROR(store_.CompleteUpload(key_, upload_id_, tokens_));
    }
    committed_ = true;
    std::string().swap(buffer_);
    return Status::Ok();
  }

  uint64_t buffered() const override { return buffer_.size(); }

 private:
  Status SendPart(std::string_view part) {
    if (upload_id_.empty()) {
      KB_ASSIGN_OR_RETURN(upload_id_, store_.StartUpload(key_));
    }
    KB_ASSIGN_OR_RETURN(std::string token,
                        store_.UploadPart(key_, upload_id_, static_cast<int>(tokens_.size()) + 1, part));
    tokens_.push_back(std::move(token));
    return Status::Ok();
  }

  ObjectStore& store_;
  std::string key_;
  uint64_t part_size_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> tokens_;
  bool committed_ = false;
};

}  // namespace

std::unique_ptr<ObjectWriter> OpenWriter(ObjectStore& store, std::string_view key) {
  if (auto native = store.NativeWriter(key)) return native;
  return std::make_unique<PartWriter>(store, key);
}

namespace {

// KAFKA_BACKUP_TEST_FAULT_RATE=0.1 makes 10% of storage calls fail as a
// transient fault would (tests of the retry path; never set it in production).
// Also counts and times every request for the metrics: each attempt, under
// the retries, so that transient failures show.
std::unique_ptr<ObjectStore> WithFaults(std::unique_ptr<ObjectStore> store) {
  store = std::make_unique<InstrumentedStore>(std::move(store));
  const char* rate = std::getenv("KAFKA_BACKUP_TEST_FAULT_RATE");
  if (!rate || !*rate) return store;
  double r = std::strtod(rate, nullptr);
  if (r <= 0) return store;
  return std::make_unique<FaultInjectingStore>(std::move(store), r, std::random_device{}());
}

Result<std::unique_ptr<ObjectStore>> OpenBackend(std::string_view url, std::string_view scheme, HttpOptions http);

// Reads a positive integer URL parameter.
Result<uint64_t> PositiveParam(std::string_view url, std::string_view name, std::string_view value, uint64_t max) {
  std::string v(value);
  char* end = nullptr;
  uint64_t n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != 0 || n == 0 || n > max) {
    return Status::InvalidArgument(
        fmt::format("storage URL '{}': {} must be a positive integer up to {}", url, name, max));
  }
  return n;
}

// Takes the store-independent parameters out of the URL's query:
// max_bytes_per_sec=N wraps the backend in a RateLimitedStore;
// stall_timeout_secs=N abandons (and retries) a request that stalls that long.
Result<std::unique_ptr<ObjectStore>> OpenRemote(std::string_view url, std::string_view scheme) {
  KB_ASSIGN_OR_RETURN(StorageUrl parts, SplitStorageUrl(url, scheme, scheme == "azure" ? "container" : "bucket"));
  uint64_t limit = 0;
  HttpOptions http;
  std::string kept;
  for (const auto& [k, v] : parts.params) {
    if (k == "max_bytes_per_sec") {
      KB_ASSIGN_OR_RETURN(limit, PositiveParam(url, k, v, uint64_t{1} << 40));
    } else if (k == "stall_timeout_secs") {
      KB_ASSIGN_OR_RETURN(uint64_t secs, PositiveParam(url, k, v, 3600));
      http.stall_timeout_secs = static_cast<int>(secs);
    } else {
      kept += (kept.empty() ? "" : "&") + k + (v.empty() ? "" : "=" + v);
    }
  }
  std::string u(url.substr(0, url.find('?')));
  if (!kept.empty()) u += "?" + kept;
  KB_ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenBackend(u, scheme, http));
  if (limit == 0) return store;
  return std::unique_ptr<ObjectStore>(std::make_unique<RateLimitedStore>(std::move(store), limit));
}

Result<std::unique_ptr<ObjectStore>> OpenBackend(std::string_view url, std::string_view scheme, HttpOptions http) {
  if (scheme == "s3") {
    KB_ASSIGN_OR_RETURN(S3Options options, ParseS3Url(url));
    KB_ASSIGN_OR_RETURN(auto credentials, DefaultAwsCredentials(options.region));
    std::unique_ptr<ObjectStore> store = std::make_unique<S3Store>(std::move(options), std::move(credentials), http);
    return std::unique_ptr<ObjectStore>(std::make_unique<RetryingStore>(WithFaults(std::move(store))));
  }
  if (scheme == "gs") {
    // HMAC keys: GCS's S3-compatible XML API, signed with SigV4.
    const char* id = std::getenv("GCS_HMAC_ACCESS_ID");
    const char* secret = std::getenv("GCS_HMAC_SECRET");
    if (id && *id && secret && *secret) {
      std::string s3 = "s3://" + std::string(url.substr(5));
      KB_ASSIGN_OR_RETURN(S3Options options, ParseS3Url(s3));
      if (s3.find("endpoint=") == std::string::npos) options.endpoint = "https://storage.googleapis.com";
      options.region = "auto";
      options.path_style = true;
      std::unique_ptr<ObjectStore> store = std::make_unique<S3Store>(
          std::move(options), StaticAwsCredentials({id, secret, ""}, "GCS_HMAC_ACCESS_ID"), http);
      return std::unique_ptr<ObjectStore>(std::make_unique<RetryingStore>(WithFaults(std::move(store))));
    }
    KB_ASSIGN_OR_RETURN(GcsOptions options, ParseGcsUrl(url));
    std::unique_ptr<ObjectStore> store = std::make_unique<GcsStore>(std::move(options), http);
    return std::unique_ptr<ObjectStore>(std::make_unique<RetryingStore>(WithFaults(std::move(store))));
  }
  if (scheme == "azure") {
    KB_ASSIGN_OR_RETURN(AzureOptions options, ParseAzureUrl(url));
    std::unique_ptr<ObjectStore> store = std::make_unique<AzureStore>(std::move(options), http);
    return std::unique_ptr<ObjectStore>(std::make_unique<RetryingStore>(WithFaults(std::move(store))));
  }
  return Status::InvalidArgument(fmt::format(
      "storage URL '{}': the {} backend is not available in this build yet; use s3://, azure:// or a directory", url,
      scheme));
}

Result<std::unique_ptr<ObjectStore>> Local(const std::filesystem::path& root) {
  std::unique_ptr<ObjectStore> store = std::make_unique<FilesystemStore>(root);
  if (!std::getenv("KAFKA_BACKUP_TEST_FAULT_RATE")) {
    return std::unique_ptr<ObjectStore>(std::make_unique<InstrumentedStore>(std::move(store)));
  }
  return std::unique_ptr<ObjectStore>(std::make_unique<RetryingStore>(WithFaults(std::move(store))));
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url) {
  if (url.empty()) {
    return Status::InvalidArgument("no storage location: give --path or storage.path (e.g. /var/backups/kafka)");
  }
  std::string_view path = url;
  if (url.starts_with("file://")) {
    path = url.substr(7);
  } else if (auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    std::string_view scheme = url.substr(0, scheme_end);
    if (scheme == "s3" || scheme == "azure" || scheme == "gs") return OpenRemote(url, scheme);
    return Status::InvalidArgument(
        fmt::format("storage URL '{}': unknown scheme '{}://'; supported: a directory path, file:///path, "
                    "s3://bucket/prefix, azure://container/prefix, gs://bucket/prefix",
                    url, scheme));
  }
  if (path.empty() || path.front() != '/') {
    // Relative paths are resolved against the working directory, as a shell user expects.
    std::error_code ec;
    auto abs = std::filesystem::absolute(std::filesystem::path(path.empty() ? "." : path), ec);
    if (ec) return Status::InvalidArgument(fmt::format("storage path '{}': {}", path, ec.message()));
    return Local(abs.lexically_normal());
  }
  return Local(std::filesystem::path(path).lexically_normal());
}

}  // namespace kafka_backup::storage
