#include "storage/filesystem_store.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

namespace kafka_backup::storage {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTempSuffix = ".kbtmp";
constexpr size_t kListPageSize = 1000;

std::string Mib(uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// A full filesystem (or quota) names the space there is and the space the
// write needed, and what to do: nothing stored so far is lost, the next run
// resumes from the last checkpoint.
std::string NoSpaceDetail(const fs::path& path, uint64_t needed) {
  std::string where = path.parent_path().string();
  std::string have;
  struct statvfs st {};
  if (::statvfs(where.c_str(), &st) == 0) {
    uint64_t unit = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
    have = fmt::format("; {} free of {} on the filesystem holding {}", Mib(uint64_t{st.f_bavail} * unit),
                       Mib(uint64_t{st.f_blocks} * unit), where);
  }
  std::string need = needed > 0 ? fmt::format("; {} more bytes ({}) did not fit", needed, Mib(needed)) : "";
  return fmt::format(
      "{}{} (free space or point the storage at a larger filesystem, then run the command "
      "again: a backup resumes from its last checkpoint)",
      have, need);
}

Status ErrnoStatus(const std::string& what, const fs::path& path, int err, uint64_t needed = 0) {
  std::string msg = fmt::format("{} {}: {}", what, path.string(), std::strerror(err));
  if (err == ENOENT) return Status::NotFound(msg);
  if (err == ENOSPC || err == EDQUOT) msg += NoSpaceDetail(path, needed);
  return Status::IoError(msg);
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status WriteAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path, errno, data.size());
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status FsyncDir(const fs::path& dir) {
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0) return ErrnoStatus("cannot open directory", dir, errno);
  if (::fsync(d.fd) != 0) return ErrnoStatus("cannot fsync directory", dir, errno);
  return Status::Ok();
}

std::string RandomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

// Streams into a temporary file beside the target; Commit fsyncs it and
// renames it into place, or, `exclusive`, hard-links it there: link refuses
// an existing name atomically, which makes Create's test-and-set.
class FileWriter : public ObjectWriter {
 public:
  FileWriter(Result<fs::path> path, bool exclusive = false) : path_(std::move(path)), exclusive_(exclusive) {}
  ~FileWriter() override {
    if (fd_.fd >= 0) ::unlink(tmp_.c_str());
  }

  Status Write(std::string_view data) override {
    KB_RETURN_IF_ERROR(Open());
    Status s = WriteAll(fd_.fd, data, tmp_);
    if (!s.ok()) Fail();
    return s;
  }

  Status Commit() override {
    KB_RETURN_IF_ERROR(Open());
    if (::fsync(fd_.fd) != 0) {
      Status s = ErrnoStatus("cannot fsync", tmp_, errno);
      Fail();
      return s;
    }
    ::close(fd_.fd);
    fd_.fd = -1;
    if (exclusive_) {
      int rc = ::link(tmp_.c_str(), path_->c_str());
      int err = errno;
      ::unlink(tmp_.c_str());
      if (rc != 0 && err == EEXIST) return Status::AlreadyExists(fmt::format("{} already exists", path_->string()));
      if (rc != 0) return ErrnoStatus("cannot link into place", *path_, err);
      failed_ = Status::Internal(fmt::format("{} is already committed", path_->string()));
      return FsyncDir(path_->parent_path());
    }
    if (::rename(tmp_.c_str(), path_->c_str()) != 0) {
      int err = errno;
      ::unlink(tmp_.c_str());
      return ErrnoStatus("cannot rename into place", *path_, err);
    }
    failed_ = Status::Internal(fmt::format("{} is already committed", path_->string()));
    return FsyncDir(path_->parent_path());
  }

  uint64_t buffered() const override { return 0; }

 private:
  Status Open() {
    if (!failed_.ok()) return failed_;
    if (!path_.ok()) return path_.status();
    if (fd_.fd >= 0) return Status::Ok();
    fs::path dir = path_->parent_path();
    tmp_ = *path_;
    tmp_ += "." + RandomSuffix() + std::string(kTempSuffix);
    // A Delete of the directory's last object removes the emptied directory:
    // one that vanishes between creating it and opening the file in it is
    // created again.
    for (int attempt = 0;; ++attempt) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec == std::errc::no_space_on_device) {
        return failed_ = Status::IoError(
                   fmt::format("cannot create directory {}: {}{}", dir.string(), ec.message(), NoSpaceDetail(dir, 0)));
      }
      if (ec) {
        return failed_ = Status::IoError(
                   fmt::format("cannot create directory {}: {} (check the storage path and its permissions)",
                               dir.string(), ec.message()));
      }
      fd_.fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd_.fd >= 0) return Status::Ok();
      if (errno != ENOENT || attempt == 3) return failed_ = ErrnoStatus("cannot create", tmp_, errno);
    }
  }

  // A write error leaves the file unusable: drop it and refuse what follows.
  void Fail() {
    failed_ = Status::IoError(fmt::format("{}: an earlier write failed", tmp_.string()));
    ::close(fd_.fd);
    fd_.fd = -1;
    ::unlink(tmp_.c_str());
  }

  Result<fs::path> path_;
  bool exclusive_;
  fs::path tmp_;
  Fd fd_;
  Status failed_;
};

}  // namespace

FilesystemStore::FilesystemStore(fs::path root) : root_(std::move(root)) {}

std::string FilesystemStore::Url() const {
  return "file://" + root_.string();
}

Result<fs::path> FilesystemStore::PathFor(std::string_view key) const {
  if (key.empty() || key.front() == '/' || key.find("..") != std::string_view::npos ||
      key.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("invalid object key '{}'", key));
  }
  return root_ / fs::path(key);
}

Status FilesystemStore::Put(std::string_view key, std::string_view data) {
  FileWriter writer(PathFor(key));
  KB_RETURN_IF_ERROR(writer.Write(data));
  return writer.Commit();
}

Status FilesystemStore::Create(std::string_view key, std::string_view data) {
  FileWriter writer(PathFor(key), /*exclusive=*/true);
  KB_RETURN_IF_ERROR(writer.Write(data));
  return writer.Commit();
}

std::unique_ptr<ObjectWriter> FilesystemStore::NativeWriter(std::string_view key) {
  return std::make_unique<FileWriter>(PathFor(key));
}

Result<std::string> FilesystemStore::Get(std::string_view key, std::optional<ByteRange> range) {
  KB_ASSIGN_OR_RETURN(fs::path path, PathFor(key));
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return ErrnoStatus("cannot open", path, errno);
  off_t size = ::lseek(f.fd, 0, SEEK_END);
  if (size < 0) return ErrnoStatus("cannot seek", path, errno);
  uint64_t offset = range ? range->offset : 0;
  uint64_t length = range ? range->length : static_cast<uint64_t>(size);
  if (offset + length > static_cast<uint64_t>(size)) {
    return Status::Corruption(
        fmt::format("{}: range {}+{} is past the end of the {}-byte object", path.string(), offset, length, size));
  }
  std::string out(length, '\0');
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(f.fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path, errno);
    }
    if (n == 0) return Status::Corruption(fmt::format("{}: object shrank while being read", path.string()));
    done += static_cast<size_t>(n);
  }
  return out;
}

Result<ObjectInfo> FilesystemStore::Head(std::string_view key) {
  KB_ASSIGN_OR_RETURN(fs::path path, PathFor(key));
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return Status::NotFound(fmt::format("{} does not exist", path.string()));
    return Status::IoError(fmt::format("cannot stat {}: {}", path.string(), ec.message()));
  }
  return ObjectInfo{std::string(key), size};
}

Result<ListPage> FilesystemStore::List(std::string_view prefix, std::string_view continuation) {
  // Walk only the deepest directory the prefix names.
  std::string_view dir_part = prefix.substr(0, prefix.rfind('/') == std::string_view::npos ? 0 : prefix.rfind('/'));
  fs::path start = dir_part.empty() ? root_ : root_ / fs::path(dir_part);
  std::vector<ObjectInfo> all;
  std::error_code ec;
  if (!fs::exists(start, ec)) return ListPage{};
  fs::recursive_directory_iterator it(start, ec);
  if (ec) return Status::IoError(fmt::format("cannot list {}: {}", start.string(), ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::IoError(fmt::format("cannot list {}: {}", start.string(), ec.message()));
    if (!it->is_regular_file(ec)) continue;
    std::string key = fs::relative(it->path(), root_, ec).generic_string();
    if (key.ends_with(kTempSuffix) || !key.starts_with(prefix)) continue;
    if (!continuation.empty() && key <= continuation) continue;
    all.push_back(ObjectInfo{key, it->file_size(ec)});
  }
  std::sort(all.begin(), all.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  ListPage page;
  if (all.size() > kListPageSize) {
    all.resize(kListPageSize);
    page.continuation = all.back().key;
  }
  page.objects = std::move(all);
  return page;
}

Status FilesystemStore::Delete(std::string_view key) {
  KB_ASSIGN_OR_RETURN(fs::path path, PathFor(key));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("cannot delete", path, errno);
  // Directories left empty go too, up to the root (kept): a pruned backup
  // leaves no tree behind for every List to walk. rmdir refuses a directory
  // that is not empty, so this stops at the first one still in use.
  for (size_t slash = key.rfind('/'); slash != std::string_view::npos && slash > 0; slash = key.rfind('/', slash - 1)) {
    if (::rmdir((root_ / fs::path(key.substr(0, slash))).c_str()) != 0) break;
  }
  return Status::Ok();
}

Status FilesystemStore::AbortIncomplete(std::string_view prefix) {
  std::string_view dir_part = prefix.substr(0, prefix.rfind('/') == std::string_view::npos ? 0 : prefix.rfind('/'));
  fs::path start = dir_part.empty() ? root_ : root_ / fs::path(dir_part);
  std::error_code ec;
  if (!fs::exists(start, ec)) return Status::Ok();
  std::vector<fs::path> temps;
  for (fs::recursive_directory_iterator it(start, ec), end; !ec && it != end; it.increment(ec)) {
    std::string key = fs::relative(it->path(), root_, ec).generic_string();
    if (it->is_regular_file(ec) && key.starts_with(prefix) && key.ends_with(kTempSuffix)) temps.push_back(it->path());
  }
  if (ec) return Status::IoError(fmt::format("cannot list {}: {}", start.string(), ec.message()));
  for (const auto& t : temps) {
    if (::unlink(t.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("cannot delete", t, errno);
  }
  return Status::Ok();
}

}  // namespace kafka_backup::storage
