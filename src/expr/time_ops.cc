// Time operations of the expression evaluator: window assignment for event-time windows.
#include <cmath>
#include <cstdint>
#include <vector>

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
  return Fail(node, fmt::format("operation {} is not a time operation", OpName(node.op)));
}

}  // namespace deltaflow::expr
