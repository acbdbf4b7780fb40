// Time operations of the expression evaluator: window assignment for event-time windows, and
// the `.dt` namespace (fields, formatting and parsing with the format specifiers Pathway
// documents, time zones from the system's tz database through Abseil).
#include <array>
#include <cctype>
#include <optional>
#include <span>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "deltaflow/expr/expression.h"
#include "fmt/format.h"

namespace deltaflow::expr {

namespace {

using Kind = value::ValueKind;

int64_t FloorDivInt(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool IsDateTime(Kind k) { return k == Kind::kDateTimeNaive || k == Kind::kDateTimeUtc; }

constexpr int64_t kNanosPerSecond = 1000000000LL;

int64_t FloorModInt(int64_t a, int64_t b) { return a - FloorDivInt(a, b) * b; }

// Nanoseconds per unit name ("s", "ms", "us", "ns" and their long names); 0 when unknown.
int64_t UnitNanos(std::string_view unit) {
  if (unit == "s" || unit == "second" || unit == "seconds") return kNanosPerSecond;
  if (unit == "ms" || unit == "millisecond" || unit == "milliseconds") return 1000000LL;
  if (unit == "us" || unit == "microsecond" || unit == "microseconds") return 1000LL;
  if (unit == "ns" || unit == "nanosecond" || unit == "nanoseconds") return 1LL;
  if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") return 60 * kNanosPerSecond;
  if (unit == "h" || unit == "hour" || unit == "hours") return 3600 * kNanosPerSecond;
  if (unit == "D" || unit == "d" || unit == "day" || unit == "days") return 86400 * kNanosPerSecond;
  if (unit == "W" || unit == "w" || unit == "week" || unit == "weeks") return 7 * 86400 * kNanosPerSecond;
  return 0;
}

// A time zone by name, loaded once per thread (the last one found is checked first, so a
// column with one zone costs no lookup per row).
bool FindZone(std::string_view name, absl::TimeZone& zone) {
  thread_local std::string last_name;
  thread_local absl::TimeZone last_zone;
  if (!last_name.empty() && name == last_name) {
    zone = last_zone;
    return true;
  }
  thread_local absl::flat_hash_map<std::string, absl::TimeZone> zones;
  std::string key(name);
  auto it = zones.find(key);
  if (it == zones.end()) {
    if (!absl::LoadTimeZone(key, &zone)) return false;
    it = zones.emplace(key, zone).first;
  }
  zone = it->second;
  last_name = std::move(key);
  last_zone = zone;
  return true;
}

// The instant a wall-clock time in `zone` names: in a repeated hour the later one, in a
// skipped hour the moment the clocks changed (as Pathway resolves them).
int64_t FromLocal(int64_t naive_nanos, const absl::TimeZone& zone) {
  int64_t secs = FloorDivInt(naive_nanos, kNanosPerSecond);
  int64_t frac = FloorModInt(naive_nanos, kNanosPerSecond);
  absl::CivilSecond civil = absl::CivilSecond(1970, 1, 1, 0, 0, 0) + secs;
  absl::TimeZone::TimeInfo info = zone.At(civil);
  absl::Time t = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.post;
  if (info.kind == absl::TimeZone::TimeInfo::SKIPPED) frac = 0;
  return absl::ToUnixNanos(t) + frac;
}

// The wall-clock time in `zone` of an instant.
int64_t ToLocal(int64_t utc_nanos, const absl::TimeZone& zone) {
  int64_t secs = FloorDivInt(utc_nanos, kNanosPerSecond);
  int64_t frac = FloorModInt(utc_nanos, kNanosPerSecond);
  absl::CivilSecond civil = zone.At(absl::FromUnixSeconds(secs)).cs;
  return (civil - absl::CivilSecond(1970, 1, 1, 0, 0, 0)) * kNanosPerSecond + frac;
}

struct Civil {
  absl::CivilSecond second;
  int64_t nanos;  // within the second
};

Civil CivilOf(int64_t nanos) {
  int64_t secs = FloorDivInt(nanos, kNanosPerSecond);
  return {absl::CivilSecond(1970, 1, 1, 0, 0, 0) + secs, FloorModInt(nanos, kNanosPerSecond)};
}

int64_t NanosOf(const absl::CivilSecond& civil, int64_t nanos) {
  return (civil - absl::CivilSecond(1970, 1, 1, 0, 0, 0)) * kNanosPerSecond + nanos;
}

constexpr std::array<std::string_view, 12> kMonths = {"January", "February", "March",     "April",   "May",      "June",
                                                      "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kWeekdays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

int WeekdayIndex(const absl::CivilSecond& c) {  // Monday = 0
  switch (absl::GetWeekday(absl::CivilDay(c))) {
    case absl::Weekday::monday: return 0;
    case absl::Weekday::tuesday: return 1;
    case absl::Weekday::wednesday: return 2;
    case absl::Weekday::thursday: return 3;
    case absl::Weekday::friday: return 4;
    case absl::Weekday::saturday: return 5;
    case absl::Weekday::sunday: return 6;
  }
  return 0;
}

// One conversion specification after '%': an optional padding flag ('-', '_', '0'), an
// optional '.', an optional digit count, then the conversion (':' + 'z' reads as 'Z'-like
// ':z', returned as conversion ':').
struct Spec {
  char pad = 0;
  bool dot = false;
  int digits = 0;
  char conversion = 0;
};

// Reads the specification starting at format[i] (just after '%'), leaving `i` on its last
// character. False with `error` set when the format ends too early.
bool ReadSpec(std::string_view format, size_t& i, Spec& spec, std::string& error) {
  auto next = [&]() -> bool {
    if (++i >= format.size()) {
      error = "the format ends inside a % specification";
      return false;
    }
    return true;
  };
  if (i >= format.size()) {
    error = "the format ends with a lone %";
    return false;
  }
  char c = format[i];
  if ((c == '-' || c == '_' || c == '0') && i + 1 < format.size()) {
    spec.pad = c;
    if (!next()) return false;
    c = format[i];
  }
  if (c == '.') {
    spec.dot = true;
    if (!next()) return false;
    c = format[i];
  }
  if (c >= '1' && c <= '9') {
    spec.digits = c - '0';
    if (!next()) return false;
    c = format[i];
  }
  if (c == ':' && i + 1 < format.size() && format[i + 1] == 'z') ++i;  // %:z
  spec.conversion = c;
  return true;
}

// Formats with the specifiers Pathway documents (chrono's). Returns false with `error` set on
// an unknown or inapplicable specifier.
bool FormatDateTime(int64_t nanos, bool utc, std::string_view format, std::string& out, std::string& error) {
  Civil c = CivilOf(nanos);
  const absl::CivilSecond& s = c.second;
  char pad = 0;  // a flag after %: '-' no padding, '_' spaces, '0' zeros
  auto num = [&](int64_t v, int width, char fill) {
    char f = pad ? pad : fill;
    if (f == '-') out += fmt::format("{}", v);
    else if (f == '_' || f == ' ') out += fmt::format("{:>{}}", v, width);
    else out += fmt::format("{:0{}}", v, width);
  };
  auto two = [&](int64_t v) { num(v, 2, '0'); };
  for (size_t i = 0; i < format.size(); ++i) {
    char ch = format[i];
    if (ch != '%') {
      out += ch;
      continue;
    }
    Spec parsed;
    ++i;
    if (!ReadSpec(format, i, parsed, error)) return false;
    pad = parsed.pad;
    int digits = parsed.digits;
    bool dot = parsed.dot;
    char spec = parsed.conversion;
    if (spec == ':') {
      if (!utc) {
        error = "%:z needs a datetime with a time zone";
        return false;
      }
      out += "+00:00";
      continue;
    }
    switch (spec) {
      case 'Y': {
        int64_t y = s.year();
        if (y >= 0 && y <= 9999) out += fmt::format("{:04}", y); else out += fmt::format("{:+}", y);
        break;
      }
      case 'C': two(FloorDivInt(s.year(), 100)); break;
      case 'y': two(FloorModInt(s.year(), 100)); break;
      case 'm': two(s.month()); break;
      case 'b': case 'h': out += kMonths[static_cast<size_t>(s.month() - 1)].substr(0, 3); break;
      case 'B': out += kMonths[static_cast<size_t>(s.month() - 1)]; break;
      case 'd': two(s.day()); break;
      case 'e': num(s.day(), 2, ' '); break;
      case 'a': out += kWeekdays[static_cast<size_t>(WeekdayIndex(s))].substr(0, 3); break;
      case 'A': out += kWeekdays[static_cast<size_t>(WeekdayIndex(s))]; break;
      case 'w': out += fmt::format("{}", (WeekdayIndex(s) + 1) % 7); break;
      case 'u': out += fmt::format("{}", WeekdayIndex(s) + 1); break;
      case 'j': num(absl::GetYearDay(absl::CivilDay(s)), 3, '0'); break;
      case 'D': case 'x': out += fmt::format("{:02}/{:02}/{:02}", s.month(), s.day(), FloorModInt(s.year(), 100)); break;
      case 'F': out += fmt::format("{:04}-{:02}-{:02}", s.year(), s.month(), s.day()); break;
      case 'H': two(s.hour()); break;
      case 'k': num(s.hour(), 2, ' '); break;
      case 'I': two((s.hour() + 11) % 12 + 1); break;
      case 'l': num((s.hour() + 11) % 12 + 1, 2, ' '); break;
      case 'p': out += s.hour() < 12 ? "AM" : "PM"; break;
      case 'P': out += s.hour() < 12 ? "am" : "pm"; break;
      case 'M': two(s.minute()); break;
      case 'S': two(s.second()); break;
      case 'R': out += fmt::format("{:02}:{:02}", s.hour(), s.minute()); break;
      case 'T': case 'X': out += fmt::format("{:02}:{:02}:{:02}", s.hour(), s.minute(), s.second()); break;
      case 'r': out += fmt::format("{:02}:{:02}:{:02} {}", (s.hour() + 11) % 12 + 1, s.minute(), s.second(), s.hour() < 12 ? "AM" : "PM"); break;
      case 'c':
        out += fmt::format("{} {} {:>2} {:02}:{:02}:{:02} {}", kWeekdays[static_cast<size_t>(WeekdayIndex(s))].substr(0, 3),
                           kMonths[static_cast<size_t>(s.month() - 1)].substr(0, 3), s.day(), s.hour(), s.minute(), s.second(), s.year());
        break;
      case 's': out += fmt::format("{}", FloorDivInt(nanos, kNanosPerSecond)); break;
      case 'f': {
        std::string f = fmt::format("{:09}", c.nanos);
        if (dot && !digits && c.nanos == 0) break;  // chrono: nothing for a whole second
        if (dot) {
          // chrono: the shortest of 3, 6 or 9 digits that is exact, or as many as asked.
          size_t n = digits ? static_cast<size_t>(digits) : (c.nanos % 1000000 == 0 ? 3 : c.nanos % 1000 == 0 ? 6 : 9);
          out += "." + f.substr(0, n);
        } else {
          out += digits ? f.substr(0, static_cast<size_t>(digits)) : f;
        }
        break;
      }
      case 'z':
        if (!utc) {
          error = "%z needs a datetime with a time zone";
          return false;
        }
        out += "+0000";
        break;
      case 'Z':
        if (!utc) {
          error = "%Z needs a datetime with a time zone";
          return false;
        }
        out += "UTC";
        break;
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case '%': out += '%'; break;
      default:
        error = fmt::format("unknown format specifier %{}", spec);
        return false;
    }
  }
  return true;
}

// Parses with the same specifiers. On success sets `nanos` (the wall-clock time, or the
// instant when the text held an offset) and `has_offset`.
class DateTimeParser {
 public:
  DateTimeParser(std::string_view text, std::string_view format) : text_(text), format_(format) {}

  bool Parse(int64_t& nanos, bool& has_offset, std::string& error) {
    if (!Run(format_, error)) return false;
    if (pos_ != text_.size()) {
      error = fmt::format("unexpected text {:?} after the date", std::string(text_.substr(pos_)));
      return false;
    }
    if (epoch_) {
      nanos = *epoch_ * kNanosPerSecond + fraction_;
      has_offset = true;
      return true;
    }
    int64_t hour = hour_;
    if (hour12_) {
      if (hour < 1 || hour > 12) {
        error = "hour out of range for %I";
        return false;
      }
      hour = hour % 12 + (pm_ ? 12 : 0);
    }
    if (month_ < 1 || month_ > 12 || day_ < 1 || day_ > 31 || hour > 23 || minute_ > 59 || second_ > 60) {
      error = "a date or time field is out of range";
      return false;
    }
    absl::CivilSecond civil(year_, month_, day_, hour, minute_, second_);
    if (civil.day() != day_) {
      error = "the day does not exist in that month";
      return false;
    }
    nanos = NanosOf(civil, fraction_) - offset_seconds_ * kNanosPerSecond;
    has_offset = has_offset_;
    return true;
  }

 private:
  bool Run(std::string_view format, std::string& error) {
    for (size_t i = 0; i < format.size(); ++i) {
      char ch = format[i];
      if (ch == ' ') {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        continue;
      }
      if (ch != '%') {
        if (pos_ >= text_.size() || text_[pos_] != ch) {
          error = fmt::format("expected {:?} at position {}", std::string(1, ch), pos_);
          return false;
        }
        ++pos_;
        continue;
      }
      Spec parsed;
      ++i;
      if (!ReadSpec(format, i, parsed, error)) return false;
      char spec = parsed.conversion == ':' ? 'z' : parsed.conversion;
      bool dot = parsed.dot;
      if (!Field(spec, dot, error)) return false;
    }
    return true;
  }

  bool Number(int max_digits, int64_t& out, std::string& error, bool allow_sign = false) {
    bool negative = false;
    if (allow_sign && pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) {
      negative = text_[pos_] == '-';
      ++pos_;
    }
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() && pos_ - start < static_cast<size_t>(max_digits) &&
           std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      v = v * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == start) {
      error = fmt::format("expected a number at position {}", start);
      return false;
    }
    out = negative ? -v : v;
    return true;
  }

  bool Name(std::span<const std::string_view> names, int64_t& index, std::string& error) {
    for (size_t k = 0; k < names.size(); ++k) {
      for (size_t len : {names[k].size(), size_t{3}}) {
        if (pos_ + len > text_.size()) continue;
        bool same = true;
        for (size_t j = 0; j < len && same; ++j) {
          same = std::tolower(static_cast<unsigned char>(text_[pos_ + j])) == std::tolower(static_cast<unsigned char>(names[k][j]));
        }
        if (same) {
          pos_ += len;
          index = static_cast<int64_t>(k);
          return true;
        }
      }
    }
    error = fmt::format("expected a name at position {}", pos_);
    return false;
  }

  bool Field(char spec, bool dot, std::string& error) {
    int64_t v = 0;
    switch (spec) {
      case 'Y': return Number(9, year_, error, true);
      case 'C': if (!Number(2, v, error)) return false; year_ = v * 100 + FloorModInt(year_, 100); return true;
      case 'y': if (!Number(2, v, error)) return false; year_ = v < 70 ? 2000 + v : 1900 + v; return true;
      case 'm': return Number(2, month_, error);
      case 'b': case 'h': case 'B': if (!Name(kMonths, v, error)) return false; month_ = v + 1; return true;
      case 'd': case 'e':
        while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
        return Number(2, day_, error);
      case 'a': case 'A': return Name(kWeekdays, v, error);
      case 'w': case 'u': return Number(1, v, error);
      case 'j': {
        if (!Number(3, v, error)) return false;
        absl::CivilDay d = absl::CivilDay(year_, 1, 1) + (v - 1);
        month_ = d.month();
        day_ = d.day();
        return true;
      }
      case 'D': case 'x': return Run("%m/%d/%y", error);
      case 'F': return Run("%Y-%m-%d", error);
      case 'H': case 'k':
        while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
        return Number(2, hour_, error);
      case 'I': case 'l':
        while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
        hour12_ = true;
        return Number(2, hour_, error);
      case 'p': case 'P': {
        if (pos_ + 2 > text_.size()) {
          error = "expected AM or PM";
          return false;
        }
        char a = static_cast<char>(std::toupper(static_cast<unsigned char>(text_[pos_])));
        char m = static_cast<char>(std::toupper(static_cast<unsigned char>(text_[pos_ + 1])));
        if ((a != 'A' && a != 'P') || m != 'M') {
          error = "expected AM or PM";
          return false;
        }
        pm_ = a == 'P';
        pos_ += 2;
        return true;
      }
      case 'M': return Number(2, minute_, error);
      case 'S': return Number(2, second_, error);
      case 'R': return Run("%H:%M", error);
      case 'T': case 'X': return Run("%H:%M:%S", error);
      case 'r': return Run("%I:%M:%S %p", error);
      case 's': {
        int64_t secs = 0;
        if (!Number(19, secs, error, true)) return false;
        epoch_ = secs;
        return true;
      }
      case 'f': {
        if (dot) {
          if (pos_ >= text_.size() || text_[pos_] != '.') return true;  // the fraction is optional
          ++pos_;
        }
        size_t start = pos_;
        int64_t f = 0;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
          if (pos_ - start < 9) f = f * 10 + (text_[pos_] - '0');
          ++pos_;
        }
        if (pos_ == start) {
          error = fmt::format("expected fraction digits at position {}", start);
          return false;
        }
        for (size_t n = std::min<size_t>(pos_ - start, 9); n < 9; ++n) f *= 10;
        fraction_ = f;
        return true;
      }
      case 'z': case 'Z': {
        if (pos_ < text_.size() && (text_[pos_] == 'Z' || text_[pos_] == 'z')) {
          ++pos_;
          has_offset_ = true;
          return true;
        }
        if (spec == 'Z' && pos_ + 3 <= text_.size() && text_.substr(pos_, 3) == "UTC") {
          pos_ += 3;
          has_offset_ = true;
          return true;
        }
        if (pos_ >= text_.size() || (text_[pos_] != '+' && text_[pos_] != '-')) {
          error = fmt::format("expected a time zone offset at position {}", pos_);
          return false;
        }
        bool negative = text_[pos_] == '-';
        ++pos_;
        int64_t hh = 0, mm = 0;
        if (!Number(2, hh, error)) return false;
        if (pos_ < text_.size() && text_[pos_] == ':') ++pos_;
        if (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
          if (!Number(2, mm, error)) return false;
        }
        offset_seconds_ = (negative ? -1 : 1) * (hh * 3600 + mm * 60);
        has_offset_ = true;
        return true;
      }
      case '%':
        if (pos_ >= text_.size() || text_[pos_] != '%') {
          error = "expected %";
          return false;
        }
        ++pos_;
        return true;
      case 't': case 'n':
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        return true;
      default:
        error = fmt::format("unknown format specifier %{}", spec);
        return false;
    }
  }

  std::string_view text_;
  std::string_view format_;
  size_t pos_ = 0;
  int64_t year_ = 1970, month_ = 1, day_ = 1, hour_ = 0, minute_ = 0, second_ = 0, fraction_ = 0;
  int64_t offset_seconds_ = 0;
  bool has_offset_ = false;
  bool hour12_ = false;
  bool pm_ = false;
  std::optional<int64_t> epoch_;
};

int64_t FieldOf(int64_t nanos, std::string_view field, bool& ok) {
  ok = true;
  Civil c = CivilOf(nanos);
  if (field == "year") return c.second.year();
  if (field == "month") return c.second.month();
  if (field == "day") return c.second.day();
  if (field == "hour") return c.second.hour();
  if (field == "minute") return c.second.minute();
  if (field == "second") return c.second.second();
  if (field == "millisecond") return c.nanos / 1000000;
  if (field == "microsecond") return c.nanos / 1000;
  if (field == "nanosecond") return c.nanos;
  if (field == "weekday") return WeekdayIndex(c.second);
  ok = false;
  return 0;
}

}  // namespace

Value Evaluator::EvalTime(const Expression& node, const std::vector<Value>& args) {
  switch (node.op) {
    case Op::kWindowStarts: {
      // Windows [origin + k*hop, origin + k*hop + duration) holding `time`; with an explicit
      // origin, windows starting before it do not exist.
      const Value& t = args[0];
      const Value& hop = args[1];
      const Value& duration = args[2];
      const Value& origin = args[3];
      if (t.IsNone()) return Fail(node, "the window time is None");
      bool bounded = !origin.IsNone();
      std::vector<Value> starts;
      if (t.kind() == Kind::kInt || IsDateTime(t.kind())) {
        bool time_like = IsDateTime(t.kind());
        Kind step_kind = time_like ? Kind::kDuration : Kind::kInt;
        if (hop.kind() != step_kind || duration.kind() != step_kind) {
          return Fail(node, fmt::format("window hop and duration must be {} for a time of type {}",
                                        value::ValueKindName(step_kind), value::ValueKindName(t.kind())));
        }
        if (bounded && origin.kind() != t.kind()) {
          return Fail(node, fmt::format("window origin of type {} for a time of type {}",
                                        value::ValueKindName(origin.kind()), value::ValueKindName(t.kind())));
        }
        int64_t x = t.AsInt(), h = hop.AsInt(), d = duration.AsInt();
        int64_t o = bounded ? origin.AsInt() : 0;
        if (h <= 0 || d <= 0) return Fail(node, "window hop and duration must be positive");
        int64_t last = FloorDivInt(x - o, h);
        int64_t first = FloorDivInt(x - o - d, h) + 1;
        if (bounded && first < 0) first = 0;
        for (int64_t k = first; k <= last; ++k) {
          int64_t s = o + k * h;
          if (s <= x && x < s + d) starts.push_back(time_like ? Value::Time(t.kind(), s) : Value::Int(s));
        }
        return Value::Tuple(starts);
      }
      if (t.kind() == Kind::kFloat) {
        auto number = [](const Value& v) { return v.kind() == Kind::kFloat || v.kind() == Kind::kInt; };
        if (!number(hop) || !number(duration) || (bounded && !number(origin))) {
          return Fail(node, "window hop, duration and origin must be numbers for a float time");
        }
        double x = t.AsFloat(), h = hop.AsNumber(), d = duration.AsNumber();
        double o = bounded ? origin.AsNumber() : 0.0;
        if (!(h > 0) || !(d > 0)) return Fail(node, "window hop and duration must be positive");
        if (!std::isfinite(x)) return Fail(node, "the window time is not finite");
        double last = std::floor((x - o) / h);
        double first = std::floor((x - o - d) / h);  // one before: checked below
        if (bounded && first < 0) first = 0;
        for (double k = first; k <= last + 1; ++k) {
          double s = o + k * h;
          if (s <= x && x < s + d) starts.push_back(Value::Float(s));
        }
        return Value::Tuple(starts);
      }
      return Fail(node, fmt::format("cannot assign windows to a time of type {}", value::ValueKindName(t.kind())));
    }
    default:
      break;
  }
  const Value& a = args[0];
  if (a.IsNone()) return Fail(node, fmt::format("cannot apply {} to None", OpName(node.op)));
  auto zone_arg = [&](const Value& v, absl::TimeZone& zone) -> bool {
    return v.kind() == Kind::kString && FindZone(v.text(), zone);
  };
  auto zone_error = [&](const Value& v) {
    return Fail(node, fmt::format("unknown time zone {}", v.kind() == Kind::kString ? std::string(v.text()) : v.ToString()));
  };
  switch (node.op) {
    case Op::kDtField: {
      if (!IsDateTime(a.kind())) break;
      bool ok = false;
      int64_t v = FieldOf(a.AsNanos(), args[1].text(), ok);
      if (!ok) return Fail(node, fmt::format("unknown datetime field {}", args[1].text()));
      return Value::Int(v);
    }
    case Op::kDtTimestamp: {
      if (!IsDateTime(a.kind())) break;
      if (args[1].IsNone()) return Value::Int(a.AsNanos());
      int64_t unit = UnitNanos(args[1].text());
      if (unit == 0 || unit > kNanosPerSecond) return Fail(node, fmt::format("timestamp unit must be s, ms, us or ns, got {}", args[1].text()));
      int64_t whole = FloorDivInt(a.AsNanos(), unit), rest = FloorModInt(a.AsNanos(), unit);
      return Value::Float(static_cast<double>(whole) + static_cast<double>(rest) / static_cast<double>(unit));
    }
    case Op::kDtStrftime: {
      if (!IsDateTime(a.kind()) || args[1].kind() != Kind::kString) break;
      std::string out, error;
      if (!FormatDateTime(a.AsNanos(), a.kind() == Kind::kDateTimeUtc, args[1].text(), out, error)) return Fail(node, error);
      return Value::String(std::move(out));
    }
    case Op::kDtStrptime: {
      if (a.kind() != Kind::kString || args[1].kind() != Kind::kString) break;
      bool want_zone = args[2].AsBool();
      int64_t nanos = 0;
      bool has_offset = false;
      std::string error;
      if (!DateTimeParser(a.text(), args[1].text()).Parse(nanos, has_offset, error)) {
        return Fail(node, fmt::format("cannot parse {:?} with format {:?}: {}", std::string(a.text()), std::string(args[1].text()), error));
      }
      if (want_zone && !has_offset) {
        return Fail(node, fmt::format("cannot parse {:?} with format {:?}: no time zone in the text", std::string(a.text()), std::string(args[1].text())));
      }
      return Value::Time(want_zone ? Kind::kDateTimeUtc : Kind::kDateTimeNaive, nanos);
    }
    case Op::kDtToUtc: {
      if (a.kind() != Kind::kDateTimeNaive) break;
      absl::TimeZone zone;
      if (!zone_arg(args[1], zone)) return zone_error(args[1]);
      return Value::Time(Kind::kDateTimeUtc, FromLocal(a.AsNanos(), zone));
    }
    case Op::kDtToNaive: {
      if (a.kind() != Kind::kDateTimeUtc) break;
      absl::TimeZone zone;
      if (!zone_arg(args[1], zone)) return zone_error(args[1]);
      return Value::Time(Kind::kDateTimeNaive, ToLocal(a.AsNanos(), zone));
    }
    case Op::kDtAddInZone:
    case Op::kDtSubInZone: {
      if (a.kind() != Kind::kDateTimeNaive || args[1].kind() != Kind::kDuration) break;
      absl::TimeZone zone;
      if (!zone_arg(args[2], zone)) return zone_error(args[2]);
      int64_t d = args[1].AsNanos();
      int64_t utc = FromLocal(a.AsNanos(), zone) + (node.op == Op::kDtAddInZone ? d : -d);
      return Value::Time(Kind::kDateTimeNaive, ToLocal(utc, zone));
    }
    case Op::kDtDiffInZone: {
      if (a.kind() != Kind::kDateTimeNaive || args[1].kind() != Kind::kDateTimeNaive) break;
      absl::TimeZone zone;
      if (!zone_arg(args[2], zone)) return zone_error(args[2]);
      return Value::Time(Kind::kDuration, FromLocal(a.AsNanos(), zone) - FromLocal(args[1].AsNanos(), zone));
    }
    case Op::kDtRound:
    case Op::kDtFloor: {
      if ((!IsDateTime(a.kind()) && a.kind() != Kind::kDuration) || args[1].kind() != Kind::kDuration) break;
      int64_t d = args[1].AsNanos();
      if (d <= 0) return Fail(node, "the rounding duration must be positive");
      int64_t x = a.AsNanos();
      int64_t r = node.op == Op::kDtFloor ? FloorDivInt(x, d) * d : FloorDivInt(x + d / 2, d) * d;
      return Value::Time(a.kind(), r);
    }
    case Op::kDtTotal: {
      if (a.kind() != Kind::kDuration) break;
      int64_t unit = UnitNanos(args[1].text());
      if (unit == 0) return Fail(node, fmt::format("unknown duration unit {}", args[1].text()));
      return Value::Int(a.AsNanos() / unit);  // truncated toward zero
    }
    case Op::kDtFromTimestamp:
    case Op::kDtToDuration: {
      if (a.kind() != Kind::kInt && a.kind() != Kind::kFloat) break;
      int64_t unit = UnitNanos(args[1].text());
      if (unit == 0) return Fail(node, fmt::format("unknown unit {}", args[1].text()));
      int64_t nanos = 0;
      if (a.kind() == Kind::kInt) {
        if (__builtin_mul_overflow(a.AsInt(), unit, &nanos)) return Fail(node, "the time is out of range");
      } else {
        double x = a.AsFloat() * static_cast<double>(unit);
        if (!std::isfinite(x) || std::fabs(x) >= 9.2e18) return Fail(node, "the time is out of range");
        nanos = static_cast<int64_t>(std::llround(x));
      }
      if (node.op == Op::kDtToDuration) return Value::Time(Kind::kDuration, nanos);
      return Value::Time(args[2].AsBool() ? Kind::kDateTimeUtc : Kind::kDateTimeNaive, nanos);
    }
    default:
      return Fail(node, fmt::format("operation {} is not a time operation", OpName(node.op)));
  }
  return Fail(node, fmt::format("cannot apply {} to a value of type {}", OpName(node.op), value::ValueKindName(a.kind())));
}

}  // namespace deltaflow::expr
