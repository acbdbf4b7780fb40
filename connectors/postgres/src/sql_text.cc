#include "sql_text.h"

#include <cmath>
#include <cstdlib>

#include "absl/time/time.h"
#include "fmt/format.h"

namespace deltaflow::connectors::postgres::internal {

namespace {

using value::ValueKind;
using value::ValueView;

// Appends `text` escaped for COPY's text format: backslash, newline, carriage return and tab
// as backslash sequences.
void AppendCopyEscaped(std::string_view text, std::string& out) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    const char* escape = nullptr;
    switch (c) {
      case '\\':
        escape = "\\\\";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      case '\t':
        escape = "\\t";
        break;
      default:
        continue;
    }
    out.append(text.substr(start, i - start));
    out += escape;
    start = i + 1;
  }
  out.append(text.substr(start));
}

void AppendFloat(double d, std::string& out) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    out += value::FloatRepr(d);
  }
}

// Nanoseconds to microseconds, rounding toward minus infinity (a date-time's microsecond).
int64_t FloorMicros(int64_t nanos) { return nanos >= 0 ? nanos / 1000 : -((-nanos + 999) / 1000); }

void AppendTimestamp(int64_t nanos, bool utc, bool date_only, std::string& out) {
  absl::Time t = absl::FromUnixMicros(FloorMicros(nanos));
  out += absl::FormatTime(date_only ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%E6S", t, absl::UTCTimeZone());
  if (utc && !date_only) out += "+00";
}

// A duration as PostgreSQL reads it into `target` (microseconds, truncated as Pathway does).
void AppendDuration(int64_t nanos, Target target, std::string& out) {
  int64_t micros = nanos / 1000;
  switch (target) {
    case Target::kTime: {
      int64_t s = micros / 1000000;
      out += fmt::format("{:02}:{:02}:{:02}.{:06}", s / 3600, s / 60 % 60, s % 60, micros % 1000000);
      return;
    }
    case Target::kInterval:
      out += fmt::format("{} microseconds", micros);
      return;
    default:
      out += fmt::format("{}", micros);
      return;
  }
}

// An element of an array literal: quoted unless a number or a boolean.
void AppendArrayElement(ValueView v, std::string& out);

template <typename T>
void AppendNdArray(const value::NdArrayView<T>& array, bool vector, std::string& out) {
  auto shape = array.shape();
  if (vector || shape.size() <= 1) {
    out += vector ? '[' : '{';
    for (uint64_t i = 0; i < array.size(); ++i) {
      if (i > 0) out += ',';
      if constexpr (std::is_same_v<T, double>) {
        AppendFloat(array[i], out);
      } else {
        out += fmt::format("{}", array[i]);
      }
    }
    out += vector ? ']' : '}';
    return;
  }
  // Nested braces, one level per dimension.
  uint64_t index = 0;
  auto emit = [&](auto&& self, size_t dim) -> void {
    out += '{';
    for (uint64_t i = 0; i < shape[dim]; ++i) {
      if (i > 0) out += ',';
      if (dim + 1 == shape.size()) {
        if constexpr (std::is_same_v<T, double>) {
          AppendFloat(array[index++], out);
        } else {
          out += fmt::format("{}", array[index++]);
        }
      } else {
        self(self, dim + 1);
      }
    }
    out += '}';
  };
  emit(emit, 0);
}

void AppendArrayLiteral(ValueView v, std::string& out) {
  out += '{';
  bool first = true;
  for (ValueView element : v.AsTuple()) {
    if (!first) out += ',';
    first = false;
    AppendArrayElement(element, out);
  }
  out += '}';
}

void AppendQuotedElement(std::string_view text, std::string& out) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void AppendArrayElement(ValueView v, std::string& out) {
  std::string text;
  switch (v.kind()) {
    case ValueKind::kNull:
      out += "NULL";
      return;
    case ValueKind::kBool:
      out += v.AsBool() ? 't' : 'f';
      return;
    case ValueKind::kInt:
      out += fmt::format("{}", v.AsInt());
      return;
    case ValueKind::kFloat:
      AppendFloat(v.AsFloat(), out);
      return;
    case ValueKind::kTuple:
      AppendArrayLiteral(v, out);
      return;
    case ValueKind::kIntArray:
      AppendNdArray(v.AsIntArray(), false, out);
      return;
    case ValueKind::kFloatArray:
      AppendNdArray(v.AsFloatArray(), false, out);
      return;
    case ValueKind::kString:
      AppendQuotedElement(v.AsString(), out);
      return;
    case ValueKind::kJson:
      AppendQuotedElement(v.AsJson(), out);
      return;
    case ValueKind::kKey:
      AppendQuotedElement(v.AsKey().ToString(), out);
      return;
    case ValueKind::kBytes: {
      text = "\\x";
      for (uint8_t b : v.AsBytes()) text += fmt::format("{:02x}", b);
      AppendQuotedElement(text, out);
      return;
    }
    case ValueKind::kDateTimeNaive:
    case ValueKind::kDateTimeUtc:
      AppendTimestamp(v.AsNanos(), v.kind() == ValueKind::kDateTimeUtc, false, text);
      AppendQuotedElement(text, out);
      return;
    case ValueKind::kDuration:
      AppendDuration(v.AsNanos(), Target::kInteger, out);
      return;
    case ValueKind::kError:
    case ValueKind::kObject:
      AppendQuotedElement(v.DebugString(), out);
      return;
  }
}

}  // namespace

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string QualifiedName(std::string_view schema, std::string_view table) {
  if (schema.empty()) return QuoteIdentifier(table);
  return QuoteIdentifier(schema) + "." + QuoteIdentifier(table);
}

Target TargetOf(std::string_view udt) {
  if (udt == "int2" || udt == "int4" || udt == "int8") return Target::kInteger;
  if (udt == "interval") return Target::kInterval;
  if (udt == "time") return Target::kTime;
  if (udt == "date") return Target::kDate;
  if (udt == "vector" || udt == "halfvec") return Target::kVector;
  return Target::kOther;
}

absl::Status AppendCopyField(ValueView v, Target target, std::string_view column, std::string& out) {
  switch (v.kind()) {
    case ValueKind::kNull:
      out += "\\N";
      return absl::OkStatus();
    case ValueKind::kBool:
      out += v.AsBool() ? 't' : 'f';
      return absl::OkStatus();
    case ValueKind::kInt:
      out += fmt::format("{}", v.AsInt());
      return absl::OkStatus();
    case ValueKind::kFloat:
      AppendFloat(v.AsFloat(), out);
      return absl::OkStatus();
    case ValueKind::kKey:
      out += v.AsKey().ToString();
      return absl::OkStatus();
    case ValueKind::kString:
      AppendCopyEscaped(v.AsString(), out);
      return absl::OkStatus();
    case ValueKind::kJson:
      AppendCopyEscaped(v.AsJson(), out);
      return absl::OkStatus();
    case ValueKind::kBytes:
      // BYTEA's hex form; the backslash itself escaped for COPY.
      out += "\\\\x";
      for (uint8_t b : v.AsBytes()) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += kHex[b >> 4];
        out += kHex[b & 15];
      }
      return absl::OkStatus();
    case ValueKind::kDateTimeNaive:
    case ValueKind::kDateTimeUtc:
      AppendTimestamp(v.AsNanos(), v.kind() == ValueKind::kDateTimeUtc, target == Target::kDate, out);
      return absl::OkStatus();
    case ValueKind::kDuration:
      AppendDuration(v.AsNanos(), target, out);
      return absl::OkStatus();
    case ValueKind::kTuple: {
      std::string literal;
      AppendArrayLiteral(v, literal);
      AppendCopyEscaped(literal, out);
      return absl::OkStatus();
    }
    case ValueKind::kIntArray: {
      std::string literal;
      AppendNdArray(v.AsIntArray(), target == Target::kVector, literal);
      AppendCopyEscaped(literal, out);
      return absl::OkStatus();
    }
    case ValueKind::kFloatArray: {
      std::string literal;
      AppendNdArray(v.AsFloatArray(), target == Target::kVector, literal);
      AppendCopyEscaped(literal, out);
      return absl::OkStatus();
    }
    case ValueKind::kError:
      return absl::InvalidArgumentError(fmt::format("column {} holds an Error value", column));
    case ValueKind::kObject:
      return absl::InvalidArgumentError(
          fmt::format("column {} holds a Python object, which PostgreSQL cannot store", column));
  }
  return absl::InternalError("unknown value kind");
}

}  // namespace deltaflow::connectors::postgres::internal
