// Decorators over any ObjectStore:
// - RetryingStore retries what is worth retrying (Unavailable: throttling,
//   5xx, timeouts, resets) with full-jitter exponential backoff until a total
//   deadline; everything else (auth, not found, bad input) returns at once, so
//   a wrong secret never becomes a retry storm.
// - RateLimitedStore caps the bytes moved per second (puts and gets
//   together), so a backup never saturates a shared link.
// - FaultInjectingStore fails a fraction of calls with Unavailable, before or
//   after the real call, for tests of the retry path.
// - InstrumentedStore counts and times every call for the metrics
//   (kafka_backup_storage_requests_total and _request_duration_seconds).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>

#include "storage/object_store.h"

namespace kafka_backup::storage {

struct RetryPolicy {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10'000};
  std::chrono::seconds deadline{300};  // for one call, all attempts together
};

// Forwards every call to the store it wraps: the base of the decorators
// below, which override only the calls they change.
class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(std::unique_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}

  Status Put(std::string_view key, std::string_view data) override { return inner_->Put(key, data); }
  Status Create(std::string_view key, std::string_view data) override { return inner_->Create(key, data); }
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override {
    return inner_->Get(key, range);
  }
  Result<ObjectInfo> Head(std::string_view key) override { return inner_->Head(key); }
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override {
    return inner_->List(prefix, continuation);
  }
  Status Delete(std::string_view key) override { return inner_->Delete(key); }
  Status AbortIncomplete(std::string_view prefix) override { return inner_->AbortIncomplete(prefix); }
  std::string Url() const override { return inner_->Url(); }
  uint64_t PartSize() const override { return inner_->PartSize(); }
  Result<std::string> StartUpload(std::string_view key) override { return inner_->StartUpload(key); }
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override {
    return inner_->UploadPart(key, upload_id, part_number, data);
  }
  Status CompleteUpload(std::string_view key, std::string_view upload_id,
                        const std::vector<std::string>& tokens) override {
    return inner_->CompleteUpload(key, upload_id, tokens);
  }
  Status AbortUpload(std::string_view key, std::string_view upload_id) override {
    return inner_->AbortUpload(key, upload_id);
  }
  std::unique_ptr<ObjectWriter> NativeWriter(std::string_view key) override { return inner_->NativeWriter(key); }

 protected:
  ObjectStore& inner() { return *inner_; }

 private:
  std::unique_ptr<ObjectStore> inner_;
};

class RetryingStore : public ForwardingStore {
 public:
  RetryingStore(std::unique_ptr<ObjectStore> inner, RetryPolicy policy = {});

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  Result<std::string> StartUpload(std::string_view key) override;
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override;
  Status CompleteUpload(std::string_view key, std::string_view upload_id,
                        const std::vector<std::string>& tokens) override;
  Status AbortUpload(std::string_view key, std::string_view upload_id) override;

  uint64_t retries() const { return retries_; }

 private:
  template <typename F>
  auto Retry(F&& call) -> decltype(call());

  RetryPolicy policy_;
  std::mutex mu_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::atomic<uint64_t> retries_{0};
};

class RateLimitedStore : public ForwardingStore {
 public:
  // A token bucket of `bytes_per_sec`, holding at most one second's worth.
  RateLimitedStore(std::unique_ptr<ObjectStore> inner, uint64_t bytes_per_sec);

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override;

 private:
  // Blocks until `bytes` may move.
  void Take(uint64_t bytes);

  double rate_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

class FaultInjectingStore : public ForwardingStore {
 public:
  // Each call fails with probability `rate`; half of the failures happen after
  // the inner call ran (the answer was lost), half before.
  FaultInjectingStore(std::unique_ptr<ObjectStore> inner, double rate, uint64_t seed);

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  Result<std::string> StartUpload(std::string_view key) override;
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override;
  Status CompleteUpload(std::string_view key, std::string_view upload_id,
                        const std::vector<std::string>& tokens) override;
  Status AbortUpload(std::string_view key, std::string_view upload_id) override;

  uint64_t injected() const { return injected_; }

 private:
  enum class Fault { kNone, kBefore, kAfter };
  Fault Draw();
  template <typename F>
  auto Inject(std::string_view what, F&& call) -> decltype(call());

  double rate_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  std::atomic<uint64_t> injected_{0};
};

class InstrumentedStore : public ForwardingStore {
 public:
  explicit InstrumentedStore(std::unique_ptr<ObjectStore> inner) : ForwardingStore(std::move(inner)) {}

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  Result<std::string> StartUpload(std::string_view key) override;
  Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                 std::string_view data) override;
  Status CompleteUpload(std::string_view key, std::string_view upload_id,
                        const std::vector<std::string>& tokens) override;
  Status AbortUpload(std::string_view key, std::string_view upload_id) override;
  std::unique_ptr<ObjectWriter> NativeWriter(std::string_view key) override;

 private:
  template <typename F>
  auto Measure(std::string_view operation, F&& call) -> decltype(call());
};

}  // namespace kafka_backup::storage
