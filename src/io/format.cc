#include "deltaflow/io/format.h"

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"
#include "fmt/format.h"

namespace deltaflow::io {

namespace {

using value::ValueKind;
using value::ValueView;

// A date and time as Pathway writes it: ISO 8601 with nine fraction digits ("+0000" for UTC).
void AppendDateTime(int64_t nanos, bool utc, std::string& out) {
  out += absl::FormatTime("%Y-%m-%dT%H:%M:%E9S", absl::FromUnixNanos(nanos), absl::UTCTimeZone());
  if (utc) out += "+0000";
}

// A float as Pathway writes it in text: shortest round trip, "NaN", no '+' in exponents.
void AppendFloatText(double d, std::string& out) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  std::string s = value::FloatRepr(d);
  if (auto e = s.find("e+"); e != std::string::npos) s.erase(e + 1, 1);
  out += s;
}

template <typename T>
void AppendArrayJson(const value::NdArrayView<T>& array, std::string& out) {
  out += "{\"shape\":[";
  auto shape = array.shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    out += fmt::format("{}", shape[i]);
  }
  out += "],\"elements\":[";
  for (uint64_t i = 0; i < array.size(); ++i) {
    if (i > 0) out += ',';
    if constexpr (std::is_same_v<T, double>) {
      if (std::isfinite(array[i])) {
        out += value::FloatRepr(array[i]);
      } else {
        out += "null";
      }
    } else {
      out += fmt::format("{}", array[i]);
    }
  }
  out += "]}";
}

}  // namespace

void AppendBase64(std::span<const uint8_t> bytes, std::string& out) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t{bytes[i]} << 16;
    if (i + 1 < bytes.size()) n |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
}

void AppendText(ValueView v, std::string& out) {
  switch (v.kind()) {
    case ValueKind::kNull:
      out += "None";
      return;
    case ValueKind::kBool:
      out += v.AsBool() ? "True" : "False";
      return;
    case ValueKind::kInt:
      out += fmt::format("{}", v.AsInt());
      return;
    case ValueKind::kFloat:
      AppendFloatText(v.AsFloat(), out);
      return;
    case ValueKind::kKey:
      out += v.AsKey().ToString();
      return;
    case ValueKind::kString:
      out += v.AsString();
      return;
    case ValueKind::kJson:
      out += v.AsJson();
      return;
    case ValueKind::kBytes:
      AppendBase64(v.AsBytes(), out);
      return;
    case ValueKind::kTuple:
    case ValueKind::kIntArray:
    case ValueKind::kFloatArray:
      AppendJson(v, out);
      return;
    case ValueKind::kDateTimeNaive:
      AppendDateTime(v.AsNanos(), false, out);
      return;
    case ValueKind::kDateTimeUtc:
      AppendDateTime(v.AsNanos(), true, out);
      return;
    case ValueKind::kDuration:
      out += fmt::format("{}", v.AsNanos());
      return;
    case ValueKind::kError:
      out += "Error";
      return;
    case ValueKind::kObject:
      out += v.DebugString();
      return;
  }
}

void AppendJson(ValueView v, std::string& out) {
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
        out += value::FloatRepr(d);
      } else {
        out += "null";
      }
      return;
    }
    case ValueKind::kJson:
      out += v.AsJson();
      return;
    case ValueKind::kString:
      value::AppendJsonString(out, v.AsString());
      return;
    case ValueKind::kKey:
      value::AppendJsonString(out, v.AsKey().ToString());
      return;
    case ValueKind::kBytes: {
      std::string encoded;
      AppendBase64(v.AsBytes(), encoded);
      value::AppendJsonString(out, encoded);
      return;
    }
    case ValueKind::kDateTimeNaive:
    case ValueKind::kDateTimeUtc: {
      std::string text;
      AppendDateTime(v.AsNanos(), v.kind() == ValueKind::kDateTimeUtc, text);
      value::AppendJsonString(out, text);
      return;
    }
    case ValueKind::kDuration:
      out += fmt::format("{}", v.AsNanos());
      return;
    case ValueKind::kTuple: {
      out += '[';
      bool first = true;
      for (ValueView item : v.AsTuple()) {
        if (!first) out += ',';
        first = false;
        AppendJson(item, out);
      }
      out += ']';
      return;
    }
    case ValueKind::kIntArray:
      AppendArrayJson(v.AsIntArray(), out);
      return;
    case ValueKind::kFloatArray:
      AppendArrayJson(v.AsFloatArray(), out);
      return;
    case ValueKind::kObject:
      value::AppendJsonString(out, v.DebugString());
      return;
  }
}

void AppendQuotedField(std::string_view text, std::string& out) {
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void AppendDsvHeader(const std::vector<std::string>& names, char delimiter, std::string& out) {
  for (const std::string& name : names) {
    AppendQuotedField(name, out);
    out += delimiter;
  }
  AppendQuotedField("time", out);
  out += delimiter;
  AppendQuotedField("diff", out);
}

void AppendDsvChange(value::RowView row, Time time, int64_t diff, char delimiter, std::string& out) {
  for (ValueView v : row.values()) {
    // The text is written in place, then its quotes doubled (rarely needed).
    out += '"';
    size_t start = out.size();
    AppendText(v, out);
    size_t quotes = static_cast<size_t>(std::count(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), '"'));
    if (quotes > 0) {
      size_t end = out.size();
      out.resize(end + quotes);
      for (size_t from = end, to = end + quotes; from > start;) {
        char c = out[--from];
        out[--to] = c;
        if (c == '"') out[--to] = '"';
      }
    }
    out += '"';
    out += delimiter;
  }
  out += fmt::format("\"{}\"{}\"{}\"", time, delimiter, diff);
}

void AppendJsonChange(const std::vector<std::string>& names, value::RowView row, Time time, int64_t diff,
                      std::string& out) {
  out += '{';
  size_t i = 0;
  for (ValueView v : row.values()) {
    value::AppendJsonString(out, names[i++]);
    out += ':';
    AppendJson(v, out);
    out += ',';
  }
  out += fmt::format("\"diff\":{},\"time\":{}}}", diff, time);
}

}  // namespace deltaflow::io
