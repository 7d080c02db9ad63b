#include "storage/retry.h"

#include "metrics/metrics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <thread>

namespace kafka_backup::storage {
namespace {

const Status& StatusOf(const Status& s) {
  return s;
}
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace

RetryingStore::RetryingStore(std::unique_ptr<ObjectStore> inner, RetryPolicy policy)
    : ForwardingStore(std::move(inner)), policy_(policy) {}

template <typename F>
auto RetryingStore::Retry(F&& call) -> decltype(call()) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + policy_.deadline;
  auto cap = policy_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    auto result = call();
    const Status& s = StatusOf(result);
    if (s.ok() || s.code() != Status::Code::kUnavailable) return result;
    std::chrono::milliseconds wait;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wait = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(cap.count() / 2, std::max<int64_t>(cap.count(), 1))(rng_));
    }
    if (Clock::now() + wait > deadline) {
      return Status::Unavailable(
          fmt::format("{} (gave up after {} attempts in {}s)", s.message(), attempt, policy_.deadline.count()));
    }
    ++retries_;
    spdlog::debug("storage: {}; retry {} in {} ms", s.message(), attempt, wait.count());
    std::this_thread::sleep_for(wait);
    cap = std::min(cap * 2, policy_.max_backoff);
  }
}

Status RetryingStore::Put(std::string_view key, std::string_view data) {
  return Retry([&] { return inner().Put(key, data); });
}
Status RetryingStore::Create(std::string_view key, std::string_view data) {
  return Retry([&] { return inner().Create(key, data); });
}
Result<std::string> RetryingStore::Get(std::string_view key, std::optional<ByteRange> range) {
  return Retry([&] { return inner().Get(key, range); });
}
Result<ObjectInfo> RetryingStore::Head(std::string_view key) {
  return Retry([&] { return inner().Head(key); });
}
Result<ListPage> RetryingStore::List(std::string_view prefix, std::string_view continuation) {
  return Retry([&] { return inner().List(prefix, continuation); });
}
Status RetryingStore::Delete(std::string_view key) {
  return Retry([&] { return inner().Delete(key); });
}
Status RetryingStore::AbortIncomplete(std::string_view prefix) {
  return Retry([&] { return inner().AbortIncomplete(prefix); });
}

Result<std::string> RetryingStore::StartUpload(std::string_view key) {
  return Retry([&] { return inner().StartUpload(key); });
}
Result<std::string> RetryingStore::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                              std::string_view data) {
  return Retry([&] { return inner().UploadPart(key, upload_id, part_number, data); });
}
Status RetryingStore::CompleteUpload(std::string_view key, std::string_view upload_id,
                                     const std::vector<std::string>& tokens) {
  return Retry([&] { return inner().CompleteUpload(key, upload_id, tokens); });
}
Status RetryingStore::AbortUpload(std::string_view key, std::string_view upload_id) {
  return Retry([&] { return inner().AbortUpload(key, upload_id); });
}

RateLimitedStore::RateLimitedStore(std::unique_ptr<ObjectStore> inner, uint64_t bytes_per_sec)
    : ForwardingStore(std::move(inner)),
      rate_(static_cast<double>(bytes_per_sec)),
      tokens_(rate_),
      last_(std::chrono::steady_clock::now()) {}

void RateLimitedStore::Take(uint64_t bytes) {
  std::chrono::duration<double> wait{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(rate_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    last_ = now;
    // Take now and pay the debt by waiting: a request larger than the bucket
    // still goes through, at the configured average rate.
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / rate_);
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

Status RateLimitedStore::Put(std::string_view key, std::string_view data) {
  Take(data.size());
  return inner().Put(key, data);
}

Status RateLimitedStore::Create(std::string_view key, std::string_view data) {
  Take(data.size());
  return inner().Create(key, data);
}

Result<std::string> RateLimitedStore::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                                 std::string_view data) {
  Take(data.size());
  return inner().UploadPart(key, upload_id, part_number, data);
}

Result<std::string> RateLimitedStore::Get(std::string_view key, std::optional<ByteRange> range) {
  auto r = inner().Get(key, range);
  if (r.ok()) Take(r->size());
  return r;
}

FaultInjectingStore::FaultInjectingStore(std::unique_ptr<ObjectStore> inner, double rate, uint64_t seed)
    : ForwardingStore(std::move(inner)), rate_(rate), rng_(seed) {}

FaultInjectingStore::Fault FaultInjectingStore::Draw() {
  std::lock_guard<std::mutex> lock(mu_);
  double x = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (x >= rate_) return Fault::kNone;
  return x < rate_ / 2 ? Fault::kBefore : Fault::kAfter;
}

template <typename F>
auto FaultInjectingStore::Inject(std::string_view what, F&& call) -> decltype(call()) {
  Fault f = Draw();
  if (f == Fault::kBefore) {
    ++injected_;
    return Status::Unavailable(fmt::format("injected fault before {}", what));
  }
  auto result = call();
  if (f == Fault::kAfter) {
    ++injected_;
    return Status::Unavailable(fmt::format("injected fault after {} (its answer was lost)", what));
  }
  return result;
}

Status FaultInjectingStore::Put(std::string_view key, std::string_view data) {
  return Inject("PUT", [&] { return inner().Put(key, data); });
}
Status FaultInjectingStore::Create(std::string_view key, std::string_view data) {
  return Inject("PUT", [&] { return inner().Create(key, data); });
}
Result<std::string> FaultInjectingStore::Get(std::string_view key, std::optional<ByteRange> range) {
  return Inject("GET", [&] { return inner().Get(key, range); });
}
Result<ObjectInfo> FaultInjectingStore::Head(std::string_view key) {
  return Inject("HEAD", [&] { return inner().Head(key); });
}
Result<ListPage> FaultInjectingStore::List(std::string_view prefix, std::string_view continuation) {
  return Inject("LIST", [&] { return inner().List(prefix, continuation); });
}
Status FaultInjectingStore::Delete(std::string_view key) {
  return Inject("DELETE", [&] { return inner().Delete(key); });
}
Status FaultInjectingStore::AbortIncomplete(std::string_view prefix) {
  return Inject("ABORT", [&] { return inner().AbortIncomplete(prefix); });
}
Result<std::string> FaultInjectingStore::StartUpload(std::string_view key) {
  return Inject("START UPLOAD", [&] { return inner().StartUpload(key); });
}
Result<std::string> FaultInjectingStore::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                                    std::string_view data) {
  return Inject("UPLOAD PART", [&] { return inner().UploadPart(key, upload_id, part_number, data); });
}
Status FaultInjectingStore::CompleteUpload(std::string_view key, std::string_view upload_id,
                                           const std::vector<std::string>& tokens) {
  return Inject("COMPLETE UPLOAD", [&] { return inner().CompleteUpload(key, upload_id, tokens); });
}
Status FaultInjectingStore::AbortUpload(std::string_view key, std::string_view upload_id) {
  return Inject("ABORT UPLOAD", [&] { return inner().AbortUpload(key, upload_id); });
}

template <typename F>
auto InstrumentedStore::Measure(std::string_view operation, F&& call) -> decltype(call()) {
  auto started = std::chrono::steady_clock::now();
  auto result = call();
  metrics::Metrics::Get().StorageRequest(operation, StatusOf(result), std::chrono::steady_clock::now() - started);
  return result;
}

namespace {

// A native writer's writes and commit, counted like requests.
class InstrumentedWriter : public ObjectWriter {
 public:
  explicit InstrumentedWriter(std::unique_ptr<ObjectWriter> inner) : inner_(std::move(inner)) {}
  Status Write(std::string_view data) override {
    return Measure("write", [&] { return inner_->Write(data); });
  }
  Status Commit() override {
    return Measure("commit", [&] { return inner_->Commit(); });
  }
  uint64_t buffered() const override { return inner_->buffered(); }

 private:
  template <typename F>
  static Status Measure(std::string_view operation, F&& call) {
    auto started = std::chrono::steady_clock::now();
    Status s = call();
    metrics::Metrics::Get().StorageRequest(operation, s, std::chrono::steady_clock::now() - started);
    return s;
  }
  std::unique_ptr<ObjectWriter> inner_;
};

}  // namespace

std::unique_ptr<ObjectWriter> InstrumentedStore::NativeWriter(std::string_view key) {
  auto writer = inner().NativeWriter(key);
  if (!writer) return nullptr;
  return std::make_unique<InstrumentedWriter>(std::move(writer));
}

Status InstrumentedStore::Put(std::string_view key, std::string_view data) {
  return Measure("put", [&] { return inner().Put(key, data); });
}
Status InstrumentedStore::Create(std::string_view key, std::string_view data) {
  return Measure("put", [&] { return inner().Create(key, data); });
}
Result<std::string> InstrumentedStore::Get(std::string_view key, std::optional<ByteRange> range) {
  return Measure("get", [&] { return inner().Get(key, range); });
}
Result<ObjectInfo> InstrumentedStore::Head(std::string_view key) {
  return Measure("head", [&] { return inner().Head(key); });
}
Result<ListPage> InstrumentedStore::List(std::string_view prefix, std::string_view continuation) {
  return Measure("list", [&] { return inner().List(prefix, continuation); });
}
Status InstrumentedStore::Delete(std::string_view key) {
  return Measure("delete", [&] { return inner().Delete(key); });
}
Status InstrumentedStore::AbortIncomplete(std::string_view prefix) {
  return Measure("abort_incomplete", [&] { return inner().AbortIncomplete(prefix); });
}
Result<std::string> InstrumentedStore::StartUpload(std::string_view key) {
  return Measure("start_upload", [&] { return inner().StartUpload(key); });
}
Result<std::string> InstrumentedStore::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                                  std::string_view data) {
  return Measure("upload_part", [&] { return inner().UploadPart(key, upload_id, part_number, data); });
}
Status InstrumentedStore::CompleteUpload(std::string_view key, std::string_view upload_id,
                                         const std::vector<std::string>& tokens) {
  return Measure("complete_upload", [&] { return inner().CompleteUpload(key, upload_id, tokens); });
}
Status InstrumentedStore::AbortUpload(std::string_view key, std::string_view upload_id) {
  return Measure("abort_upload", [&] { return inner().AbortUpload(key, upload_id); });
}

}  // namespace kafka_backup::storage
