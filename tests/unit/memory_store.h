// Object stores for unit tests, without a server or a directory:
// MemoryStore holds the objects in a map with the semantics every backend
// promises (src/storage/object_store.h: atomic Put, Create against every
// other writer, ranged Get, paged List in key order); FaultyStore wraps one
// and fails the calls a test names, the way a real store's transient faults
// and refusals arrive.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "storage/object_store.h"

namespace kafka_backup::test {

class MemoryStore : public storage::ObjectStore {
 public:
  // `page_size`: objects per List page, small to make callers follow
  // continuations.
  explicit MemoryStore(size_t page_size = 1000) : page_size_(page_size) {}

  Status Put(std::string_view key, std::string_view data) override {
    std::lock_guard lock(mu_);
    objects_[std::string(key)] = std::string(data);
    return Status::Ok();
  }
  Status Create(std::string_view key, std::string_view data) override {
    std::lock_guard lock(mu_);
    if (!objects_.emplace(std::string(key), std::string(data)).second) {
      return Status::AlreadyExists("object " + std::string(key) + " exists");
    }
    return Status::Ok();
  }
  Result<std::string> Get(std::string_view key, std::optional<storage::ByteRange> range) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return Status::NotFound("object " + std::string(key) + " not found");
    if (!range) return it->second;
    if (range->offset + range->length > it->second.size()) {
      return Status::Corruption("range past the end of " + std::string(key));
    }
    return it->second.substr(range->offset, range->length);
  }
  Result<storage::ObjectInfo> Head(std::string_view key) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return Status::NotFound("object " + std::string(key) + " not found");
    return storage::ObjectInfo{it->first, it->second.size()};
  }
  Result<storage::ListPage> List(std::string_view prefix, std::string_view continuation) override {
    std::lock_guard lock(mu_);
    storage::ListPage page;
    auto it = continuation.empty() ? objects_.lower_bound(std::string(prefix))
                                   : objects_.upper_bound(std::string(continuation));
    for (; it != objects_.end() && it->first.starts_with(prefix); ++it) {
      if (page.objects.size() == page_size_) {
        page.continuation = page.objects.back().key;
        break;
      }
      page.objects.push_back({it->first, it->second.size()});
    }
    return page;
  }
  Status Delete(std::string_view key) override {
    std::lock_guard lock(mu_);
    objects_.erase(std::string(key));
    return Status::Ok();
  }
  Status AbortIncomplete(std::string_view /*prefix*/) override { return Status::Ok(); }
  std::string Url() const override { return "memory://test"; }

  // What a test looks at or damages directly.
  std::map<std::string, std::string>& objects() { return objects_; }

 private:
  std::mutex mu_;
  size_t page_size_;
  std::map<std::string, std::string> objects_;
};

// Passes every call to `inner` unless `fault` returns a non-OK Status for it
// (told the operation, "get", "head", "list", "put", "create" or "delete", and
// the key or prefix): then the call fails with that status and `inner` is
// not called.
class FaultyStore : public storage::ObjectStore {
 public:
  using Fault = std::function<Status(std::string_view op, std::string_view key)>;
  FaultyStore(storage::ObjectStore& inner, Fault fault) : inner_(inner), fault_(std::move(fault)) {}

  Status Put(std::string_view key, std::string_view data) override {
    KB_RETURN_IF_ERROR(fault_("put", key));
    return inner_.Put(key, data);
  }
  Status Create(std::string_view key, std::string_view data) override {
    KB_RETURN_IF_ERROR(fault_("create", key));
    return inner_.Create(key, data);
  }
  Result<std::string> Get(std::string_view key, std::optional<storage::ByteRange> range) override {
    KB_RETURN_IF_ERROR(fault_("get", key));
    return inner_.Get(key, range);
  }
  Result<storage::ObjectInfo> Head(std::string_view key) override {
    KB_RETURN_IF_ERROR(fault_("head", key));
    return inner_.Head(key);
  }
  Result<storage::ListPage> List(std::string_view prefix, std::string_view continuation) override {
    KB_RETURN_IF_ERROR(fault_("list", prefix));
    return inner_.List(prefix, continuation);
  }
  Status Delete(std::string_view key) override {
    KB_RETURN_IF_ERROR(fault_("delete", key));
    return inner_.Delete(key);
  }
  Status AbortIncomplete(std::string_view prefix) override { return inner_.AbortIncomplete(prefix); }
  std::string Url() const override { return inner_.Url(); }

 private:
  storage::ObjectStore& inner_;
  Fault fault_;
};

}  // namespace kafka_backup::test
