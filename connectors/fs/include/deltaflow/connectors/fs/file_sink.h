// File sinks: a table's changes written as CSV or JSON lines, one line per change with the
// change's `time` and `diff` (as Pathway writes them: CSV fields all quoted, the header with
// the first change), flushed after every completed time.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deltaflow/table/graph.h"

namespace deltaflow::connectors::fs {

enum class SinkFormat : uint8_t { kCsv, kJson };

/// Writes an output's changes to a file. Formatting in C++, no Python per row.
class FileSink final : public table::OutputHandler {
 public:
  static absl::StatusOr<std::unique_ptr<FileSink>> Make(std::string path, SinkFormat format,
                                                        std::vector<std::string> columns);
  ~FileSink() override;

  absl::Status OnTime(table::Time time, std::vector<table::OutputChange>& changes) override;
  absl::Status OnEnd() override;

 private:
  FileSink(std::string path, SinkFormat format, std::vector<std::string> columns, std::FILE* file)
      : path_(std::move(path)), format_(format), columns_(std::move(columns)), file_(file) {}

  std::string path_;
  SinkFormat format_;
  std::vector<std::string> columns_;
  std::FILE* file_;
  std::string buffer_;
  bool header_written_ = false;
};

/// A value as CSV field text / as JSON.
void AppendCsvField(value::ValueView v, std::string& out);
void AppendJson(value::ValueView v, std::string& out);

}  // namespace deltaflow::connectors::fs
