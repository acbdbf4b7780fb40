#include "deltaflow/connectors/fs/file_sink.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "deltaflow/expr/expression.h"
#include "fmt/format.h"

namespace deltaflow::connectors::fs {

namespace {

void AppendJsonString(std::string_view s, std::string& out) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

void AppendJson(value::ValueView v, std::string& out) {
  using value::ValueKind;
  switch (v.kind()) {
    case ValueKind::kNull:
    case ValueKind::kError:
      out += "null";
      return;
    case ValueKind::kBool:
      out += v.AsBool() ? "true" : "false";
      return;
    case ValueKind::kInt:
      out += fmt::format("{}", v.AsInt());
      return;
    case ValueKind::kFloat: {
      double d = v.AsFloat();
      if (std::isfinite(d)) {
        out += expr::Value::Float(d).ToString();
      } else {
        out += "null";
      }
      return;
    }
    case ValueKind::kJson:
      out += v.AsJson();
      return;
    case ValueKind::kTuple: {
      out += '[';
      bool first = true;
      for (value::ValueView item : v.AsTuple()) {
        if (!first) out += ',';
        first = false;
        AppendJson(item, out);
      }
      out += ']';
      return;
    }
    default:
      AppendJsonString(expr::Value::FromView(v).ToString(), out);
      return;
  }
}

namespace {

// Every CSV field is quoted (as Pathway writes them), quotes doubled.
void AppendQuotedCsv(std::string_view text, std::string& out) {
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

void AppendCsvField(value::ValueView v, std::string& out) {
  if (v.kind() == value::ValueKind::kNull) {
    out += "\"\"";
    return;
  }
  std::string text = v.kind() == value::ValueKind::kJson ? std::string(v.AsJson()) : expr::Value::FromView(v).ToString();
  AppendQuotedCsv(text, out);
}

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

absl::Status FileSink::OnTime(table::Time time, std::vector<table::OutputChange>& changes) {
  buffer_.clear();
  if (format_ == SinkFormat::kCsv && !header_written_) {
    // The header comes with the first change: a table that never changes leaves an empty file.
    for (const auto& c : columns_) {
      AppendQuotedCsv(c, buffer_);
      buffer_ += ',';
    }
    buffer_ += "\"time\",\"diff\"\n";
    header_written_ = true;
  }
  for (const table::OutputChange& c : changes) {
    value::RowView row = c.row.view();
    for (int64_t n = 0; n < (c.diff < 0 ? -c.diff : c.diff); ++n) {
      if (format_ == SinkFormat::kCsv) {
        for (value::ValueView v : row.values()) {
          AppendCsvField(v, buffer_);
          buffer_ += ',';
        }
        buffer_ += fmt::format("\"{}\",\"{}\"\n", time, c.diff < 0 ? -1 : 1);
      } else {
        buffer_ += '{';
        size_t i = 0;
        for (value::ValueView v : row.values()) {
          AppendJsonString(columns_[i++], buffer_);
          buffer_ += ':';
          AppendJson(v, buffer_);
          buffer_ += ',';
        }
        buffer_ += fmt::format("\"diff\":{},\"time\":{}}}\n", c.diff < 0 ? -1 : 1, time);
      }
    }
  }
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size() || std::fflush(file_) != 0) {
    return absl::InternalError(fmt::format("writing {} failed: {}", path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status FileSink::OnEnd() {
  if (file_ != nullptr && std::fflush(file_) != 0) {
    return absl::InternalError(fmt::format("writing {} failed: {}", path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace deltaflow::connectors::fs
