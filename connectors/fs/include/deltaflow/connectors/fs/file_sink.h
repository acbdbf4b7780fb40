// File sinks: a table's changes written as CSV or JSON lines, one line per change with the
// change's `time` and `diff` (as Pathway writes them: CSV fields all quoted, the header with
// the first change), through the IO layer's formatters (deltaflow/io/format.h).
//
// `Write` buffers a closed time's lines and hands them to the file; `Flush` (and `End`)
// flush the file to the operating system.
//
// Persistence: the file's `Position` is its length (synced to disk); a run restarted after a
// crash `Resume`s by cutting the file back to the length of the last checkpoint and writing on
// after it, so the file holds every change once. Without `Resume` the file is written anew.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deltaflow/io/sink.h"

namespace deltaflow::connectors::fs {

enum class SinkFormat : uint8_t { kCsv, kJson };

/// Writes an output's changes to a file. Formatting in C++, no Python per row.
class FileSink final : public io::Sink {
 public:
  static absl::StatusOr<std::unique_ptr<FileSink>> Make(std::string path, SinkFormat format,
                                                        std::vector<std::string> columns);
  ~FileSink() override;

  absl::Status Write(io::Time time, std::vector<io::Change>& changes) override;
  absl::Status Flush() override;
  absl::StatusOr<std::string> Position(io::Time frontier) override;
  absl::Status Resume(const std::string& position) override;
  absl::Status End() override;

 private:
  FileSink(std::string path, SinkFormat format, std::vector<std::string> columns)
      : path_(std::move(path)), format_(format), columns_(std::move(columns)) {}

  // Opens the file anew (truncated) unless `Resume` opened it.
  absl::Status EnsureOpen();

  std::string path_;
  SinkFormat format_;
  std::vector<std::string> columns_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
  bool header_written_ = false;
};

}  // namespace deltaflow::connectors::fs
