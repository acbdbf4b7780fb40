#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "deltaflow/dd/exchange.h"
#include "deltaflow/dd/operators/reduce.h"
#include "deltaflow/time/product.h"
#include "deltaflow/dd/shard_hash.h"
#include "deltaflow/table/group_reduce_internal.h"
#include "fmt/format.h"

namespace deltaflow::table::group_reduce_internal {

namespace {

using expr::Evaluator;
using expr::RowInput;
using expr::Value;
using value::Key;
using value::Row;
using value::RowBuilder;
using value::RowView;
using value::ValueKind;
using value::ValueView;

using KeyedData = std::pair<Row, Row>;  // (group values, [id, reducer arguments...])
using KeyedUpd = dd::Update<KeyedData, Time>;

// One reducer's state within one group.
struct Accumulator {
  int64_t int_sum = 0;
  double float_sum = 0;
  int64_t floats = 0;       // float values (with multiplicity): the sum is a float
  int64_t values = 0;       // non-None values (with multiplicity), for avg
  int64_t errors = 0;       // Error arguments (with multiplicity)
  int64_t nones = 0;        // None arguments where the reducer cannot take None
  bool overflow = false;
  std::map<Row, int64_t, RowLess> ordered;
};

struct Group {
  int64_t count = 0;
  std::vector<Accumulator> accumulators;
  std::optional<Row> emitted;
};

class Aggregator {
 public:
  Aggregator(const TableGraph::Node& node, size_t group_values, bool has_group_id, ReportFn report)
      : reducers_(node.reducers), group_values_(group_values), has_group_id_(has_group_id),
        operation_(node.name), report_(std::move(report)) {
    size_t offset = 1;  // after the id
    for (const Reducer& r : reducers_) {
      offsets_.push_back(offset);
      offset += r.args.size();
    }
  }

  // Applies one update to its group.
  void Apply(const KeyedUpd& u, Group& group) { ApplyValue(u.data.second.view(), u.diff, u.time, group); }

  // Applies `diff` copies of one row's (id, reducer arguments), changed at `time`, to its group.
  void ApplyValue(RowView val, int64_t diff, Time time, Group& group) {
    group.count += diff;
    if (group.accumulators.empty()) group.accumulators.resize(reducers_.size());
    Key id = val[0].AsKey();
    for (size_t r = 0; r < reducers_.size(); ++r) {
      const Reducer& reducer = reducers_[r];
      Accumulator& acc = group.accumulators[r];
      if (reducer.args.empty()) continue;
      ValueView arg = val[offsets_[r]];
      if (arg.IsError()) {
        acc.errors += diff;
        continue;
      }
      if (arg.IsNull() && reducer.skip_nones) continue;
      switch (reducer.kind) {
        case ReducerKind::kCount:
          break;
        case ReducerKind::kSum:
        case ReducerKind::kAvg:
          if (arg.IsNull()) {
            acc.nones += diff;
          } else if (arg.kind() == ValueKind::kInt) {
            int64_t product = 0;
            if (__builtin_mul_overflow(arg.AsInt(), diff, &product) ||
                __builtin_add_overflow(acc.int_sum, product, &acc.int_sum)) {
              acc.overflow = true;
            }
            acc.values += diff;
          } else if (arg.kind() == ValueKind::kFloat) {
            acc.float_sum += arg.AsFloat() * static_cast<double>(diff);
            acc.floats += diff;
            acc.values += diff;
          } else if (arg.kind() == ValueKind::kBool) {
            acc.int_sum += (arg.AsBool() ? 1 : 0) * diff;
            acc.values += diff;
          } else {
            // Other kinds (arrays, durations) go to the ordered state and are summed there.
            Bump(acc, OneValueRow(arg), diff);
            acc.values += diff;
          }
          break;
        case ReducerKind::kMin:
        case ReducerKind::kMax:
        case ReducerKind::kUnique:
        case ReducerKind::kCountDistinct:
          Bump(acc, OneValueRow(arg), diff);
          break;
        case ReducerKind::kAny: {
          // Pathway's choice: the row minimising (id XOR a fixed mask, value).
          constexpr uint64_t kMask = 0xDEADBEEFDEADBEEFULL;
          builder_.Pointer(Key(id.high() ^ kMask, id.low() ^ kMask)).Value(arg);
          Bump(acc, builder_.Finish(), diff);
          break;
        }
        case ReducerKind::kArgMin:
        case ReducerKind::kArgMax:
          // (value, id[, the column to return]).
          builder_.Value(arg).Pointer(id);
          if (reducer.args.size() > 1) builder_.Value(val[offsets_[r] + 1]);
          Bump(acc, builder_.Finish(), diff);
          break;
        case ReducerKind::kSortedTuple:
          builder_.Value(arg).Pointer(id);
          Bump(acc, builder_.Finish(), diff);
          break;
        case ReducerKind::kTuple:
        case ReducerKind::kNdArray:
          if (reducer.args.size() > 1) builder_.Value(val[offsets_[r] + 1]);
          builder_.Pointer(id).Value(arg);
          Bump(acc, builder_.Finish(), diff);
          break;
        case ReducerKind::kEarliest:
        case ReducerKind::kLatest:
          builder_.Int(static_cast<int64_t>(time)).Pointer(id).Value(arg);
          Bump(acc, builder_.Finish(), diff);
          break;
      }
    }
  }

  // The group's output row, or nothing when the group is empty.
  std::optional<Row> Output(const Row& key, const Group& group) {
    if (group.count <= 0) return std::nullopt;
    RowView key_view = key.view();
    size_t i = 0;
    for (ValueView v : key_view.values()) {
      if (i++ < group_values_) out_.Value(v);
    }
    for (size_t r = 0; r < reducers_.size(); ++r) WriteResult(key, r, group, out_);
    return out_.Finish();
  }

  Key GroupId(const Row& key) const {
    if (!has_group_id_) return value::IdFromValues(key.view().values());
    value::ValueView id = key.view()[group_values_];
    // The Table API checks that the id is a pointer; anything else still gets a stable id.
    if (id.kind() != ValueKind::kKey) return value::IdFromValues(key.view().values());
    return id.AsKey();
  }

 private:
  Row OneValueRow(ValueView v) {
    builder_.Value(v);
    return builder_.Finish();
  }
  static void Bump(Accumulator& acc, Row row, int64_t diff) {
    auto [it, inserted] = acc.ordered.try_emplace(std::move(row), 0);
    it->second += diff;
    if (it->second == 0) acc.ordered.erase(it);
  }

  void Fail(const Row& key, size_t r, std::string message, RowBuilder& out) {
    report_(operation_, fmt::format("{}: {}", reducers_[r].text, message), GroupId(key));
    out.Error();
  }

  void WriteResult(const Row& key, size_t r, const Group& group, RowBuilder& out) {
    const Reducer& reducer = reducers_[r];
    const Accumulator& acc = group.accumulators[r];
    if (reducer.kind == ReducerKind::kCount) {
      out.Int(group.count);
      return;
    }
    if (acc.errors > 0) {
      out.Error();  // the failing argument was reported where it was computed
      return;
    }
    switch (reducer.kind) {
      case ReducerKind::kSum:
      case ReducerKind::kAvg: {
        if (acc.nones > 0) return Fail(key, r, "cannot sum None values", out);
        if (acc.overflow) return Fail(key, r, "integer overflow", out);
        if (!acc.ordered.empty()) return SumOrdered(key, r, acc, group, out);
        if (reducer.kind == ReducerKind::kAvg) {
          if (acc.values == 0) {
            out.Null();
          } else {
            out.Float((acc.float_sum + static_cast<double>(acc.int_sum)) / static_cast<double>(acc.values));
          }
          return;
        }
        if (acc.floats > 0) {
          out.Float(acc.float_sum + static_cast<double>(acc.int_sum));
        } else {
          out.Int(acc.int_sum);
        }
        return;
      }
      case ReducerKind::kMin:
        if (acc.ordered.empty()) return out.Null(), void();
        out.Value(acc.ordered.begin()->first.view()[0]);
        return;
      case ReducerKind::kAny:
        if (acc.ordered.empty()) return out.Null(), void();
        out.Value(acc.ordered.begin()->first.view()[1]);
        return;
      case ReducerKind::kMax:
        if (acc.ordered.empty()) return out.Null(), void();
        out.Value(acc.ordered.rbegin()->first.view()[0]);
        return;
      case ReducerKind::kUnique:
        if (acc.ordered.empty()) return out.Null(), void();
        if (acc.ordered.size() > 1) return Fail(key, r, "more than one distinct value passed to the unique reducer", out);
        out.Value(acc.ordered.begin()->first.view()[0]);
        return;
      case ReducerKind::kCountDistinct:
        out.Int(static_cast<int64_t>(acc.ordered.size()));
        return;
      case ReducerKind::kArgMin:
        if (acc.ordered.empty()) return out.Null(), void();
        out.Value(acc.ordered.begin()->first.view()[reducer.args.size() > 1 ? 2 : 1]);
        return;
      case ReducerKind::kArgMax: {
        if (acc.ordered.empty()) return out.Null(), void();
        // The greatest value; among equal values, the smallest id.
        builder_.Value(acc.ordered.rbegin()->first.view()[0]);
        Row probe = builder_.Finish();
        auto it = acc.ordered.lower_bound(probe);
        out.Value(it->first.view()[reducer.args.size() > 1 ? 2 : 1]);
        return;
      }
      case ReducerKind::kTuple:
      case ReducerKind::kSortedTuple: {
        out.BeginTuple();
        size_t value_at = reducer.kind == ReducerKind::kSortedTuple ? 0 : (reducer.args.size() > 1 ? 2 : 1);
        for (const auto& [row, count] : acc.ordered) {
          for (int64_t c = 0; c < count; ++c) out.Value(row.view()[value_at]);
        }
        out.EndTuple();
        return;
      }
      case ReducerKind::kNdArray: {
        size_t value_at = reducer.args.size() > 1 ? 2 : 1;
        std::vector<int64_t> ints;
        std::vector<double> floats;
        bool any_float = false;
        for (const auto& [row, count] : acc.ordered) {
          ValueView v = row.view()[value_at];
          if (v.kind() == ValueKind::kFloat) any_float = true;
          else if (v.kind() != ValueKind::kInt) return Fail(key, r, "ndarray needs numbers", out);
        }
        for (const auto& [row, count] : acc.ordered) {
          ValueView v = row.view()[value_at];
          for (int64_t c = 0; c < count; ++c) {
            if (any_float) floats.push_back(v.kind() == ValueKind::kFloat ? v.AsFloat() : static_cast<double>(v.AsInt()));
            else ints.push_back(v.AsInt());
          }
        }
        std::vector<uint64_t> shape{any_float ? floats.size() : ints.size()};
        if (any_float) out.FloatArray(shape, floats);
        else out.IntArray(shape, ints);
        return;
      }
      case ReducerKind::kEarliest:
        if (acc.ordered.empty()) return out.Null(), void();
        out.Value(acc.ordered.begin()->first.view()[2]);
        return;
      case ReducerKind::kLatest:
        // The latest time; among rows of that time, the greatest id.
        if (acc.ordered.empty()) return out.Null(), void();
        out.Value(acc.ordered.rbegin()->first.view()[2]);
        return;
      default:
        out.Null();
        return;
    }
  }

  // Sums of values kept in ordered state (arrays, durations).
  void SumOrdered(const Row& key, size_t r, const Accumulator& acc, const Group&, RowBuilder& out) {
    const Reducer& reducer = reducers_[r];
    ValueKind kind = acc.ordered.begin()->first.view()[0].kind();
    if (kind == ValueKind::kDuration) {
      int64_t total = 0;
      for (const auto& [row, count] : acc.ordered) total += row.view()[0].AsNanos() * count;
      if (reducer.kind == ReducerKind::kAvg) {
        out.Duration(acc.values == 0 ? 0 : total / acc.values);
      } else {
        out.Duration(total);
      }
      return;
    }
    if (kind == ValueKind::kIntArray || kind == ValueKind::kFloatArray) {
      std::vector<uint64_t> shape;
      std::vector<double> sum;
      bool any_float = false;
      for (const auto& [row, count] : acc.ordered) {
        ValueView v = row.view()[0];
        if (v.kind() != ValueKind::kIntArray && v.kind() != ValueKind::kFloatArray) {
          return Fail(key, r, "cannot sum arrays with other values", out);
        }
        auto s = v.kind() == ValueKind::kIntArray ? v.AsIntArray().shape() : v.AsFloatArray().shape();
        std::vector<uint64_t> this_shape(s.begin(), s.end());
        if (shape.empty() && sum.empty()) {
          shape = this_shape;
          uint64_t n = 1;
          for (uint64_t d : shape) n *= d;
          sum.assign(n, 0.0);
        } else if (shape != this_shape) {
          return Fail(key, r, "cannot sum arrays of different shapes", out);
        }
        if (v.kind() == ValueKind::kFloatArray) {
          any_float = true;
          auto a = v.AsFloatArray();
          for (uint64_t i = 0; i < a.size(); ++i) sum[i] += a[i] * static_cast<double>(count);
        } else {
          auto a = v.AsIntArray();
          for (uint64_t i = 0; i < a.size(); ++i) sum[i] += static_cast<double>(a[i]) * static_cast<double>(count);
        }
      }
      if (reducer.kind == ReducerKind::kAvg) {
        for (double& x : sum) x /= static_cast<double>(acc.values);
        any_float = true;
      }
      if (any_float) {
        out.FloatArray(shape, sum);
      } else {
        std::vector<int64_t> ints(sum.begin(), sum.end());
        out.IntArray(shape, ints);
      }
      return;
    }
    Fail(key, r, fmt::format("cannot sum values of type {}", value::ValueKindName(kind)), out);
  }

  std::vector<Reducer> reducers_;
  std::vector<size_t> offsets_;
  size_t group_values_;
  bool has_group_id_;
  std::string operation_;
  ReportFn report_;
  RowBuilder builder_;
  RowBuilder out_;
};

// Keys a row by its group values (and the group id, when given), carrying the id and every
// reducer's arguments: (group values, [id, arguments...]).
class GroupKeyer {
 public:
  GroupKeyer(const TableGraph::Node& node, ReportFn report)
      : keys_(node.exprs), reducers_(node.reducers), operation_(node.name), report_(std::move(report)) {}

  KeyedData operator()(const Data& d) {
    RowInput row{d.second.view(), d.first};
    auto eval = [&](const expr::Expression& e) {
      Value v = evaluator_.Eval(e, row);
      if (evaluator_.failed()) {
        report_(operation_, evaluator_.error(), d.first);
        evaluator_.ClearError();
        v = Value::Error();
      }
      v.WriteTo(builder_);
    };
    for (const auto& e : keys_) eval(e);
    Row key = builder_.Finish();
    builder_.Pointer(d.first);
    for (const Reducer& r : reducers_) {
      for (const auto& e : r.args) eval(e);
    }
    return KeyedData(std::move(key), builder_.Finish());
  }

 private:
  std::vector<expr::Expression> keys_;
  std::vector<Reducer> reducers_;
  std::string operation_;
  ReportFn report_;
  Evaluator evaluator_;
  RowBuilder builder_;
};

}  // namespace

Coll LowerGroupByReduce(const Coll& input, const TableGraph::Node& node, ReportFn report, StateFn state_fn) {
  bool has_group_id = node.join_id == JoinId::kLeft;
  size_t group_values = static_cast<size_t>(node.column);

  auto ks = std::make_shared<GroupKeyer>(node, report);
  auto keyed = input.Unary<KeyedData>("GroupKey", [ks](auto& in, auto& out, auto&) {
    in.ForEach([&](const Time& t, std::vector<Upd>& updates) {
      std::vector<KeyedUpd> keyed_updates;
      keyed_updates.reserve(updates.size());
      for (Upd& u : updates) keyed_updates.push_back({(*ks)(u.data), u.time, u.diff});
      out.Send(t, std::move(keyed_updates));
    });
  });
  auto routed = dd::Exchange(keyed, [](const KeyedData& d) { return dd::ShardHash(d.first); });

  struct State {
    explicit State(const TableGraph::Node& node, size_t group_values, bool has_group_id, ReportFn report)
        : aggregator(node, group_values, has_group_id, std::move(report)) {}
    Aggregator aggregator;
    absl::node_hash_map<Row, Group> groups;  // pointer-stable: `touched` points at keys
    std::vector<KeyedUpd> pending;
    std::vector<runtime::Capability<Time>> capabilities;
  };
  auto state = std::make_shared<State>(node, group_values, has_group_id, report);
  std::string operation = node.name;
  return routed.Unary<Data>("GroupByReduce", [state, state_fn, operation](auto& in, auto& out, auto& op) {
    in.ForEach([&](const Time& t, std::vector<KeyedUpd>& updates) {
      dd::HoldCapability(state->capabilities, op.owner(), out.source(), t);
      for (auto& u : updates) state->pending.push_back(std::move(u));
    });
    if (state->pending.empty()) {
      state->capabilities.clear();
      return;
    }
    const time::Antichain<Time>& frontier = op.InputFrontier(0);
    // Nothing is complete while the frontier is at or before every pending time: do not
    // rescan (a large time arriving in many messages would make that quadratic).
    if (!state->capabilities.empty() && frontier.LessEqual(state->capabilities.front().time())) return;
    std::vector<KeyedUpd> ready;
    std::vector<KeyedUpd> later;
    for (auto& u : state->pending) (frontier.LessEqual(u.time) ? later : ready).push_back(std::move(u));
    state->pending = std::move(later);
    if (ready.empty()) return;
    std::stable_sort(ready.begin(), ready.end(), [](const KeyedUpd& a, const KeyedUpd& b) { return a.time < b.time; });
    std::vector<Upd> output;
    std::vector<const Row*> touched;
    absl::flat_hash_set<const Row*> touched_set;
    size_t i = 0;
    while (i < ready.size()) {
      Time time = ready[i].time;
      touched.clear();
      touched_set.clear();
      for (; i < ready.size() && ready[i].time == time; ++i) {
        auto it = state->groups.try_emplace(ready[i].data.first).first;
        state->aggregator.Apply(ready[i], it->second);
        if (touched_set.insert(&it->first).second) touched.push_back(&it->first);
      }
      for (const Row* key : touched) {
        auto it = state->groups.find(*key);
        Group& group = it->second;
        std::optional<Row> next = state->aggregator.Output(it->first, group);
        bool same = next.has_value() == group.emitted.has_value() && (!next || *next == *group.emitted);
        if (!same) {
          Key id = state->aggregator.GroupId(it->first);
          if (group.emitted) output.push_back({Data(id, std::move(*group.emitted)), time, -1});
          if (next) output.push_back({Data(id, *next), time, +1});
          group.emitted = std::move(next);
        }
        if (group.count == 0 && !group.emitted) state->groups.erase(it);
      }
    }
    if (state_fn) state_fn(operation, op.owner().index(), state->groups.size());
    Time send_at = state->capabilities.front().time();
    out.Send(send_at, std::move(output));
    time::Antichain<Time> needed;
    for (const auto& u : state->pending) needed.Insert(u.time);
    dd::RetainCapabilitiesFor(state->capabilities, needed);
  });
}

template <typename T>
dd::Collection<Data, T> LowerGroupByReduceNested(const dd::Collection<Data, T>& input, const TableGraph::Node& node,
                                                 ReportFn report) {
  bool has_group_id = node.join_id == JoinId::kLeft;
  size_t group_values = static_cast<size_t>(node.column);
  auto keyer = std::make_shared<GroupKeyer>(node, report);
  auto keyed = input.Map([keyer](const Data& d) { return (*keyer)(d); });
  auto aggregator = std::make_shared<Aggregator>(node, group_values, has_group_id, std::move(report));
  // Each group is recomputed from its rows at every time it changes: correct for partially
  // ordered times (dd's reduce finds the times), O(group) per change.
  auto reduced = dd::Reduce<Row>(keyed, [aggregator](const Row& key, const auto& in, auto& out) {
    Group group;
    for (const auto& [v, n] : in) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, Row>) {
        aggregator->ApplyValue(v.view(), n, 0, group);  // earliest/latest are refused in iterate
      } else {
        aggregator->ApplyValue(RowView(v), n, 0, group);
      }
    }
    if (std::optional<Row> row = aggregator->Output(key, group)) out.emplace_back(std::move(*row), 1);
  });
  return reduced.Map([aggregator](const std::pair<Row, Row>& kv) { return Data(aggregator->GroupId(kv.first), kv.second); });
}

template dd::Collection<Data, time::Product<Time, uint32_t>> LowerGroupByReduceNested(
    const dd::Collection<Data, time::Product<Time, uint32_t>>&, const TableGraph::Node&, ReportFn);

}  // namespace deltaflow::table::group_reduce_internal
