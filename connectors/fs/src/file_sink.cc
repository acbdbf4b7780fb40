#include "deltaflow/connectors/fs/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "deltaflow/io/format.h"
#include "fmt/format.h"

namespace deltaflow::connectors::fs {

namespace {

absl::Status WriteError(const std::string& path) {
  return absl::InternalError(fmt::format("writing {} failed: {}", path, std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Make(std::string path, SinkFormat format,
                                                         std::vector<std::string> columns) {
  // Fail at once on a path that cannot be written; the file is truncated (or resumed) when the
  // run starts writing.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(fmt::format("cannot open {} for writing: {}", path, std::strerror(errno)));
  }
  ::close(fd);
  return std::unique_ptr<FileSink>(new FileSink(std::move(path), format, std::move(columns)));
}

FileSink::~FileSink() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status FileSink::EnsureOpen() {
  if (file_ != nullptr) return absl::OkStatus();
  file_ = std::fopen(path_.c_str(), "w");
  if (file_ == nullptr) {
    return absl::InvalidArgumentError(fmt::format("cannot open {} for writing: {}", path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status FileSink::Write(io::Time time, std::vector<io::Change>& changes) {
  if (absl::Status s = EnsureOpen(); !s.ok()) return s;
  buffer_.clear();
  if (format_ == SinkFormat::kCsv && !header_written_) {
    // The header comes with the first change: a table that never changes leaves an empty file.
    io::AppendDsvHeader(columns_, ',', buffer_);
    buffer_ += '\n';
    header_written_ = true;
  }
  for (const io::Change& c : changes) {
    value::RowView row = c.row.view();
    for (int64_t n = 0; n < (c.diff < 0 ? -c.diff : c.diff); ++n) {
      if (format_ == SinkFormat::kCsv) {
        io::AppendDsvChange(row, time, c.diff < 0 ? -1 : 1, ',', buffer_);
      } else {
        io::AppendJsonChange(columns_, row, time, c.diff < 0 ? -1 : 1, buffer_);
      }
      buffer_ += '\n';
    }
  }
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) return WriteError(path_);
  // Each closed time reaches the file at once (readers of the file see whole times).
  return Flush();
}

absl::Status FileSink::Flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) return WriteError(path_);
  return absl::OkStatus();
}

absl::Status FileSink::End() {
  if (absl::Status s = EnsureOpen(); !s.ok()) return s;
  return Flush();
}

absl::StatusOr<std::string> FileSink::Position(io::Time frontier) {
  (void)frontier;
  if (absl::Status s = EnsureOpen(); !s.ok()) return s;
  if (std::fflush(file_) != 0 || ::fdatasync(fileno(file_)) != 0) return WriteError(path_);
  long length = std::ftell(file_);
  if (length < 0) return WriteError(path_);
  return std::to_string(length);
}

absl::Status FileSink::Resume(const std::string& position) {
  uint64_t length = 0;
  auto [end, ec] = std::from_chars(position.data(), position.data() + position.size(), length);
  if (ec != std::errc() || end != position.data() + position.size()) {
    return absl::DataLossError(fmt::format("{}: the persisted position {:?} is not a length", path_, position));
  }
  std::FILE* file = std::fopen(path_.c_str(), "r+");
  if (file == nullptr) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: cannot reopen the output to resume it after the last checkpoint: {}", path_, std::strerror(errno)));
  }
  if (std::fseek(file, 0, SEEK_END) != 0 || static_cast<uint64_t>(std::ftell(file)) < length) {
    std::fclose(file);
    return absl::FailedPreconditionError(fmt::format(
        "{}: the output is shorter than at the last checkpoint ({} bytes): it was changed while the pipeline was down",
        path_, length));
  }
  if (::ftruncate(fileno(file), static_cast<off_t>(length)) != 0 || std::fseek(file, static_cast<long>(length), SEEK_SET) != 0) {
    absl::Status s = WriteError(path_);
    std::fclose(file);
    return s;
  }
  if (file_ != nullptr) std::fclose(file_);
  file_ = file;
  header_written_ = length > 0;
  return absl::OkStatus();
}

}  // namespace deltaflow::connectors::fs
