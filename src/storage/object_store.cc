#include "storage/object_store.h"

#include <fmt/format.h>

#include "storage/filesystem_store.h"

namespace kafka_backup::storage {

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

Result<std::unique_ptr<ObjectStore>> OpenStore(std::string_view url) {
  if (url.empty()) {
    return Status::InvalidArgument("no storage location: give --path or storage.path (e.g. /var/backups/kafka)");
  }
  std::string_view path = url;
  if (url.starts_with("file://")) {
    path = url.substr(7);
  } else if (auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    std::string_view scheme = url.substr(0, scheme_end);
    if (scheme == "s3" || scheme == "azure" || scheme == "gs") {
      return Status::InvalidArgument(fmt::format(
          "storage URL '{}': the {} backend is not available in this build yet; use a directory (file:///path)", url,
          scheme));
    }
    return Status::InvalidArgument(fmt::format(
        "storage URL '{}': unknown scheme '{}://'; supported: a directory path or file:///path", url, scheme));
  }
  if (path.empty() || path.front() != '/') {
    // Relative paths are resolved against the working directory, as a shell user expects.
    std::error_code ec;
    auto abs = std::filesystem::absolute(std::filesystem::path(path.empty() ? "." : path), ec);
    if (ec) return Status::InvalidArgument(fmt::format("storage path '{}': {}", path, ec.message()));
    return std::unique_ptr<ObjectStore>(new FilesystemStore(abs.lexically_normal()));
  }
  return std::unique_ptr<ObjectStore>(new FilesystemStore(std::filesystem::path(path).lexically_normal()));
}

}  // namespace kafka_backup::storage
