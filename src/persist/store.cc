#include "deltaflow/persist/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "fmt/format.h"

namespace deltaflow::persist {

namespace {

namespace stdfs = std::filesystem;

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open the directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot sync the directory", dir);
  return absl::OkStatus();
}

// Up to `length` bytes of the open file `fd` from `offset` (to its end when shorter); closes
// `fd`.
absl::StatusOr<std::string> ReadFrom(int fd, const std::string& path, uint64_t offset, uint64_t length) {
  std::string bytes;
  char buf[1 << 16];
  while (bytes.size() < length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, length - bytes.size()));
    ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(offset + bytes.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

class FileAppender final : public Appender {
 public:
  FileAppender(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  ~FileAppender() override {
    (void)Drain();
    ::close(fd_);
  }

  absl::Status Append(std::string_view bytes) override {
    buffer_.append(bytes);
    size_ += bytes.size();
    if (buffer_.size() >= kFlushBytes) return Drain();
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (absl::Status s = Drain(); !s.ok()) return s;
    if (::fdatasync(fd_) != 0) return Errno("cannot sync", path_);
    return absl::OkStatus();
  }
  uint64_t size() const override { return size_; }

 private:
  static constexpr size_t kFlushBytes = size_t{1} << 20;

  absl::Status Drain() {
    absl::Status s = WriteAll(fd_, buffer_, path_);
    buffer_.clear();
    return s;
  }

  int fd_;
  std::string path_;
  uint64_t size_;
  std::string buffer_;
};

class FilesystemStore final : public Store {
 public:
  explicit FilesystemStore(std::string root) : root_(std::move(root)) {}

  std::string Describe(const std::string& name) const override { return (stdfs::path(root_) / name).string(); }

  absl::StatusOr<std::optional<std::string>> Read(const std::string& name) const override {
    std::string path = Describe(name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return Errno("cannot open", path);
    }
    absl::StatusOr<std::string> bytes = ReadFrom(fd, path, 0, UINT64_MAX);
    if (!bytes.ok()) return bytes.status();
    return std::optional<std::string>(std::move(*bytes));
  }

  absl::StatusOr<std::string> ReadRange(const std::string& name, uint64_t offset, uint64_t length) const override {
    std::string path = Describe(name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path);
    return ReadFrom(fd, path, offset, length);
  }

  absl::Status WriteAtomic(const std::string& name, std::string_view bytes) override {
    std::string path = Describe(name);
    if (absl::Status s = MakeParent(path); !s.ok()) return s;
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot create", tmp);
    absl::Status s = WriteAll(fd, bytes, tmp);
    if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot sync", tmp);
    ::close(fd);
    if (!s.ok()) return s;
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename into", path);
    return SyncDirectory(stdfs::path(path).parent_path().string());
  }

  absl::StatusOr<std::unique_ptr<Appender>> OpenAppend(const std::string& name, uint64_t keep) override {
    std::string path = Describe(name);
    if (absl::Status s = MakeParent(path); !s.ok()) return s;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      absl::Status s = Errno("cannot stat", path);
      ::close(fd);
      return s;
    }
    if (static_cast<uint64_t>(st.st_size) < keep) {
      ::close(fd);
      return absl::DataLossError(fmt::format("{} holds {} bytes but the checkpoint recorded {}: the persisted state is damaged",
                                             path, st.st_size, keep));
    }
    if ((static_cast<uint64_t>(st.st_size) > keep && ::ftruncate(fd, static_cast<off_t>(keep)) != 0) ||
        ::lseek(fd, static_cast<off_t>(keep), SEEK_SET) < 0) {
      absl::Status s = Errno("cannot truncate", path);
      ::close(fd);
      return s;
    }
    if (absl::Status s = SyncDirectory(stdfs::path(path).parent_path().string()); !s.ok()) {
      ::close(fd);
      return s;
    }
    return std::unique_ptr<Appender>(new FileAppender(fd, std::move(path), keep));
  }

  absl::StatusOr<std::shared_ptr<void>> Lock() override {
    std::string path = Describe("lock");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot open", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      if (errno == EWOULDBLOCK) {
        return absl::FailedPreconditionError(fmt::format(
            "another run is using the persisted state in {}: one pipeline at a time per persistence directory", root_));
      }
      return Errno("cannot lock", path);
    }
    return std::shared_ptr<void>(nullptr, [fd](void*) { ::close(fd); });
  }

  absl::Status Remove(const std::string& name) override {
    std::string path = Describe(name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) const override {
    std::vector<std::string> names;
    std::error_code ec;
    stdfs::path dir = stdfs::path(root_) / prefix;
    if (!stdfs::is_directory(dir, ec)) return names;
    for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file(ec)) names.push_back(prefix + entry.path().filename().string());
    }
    if (ec) return absl::InternalError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
    return names;
  }

 private:
  static absl::Status MakeParent(const std::string& path) {
    std::error_code ec;
    stdfs::create_directories(stdfs::path(path).parent_path(), ec);
    if (ec) return absl::InternalError(fmt::format("cannot create the directory of {}: {}", path, ec.message()));
    return absl::OkStatus();
  }

  std::string root_;
};

// The memory store's objects, shared with its appenders.
struct MemoryObjects {
  std::mutex mutex;
  std::map<std::string, std::string> objects;
  bool locked = false;
};

class MemoryAppender final : public Appender {
 public:
  MemoryAppender(std::shared_ptr<MemoryObjects> objects, std::string name)
      : objects_(std::move(objects)), name_(std::move(name)) {}
  absl::Status Append(std::string_view bytes) override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    objects_->objects[name_].append(bytes);
    return absl::OkStatus();
  }
  absl::Status Sync() override { return absl::OkStatus(); }
  uint64_t size() const override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    return objects_->objects[name_].size();
  }

 private:
  std::shared_ptr<MemoryObjects> objects_;
  std::string name_;
};

class MemoryStore final : public Store {
 public:
  std::string Describe(const std::string& name) const override { return "memory:" + name; }
  absl::StatusOr<std::optional<std::string>> Read(const std::string& name) const override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    auto it = objects_->objects.find(name);
    if (it == objects_->objects.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<std::string> ReadRange(const std::string& name, uint64_t offset, uint64_t length) const override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    auto it = objects_->objects.find(name);
    if (it == objects_->objects.end()) return absl::NotFoundError(fmt::format("{} is missing", Describe(name)));
    if (offset >= it->second.size()) return std::string();
    return it->second.substr(offset, length);
  }
  absl::Status WriteAtomic(const std::string& name, std::string_view bytes) override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    objects_->objects[name] = std::string(bytes);
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Appender>> OpenAppend(const std::string& name, uint64_t keep) override {
    {
      std::lock_guard<std::mutex> lock(objects_->mutex);
      std::string& bytes = objects_->objects[name];
      if (bytes.size() < keep) {
        return absl::DataLossError(fmt::format("{} holds {} bytes but the checkpoint recorded {}", Describe(name),
                                               bytes.size(), keep));
      }
      bytes.resize(keep);
    }
    return std::unique_ptr<Appender>(new MemoryAppender(objects_, name));
  }
  absl::StatusOr<std::shared_ptr<void>> Lock() override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    if (objects_->locked) return absl::FailedPreconditionError("another run is using this in-memory persisted state");
    objects_->locked = true;
    return std::shared_ptr<void>(nullptr, [objects = objects_](void*) {
      std::lock_guard<std::mutex> lock(objects->mutex);
      objects->locked = false;
    });
  }
  absl::Status Remove(const std::string& name) override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    objects_->objects.erase(name);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) const override {
    std::lock_guard<std::mutex> lock(objects_->mutex);
    std::vector<std::string> names;
    for (auto it = objects_->objects.lower_bound(prefix); it != objects_->objects.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (it->first.find('/', prefix.size()) == std::string::npos) names.push_back(it->first);
    }
    return names;
  }

 private:
  std::shared_ptr<MemoryObjects> objects_ = std::make_shared<MemoryObjects>();
};

}  // namespace

absl::StatusOr<std::shared_ptr<Store>> MakeFilesystemStore(std::string root) {
  std::error_code ec;
  stdfs::create_directories(root, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("cannot create the persistence directory {}: {}", root, ec.message()));
  if (!stdfs::is_directory(root, ec)) {
    return absl::InvalidArgumentError(fmt::format("the persistence path {} is not a directory", root));
  }
  return std::shared_ptr<Store>(std::make_shared<FilesystemStore>(std::move(root)));
}

std::shared_ptr<Store> MakeMemoryStore() { return std::make_shared<MemoryStore>(); }

}  // namespace deltaflow::persist
