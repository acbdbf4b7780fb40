#include "deltaflow/connectors/fs/file_sink.h"

#include <cerrno>
#include <cstring>

#include "deltaflow/io/format.h"
#include "fmt/format.h"

namespace deltaflow::connectors::fs {

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Make(std::string path, SinkFormat format,
                                                         std::vector<std::string> columns) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return absl::InvalidArgumentError(fmt::format("cannot open {} for writing: {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<FileSink>(new FileSink(std::move(path), format, std::move(columns), file));
}

FileSink::~FileSink() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status FileSink::Write(io::Time time, std::vector<io::Change>& changes) {
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
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    return absl::InternalError(fmt::format("writing {} failed: {}", path_, std::strerror(errno)));
  }
  // Each closed time reaches the file at once (readers of the file see whole times).
  return Flush();
}

absl::Status FileSink::Flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) {
    return absl::InternalError(fmt::format("writing {} failed: {}", path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace deltaflow::connectors::fs
