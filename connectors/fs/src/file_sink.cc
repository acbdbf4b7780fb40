#include "deltaflow/connectors/fs/file_sink.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <span>

#include "absl/time/time.h"
#include "deltaflow/expr/expression.h"
#include "fmt/format.h"

namespace deltaflow::connectors::fs {

namespace {


std::string Base64(std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = bytes[i] << 16;
    if (i + 1 < bytes.size()) n |= bytes[i + 1] << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A date and time as Pathway writes it: ISO 8601 with nine fraction digits ("+0000" for UTC).
std::string DateTimeIso(int64_t nanos, bool utc) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9S", absl::FromUnixNanos(nanos), absl::UTCTimeZone()) +
         (utc ? "+0000" : "");
}

// A float as Pathway writes it: shortest round trip, "NaN", no '+' in exponents.
std::string FloatText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = expr::Value::Float(d).ToString();
  if (auto e = s.find("e+"); e != std::string::npos) s.erase(e + 1, 1);
  return s;
}

// A cell's text in written CSV.
std::string CellText(value::ValueView v) {
  using value::ValueKind;
  switch (v.kind()) {
    case ValueKind::kNull:
      return "None";
    case ValueKind::kFloat:
      return FloatText(v.AsFloat());
    case ValueKind::kJson:
      return std::string(v.AsJson());
    case ValueKind::kBytes:
      return Base64(v.AsBytes());
    case ValueKind::kTuple: {
      std::string out;
      AppendJson(v, out);
      return out;
    }
    case ValueKind::kDateTimeNaive:
      return DateTimeIso(v.AsNanos(), false);
    case ValueKind::kDateTimeUtc:
      return DateTimeIso(v.AsNanos(), true);
    case ValueKind::kDuration:
      return fmt::format("{}", v.AsNanos());
    default:
      return expr::Value::FromView(v).ToString();
  }
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
    case ValueKind::kBytes:
      value::AppendJsonString(out, Base64(v.AsBytes()));
      return;
    case ValueKind::kDateTimeNaive:
      value::AppendJsonString(out, DateTimeIso(v.AsNanos(), false));
      return;
    case ValueKind::kDateTimeUtc:
      value::AppendJsonString(out, DateTimeIso(v.AsNanos(), true));
      return;
    case ValueKind::kDuration:
      out += fmt::format("{}", v.AsNanos());
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
      value::AppendJsonString(out, expr::Value::FromView(v).ToString());
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

void AppendCsvField(value::ValueView v, std::string& out) { AppendQuotedCsv(CellText(v), out); }

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
          value::AppendJsonString(buffer_, columns_[i++]);
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
