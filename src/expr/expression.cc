#include "deltaflow/expr/expression.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "simdjson.h"
#include "unicode_case_internal.h"

namespace deltaflow::expr {

using value::RowBuilder;
using value::Tag;
using value::ValueView;
using Kind = value::ValueKind;

namespace {

constexpr std::array<std::pair<Op, std::string_view>, static_cast<size_t>(Op::kCount_)> kOpNames = {{
    {Op::kColumn, "column"},
    {Op::kConst, "const"},
    {Op::kId, "id"},
    {Op::kNeg, "neg"},
    {Op::kNot, "not"},
    {Op::kInvert, "invert"},
    {Op::kAbs, "abs"},
    {Op::kIsNone, "is_none"},
    {Op::kIsNotNone, "is_not_none"},
    {Op::kIsNotError, "is_not_error"},
    {Op::kUnwrap, "unwrap"},
    {Op::kToString, "to_string"},
    {Op::kCastInt, "cast_int"},
    {Op::kCastFloat, "cast_float"},
    {Op::kCastBool, "cast_bool"},
    {Op::kCastStr, "cast_str"},
    {Op::kAsInt, "as_int"},
    {Op::kAsFloat, "as_float"},
    {Op::kAsStr, "as_str"},
    {Op::kAsBool, "as_bool"},
    {Op::kAdd, "add"},
    {Op::kSub, "sub"},
    {Op::kMul, "mul"},
    {Op::kTrueDiv, "truediv"},
    {Op::kFloorDiv, "floordiv"},
    {Op::kMod, "mod"},
    {Op::kPow, "pow"},
    {Op::kAnd, "and"},
    {Op::kOr, "or"},
    {Op::kXor, "xor"},
    {Op::kEq, "eq"},
    {Op::kNe, "ne"},
    {Op::kLt, "lt"},
    {Op::kLe, "le"},
    {Op::kGt, "gt"},
    {Op::kGe, "ge"},
    {Op::kIfElse, "if_else"},
    {Op::kCoalesce, "coalesce"},
    {Op::kRequire, "require"},
    {Op::kFillError, "fill_error"},
    {Op::kMakeTuple, "make_tuple"},
    {Op::kGetItem, "get_item"},
    {Op::kGetOr, "get_or"},
    {Op::kPointerFrom, "pointer_from"},
    {Op::kPointerFromInstance, "pointer_from_instance"},
    {Op::kNumRound, "num.round"},
    {Op::kNumFillNa, "num.fill_na"},
    {Op::kStrLower, "str.lower"},
    {Op::kStrUpper, "str.upper"},
    {Op::kStrReversed, "str.reversed"},
    {Op::kStrLen, "str.len"},
    {Op::kStrSwapcase, "str.swapcase"},
    {Op::kStrTitle, "str.title"},
    {Op::kStrStrip, "str.strip"},
    {Op::kStrLstrip, "str.lstrip"},
    {Op::kStrRstrip, "str.rstrip"},
    {Op::kStrStartswith, "str.startswith"},
    {Op::kStrEndswith, "str.endswith"},
    {Op::kStrCount, "str.count"},
    {Op::kStrFind, "str.find"},
    {Op::kStrRfind, "str.rfind"},
    {Op::kStrReplace, "str.replace"},
    {Op::kStrRemovePrefix, "str.removeprefix"},
    {Op::kStrRemoveSuffix, "str.removesuffix"},
    {Op::kStrSlice, "str.slice"},
    {Op::kStrParseInt, "str.parse_int"},
    {Op::kStrParseFloat, "str.parse_float"},
    {Op::kStrParseBool, "str.parse_bool"},
    {Op::kStrSplit, "str.split"},
    {Op::kStrContains, "str.contains"},
    {Op::kStrJoin, "str.join"},
    {Op::kWindowStarts, "window_starts"},
    {Op::kDtField, "dt.field"},
    {Op::kDtTimestamp, "dt.timestamp"},
    {Op::kDtStrftime, "dt.strftime"},
    {Op::kDtStrptime, "dt.strptime"},
    {Op::kDtToUtc, "dt.to_utc"},
    {Op::kDtToNaive, "dt.to_naive_in_timezone"},
    {Op::kDtAddInZone, "dt.add_duration_in_timezone"},
    {Op::kDtSubInZone, "dt.subtract_duration_in_timezone"},
    {Op::kDtDiffInZone, "dt.subtract_date_time_in_timezone"},
    {Op::kDtRound, "dt.round"},
    {Op::kDtFloor, "dt.floor"},
    {Op::kDtTotal, "dt.total"},
    {Op::kDtFromTimestamp, "dt.from_timestamp"},
    {Op::kDtToDuration, "dt.to_duration"},
}};

bool IsNumber(const Value& v) { return v.kind() == Kind::kInt || v.kind() == Kind::kFloat; }
bool IsText(const Value& v) { return v.kind() == Kind::kString; }
bool IsTime(Kind k) { return k == Kind::kDateTimeNaive || k == Kind::kDateTimeUtc; }

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t FloorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
double FloatFloorMod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// Python's `str` of a string-like value inside a container (repr) vs. top level (text).
void AppendRepr(const Value& v, std::string& out);

void AppendQuoted(std::string_view text, std::string& out) {
  // Strings inside tuples print double-quoted (as Pathway's to_string writes them).
  char quote = '"';
  out += quote;
  for (char c : text) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  out += quote;
}

std::string DurationText(int64_t nanos) {
  // pandas Timedelta's str: "D days HH:MM:SS[.fraction]".
  bool negative = nanos < 0;
  __int128 total = nanos;
  int64_t day_nanos = 86400LL * 1000000000LL;
  int64_t days = static_cast<int64_t>(total / day_nanos);
  int64_t rest = static_cast<int64_t>(total % day_nanos);
  if (rest < 0) {
    rest += day_nanos;
    days -= 1;
  }
  (void)negative;
  int64_t secs = rest / 1000000000LL;
  int64_t frac = rest % 1000000000LL;
  std::string s = fmt::format("{} days {:02}:{:02}:{:02}", days, secs / 3600, (secs / 60) % 60, secs % 60);
  if (frac != 0) {
    std::string f = fmt::format("{:09}", frac);
    while (f.back() == '0') f.pop_back();
    s += "." + f;
  }
  return s;
}

// pandas Timestamp's str: "YYYY-MM-DD HH:MM:SS", a fraction of 6 to 9 digits when there is
// one, "+00:00" for UTC.
std::string DateTimeText(int64_t nanos, bool utc) {
  absl::Time t = absl::FromUnixNanos(nanos);
  std::string s = absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::UTCTimeZone());
  if (int64_t frac = FloorMod(nanos, 1000000000LL); frac != 0) {
    std::string f = fmt::format("{:09}", frac);
    while (f.size() > 6 && f.back() == '0') f.pop_back();
    s += "." + f;
  }
  if (utc) s += "+00:00";
  return s;
}

void AppendText(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Kind::kNull:
      out += "None";
      return;
    case Kind::kBool:
      out += v.AsBool() ? "True" : "False";
      return;
    case Kind::kInt:
      out += fmt::format("{}", v.AsInt());
      return;
    case Kind::kFloat:
      out += value::FloatRepr(v.AsFloat());
      return;
    case Kind::kKey:
      out += v.AsKey().ToString();
      return;
    case Kind::kString:
    case Kind::kJson:
      out += v.text();
      return;
    case Kind::kBytes: {
      out += "b";
      AppendQuoted(v.text(), out);
      return;
    }
    case Kind::kTuple: {
      auto items = v.TupleItems();
      out += '(';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        AppendRepr(items[i], out);
      }
      out += ')';  // as Pathway writes tuples: "(1)" for one item
      return;
    }
    case Kind::kDateTimeNaive:
      out += DateTimeText(v.AsNanos(), false);
      return;
    case Kind::kDateTimeUtc:
      out += DateTimeText(v.AsNanos(), true);
      return;
    case Kind::kDuration:
      out += DurationText(v.AsNanos());
      return;
    case Kind::kError:
      out += "Error";
      return;
    default:
      out += v.encoded().DebugString();
      return;
  }
}

void AppendRepr(const Value& v, std::string& out) {
  if (v.kind() == Kind::kString) {
    AppendQuoted(v.text(), out);
  } else {
    AppendText(v, out);
  }
}

std::string_view StripChars(std::string_view s, std::string_view chars, bool left, bool right) {
  auto is_strip = [&](char c) {
    if (chars.data() == nullptr) return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    return chars.find(c) != std::string_view::npos;
  };
  size_t b = 0, e = s.size();
  if (left) while (b < e && is_strip(s[b])) ++b;
  if (right) while (e > b && is_strip(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Number of code points in UTF-8 text.
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Byte offset of code point `index` (clamped to the end).
size_t ByteOffsetOf(std::string_view s, int64_t index) {
  size_t cp = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (static_cast<int64_t>(cp) == index) return i;
      ++cp;
    }
  }
  return s.size();
}

// Python slice bounds over `length` items.
void SliceBounds(int64_t length, const Value& start, const Value& end, int64_t& b, int64_t& e) {
  b = start.IsNone() ? 0 : start.AsInt();
  e = end.IsNone() ? length : end.AsInt();
  if (b < 0) b = std::max<int64_t>(0, b + length);
  if (e < 0) e = std::max<int64_t>(0, e + length);
  b = std::min(b, length);
  e = std::min(e, length);
}

// Python's int(text) / float(text) for plain decimal text, surrounding whitespace allowed.
bool ParseIntText(std::string_view text, int64_t& out) {
  std::string_view t = StripChars(text, {}, true, true);
  const char* begin = t.data() + (!t.empty() && t[0] == '+');
  auto [p, ec] = std::from_chars(begin, t.data() + t.size(), out);
  return !t.empty() && ec == std::errc() && p == t.data() + t.size();
}

bool ParseFloatText(std::string_view text, double& out) {
  std::string t(StripChars(text, {}, true, true));
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return !t.empty() && end == t.c_str() + t.size();
}

}  // namespace

bool JsonArrayItems(std::string_view json_text, std::vector<std::string>& items) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json_text);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::array array;
  if (doc.get_array().get(array) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element child : array) items.push_back(simdjson::minify(child));
  return true;
}

namespace {

bool ParseJsonPath(std::string_view json_text, const Value& index, std::string& out, bool& found) {
  // Returns false on a bad document; `found` says whether the member/element exists.
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json_text);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::element child;
  found = false;
  if (index.kind() == Kind::kString) {
    simdjson::dom::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) return true;
    if (object.at_key(index.text()).get(child) != simdjson::SUCCESS) return true;
  } else if (index.kind() == Kind::kInt) {
    simdjson::dom::array array;
    if (doc.get_array().get(array) != simdjson::SUCCESS) return true;
    int64_t i = index.AsInt();
    int64_t n = static_cast<int64_t>(array.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return true;
    if (array.at(static_cast<size_t>(i)).get(child) != simdjson::SUCCESS) return true;
  } else {
    return true;
  }
  found = true;
  out = simdjson::minify(child);
  return true;
}

}  // namespace

std::string_view OpName(Op op) {
  return kOpNames[static_cast<size_t>(op)].second;
}

absl::StatusOr<Op> ParseOp(std::string_view name) {
  for (const auto& [op, op_name] : kOpNames) {
    if (op_name == name) return op;
  }
  return absl::InvalidArgumentError(fmt::format("unknown expression operation '{}'", name));
}

Expression Expression::Column(int32_t index, std::string text) {
  Expression e;
  e.op = Op::kColumn;
  e.index = index;
  e.text = std::move(text);
  return e;
}

Expression Expression::Constant(value::Row row, std::string text) {
  Expression e;
  e.op = Op::kConst;
  e.constant = std::move(row);
  e.text = std::move(text);
  return e;
}

Expression Expression::Call(Op op, std::vector<Expression> args, std::string text) {
  Expression e;
  e.op = op;
  e.args = std::move(args);
  e.text = std::move(text);
  return e;
}

// --- Value -------------------------------------------------------------------------------

Value& Value::operator=(const Value& other) {
  if (this == &other) return *this;
  kind_ = other.kind_;
  int_ = other.int_;
  float_ = other.float_;
  key_ = other.key_;
  owns_ = other.owns_;
  if (owns_) {
    owned_ = other.owned_;
    view_ = owned_;
  } else {
    view_ = other.view_;
  }
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this == &other) return *this;
  kind_ = other.kind_;
  int_ = other.int_;
  float_ = other.float_;
  key_ = other.key_;
  owns_ = other.owns_;
  if (owns_) {
    owned_ = std::move(other.owned_);
    view_ = owned_;
  } else {
    view_ = other.view_;
  }
  return *this;
}

Value Value::Owned(Kind kind, std::string text) {
  Value v;
  v.kind_ = kind;
  v.owned_ = std::move(text);
  v.owns_ = true;
  v.view_ = v.owned_;
  return v;
}

Value Value::Encoded(ValueView view) {
  Value v;
  v.kind_ = view.kind();
  auto bytes = view.encoded();
  v.view_ = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return v;
}

Value Value::Tuple(const std::vector<Value>& items) {
  RowBuilder builder;
  builder.BeginTuple();
  for (const Value& item : items) item.WriteTo(builder);
  builder.EndTuple();
  value::Row row = builder.Finish();
  auto bytes = row.bytes().subspan(1);
  Value v;
  v.kind_ = Kind::kTuple;
  v.owns_ = true;
  v.owned_.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  v.view_ = v.owned_;
  return v;
}

Value Value::FromView(ValueView view) {
  switch (view.kind()) {
    case Kind::kNull:
      return None();
    case Kind::kBool:
      return Bool(view.AsBool());
    case Kind::kInt:
      return Int(view.AsInt());
    case Kind::kFloat:
      return Float(view.AsFloat());
    case Kind::kKey:
      return Pointer(view.AsKey());
    case Kind::kString:
      return Borrowed(Kind::kString, view.AsString());
    case Kind::kBytes: {
      auto b = view.AsBytes();
      return Borrowed(Kind::kBytes, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    }
    case Kind::kJson:
      return Borrowed(Kind::kJson, view.AsJson());
    case Kind::kDateTimeNaive:
    case Kind::kDateTimeUtc:
    case Kind::kDuration:
      return Time(view.kind(), view.AsNanos());
    case Kind::kError:
      return Error();
    default:
      return Encoded(view);
  }
}

std::vector<Value> Value::TupleItems() const {
  std::vector<Value> items;
  for (ValueView item : encoded().AsTuple()) items.push_back(FromView(item));
  return items;
}

void Value::WriteTo(RowBuilder& builder) const {
  switch (kind_) {
    case Kind::kNull:
      builder.Null();
      return;
    case Kind::kBool:
      builder.Bool(AsBool());
      return;
    case Kind::kInt:
      builder.Int(int_);
      return;
    case Kind::kFloat:
      builder.Float(float_);
      return;
    case Kind::kKey:
      builder.Pointer(key_);
      return;
    case Kind::kString:
      builder.String(view_);
      return;
    case Kind::kBytes:
      builder.Bytes({reinterpret_cast<const uint8_t*>(view_.data()), view_.size()});
      return;
    case Kind::kJson:
      builder.CanonicalJsonText(view_);
      return;
    case Kind::kDateTimeNaive:
      builder.DateTimeNaive(int_);
      return;
    case Kind::kDateTimeUtc:
      builder.DateTimeUtc(int_);
      return;
    case Kind::kDuration:
      builder.Duration(int_);
      return;
    case Kind::kError:
      builder.Error();
      return;
    default:
      builder.Value(encoded());
      return;
  }
}

std::string Value::ToString() const {
  std::string out;
  AppendText(*this, out);
  return out;
}

int CompareValues(const Value& a, const Value& b) {
  if (IsNumber(a) && IsNumber(b)) {
    if (a.kind() == Kind::kInt && b.kind() == Kind::kInt) {
      return a.AsInt() < b.AsInt() ? -1 : (a.AsInt() > b.AsInt() ? 1 : 0);
    }
    double x = a.AsNumber(), y = b.AsNumber();
    if (std::isnan(x) || std::isnan(y)) return std::isnan(x) ? (std::isnan(y) ? 0 : 1) : -1;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.kind() != b.kind()) return a.kind() < b.kind() ? -1 : 1;
  switch (a.kind()) {
    case Kind::kNull:
    case Kind::kError:
      return 0;
    case Kind::kBool:
    case Kind::kDateTimeNaive:
    case Kind::kDateTimeUtc:
    case Kind::kDuration:
      return a.AsInt() < b.AsInt() ? -1 : (a.AsInt() > b.AsInt() ? 1 : 0);
    case Kind::kKey:
      return a.AsKey() < b.AsKey() ? -1 : (b.AsKey() < a.AsKey() ? 1 : 0);
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kJson: {
      int c = a.text().compare(b.text());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Kind::kTuple: {
      auto x = a.TupleItems(), y = b.TupleItems();
      for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
        int c = CompareValues(x[i], y[i]);
        if (c != 0) return c;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    default:
      return value::CompareValues(a.encoded(), b.encoded());
  }
}

value::Key IdFromValues(const std::vector<Value>& values) {
  RowBuilder builder;
  for (const Value& v : values) v.WriteTo(builder);
  value::Row row = builder.Finish();
  return value::IdFromValues(row.values());
}

// --- Evaluator ---------------------------------------------------------------------------

Value Evaluator::Fail(const Expression& node, std::string reason) {
  if (error_.empty()) {
    error_ = std::move(reason);
    error_expression_ = node.text.empty() ? std::string(OpName(node.op)) : node.text;
  }
  return Value::Error();
}

Value Evaluator::Eval(const Expression& node, const RowInput& input) {
  switch (node.op) {
    case Op::kColumn:
      return Value::FromView(input.row[static_cast<size_t>(node.index)]);
    case Op::kConst:
      return Value::FromView(node.constant[0]);
    case Op::kId:
      return Value::Pointer(input.id);
    case Op::kIfElse: {
      Value c = Eval(node.args[0], input);
      if (c.IsError()) return c;
      if (c.IsNone()) return Fail(node, "if_else condition is None");
      return Eval(node.args[c.AsBool() ? 1 : 2], input);
    }
    case Op::kCoalesce: {
      for (const Expression& arg : node.args) {
        Value v = Eval(arg, input);
        if (!v.IsNone()) return v;
      }
      return Value::None();
    }
    case Op::kRequire: {
      for (size_t i = 1; i < node.args.size(); ++i) {
        Value v = Eval(node.args[i], input);
        if (v.IsNone()) return Value::None();
        if (v.IsError()) return v;
      }
      return Eval(node.args[0], input);
    }
    case Op::kIsNotError: {
      Value v = Eval(node.args[0], input);
      if (v.IsError()) {
        ClearError();
        return Value::Bool(false);
      }
      return Value::Bool(true);
    }
    case Op::kFillError: {
      Value v = Eval(node.args[0], input);
      if (!v.IsError()) return v;
      // The replaced error is not a failure of this row: forget its reason.
      ClearError();
      return Eval(node.args[1], input);
    }
    case Op::kMakeTuple: {
      std::vector<Value> items;
      items.reserve(node.args.size());
      for (const Expression& arg : node.args) {
        items.push_back(Eval(arg, input));
        if (items.back().IsError()) return items.back();
      }
      return Value::Tuple(items);
    }
    case Op::kPointerFrom:
    case Op::kPointerFromInstance: {
      std::vector<Value> items;
      items.reserve(node.args.size());
      for (const Expression& arg : node.args) {
        items.push_back(Eval(arg, input));
        if (items.back().IsError()) return items.back();
      }
      value::Key id = IdFromValues(items);
      // With an instance (the last argument), the id lives on the instance's shard.
      if (node.op == Op::kPointerFromInstance) id = value::WithShard(id, IdFromValues({items.back()}));
      return Value::Pointer(id);
    }
    case Op::kGetItem:
    case Op::kGetOr: {
      Value container = Eval(node.args[0], input);
      if (container.IsError()) return container;
      Value index = Eval(node.args[1], input);
      if (index.IsError()) return index;
      bool with_default = node.op == Op::kGetOr;
      if (container.IsNone()) {
        if (with_default) return Eval(node.args[2], input);
        return Fail(node, "cannot index None");
      }
      if (container.kind() == Kind::kTuple) {
        if (index.kind() != Kind::kInt) return Fail(node, "tuple index must be an int");
        auto items = container.TupleItems();
        int64_t i = index.AsInt();
        int64_t n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) {
          if (with_default) return Eval(node.args[2], input);
          return Fail(node, fmt::format("index {} out of range for a tuple of {}", index.AsInt(), n));
        }
        // Items borrow from `container`, which dies here: own the result's bytes.
        Value item = items[static_cast<size_t>(i)];
        if (item.kind() == Kind::kString || item.kind() == Kind::kBytes || item.kind() == Kind::kJson) {
          return Value::Owned(item.kind(), std::string(item.text()));
        }
        if (item.kind() == Kind::kTuple || item.kind() == Kind::kIntArray ||
            item.kind() == Kind::kFloatArray || item.kind() == Kind::kObject) {
          auto bytes = item.encoded().encoded();
          Value owned = Value::Owned(item.kind(), std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
          return owned;
        }
        return item;
      }
      if (container.kind() == Kind::kJson) {
        std::string out;
        bool found = false;
        if (!ParseJsonPath(container.text(), index, out, found)) return Fail(node, "invalid Json");
        if (!found) {
          if (with_default) return Eval(node.args[2], input);
          return Fail(node, fmt::format("Json value has no member {}", index.ToString()));
        }
        return Value::Owned(Kind::kJson, std::move(out));
      }
      if (container.kind() == Kind::kString && index.kind() == Kind::kInt) {
        std::string_view s = container.text();
        int64_t n = static_cast<int64_t>(CodePoints(s));
        int64_t i = index.AsInt();
        if (i < 0) i += n;
        if (i < 0 || i >= n) {
          if (with_default) return Eval(node.args[2], input);
          return Fail(node, "string index out of range");
        }
        size_t b = ByteOffsetOf(s, i), e = ByteOffsetOf(s, i + 1);
        return Value::String(std::string(s.substr(b, e - b)));
      }
      return Fail(node, fmt::format("cannot index a value of type {}", value::ValueKindName(container.kind())));
    }
    default:
      break;
  }
  if (node.op >= Op::kStrLower || node.op == Op::kNumRound || node.op == Op::kNumFillNa) {
    std::vector<Value> args;
    args.reserve(node.args.size());
    for (const Expression& arg : node.args) {
      args.push_back(Eval(arg, input));
      if (args.back().IsError()) return args.back();
    }
    return EvalStr(node, args);
  }
  if (node.args.size() == 1) {
    Value a = Eval(node.args[0], input);
    if (a.IsError()) return a;
    return EvalUnary(node, a);
  }
  if (node.args.size() == 2) {
    Value a = Eval(node.args[0], input);
    if (a.IsError()) return a;
    // Short-circuit logic on bools, as Python's `and`/`or` would not evaluate the right side.
    Value b = Eval(node.args[1], input);
    if (b.IsError()) return b;
    return EvalBinary(node, a, b);
  }
  return Fail(node, fmt::format("operation {} with {} arguments", OpName(node.op), node.args.size()));
}

Value Evaluator::EvalUnary(const Expression& node, const Value& a) {
  switch (node.op) {
    case Op::kIsNone:
      return Value::Bool(a.IsNone());
    case Op::kIsNotNone:
      return Value::Bool(!a.IsNone());
    case Op::kUnwrap:
      if (a.IsNone()) return Fail(node, "cannot unwrap: value is None");
      return a;
    case Op::kToString:
      return Value::String(a.ToString());
    default:
      break;
  }
  if (a.IsNone()) {
    if (node.op == Op::kAsInt || node.op == Op::kAsFloat || node.op == Op::kAsStr || node.op == Op::kAsBool ||
        node.op == Op::kCastInt || node.op == Op::kCastFloat || node.op == Op::kCastBool || node.op == Op::kCastStr) {
      return Value::None();
    }
    return Fail(node, fmt::format("cannot apply {} to None", OpName(node.op)));
  }
  switch (node.op) {
    case Op::kNeg:
      if (a.kind() == Kind::kInt) {
        if (a.AsInt() == std::numeric_limits<int64_t>::min()) return Fail(node, "integer overflow");
        return Value::Int(-a.AsInt());
      }
      if (a.kind() == Kind::kFloat) return Value::Float(-a.AsFloat());
      if (a.kind() == Kind::kDuration) return Value::Time(Kind::kDuration, -a.AsNanos());
      break;
    case Op::kNot:
      if (a.kind() == Kind::kBool) return Value::Bool(!a.AsBool());
      break;
    case Op::kInvert:
      if (a.kind() == Kind::kBool) return Value::Bool(!a.AsBool());
      if (a.kind() == Kind::kInt) return Value::Int(~a.AsInt());
      break;
    case Op::kAbs:
      if (a.kind() == Kind::kInt) {
        if (a.AsInt() == std::numeric_limits<int64_t>::min()) return Fail(node, "integer overflow");
        return Value::Int(a.AsInt() < 0 ? -a.AsInt() : a.AsInt());
      }
      if (a.kind() == Kind::kFloat) return Value::Float(std::fabs(a.AsFloat()));
      if (a.kind() == Kind::kDuration) return Value::Time(Kind::kDuration, a.AsNanos() < 0 ? -a.AsNanos() : a.AsNanos());
      break;
    case Op::kCastInt:
      switch (a.kind()) {
        case Kind::kInt:
          return a;
        case Kind::kBool:
          return Value::Int(a.AsBool() ? 1 : 0);
        case Kind::kFloat: {
          double f = a.AsFloat();
          if (!std::isfinite(f) || f >= 9.2233720368547758e18 || f < -9.2233720368547758e18) {
            return Fail(node, fmt::format("cannot cast {} to int", value::FloatRepr(f)));
          }
          return Value::Int(static_cast<int64_t>(f));
        }
        case Kind::kString: {
          int64_t out = 0;
          if (!ParseIntText(a.text(), out)) return Fail(node, fmt::format("cannot cast '{}' to int", a.text()));
          return Value::Int(out);
        }
        default:
          break;
      }
      break;
    case Op::kCastFloat:
      switch (a.kind()) {
        case Kind::kFloat:
          return a;
        case Kind::kInt:
          return Value::Float(static_cast<double>(a.AsInt()));
        case Kind::kBool:
          return Value::Float(a.AsBool() ? 1.0 : 0.0);
        case Kind::kString: {
          double f = 0;
          if (!ParseFloatText(a.text(), f)) return Fail(node, fmt::format("cannot cast '{}' to float", a.text()));
          return Value::Float(f);
        }
        default:
          break;
      }
      break;
    case Op::kCastBool:
      switch (a.kind()) {
        case Kind::kBool:
          return a;
        case Kind::kInt:
          return Value::Bool(a.AsInt() != 0);
        case Kind::kFloat:
          return Value::Bool(a.AsFloat() != 0);
        case Kind::kString:
          return Value::Bool(!a.text().empty());
        default:
          break;
      }
      break;
    case Op::kCastStr:
      // An integral float casts without its fraction ("1"), as Pathway casts.
      if (a.kind() == Kind::kFloat && std::isfinite(a.AsFloat()) && a.AsFloat() == std::trunc(a.AsFloat()) &&
          std::fabs(a.AsFloat()) < 1e16) {
        return Value::String(fmt::format("{}", static_cast<int64_t>(a.AsFloat())));
      }
      return Value::String(a.ToString());
    case Op::kAsInt:
    case Op::kAsFloat:
    case Op::kAsStr:
    case Op::kAsBool: {
      if (a.kind() != Kind::kJson) break;
      simdjson::dom::parser parser;
      simdjson::padded_string padded(a.text());
      simdjson::dom::element doc;
      if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return Fail(node, "invalid Json");
      if (doc.is_null()) return Value::None();
      if (node.op == Op::kAsInt) {
        int64_t i = 0;
        if (doc.get_int64().get(i) == simdjson::SUCCESS) return Value::Int(i);
        return Fail(node, fmt::format("cannot convert Json {} to int", a.text()));
      }
      if (node.op == Op::kAsFloat) {
        double f = 0;
        if (doc.get_double().get(f) == simdjson::SUCCESS) return Value::Float(f);
        int64_t i = 0;
        if (doc.get_int64().get(i) == simdjson::SUCCESS) return Value::Float(static_cast<double>(i));
        return Fail(node, fmt::format("cannot convert Json {} to float", a.text()));
      }
      if (node.op == Op::kAsStr) {
        std::string_view s;
        if (doc.get_string().get(s) == simdjson::SUCCESS) return Value::String(std::string(s));
        return Fail(node, fmt::format("cannot convert Json {} to str", a.text()));
      }
      bool b = false;
      if (doc.get_bool().get(b) == simdjson::SUCCESS) return Value::Bool(b);
      return Fail(node, fmt::format("cannot convert Json {} to bool", a.text()));
    }
    default:
      break;
  }
  return Fail(node, fmt::format("cannot apply {} to a value of type {}", OpName(node.op), value::ValueKindName(a.kind())));
}

Value Evaluator::EvalBinary(const Expression& node, const Value& a, const Value& b) {
  Op op = node.op;
  switch (op) {
    case Op::kEq:
      return Value::Bool(CompareValues(a, b) == 0 && (a.kind() == b.kind() || (IsNumber(a) && IsNumber(b))));
    case Op::kNe:
      return Value::Bool(!(CompareValues(a, b) == 0 && (a.kind() == b.kind() || (IsNumber(a) && IsNumber(b)))));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      if (a.IsNone() || b.IsNone()) return Fail(node, "cannot order None");
      int c = CompareValues(a, b);
      if (IsNumber(a) && IsNumber(b) && (std::isnan(a.AsNumber()) || std::isnan(b.AsNumber()))) {
        return Value::Bool(false);
      }
      return Value::Bool(op == Op::kLt ? c < 0 : op == Op::kLe ? c <= 0 : op == Op::kGt ? c > 0 : c >= 0);
    }
    default:
      break;
  }
  if (a.IsNone() || b.IsNone()) {
    return Fail(node, fmt::format("cannot apply {} to None", OpName(op)));
  }
  if (a.kind() == Kind::kBool && b.kind() == Kind::kBool) {
    bool x = a.AsBool(), y = b.AsBool();
    if (op == Op::kAnd) return Value::Bool(x && y);
    if (op == Op::kOr) return Value::Bool(x || y);
    if (op == Op::kXor) return Value::Bool(x != y);
  }
  if (a.kind() == Kind::kInt && b.kind() == Kind::kInt) {
    int64_t x = a.AsInt(), y = b.AsInt(), r = 0;
    switch (op) {
      case Op::kAdd:
        if (__builtin_add_overflow(x, y, &r)) return Fail(node, "integer overflow");
        return Value::Int(r);
      case Op::kSub:
        if (__builtin_sub_overflow(x, y, &r)) return Fail(node, "integer overflow");
        return Value::Int(r);
      case Op::kMul:
        if (__builtin_mul_overflow(x, y, &r)) return Fail(node, "integer overflow");
        return Value::Int(r);
      case Op::kTrueDiv:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Float(static_cast<double>(x) / static_cast<double>(y));
      case Op::kFloorDiv:
        if (y == 0) return Fail(node, "division by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return Fail(node, "integer overflow");
        return Value::Int(FloorDiv(x, y));
      case Op::kMod:
        if (y == 0) return Fail(node, "division by zero");
        if (y == -1) return Value::Int(0);
        return Value::Int(FloorMod(x, y));
      case Op::kPow: {
        if (y < 0) {
          if (x == 1) return Value::Int(1);
          if (x == -1) return Value::Int(y % 2 == 0 ? 1 : -1);
          if (x == 0) return Fail(node, "division by zero");
          return Fail(node, "integer power with a negative exponent (cast the base to float)");
        }
        int64_t result = 1, base = x;
        uint64_t e = static_cast<uint64_t>(y);
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(result, base, &result)) return Fail(node, "integer overflow");
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) return Fail(node, "integer overflow");
        }
        return Value::Int(result);
      }
      case Op::kAnd:
        return Value::Int(x & y);
      case Op::kOr:
        return Value::Int(x | y);
      case Op::kXor:
        return Value::Int(x ^ y);
      default:
        break;
    }
  }
  if (IsNumber(a) && IsNumber(b)) {
    double x = a.AsNumber(), y = b.AsNumber();
    switch (op) {
      case Op::kAdd:
        return Value::Float(x + y);
      case Op::kSub:
        return Value::Float(x - y);
      case Op::kMul:
        return Value::Float(x * y);
      case Op::kTrueDiv:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Float(x / y);
      case Op::kFloorDiv:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Float(std::floor(x / y));
      case Op::kMod:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Float(FloatFloorMod(x, y));
      case Op::kPow:
        if (x == 0 && y < 0) return Fail(node, "division by zero");
        return Value::Float(std::pow(x, y));
      default:
        break;
    }
  }
  if (IsText(a) && IsText(b) && op == Op::kAdd) {
    std::string s;
    s.reserve(a.text().size() + b.text().size());
    s.append(a.text()).append(b.text());
    return Value::String(std::move(s));
  }
  if (a.kind() == Kind::kBytes && b.kind() == Kind::kBytes && op == Op::kAdd) {
    return Value::Owned(Kind::kBytes, std::string(a.text()) + std::string(b.text()));
  }
  if (op == Op::kMul && ((IsText(a) && b.kind() == Kind::kInt) || (a.kind() == Kind::kInt && IsText(b)))) {
    const Value& s = IsText(a) ? a : b;
    int64_t n = IsText(a) ? b.AsInt() : a.AsInt();
    std::string out;
    for (int64_t i = 0; i < n; ++i) out.append(s.text());
    return Value::String(std::move(out));
  }
  if (a.kind() == Kind::kTuple && b.kind() == Kind::kTuple && op == Op::kAdd) {
    auto x = a.TupleItems();
    auto y = b.TupleItems();
    x.insert(x.end(), y.begin(), y.end());
    return Value::Tuple(x);
  }
  // Dates and durations.
  Kind ka = a.kind(), kb = b.kind();
  if (IsTime(ka) && ka == kb && op == Op::kSub) return Value::Time(Kind::kDuration, a.AsNanos() - b.AsNanos());
  if (IsTime(ka) && kb == Kind::kDuration && (op == Op::kAdd || op == Op::kSub)) {
    return Value::Time(ka, op == Op::kAdd ? a.AsNanos() + b.AsNanos() : a.AsNanos() - b.AsNanos());
  }
  if (ka == Kind::kDuration && IsTime(kb) && op == Op::kAdd) return Value::Time(kb, a.AsNanos() + b.AsNanos());
  if (ka == Kind::kDuration && kb == Kind::kDuration) {
    int64_t x = a.AsNanos(), y = b.AsNanos();
    switch (op) {
      case Op::kAdd:
        return Value::Time(Kind::kDuration, x + y);
      case Op::kSub:
        return Value::Time(Kind::kDuration, x - y);
      case Op::kTrueDiv:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Float(static_cast<double>(x) / static_cast<double>(y));
      case Op::kFloorDiv:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Int(FloorDiv(x, y));
      case Op::kMod:
        if (y == 0) return Fail(node, "division by zero");
        return Value::Time(Kind::kDuration, FloorMod(x, y));
      default:
        break;
    }
  }
  if (ka == Kind::kDuration && kb == Kind::kInt) {
    int64_t x = a.AsNanos(), y = b.AsInt();
    if (op == Op::kMul) return Value::Time(Kind::kDuration, x * y);
    if (op == Op::kFloorDiv) {
      if (y == 0) return Fail(node, "division by zero");
      return Value::Time(Kind::kDuration, FloorDiv(x, y));
    }
    if (op == Op::kTrueDiv) {
      if (y == 0) return Fail(node, "division by zero");
      return Value::Time(Kind::kDuration, static_cast<int64_t>(std::llround(static_cast<double>(x) / static_cast<double>(y))));
    }
  }
  if (ka == Kind::kInt && kb == Kind::kDuration && op == Op::kMul) {
    return Value::Time(Kind::kDuration, a.AsInt() * b.AsNanos());
  }
  if (ka == Kind::kDuration && kb == Kind::kFloat && (op == Op::kMul || op == Op::kTrueDiv)) {
    double f = b.AsFloat();
    if (op == Op::kTrueDiv && f == 0) return Fail(node, "division by zero");
    double r = op == Op::kMul ? static_cast<double>(a.AsNanos()) * f : static_cast<double>(a.AsNanos()) / f;
    return Value::Time(Kind::kDuration, static_cast<int64_t>(std::llround(r)));
  }
  return Fail(node, fmt::format("unsupported operand types for {}: {} and {}", OpName(op),
                                value::ValueKindName(ka), value::ValueKindName(kb)));
}

Value Evaluator::EvalStr(const Expression& node, const std::vector<Value>& args) {
  if (node.op >= Op::kWindowStarts) return EvalTime(node, args);
  const Value& a = args[0];
  if (node.op == Op::kNumFillNa) {
    if (a.IsNone()) return args[1];
    if (a.kind() == Kind::kFloat && std::isnan(a.AsFloat())) return args[1];
    return a;
  }
  if (a.IsNone()) {
    return Fail(node, fmt::format("cannot apply {} to None", OpName(node.op)));
  }
  if (node.op == Op::kNumRound) {
    int64_t decimals = args.size() > 1 && !args[1].IsNone() ? args[1].AsInt() : 0;
    if (a.kind() == Kind::kInt) {
      if (decimals >= 0) return a;
      int64_t p = 1;
      for (int64_t i = 0; i < -decimals && p < 1000000000000000000LL; ++i) p *= 10;
      int64_t x = a.AsInt();
      int64_t q = FloorDiv(x, p), r = FloorMod(x, p);
      // Round half to even, as Python does.
      if (2 * r > p || (2 * r == p && (q % 2 != 0))) ++q;
      return Value::Int(q * p);
    }
    if (a.kind() == Kind::kFloat) {
      double scale = std::pow(10.0, static_cast<double>(decimals));
      double x = a.AsFloat() * scale;
      double r = std::nearbyint(x);  // default rounding mode: half to even
      return Value::Float(r / scale);
    }
    return Fail(node, "round needs a number");
  }
  if (node.op == Op::kStrJoin) {
    if (args[1].kind() != Kind::kTuple) return Fail(node, "join needs a tuple");
    std::string out;
    auto items = args[1].TupleItems();
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out.append(a.text());
      out.append(items[i].text());
    }
    return Value::String(std::move(out));
  }
  if (a.kind() != Kind::kString) {
    return Fail(node, fmt::format("{} needs a str, got {}", OpName(node.op), value::ValueKindName(a.kind())));
  }
  std::string_view s = a.text();
  auto arg_text = [&](size_t i) -> std::string_view {
    return i < args.size() && args[i].kind() == Kind::kString ? args[i].text() : std::string_view();
  };
  switch (node.op) {
    case Op::kStrLower:
      return Value::String(unicode_case::Lower(s));
    case Op::kStrUpper:
      return Value::String(unicode_case::Upper(s));
    case Op::kStrSwapcase:
      return Value::String(unicode_case::Swapcase(s));
    case Op::kStrTitle:
      return Value::String(unicode_case::Title(s));
    case Op::kStrReversed: {
      // Reverse by code point so multi-byte characters stay intact.
      std::string out;
      out.reserve(s.size());
      size_t end = s.size();
      while (end > 0) {
        size_t begin = end - 1;
        while (begin > 0 && (static_cast<unsigned char>(s[begin]) & 0xC0) == 0x80) --begin;
        out.append(s.substr(begin, end - begin));
        end = begin;
      }
      return Value::String(std::move(out));
    }
    case Op::kStrLen:
      return Value::Int(static_cast<int64_t>(CodePoints(s)));
    case Op::kStrStrip:
    case Op::kStrLstrip:
    case Op::kStrRstrip: {
      std::string_view chars = args.size() > 1 && !args[1].IsNone() ? args[1].text() : std::string_view();
      if (args.size() > 1 && !args[1].IsNone() && chars.data() == nullptr) chars = std::string_view("", 0);
      std::string_view r = StripChars(s, chars, node.op != Op::kStrRstrip, node.op != Op::kStrLstrip);
      return Value::String(std::string(r));
    }
    case Op::kStrStartswith:
      return Value::Bool(s.starts_with(arg_text(1)));
    case Op::kStrEndswith:
      return Value::Bool(s.ends_with(arg_text(1)));
    case Op::kStrContains:
      return Value::Bool(s.find(arg_text(1)) != std::string_view::npos);
    case Op::kStrRemovePrefix: {
      std::string_view p = arg_text(1);
      return Value::String(std::string(s.starts_with(p) ? s.substr(p.size()) : s));
    }
    case Op::kStrRemoveSuffix: {
      std::string_view p = arg_text(1);
      return Value::String(std::string(s.ends_with(p) && !p.empty() ? s.substr(0, s.size() - p.size()) : s));
    }
    case Op::kStrCount:
    case Op::kStrFind:
    case Op::kStrRfind: {
      std::string_view sub = arg_text(1);
      int64_t n = static_cast<int64_t>(CodePoints(s));
      int64_t b = 0, e = n;
      Value none;
      SliceBounds(n, args.size() > 2 ? args[2] : none, args.size() > 3 ? args[3] : none, b, e);
      size_t bb = ByteOffsetOf(s, b), be = ByteOffsetOf(s, e);
      std::string_view window = be > bb ? s.substr(bb, be - bb) : std::string_view();
      auto to_cp = [&](size_t byte_in_window) {
        return b + static_cast<int64_t>(CodePoints(window.substr(0, byte_in_window)));
      };
      if (node.op == Op::kStrCount) {
        if (sub.empty()) return Value::Int(static_cast<int64_t>(CodePoints(window)) + 1);
        int64_t count = 0;
        for (size_t at = window.find(sub); at != std::string_view::npos; at = window.find(sub, at + sub.size())) ++count;
        return Value::Int(count);
      }
      if (b > e) return Value::Int(-1);
      size_t at = node.op == Op::kStrFind ? window.find(sub) : window.rfind(sub);
      return Value::Int(at == std::string_view::npos ? -1 : to_cp(at));
    }
    case Op::kStrReplace: {
      std::string_view old_text = arg_text(1), new_text = arg_text(2);
      int64_t count = args.size() > 3 && args[3].kind() == Kind::kInt ? args[3].AsInt() : -1;
      std::string out;
      if (old_text.empty()) {
        // Python inserts `new` between characters (and at both ends).
        int64_t done = 0;
        size_t i = 0;
        while (true) {
          if (count >= 0 && done >= count) {
            out.append(s.substr(i));
            break;
          }
          out.append(new_text);
          ++done;
          if (i >= s.size()) break;
          size_t next = i + 1;
          while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
          out.append(s.substr(i, next - i));
          i = next;
        }
        return Value::String(std::move(out));
      }
      size_t pos = 0;
      int64_t done = 0;
      while (count < 0 || done < count) {
        size_t at = s.find(old_text, pos);
        if (at == std::string_view::npos) break;
        out.append(s.substr(pos, at - pos)).append(new_text);
        pos = at + old_text.size();
        ++done;
      }
      out.append(s.substr(pos));
      return Value::String(std::move(out));
    }
    case Op::kStrSlice: {
      int64_t n = static_cast<int64_t>(CodePoints(s));
      int64_t b = 0, e = n;
      Value none;
      SliceBounds(n, args.size() > 1 ? args[1] : none, args.size() > 2 ? args[2] : none, b, e);
      if (e <= b) return Value::String(std::string());
      size_t bb = ByteOffsetOf(s, b), be = ByteOffsetOf(s, e);
      return Value::String(std::string(s.substr(bb, be - bb)));
    }
    case Op::kStrParseInt: {
      bool optional = args.size() > 1 && args[1].kind() == Kind::kBool && args[1].AsBool();
      int64_t out = 0;
      if (!ParseIntText(s, out)) {
        if (optional) return Value::None();
        return Fail(node, fmt::format("cannot parse '{}' as int", s));
      }
      return Value::Int(out);
    }
    case Op::kStrParseFloat: {
      bool optional = args.size() > 1 && args[1].kind() == Kind::kBool && args[1].AsBool();
      double f = 0;
      if (!ParseFloatText(s, f)) {
        if (optional) return Value::None();
        return Fail(node, fmt::format("cannot parse '{}' as float", s));
      }
      return Value::Float(f);
    }
    case Op::kStrParseBool: {
      bool optional = args.size() > 3 && args[3].kind() == Kind::kBool && args[3].AsBool();
      std::string lowered(s);
      for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto in = [&](const Value& list) {
        if (list.kind() != Kind::kTuple) return false;
        for (const Value& item : list.TupleItems()) {
          std::string candidate(item.text());
          for (char& c : candidate) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (candidate == lowered) return true;
        }
        return false;
      };
      if (args.size() > 1 && in(args[1])) return Value::Bool(true);
      if (args.size() > 2 && in(args[2])) return Value::Bool(false);
      if (optional) return Value::None();
      return Fail(node, fmt::format("cannot parse '{}' as bool", s));
    }
    case Op::kStrSplit: {
      std::vector<Value> parts;
      std::vector<std::string> owned;
      int64_t maxsplit = args.size() > 2 && args[2].kind() == Kind::kInt ? args[2].AsInt() : -1;
      if (args.size() > 1 && args[1].kind() == Kind::kString) {
        std::string_view sep = args[1].text();
        if (sep.empty()) return Fail(node, "empty separator");
        size_t pos = 0;
        int64_t splits = 0;
        while (maxsplit < 0 || splits < maxsplit) {
          size_t at = s.find(sep, pos);
          if (at == std::string_view::npos) break;
          owned.emplace_back(s.substr(pos, at - pos));
          pos = at + sep.size();
          ++splits;
        }
        owned.emplace_back(s.substr(pos));
      } else {
        size_t i = 0;
        int64_t splits = 0;
        auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
        while (i < s.size()) {
          while (i < s.size() && space(s[i])) ++i;
          if (i >= s.size()) break;
          if (maxsplit >= 0 && splits >= maxsplit) {
            size_t e = s.size();
            while (e > i && space(s[e - 1])) --e;
            owned.emplace_back(s.substr(i, e - i));
            break;
          }
          size_t j = i;
          while (j < s.size() && !space(s[j])) ++j;
          owned.emplace_back(s.substr(i, j - i));
          ++splits;
          i = j;
        }
      }
      for (const std::string& part : owned) parts.push_back(Value::Borrowed(Kind::kString, part));
      return Value::Tuple(parts);
    }
    default:
      break;
  }
  return Fail(node, fmt::format("unknown string operation {}", OpName(node.op)));
}

}  // namespace deltaflow::expr
