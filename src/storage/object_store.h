// The narrow object-store interface every backend implements, and the URL
// router that picks a backend.
//
// Semantics (all backends): a Put is atomic (a reader sees the old object,
// the new one, or none; never a partial one) and durable when it returns OK.
// Keys are '/'-separated relative paths without '..' segments.
// Errors: NotFound for a missing object, Unavailable for transient faults
// (retryable), Auth for refused credentials, IoError for local failures.
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka_backup/status.h"

namespace kafka_backup::storage {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // sorted by key
  std::string continuation;         // empty when this is the last page
};

// Writes one object as a stream (see OpenWriter). Nothing is visible until
// Commit returns OK; a writer destroyed before that leaves no object and
// cleans up after itself (best effort; AbortIncomplete removes the rest).
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Write(std::string_view data) = 0;
  // Makes the object visible, whole and durable. The writer is spent afterwards.
  virtual Status Commit() = 0;
  // Bytes held in memory waiting for their upload.
  virtual uint64_t buffered() const = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Status Put(std::string_view key, std::string_view data) = 0;
  // Puts the object only if no object has this key: AlreadyExists if one
  // does, decided by the store atomically against every other Create and Put
  // of the key (S3 and Azure If-None-Match: *, GCS ifGenerationMatch=0, a
  // hard link on the filesystem). Small objects only: one request.
  virtual Status Create(std::string_view key, std::string_view data) = 0;
  // The whole object, or `range` of it. A range past the end is Corruption
  // (the caller's metadata disagrees with the object).
  virtual Result<std::string> Get(std::string_view key, std::optional<ByteRange> range = std::nullopt) = 0;
  virtual Result<ObjectInfo> Head(std::string_view key) = 0;
  // Objects whose key starts with `prefix`, in key order, a page at a time.
  virtual Result<ListPage> List(std::string_view prefix, std::string_view continuation = {}) = 0;
  // Deleting a missing object is OK.
  virtual Status Delete(std::string_view key) = 0;
  // Removes what interrupted Puts under `prefix` left behind (temporary files,
  // unfinished multipart uploads). Call only when no Put under the prefix is
  // running.
  virtual Status AbortIncomplete(std::string_view prefix) = 0;

  // The URL this store was opened with, for messages ("file:///var/backups").
  virtual std::string Url() const = 0;

  // Multipart uploads: an object sent in parts of PartSize() bytes (the last
  // may be shorter) and made visible, whole, by CompleteUpload. Each call is
  // one request and safe to repeat, so the retry decorator can wrap it.
  // A store without them returns 0 from PartSize(); OpenWriter then buffers
  // the object and Puts it.
  virtual uint64_t PartSize() const { return 0; }
  virtual Result<std::string> StartUpload(std::string_view key);
  // Returns the token CompleteUpload needs for this part (S3: its ETag).
  virtual Result<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                         std::string_view data);
  // `tokens[i]` is the token of part i + 1.
  virtual Status CompleteUpload(std::string_view key, std::string_view upload_id,
                                const std::vector<std::string>& tokens);
  virtual Status AbortUpload(std::string_view key, std::string_view upload_id);
  // A writer the store streams natively (the filesystem: a temporary file),
  // or null. Decorators forward it to the store they wrap.
  virtual std::unique_ptr<ObjectWriter> NativeWriter(std::string_view /*key*/) { return nullptr; }
};

// A writer for `key`: the store's native one, else multipart uploads with one
// part in memory at a time (through `store`, so decorators such as retries
// apply to every part), else an in-memory buffer Put on Commit.
std::unique_ptr<ObjectWriter> OpenWriter(ObjectStore& store, std::string_view key);

// "scheme://bucket/prefix?k=v&k=v" split into its parts (the prefix without
// leading or trailing '/'); each backend checks the parameters it knows.
struct StorageUrl {
  std::string bucket;
  std::string prefix;
  std::vector<std::pair<std::string, std::string>> params;
};
// `bucket_word` names the first part in messages ("bucket", "container").
Result<StorageUrl> SplitStorageUrl(std::string_view url, std::string_view scheme, std::string_view bucket_word);
// The error for a parameter a backend does not take.
Status UnknownUrlParameter(std::string_view url, std::string_view key, std::string_view known);

// Create, made safe to retry: an AlreadyExists whose object holds exactly
// `data` is the answer lost to an earlier attempt of this same call, not
// another writer's object, and is OK. `data` must be unique to the caller
// (a run id in it) for that to hold.
Status CreateOnce(ObjectStore& store, std::string_view key, std::string_view data);

// Lists every object under `prefix`, following continuations.
Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, std::string_view prefix);

// Opens the backend named by the URL's scheme: a plain path or file:// today.
// Unknown schemes fail with InvalidArgument listing the supported ones.
Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url);

}  // namespace kafka_backup::storage
