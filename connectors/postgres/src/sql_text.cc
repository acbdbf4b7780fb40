#include "sql_text.h"

#include <cmath>
#include <algorithm>
#include <cctype>
#include <charconv>
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

// The shortest text that reads back as `d` (no allocation).
void AppendFloat(double d, std::string& out) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), d);
    out.append(buffer, end);
  }
}

void AppendInt(int64_t v, std::string& out) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out.append(buffer, end);
}

// Nanoseconds to microseconds, rounding toward minus infinity (a date-time's microsecond).
int64_t FloorMicros(int64_t nanos) { return nanos >= 0 ? nanos / 1000 : -((-nanos + 999) / 1000); }

void AppendDigits(int64_t v, int width, std::string& out) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  for (int pad = width - static_cast<int>(end - buffer); pad > 0; --pad) out += '0';
  out.append(buffer, end);
}

// "YYYY-MM-DD HH:MM:SS.ffffff" (+00 when zoned), without allocating.
void AppendTimestamp(int64_t nanos, bool utc, bool date_only, std::string& out) {
  int64_t micros = FloorMicros(nanos);
  int64_t seconds = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t fraction = micros - seconds * 1000000;
  absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
  if (c.year() < 1 || c.year() > 9999) {
    // Outside four-digit years: Abseil's formatting (PostgreSQL rejects what it cannot hold).
    out += absl::FormatTime(date_only ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%E6S", absl::FromUnixMicros(micros),
                            absl::UTCTimeZone());
    if (utc && !date_only) out += "+00";
    return;
  }
  AppendDigits(c.year(), 4, out);
  out += '-';
  AppendDigits(c.month(), 2, out);
  out += '-';
  AppendDigits(c.day(), 2, out);
  if (date_only) return;
  out += ' ';
  AppendDigits(c.hour(), 2, out);
  out += ':';
  AppendDigits(c.minute(), 2, out);
  out += ':';
  AppendDigits(c.second(), 2, out);
  out += '.';
  AppendDigits(fraction, 6, out);
  if (utc) out += "+00";
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
      AppendInt(v.AsInt(), out);
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

namespace {

// A value's text as PostgreSQL reads it into `target`: escaped for COPY's text format
// (`kCopy`), or as it is (the caller quotes it as a literal).
template <bool kCopy>
absl::Status AppendValueText(ValueView v, Target target, std::string_view column, std::string& out) {
  auto text = [&out](std::string_view s) {
    if constexpr (kCopy) {
      AppendCopyEscaped(s, out);
    } else {
      out.append(s);
    }
  };
  switch (v.kind()) {
    case ValueKind::kNull:
      out += kCopy ? "\\N" : "NULL";
      return absl::OkStatus();
    case ValueKind::kBool:
      out += v.AsBool() ? 't' : 'f';
      return absl::OkStatus();
    case ValueKind::kInt:
      AppendInt(v.AsInt(), out);
      return absl::OkStatus();
    case ValueKind::kFloat:
      AppendFloat(v.AsFloat(), out);
      return absl::OkStatus();
    case ValueKind::kKey:
      out += v.AsKey().ToString();
      return absl::OkStatus();
    case ValueKind::kString:
      text(v.AsString());
      return absl::OkStatus();
    case ValueKind::kJson:
      text(v.AsJson());
      return absl::OkStatus();
    case ValueKind::kBytes:
      // BYTEA's hex form; the backslash itself escaped for COPY.
      out += kCopy ? "\\\\x" : "\\x";
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
      text(literal);
      return absl::OkStatus();
    }
    case ValueKind::kIntArray: {
      std::string literal;
      AppendNdArray(v.AsIntArray(), target == Target::kVector, literal);
      text(literal);
      return absl::OkStatus();
    }
    case ValueKind::kFloatArray: {
      std::string literal;
      AppendNdArray(v.AsFloatArray(), target == Target::kVector, literal);
      text(literal);
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

}  // namespace

absl::Status AppendCopyField(ValueView v, Target target, std::string_view column, std::string& out) {
  return AppendValueText<true>(v, target, column, out);
}

absl::Status AppendSqlLiteral(ValueView v, Target target, std::string_view column, std::string& out) {
  if (v.IsNull()) {
    out += "NULL";
    return absl::OkStatus();
  }
  out += '\'';
  size_t start = out.size();
  if (absl::Status s = AppendValueText<false>(v, target, column, out); !s.ok()) return s;
  // Quotes inside doubled (standard_conforming_strings: backslashes are plain characters).
  size_t quotes = static_cast<size_t>(std::count(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), '\''));
  if (quotes > 0) {
    std::string inner = out.substr(start);
    out.resize(start);
    for (char c : inner) {
      if (c == '\'') out += '\'';
      out += c;
    }
  }
  out += '\'';
  return absl::OkStatus();
}

}  // namespace deltaflow::connectors::postgres::internal

namespace deltaflow::connectors::postgres::internal {

namespace {

absl::Status Bad(std::string_view text, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("cannot read '{}' as {}", text, what));
}

bool ParseInt(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseDouble(std::string_view text, double& out) {
  if (text == "NaN") {
    out = std::nan("");
    return true;
  }
  if (text == "Infinity") {
    out = HUGE_VAL;
    return true;
  }
  if (text == "-Infinity") {
    out = -HUGE_VAL;
    return true;
  }
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// "YYYY-MM-DD[ HH:MM:SS[.ffffff]][+HH[:MM[:SS]]]" (TimeZone UTC, DateStyle ISO) in nanoseconds.
bool ParseTimestamp(std::string_view text, bool zoned, int64_t& nanos) {
  std::string s(text);
  if (s.size() >= 3 && (s.compare(s.size() - 3, 3, " BC") == 0)) return false;
  absl::Time t;
  std::string error;
  if (zoned) {
    // The offset as "+HH", "+HH:MM" or "+HH:MM:SS": made "+HH:MM" for the parser.
    size_t sign = s.find_last_of("+-");
    if (sign == std::string::npos || sign < 10) return false;
    std::string offset = s.substr(sign);
    if (offset.size() == 3) offset += ":00";
    if (offset.size() > 6) offset.resize(6);
    s = s.substr(0, sign) + offset;
    if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S%Ez", s, &t, &error)) return false;
  } else if (s.size() == 10) {
    if (!absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &error)) return false;
  } else if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", s, absl::UTCTimeZone(), &t, &error)) {
    return false;
  }
  nanos = absl::ToUnixNanos(t);
  return true;
}

// An interval in ISO 8601 ("P1Y2M3DT4H5M6.5S", components signed) or a time of day
// ("HH:MM:SS[.ffffff]") in nanoseconds; a month is 30 days, a year 365.25 days.
bool ParseDuration(std::string_view text, int64_t& nanos) {
  constexpr double kSecond = 1e9;
  constexpr double kDay = 86400 * kSecond;
  if (!text.empty() && text[0] != 'P' && text[0] != '-') {
    // A time of day.
    int64_t h = 0, m = 0;
    double sec = 0;
    if (text.size() < 8 || text[2] != ':' || text[5] != ':') return false;
    if (!ParseInt(text.substr(0, 2), h) || !ParseInt(text.substr(3, 2), m)) return false;
    if (!ParseDouble(text.substr(6), sec)) return false;
    nanos = static_cast<int64_t>(h) * 3600 * 1000000000LL + static_cast<int64_t>(m) * 60 * 1000000000LL +
            static_cast<int64_t>(std::llround(sec * kSecond));
    return true;
  }
  bool negate = false;
  if (!text.empty() && text[0] == '-') {
    negate = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text[0] != 'P') return false;
  text.remove_prefix(1);
  bool time_part = false;
  long double total = 0;
  while (!text.empty()) {
    if (text[0] == 'T') {
      time_part = true;
      text.remove_prefix(1);
      continue;
    }
    size_t n = 0;
    while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '-' || text[n] == '.')) ++n;
    if (n == 0 || n == text.size()) return false;
    double number = 0;
    if (!ParseDouble(text.substr(0, n), number)) return false;
    char unit = text[n];
    text.remove_prefix(n + 1);
    double scale = 0;
    switch (unit) {
      case 'Y':
        scale = 365.25 * kDay;
        break;
      case 'M':
        scale = time_part ? 60 * kSecond : 30 * kDay;
        break;
      case 'W':
        scale = 7 * kDay;
        break;
      case 'D':
        scale = kDay;
        break;
      case 'H':
        scale = 3600 * kSecond;
        break;
      case 'S':
        scale = kSecond;
        break;
      default:
        return false;
    }
    total += static_cast<long double>(number) * scale;
  }
  nanos = static_cast<int64_t>(std::llround(static_cast<double>(negate ? -total : total)));
  return true;
}

bool DecodeHexBytes(std::string_view text, std::string& out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  out.clear();
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

// The type a value of PostgreSQL type `pg` is read into when the schema says Any.
ReadType NaturalType(std::string_view pg) {
  if (pg == "int2" || pg == "int4" || pg == "int8" || pg == "oid") return ReadType::kInt;
  if (pg == "float4" || pg == "float8" || pg == "numeric") return ReadType::kFloat;
  if (pg == "bool") return ReadType::kBool;
  if (pg == "bytea") return ReadType::kBytes;
  if (pg == "json" || pg == "jsonb") return ReadType::kJson;
  if (pg == "timestamp" || pg == "date") return ReadType::kDateTimeNaive;
  if (pg == "timestamptz") return ReadType::kDateTimeUtc;
  if (pg == "interval" || pg == "time") return ReadType::kDuration;
  if (!pg.empty() && pg[0] == '_') return ReadType::kList;
  return ReadType::kString;
}

// Parses an array literal ("{1,2,NULL}", "{{1,2},{3,4}}", "{\"a b\",c}") into a tuple.
absl::Status AppendArray(std::string_view& text, ReadType element, std::string_view pg_element, value::RowBuilder& out) {
  if (text.empty() || text[0] != '{') return absl::InvalidArgumentError("an array must start with '{'");
  text.remove_prefix(1);
  out.BeginTuple();
  if (!text.empty() && text[0] == '}') {
    text.remove_prefix(1);
    out.EndTuple();
    return absl::OkStatus();
  }
  std::string item;
  while (true) {
    if (text.empty()) return absl::InvalidArgumentError("the array ends early");
    if (text[0] == '{') {
      if (absl::Status s = AppendArray(text, element, pg_element, out); !s.ok()) return s;
    } else {
      item.clear();
      bool quoted = text[0] == '"';
      if (quoted) {
        text.remove_prefix(1);
        while (!text.empty() && text[0] != '"') {
          if (text[0] == '\\' && text.size() > 1) text.remove_prefix(1);
          item += text[0];
          text.remove_prefix(1);
        }
        if (text.empty()) return absl::InvalidArgumentError("an unclosed quote in the array");
        text.remove_prefix(1);
      } else {
        while (!text.empty() && text[0] != ',' && text[0] != '}') {
          item += text[0];
          text.remove_prefix(1);
        }
      }
      if (!quoted && item == "NULL") {
        out.Null();
      } else if (absl::Status s = AppendTextValue(item, element, ReadType::kAny, pg_element, out); !s.ok()) {
        return s;
      }
    }
    if (text.empty()) return absl::InvalidArgumentError("the array ends early");
    char c = text[0];
    text.remove_prefix(1);
    if (c == '}') break;
    if (c != ',') return absl::InvalidArgumentError("the array's elements must be separated by ','");
  }
  out.EndTuple();
  return absl::OkStatus();
}

}  // namespace

absl::Status AppendTextValue(std::string_view text, ReadType type, ReadType element, std::string_view pg_type,
                             value::RowBuilder& out) {
  if (type == ReadType::kAny) type = NaturalType(pg_type);
  switch (type) {
    case ReadType::kInt: {
      int64_t v = 0;
      if (pg_type == "interval" || pg_type == "time") {
        if (!ParseDuration(text, v)) return Bad(text, "a duration");
        out.Int(v / 1000);  // microseconds
        return absl::OkStatus();
      }
      if (!ParseInt(text, v)) return Bad(text, "int");
      out.Int(v);
      return absl::OkStatus();
    }
    case ReadType::kFloat: {
      double v = 0;
      if (!ParseDouble(text, v)) return Bad(text, "float");
      out.Float(v);
      return absl::OkStatus();
    }
    case ReadType::kBool:
      if (text == "t" || text == "true") {
        out.Bool(true);
      } else if (text == "f" || text == "false") {
        out.Bool(false);
      } else {
        return Bad(text, "bool");
      }
      return absl::OkStatus();
    case ReadType::kString:
      out.String(text);
      return absl::OkStatus();
    case ReadType::kBytes: {
      if (pg_type == "bytea") {
        std::string bytes;
        if (!DecodeHexBytes(text, bytes)) return Bad(text, "bytea");
        out.Bytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
      } else {
        out.Bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
      }
      return absl::OkStatus();
    }
    case ReadType::kJson:
      if (absl::Status s = out.Json(text); !s.ok()) return Bad(text, "Json");
      return absl::OkStatus();
    case ReadType::kPointer: {
      auto key = value::Key::Parse(text);
      if (!key.ok()) return Bad(text, "a Pointer");
      out.Pointer(*key);
      return absl::OkStatus();
    }
    case ReadType::kDateTimeNaive:
    case ReadType::kDateTimeUtc: {
      int64_t nanos = 0;
      bool zoned = pg_type == "timestamptz";
      if (!ParseTimestamp(text, zoned, nanos)) return Bad(text, zoned ? "a date-time with a zone" : "a date-time");
      if (type == ReadType::kDateTimeUtc) {
        out.DateTimeUtc(nanos);
      } else {
        out.DateTimeNaive(nanos);
      }
      return absl::OkStatus();
    }
    case ReadType::kDuration: {
      int64_t nanos = 0;
      if (pg_type == "int2" || pg_type == "int4" || pg_type == "int8") {
        if (!ParseInt(text, nanos)) return Bad(text, "a duration in microseconds");
        out.Duration(nanos * 1000);
        return absl::OkStatus();
      }
      if (!ParseDuration(text, nanos)) return Bad(text, "a duration");
      out.Duration(nanos);
      return absl::OkStatus();
    }
    case ReadType::kList: {
      std::string_view rest = text;
      std::string_view pg_element = pg_type.size() > 1 && pg_type[0] == '_' ? pg_type.substr(1) : std::string_view();
      if (absl::Status s = AppendArray(rest, element, pg_element, out); !s.ok()) {
        return absl::InvalidArgumentError(fmt::format("cannot read '{}' as an array: {}", text, std::string(s.message())));
      }
      return absl::OkStatus();
    }
    case ReadType::kAny:
      break;
  }
  out.String(text);
  return absl::OkStatus();
}

void SplitCopyLine(std::string_view line, std::vector<std::string>& fields, std::vector<bool>& nulls) {
  fields.clear();
  nulls.clear();
  std::string field;
  bool raw_null = true;  // whether the field so far is exactly "\N"
  size_t start = 0;
  auto finish = [&](size_t end) {
    std::string_view raw = line.substr(start, end - start);
    bool is_null = raw == "\\N";
    (void)raw_null;
    nulls.push_back(is_null);
    field.clear();
    if (!is_null) {
      for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '\\' || i + 1 == raw.size()) {
          field += c;
          continue;
        }
        char n = raw[++i];
        switch (n) {
          case 'n': field += '\n'; break;
          case 't': field += '\t'; break;
          case 'r': field += '\r'; break;
          case 'b': field += '\b'; break;
          case 'f': field += '\f'; break;
          case 'v': field += '\v'; break;
          case 'x': {
            int v = 0, digits = 0;
            while (digits < 2 && i + 1 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1]))) {
              char h = raw[++i];
              v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
              ++digits;
            }
            field += static_cast<char>(v);
            break;
          }
          default:
            if (n >= '0' && n <= '7') {
              int v = n - '0', digits = 1;
              while (digits < 3 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7') {
                v = v * 8 + (raw[++i] - '0');
                ++digits;
              }
              field += static_cast<char>(v);
            } else {
              field += n;
            }
        }
      }
    }
    fields.push_back(field);
  };
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\t') {
      finish(i);
      start = i + 1;
    }
  }
  finish(line.size());
}

}  // namespace deltaflow::connectors::postgres::internal
