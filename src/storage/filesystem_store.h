// A directory as an object store. Object semantics on a file system: a Put
// writes a temporary file beside the target, fsyncs it, renames it over the
// target and fsyncs the directory, so a crash leaves the old object or the new
// one, never a partial one. Temporary files end in ".kbtmp" and are ignored by
// List. Directories are made by Put and removed by the Delete that empties
// them, as a bucket has none.
#pragma once

#include <filesystem>

#include "storage/object_store.h"

namespace kafka_backup::storage {

class FilesystemStore : public ObjectStore {
 public:
  // `root` need not exist yet; it is created on the first Put.
  explicit FilesystemStore(std::filesystem::path root);

  Status Put(std::string_view key, std::string_view data) override;
  Status Create(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<ListPage> List(std::string_view prefix, std::string_view continuation) override;
  Status Delete(std::string_view key) override;
  Status AbortIncomplete(std::string_view prefix) override;
  std::string Url() const override;
  std::unique_ptr<ObjectWriter> NativeWriter(std::string_view key) override;

 private:
  Result<std::filesystem::path> PathFor(std::string_view key) const;

  std::filesystem::path root_;
};

}  // namespace kafka_backup::storage
