// Expressions: trees of operations evaluated in C++ over the rows of a table.
//
// The Python layer type-checks an expression when the user writes it (so `int + str` fails at
// the user's line) and sends the engine a tree of `Expression` nodes: column references,
// constants and operations. The engine evaluates that tree per row with an `Evaluator`, reading
// cells straight from the row's bytes; strings are borrowed from the row, not copied, and
// numeric work allocates nothing.
//
// A failing operation (division by zero, a bad cast, indexing past a tuple's end) does not
// throw: it yields an `Error` value and the evaluator records the first reason, which the
// operator running the expression reports (stopping the run, or logging the error and keeping
// the `Error` in the cell, as the user chose). Operations on an `Error` yield `Error` without a
// new reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "deltaflow/value/key.h"
#include "deltaflow/value/row.h"

namespace deltaflow::expr {

/// The operations an expression node can apply. The names users see (and the binding
/// passes) are in `OpName`.
enum class Op : uint8_t {
  kColumn,  // the input row's cell `index`
  kConst,   // `constant[0]`
  kId,      // the row's id, as a pointer
  // Unary.
  kNeg,
  kNot,
  kInvert,
  kAbs,
  kIsNone,
  kIsNotNone,
  kIsNotError,  // false for an Error value (whose reason was reported where it arose)
  kUnwrap,
  kToString,
  kCastInt,
  kCastFloat,
  kCastBool,
  kCastStr,
  kAsInt,  // Json → int (Json null → None)
  kAsFloat,
  kAsStr,
  kAsBool,
  // Binary arithmetic and logic.
  kAdd,
  kSub,
  kMul,
  kTrueDiv,
  kFloorDiv,
  kMod,
  kPow,
  kAnd,
  kOr,
  kXor,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  // Other.
  kIfElse,      // (condition, then, else)
  kCoalesce,    // first argument that is not None
  kRequire,     // (value, args...): None when any arg is None, else value
  kFillError,   // (value, replacement)
  kMakeTuple,   // (args...)
  kGetItem,     // (container, index): error when missing
  kGetOr,       // (container, index, default): default when missing
  kPointerFrom, // (args...): the id derived from the values
  kPointerFromInstance, // (args..., instance): as kPointerFrom, on the instance's shard
  kNumRound,    // (value, decimals)
  kNumFillNa,   // (value, default)
  // The `.str` namespace.
  kStrLower,
  kStrUpper,
  kStrReversed,
  kStrLen,
  kStrSwapcase,
  kStrTitle,
  kStrStrip,       // (s, chars or None)
  kStrLstrip,
  kStrRstrip,
  kStrStartswith,  // (s, prefix)
  kStrEndswith,
  kStrCount,       // (s, sub, start or None, end or None)
  kStrFind,        // (s, sub, start or None, end or None)
  kStrRfind,
  kStrReplace,     // (s, old, new, count)
  kStrRemovePrefix,
  kStrRemoveSuffix,
  kStrSlice,       // (s, start, end)
  kStrParseInt,    // (s, optional)
  kStrParseFloat,
  kStrParseBool,   // (s, true_values tuple, false_values tuple, optional)
  kStrSplit,       // (s, sep or None, maxsplit)
  kStrContains,    // (s, sub)
  kStrJoin,        // (sep, tuple of str) — not a user-facing name
  // Time (src/expr/time_ops.cc).
  kWindowStarts,   // (time, hop, duration, origin or None): starts of the windows holding time
  // The `.dt` namespace.
  kDtField,        // (datetime or duration, field name): year, month, ..., nanosecond, weekday
  kDtTimestamp,    // (datetime, unit or None): since the epoch; None: int nanoseconds
  kDtStrftime,     // (datetime, format)
  kDtStrptime,     // (str, format, with time zone): DateTimeUtc when with time zone
  kDtToUtc,        // (naive, time zone name)
  kDtToNaive,      // (utc, time zone name)
  kDtAddInZone,    // (naive, duration, time zone name)
  kDtSubInZone,    // (naive, duration, time zone name)
  kDtDiffInZone,   // (naive, naive, time zone name): a duration
  kDtRound,        // (datetime or duration, duration)
  kDtFloor,        // (datetime or duration, duration)
  kDtTotal,        // (duration, unit): whole units, truncated toward zero
  kDtFromTimestamp,  // (number, unit, utc)
  kDtToDuration,   // (number, unit)
  kCount_,         // number of ops; not an operation
};

/// The name of an operation (`"add"`, `"str.lower"`, ...).
std::string_view OpName(Op op);
/// The operation with this name, or InvalidArgument.
absl::StatusOr<Op> ParseOp(std::string_view name);

/// One node of an expression tree.
struct Expression {
  Op op = Op::kConst;
  int32_t index = -1;        // kColumn: the cell
  value::Row constant;       // kConst: a row holding the one value
  std::vector<Expression> args;
  std::string text;          // how the user wrote it, for error messages

  static Expression Column(int32_t index, std::string text = {});
  static Expression Constant(value::Row row, std::string text = {});
  static Expression Call(Op op, std::vector<Expression> args, std::string text = {});
};

/// A value computed by an expression. Strings, bytes and Json text are held as views (of the
/// input row, a constant, or the value's own buffer); tuples, arrays and objects as their
/// encoded bytes. Copying a value that owns its bytes copies them.
class Value {
 public:
  using Kind = value::ValueKind;

  Value() = default;
  Value(const Value& other) { *this = other; }
  Value(Value&& other) noexcept { *this = std::move(other); }
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;

  static Value None() { return Value(); }
  static Value Error() { Value v; v.kind_ = Kind::kError; return v; }
  static Value Bool(bool b) { Value v; v.kind_ = Kind::kBool; v.int_ = b; return v; }
  static Value Int(int64_t i) { Value v; v.kind_ = Kind::kInt; v.int_ = i; return v; }
  static Value Float(double f) { Value v; v.kind_ = Kind::kFloat; v.float_ = f; return v; }
  static Value Pointer(value::Key k) { Value v; v.kind_ = Kind::kKey; v.key_ = k; return v; }
  static Value Time(Kind kind, int64_t nanos) { Value v; v.kind_ = kind; v.int_ = nanos; return v; }
  /// A string, bytes or Json value viewing `text`, which must outlive the value.
  static Value Borrowed(Kind kind, std::string_view text) {
    Value v; v.kind_ = kind; v.view_ = text; return v;
  }
  /// A string, bytes or Json value owning its text.
  static Value Owned(Kind kind, std::string text);
  static Value String(std::string text) { return Owned(Kind::kString, std::move(text)); }
  /// A tuple, array or object value from its encoded bytes (borrowed).
  static Value Encoded(value::ValueView view);
  /// A tuple built from values.
  static Value Tuple(const std::vector<Value>& items);
  /// Reads a cell. Text and encoded bytes are borrowed from the row.
  static Value FromView(value::ValueView view);

  Kind kind() const { return kind_; }
  bool IsNone() const { return kind_ == Kind::kNull; }
  bool IsError() const { return kind_ == Kind::kError; }
  bool AsBool() const { return int_ != 0; }
  int64_t AsInt() const { return int_; }
  double AsFloat() const { return float_; }
  /// Ints and floats as a double.
  double AsNumber() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  value::Key AsKey() const { return key_; }
  int64_t AsNanos() const { return int_; }
  std::string_view text() const { return view_; }
  /// The encoded bytes of a tuple, array or object.
  value::ValueView encoded() const { return value::ValueView(reinterpret_cast<const uint8_t*>(view_.data())); }
  /// A tuple's items.
  std::vector<Value> TupleItems() const;

  /// Appends the value to a row being built.
  void WriteTo(value::RowBuilder& builder) const;
  /// Python's `str()` of the value.
  std::string ToString() const;

 private:
  Kind kind_ = Kind::kNull;
  int64_t int_ = 0;
  double float_ = 0;
  value::Key key_;
  std::string_view view_;
  std::string owned_;
  bool owns_ = false;
};

/// Total order and equality of values, with ints and floats compared numerically (as
/// Python compares them).
int CompareValues(const Value& a, const Value& b);

/// The input an expression reads: one row and its id.
struct RowInput {
  value::RowView row;
  value::Key id;
};

/// Evaluates expressions. Not thread-safe: each worker's operator owns one.
class Evaluator {
 public:
  /// Evaluates `expression` on `input`. On failure the result is an `Error` value and
  /// `error()` holds the first failure's reason (until `ClearError`).
  Value Eval(const Expression& expression, const RowInput& input);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  /// The text of the node whose failure set `error()`.
  const std::string& error_expression() const { return error_expression_; }
  void ClearError() { error_.clear(); error_expression_.clear(); }

 private:
  Value Fail(const Expression& node, std::string reason);
  Value EvalUnary(const Expression& node, const Value& a);
  Value EvalBinary(const Expression& node, const Value& a, const Value& b);
  Value EvalStr(const Expression& node, const std::vector<Value>& args);
  Value EvalTime(const Expression& node, const std::vector<Value>& args);

  std::string error_;
  std::string error_expression_;
  std::vector<Value> scratch_;
};

/// The elements of a JSON array, as JSON text each; false when `json_text` is not an array.
bool JsonArrayItems(std::string_view json_text, std::vector<std::string>& items);

/// The id derived from values (`pointer_from`, group ids, primary keys): the stable hash of
/// the row holding them.
value::Key IdFromValues(const std::vector<Value>& values);

}  // namespace deltaflow::expr
