// Event-time operators of the table layer: gates (buffer, forget, freeze) and the filter that
// removes what forgetting caused.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "deltaflow/dd/exchange.h"
#include "deltaflow/table/temporal_internal.h"
#include "fmt/format.h"

namespace deltaflow::table::temporal_internal {

namespace {

using expr::CompareValues;
using expr::Evaluator;
using expr::RowInput;
using expr::Value;
using value::Key;
using value::RowView;

struct ValueLess {
  bool operator()(const Value& a, const Value& b) const { return CompareValues(a, b) < 0; }
};

// Updates of one input, collected until their time is complete, then handed out time by time.
struct TimeQueue {
  std::vector<Upd> pending;
  std::vector<runtime::Capability<Time>> capabilities;

  template <typename Input, typename Output, typename Op>
  void Take(Input& in, Output& out, Op& op) {
    in.ForEach([&](const Time& t, std::vector<Upd>& updates) {
      dd::HoldCapability(capabilities, op.owner(), out.source(), t);
      for (auto& u : updates) pending.push_back(std::move(u));
    });
  }

  // The complete updates (the frontier has passed them), consolidated (a change and its
  // retraction at one time cancel before any operator acts on them), sorted by time.
  std::vector<Upd> Ready(const time::Antichain<Time>& frontier) {
    std::vector<Upd> ready;
    if (pending.empty()) return ready;
    if (!capabilities.empty() && frontier.LessEqual(capabilities.front().time())) return ready;
    std::vector<Upd> later;
    for (auto& u : pending) (frontier.LessEqual(u.time) ? later : ready).push_back(std::move(u));
    pending = std::move(later);
    dd::ConsolidateUpdates(ready);
    std::stable_sort(ready.begin(), ready.end(), [](const Upd& a, const Upd& b) { return a.time < b.time; });
    return ready;
  }

  // Keeps capabilities for the pending updates and for `extra` (times the operator may still
  // send at).
  void Retain(time::Antichain<Time> extra) {
    for (const auto& u : pending) extra.Insert(u.time);
    dd::RetainCapabilitiesFor(capabilities, extra);
  }
};

// Calls `step(time, begin, end)` for each run of updates with one time (`ready` is sorted
// by time); stops early when `step` returns false.
template <typename Step>
bool ForEachTime(std::vector<Upd>& ready, Step step) {
  size_t i = 0;
  while (i < ready.size()) {
    Time time = ready[i].time;
    size_t end = i;
    while (end < ready.size() && ready[end].time == time) ++end;
    if (!step(time, ready.data() + i, ready.data() + end)) return false;
    i = end;
  }
  return true;
}

// Rows routed by the value of one cell (an instance or key), so that equal values meet.
Coll ExchangeByCell(const Coll& input, size_t cell) {
  return dd::Exchange(input, [cell](const Data& d) -> uint64_t {
    auto bytes = d.second.view()[cell].encoded();
    return value::StableHash128(bytes.data(), bytes.size()).ShardHash();
  });
}

// Appends the cells of `row` after its first `skip` (the tags an operator put in front).
void AppendCellsAfter(value::RowBuilder& builder, RowView row, size_t skip) {
  size_t c = 0;
  for (value::ValueView v : row.values()) {
    if (c++ >= skip) builder.Value(v);
  }
}

// The row each id holds downstream; `Replace` turns a time's new rows into changes.
struct EmittedRows {
  absl::flat_hash_map<Key, Row> rows;

  // `next`: the new rows of the ids that changed; `removed`: ids that may be gone.
  void Replace(Time time, absl::flat_hash_map<Key, Row>& next, const std::vector<Key>& removed, std::vector<Upd>& output) {
    for (const Key& id : removed) {
      if (next.contains(id)) continue;
      auto old = rows.find(id);
      if (old == rows.end()) continue;
      output.push_back({Data(id, std::move(old->second)), time, -1});
      rows.erase(old);
    }
    for (auto& [id, row] : next) {
      auto old = rows.find(id);
      if (old != rows.end()) {
        if (old->second == row) continue;
        output.push_back({Data(id, old->second), time, -1});
        old->second = row;
      } else {
        rows.emplace(id, row);
      }
      output.push_back({Data(id, std::move(row)), time, +1});
    }
  }
};

class GateLogic {
 public:
  GateLogic(const TableGraph::Node& node, ReportFn report)
      : kind_(node.gate), mark_(node.mark), threshold_(node.exprs[0]), time_(node.exprs[1]),
        operation_(node.name), report_(std::move(report)) {}

  void Run(dd::OutputPort<Data, Time>& out) {
    std::vector<Upd> ready = queue_.Ready(frontier_);
    std::vector<Upd> output;
    ForEachTime(ready, [&](Time time, Upd* begin, Upd* end) {
      Step(time, begin, end, output);
      return true;
    });
    bool ended = frontier_.IsEmpty();
    if (ended && kind_ == GateKind::kBuffer && !buffered_.empty()) {
      for (auto& [threshold, u] : buffered_) output.push_back({std::move(u.data), kEndOfInputTime, u.diff});
      buffered_.clear();
    }
    Send(out, output);
    time::Antichain<Time> extra;
    // Buffered rows leave at a later input time, or at the end of the input.
    if (!buffered_.empty() && !frontier_.IsEmpty()) extra.Insert(frontier_.Elements()[0]);
    queue_.Retain(std::move(extra));
  }

  TimeQueue& queue() { return queue_; }
  void set_frontier(const time::Antichain<Time>& f) { frontier_ = f; }
  // Rows held (buffered, or live for forgetting).
  size_t held() const { return buffered_.size(); }

 private:
  // Sends each update under a held capability at or before its time.
  void Send(dd::OutputPort<Data, Time>& out, std::vector<Upd>& output) {
    if (output.empty()) return;
    for (const auto& capability : queue_.capabilities) {
      std::vector<Upd> batch;
      for (auto& u : output) {
        if (u.diff != 0 && capability.time() <= u.time) {
          batch.push_back(std::move(u));
          u.diff = 0;
        }
      }
      if (!batch.empty()) out.Send(capability.time(), std::move(batch));
    }
  }

  // Evaluates (threshold, time) of a row; nullopt when either failed (reported).
  std::optional<std::pair<Value, Value>> Eval(const Upd& u) {
    RowInput row{u.data.second.view(), u.data.first};
    Value threshold = Own(evaluator_.Eval(threshold_, row));
    Value time = Own(evaluator_.Eval(time_, row));
    if (evaluator_.failed() || threshold.IsNone() || time.IsNone()) {
      std::string why = evaluator_.failed() ? evaluator_.error() : "the event time or threshold is None";
      report_(operation_, fmt::format("{}; the row is passed on ungated", why), u.data.first);
      evaluator_.ClearError();
      return std::nullopt;
    }
    return std::make_pair(std::move(threshold), std::move(time));
  }

  static Value Own(Value v) {
    if (v.kind() == value::ValueKind::kString || v.kind() == value::ValueKind::kBytes) {
      return Value::Owned(v.kind(), std::string(v.text()));
    }
    return v;
  }

  bool Passed(const Value& threshold) const { return watermark_ && CompareValues(threshold, *watermark_) <= 0; }

  void Advance(const Value& time) {
    if (!watermark_ || CompareValues(*watermark_, time) < 0) watermark_ = time;
  }

  void Step(Time time, Upd* begin, Upd* end, std::vector<Upd>& output) {
    switch (kind_) {
      case GateKind::kFreeze: {
        std::vector<Value> times;
        for (Upd* u = begin; u != end; ++u) {
          auto tt = Eval(*u);
          if (tt && Passed(tt->first)) continue;  // late: dropped
          if (tt) times.push_back(std::move(tt->second));
          output.push_back(std::move(*u));
        }
        for (const Value& t : times) Advance(t);
        break;
      }
      case GateKind::kBuffer: {
        std::vector<std::pair<Value, Upd>> held;
        for (Upd* u = begin; u != end; ++u) {
          auto tt = Eval(*u);
          if (!tt) {
            output.push_back(std::move(*u));
            continue;
          }
          Advance(tt->second);
          held.emplace_back(std::move(tt->first), std::move(*u));
        }
        for (auto& [threshold, u] : held) {
          if (Passed(threshold)) {
            output.push_back(std::move(u));
          } else {
            buffered_.emplace(std::move(threshold), std::move(u));
          }
        }
        Release(time, output, /*forgetting=*/false);
        break;
      }
      case GateKind::kForget: {
        std::vector<Value> times;
        for (Upd* u = begin; u != end; ++u) {
          auto tt = Eval(*u);
          if (tt) {
            times.push_back(std::move(tt->second));
            buffered_.emplace(std::move(tt->first), *u);
          }
          output.push_back(std::move(*u));
        }
        Release(mark_ ? time + 1 : time, output, /*forgetting=*/true);
        for (const Value& t : times) Advance(t);
        break;
      }
    }
  }

  // Sends (or, when forgetting, retracts) the held rows whose threshold the watermark passed.
  void Release(Time time, std::vector<Upd>& output, bool forgetting) {
    if (!watermark_) return;
    auto last = buffered_.upper_bound(*watermark_);
    if (last == buffered_.begin()) return;
    std::vector<Upd> released;
    for (auto it = buffered_.begin(); it != last; ++it) {
      released.push_back({std::move(it->second.data), time, forgetting ? -it->second.diff : it->second.diff});
    }
    buffered_.erase(buffered_.begin(), last);
    dd::ConsolidateUpdates(released);
    for (auto& u : released) {
      if (u.diff != 0) output.push_back(std::move(u));
    }
  }

  GateKind kind_;
  bool mark_;
  expr::Expression threshold_;
  expr::Expression time_;
  std::string operation_;
  ReportFn report_;
  Evaluator evaluator_;
  std::optional<Value> watermark_;
  std::multimap<Value, Upd, ValueLess> buffered_;  // by threshold: held (buffer) or live (forget) rows
  TimeQueue queue_;
  time::Antichain<Time> frontier_;
};

}  // namespace

Coll LowerGate(const Coll& input, const TableGraph::Node& node, ReportFn report, StateFn state) {
  // One watermark for the whole table: every row meets on worker 0.
  Coll routed = dd::Exchange(input, [](const Data&) -> uint64_t { return 0; });
  auto logic = std::make_shared<GateLogic>(node, std::move(report));
  std::string operation = node.name;
  return routed.Unary<Data>("Gate", [logic, state, operation](auto& in, auto& out, auto& op) {
    logic->queue().Take(in, out, op);
    logic->set_frontier(op.InputFrontier(0));
    logic->Run(out);
    if (state) state(operation, op.owner().index(), logic->held());
  });
}

namespace {

struct SessionKeyLess {
  bool operator()(const std::pair<Value, Key>& a, const std::pair<Value, Key>& b) const {
    int c = CompareValues(a.first, b.first);
    if (c != 0) return c < 0;
    return a.second < b.second;
  }
};

// Rows of one instance in time order, and the session logic over them.
class SessionLogic {
 public:
  SessionLogic(const TableGraph::Node& node, ReportFn report)
      : time_column_(node.exprs[0].index), instance_column_(node.exprs[1].index), predicate_(node.function),
        operation_(node.name), report_(std::move(report)) {
    if (node.exprs.size() > 2) max_gap_ = Value::FromView(node.exprs[2].constant.view()[0]);
  }

  template <typename Out>
  void Run(Out& out, Worker& worker, const time::Antichain<Time>& frontier) {
    std::vector<Upd> ready = queue_.Ready(frontier);
    std::vector<Upd> output;
    bool ok = ForEachTime(ready, [&](Time time, Upd* begin, Upd* end) { return Step(worker, time, begin, end, output); });
    if (!ok) return;
    if (!output.empty()) out.Send(queue_.capabilities.front().time(), std::move(output));
    queue_.Retain({});
  }

  TimeQueue& queue() { return queue_; }

 private:
  using Ordered = std::map<std::pair<Value, Key>, Row, SessionKeyLess>;

  bool Step(Worker& worker, Time time, Upd* begin, Upd* end, std::vector<Upd>& output) {
    std::vector<const Row*> touched;
    std::vector<Key> removed;
    for (Upd* u = begin; u != end; ++u) {
      RowView row = u->data.second.view();
      builder_.Value(row[static_cast<size_t>(instance_column_)]);
      Row instance = builder_.Finish();
      Value t = Value::FromView(row[static_cast<size_t>(time_column_)]);
      if (t.IsNone() || t.IsError() || t.kind() == value::ValueKind::kString) {
        report_(operation_, "the session time is not a number or datetime; the row is left out", u->data.first);
        continue;
      }
      auto [it, fresh] = instances_.try_emplace(std::move(instance));
      if (touched_set_.insert(&it->first).second) touched.push_back(&it->first);
      auto key = std::make_pair(t, u->data.first);
      if (u->diff > 0) {
        it->second[key] = u->data.second;
      } else {
        it->second.erase(key);
        removed.push_back(u->data.first);
      }
    }
    touched_set_.clear();
    absl::flat_hash_map<Key, Row> next;
    for (const Row* instance : touched) {
      auto it = instances_.find(*instance);
      if (!Assign(worker, it->second, next)) return false;
      if (it->second.empty()) instances_.erase(it);
    }
    emitted_.Replace(time, next, removed, output);
    return true;
  }

  // Whether two neighbours (in time order) share a session.
  bool Close(const Value& a, const Value& b) const {
    using value::ValueKind;
    const Value& gap = *max_gap_;
    if (a.kind() == ValueKind::kFloat || b.kind() == ValueKind::kFloat) return b.AsNumber() - a.AsNumber() < gap.AsNumber();
    if (gap.kind() == ValueKind::kFloat) return static_cast<double>(b.AsInt() - a.AsInt()) < gap.AsFloat();
    return b.AsInt() - a.AsInt() < gap.AsInt();
  }

  // The rows of one instance with their sessions' cells, into `next`.
  bool Assign(Worker& worker, const Ordered& rows, absl::flat_hash_map<Key, Row>& next) {
    if (rows.empty()) return true;
    std::vector<bool> joined(rows.size(), false);  // joined[k]: row k continues row k-1's session
    if (max_gap_) {
      auto prev = rows.begin();
      size_t k = 1;
      for (auto it = std::next(rows.begin()); it != rows.end(); ++it, ++prev, ++k) joined[k] = Close(prev->first.first, it->first.first);
    } else {
      std::vector<Row> args;
      args.reserve(rows.size());
      auto prev = rows.begin();
      for (auto it = std::next(rows.begin()); it != rows.end(); ++it, ++prev) {
        prev->first.first.WriteTo(builder_);
        it->first.first.WriteTo(builder_);
        args.push_back(builder_.Finish());
      }
      std::vector<Row> results;
      std::vector<RowFailure> failures;
      if (!args.empty()) {
        absl::Status status = (*predicate_)(args, results, failures);
        if (!status.ok()) {
          worker.Fail(status);
          return false;
        }
        for (const RowFailure& f : failures) report_(operation_, f.message, rows.begin()->first.second);
        for (size_t k = 0; k < results.size(); ++k) {
          value::ValueView v = results[k].view()[0];
          joined[k + 1] = v.kind() == value::ValueKind::kBool && v.AsBool();
        }
      }
    }
    std::vector<Ordered::const_iterator> session;
    auto flush = [&] {
      const auto& first = session.front()->first;
      const auto& last = session.back()->first;
      for (auto it : session) {
        for (value::ValueView v : it->second.view().values()) builder_.Value(v);
        builder_.Pointer(last.second);
        first.first.WriteTo(builder_);
        last.first.WriteTo(builder_);
        next[it->first.second] = builder_.Finish();
      }
      session.clear();
    };
    size_t k = 0;
    for (auto it = rows.begin(); it != rows.end(); ++it, ++k) {
      if (!joined[k] && !session.empty()) flush();
      session.push_back(it);
    }
    flush();
    return true;
  }

  int time_column_;
  int instance_column_;
  std::optional<Value> max_gap_;
  std::shared_ptr<BatchFunction> predicate_;
  std::string operation_;
  ReportFn report_;
  value::RowBuilder builder_;
  absl::node_hash_map<Row, Ordered> instances_;  // pointer-stable keys
  absl::flat_hash_set<const Row*> touched_set_;
  EmittedRows emitted_;  // the row each id was last given
  TimeQueue queue_;
};

}  // namespace

Coll LowerSessions(const Coll& input, const TableGraph::Node& node, ReportFn report) {
  size_t instance_column = static_cast<size_t>(node.exprs[1].index);
  Coll routed = ExchangeByCell(input, instance_column);
  auto logic = std::make_shared<SessionLogic>(node, std::move(report));
  return routed.Unary<Data>("Sessions", [logic](auto& in, auto& out, auto& op) {
    logic->queue().Take(in, out, op);
    logic->Run(out, op.owner(), op.InputFrontier(0));
  });
}

namespace {

// One key's rows of both sides, in time order, and the matches computed from them.
class AsofLogic {
 public:
  AsofLogic(const TableGraph::Node& node, ReportFn report)
      : kind_(node.join_kind), direction_(node.direction), left_arity_(static_cast<size_t>(node.arities[0])),
        right_arity_(static_cast<size_t>(node.arities[1])), operation_(node.name), report_(std::move(report)) {}

  template <typename Out>
  void Run(Out& out, const time::Antichain<Time>& frontier) {
    std::vector<Upd> ready = queue_.Ready(frontier);
    std::vector<Upd> output;
    ForEachTime(ready, [&](Time time, Upd* begin, Upd* end) {
      Step(time, begin, end, output);
      return true;
    });
    if (!output.empty()) out.Send(queue_.capabilities.front().time(), std::move(output));
    queue_.Retain({});
  }

  TimeQueue& queue() { return queue_; }

 private:
  using Ordered = std::map<std::pair<Value, Key>, Row, SessionKeyLess>;
  struct Instance {
    Ordered sides[2];                          // left, right
    absl::flat_hash_map<Key, Row> emitted;     // result rows by result id
  };

  // Tagged rows: [side (bool), key, time, cells...].
  void Step(Time time, Upd* begin, Upd* end, std::vector<Upd>& output) {
    std::vector<const Row*> touched;
    for (Upd* u = begin; u != end; ++u) {
      RowView row = u->data.second.view();
      size_t side = row[0].AsBool() ? 1 : 0;
      builder_.Value(row[1]);
      Row key = builder_.Finish();
      AppendCellsAfter(builder_, row, 3);
      Row cells = builder_.Finish();
      auto [it, fresh] = instances_.try_emplace(std::move(key));
      if (touched_set_.insert(&it->first).second) touched.push_back(&it->first);
      auto k = std::make_pair(Value::FromView(row[2]), u->data.first);
      if (k.first.kind() == value::ValueKind::kString || k.first.kind() == value::ValueKind::kBytes) {
        k.first = Value::Owned(k.first.kind(), std::string(k.first.text()));
      }
      if (u->diff > 0) {
        it->second.sides[side][k] = std::move(cells);
      } else {
        it->second.sides[side].erase(k);
      }
    }
    touched_set_.clear();
    for (const Row* key : touched) {
      auto it = instances_.find(*key);
      Instance& inst = it->second;
      absl::flat_hash_map<Key, Row> next;
      if (kind_ != JoinKind::kRight) Match(it->first, inst, 0, next);
      if (kind_ == JoinKind::kRight || kind_ == JoinKind::kOuter) Match(it->first, inst, 1, next);
      for (auto& [id, row] : inst.emitted) {
        auto n = next.find(id);
        if (n != next.end() && n->second == row) continue;
        output.push_back({Data(id, row), time, -1});
      }
      for (auto& [id, row] : next) {
        auto o = inst.emitted.find(id);
        if (o != inst.emitted.end() && o->second == row) continue;
        output.push_back({Data(id, row), time, +1});
      }
      inst.emitted = std::move(next);
      if (inst.sides[0].empty() && inst.sides[1].empty() && inst.emitted.empty()) instances_.erase(it);
    }
  }

  static double Distance(const Value& a, const Value& b) {
    if (a.kind() == value::ValueKind::kFloat || b.kind() == value::ValueKind::kFloat) return std::fabs(a.AsNumber() - b.AsNumber());
    return std::fabs(static_cast<double>(a.AsInt()) - static_cast<double>(b.AsInt()));
  }

  // Results for the rows of `side`, each joined with a row of the other side.
  void Match(const Row& key, const Instance& inst, size_t side, absl::flat_hash_map<Key, Row>& next) {
    const Ordered& own = inst.sides[side];
    const Ordered& other = inst.sides[1 - side];
    bool outer = kind_ == JoinKind::kOuter;
    constexpr Key kMin(0, 0);
    constexpr Key kMax(~uint64_t{0}, ~uint64_t{0});
    for (const auto& [k, cells] : own) {
      const Value& t = k.first;
      // In an outer join rows at equal times are ordered left before right; otherwise the
      // other side's rows at equal times count both backward and forward.
      bool back_inclusive = !outer || side == 1;
      bool forward_inclusive = !outer || side == 0;
      Ordered::const_iterator back = other.end(), forward = other.end();
      auto upper = back_inclusive ? other.upper_bound({t, kMax}) : other.lower_bound({t, kMin});
      if (upper != other.begin()) back = std::prev(upper);
      forward = forward_inclusive ? other.lower_bound({t, kMin}) : other.upper_bound({t, kMax});
      Ordered::const_iterator match = other.end();
      switch (direction_) {
        case AsofDirection::kBackward: match = back; break;
        case AsofDirection::kForward: match = forward; break;
        case AsofDirection::kNearest:
          if (back == other.end()) match = forward;
          else if (forward == other.end()) match = back;
          else match = Distance(back->first.first, t) < Distance(forward->first.first, t) ? back : forward;
          break;
      }
      if (match == other.end() && kind_ == JoinKind::kInner) continue;
      const Row* left_cells = side == 0 ? &cells : (match == other.end() ? nullptr : &match->second);
      const Row* right_cells = side == 1 ? &cells : (match == other.end() ? nullptr : &match->second);
      std::optional<Key> left_id = side == 0 ? std::optional<Key>(k.second) : (match == other.end() ? std::nullopt : std::optional<Key>(match->first.second));
      std::optional<Key> right_id = side == 1 ? std::optional<Key>(k.second) : (match == other.end() ? std::nullopt : std::optional<Key>(match->first.second));
      auto put = [&](const Row* r, size_t arity) {
        if (r) {
          for (value::ValueView v : r->view().values()) builder_.Value(v);
        } else {
          for (size_t c = 0; c < arity; ++c) builder_.Null();
        }
      };
      put(left_cells, left_arity_);
      put(right_cells, right_arity_);
      auto id_cell = [&](const std::optional<Key>& id) {
        if (id) builder_.Pointer(*id); else builder_.Null();
      };
      id_cell(left_id);
      id_cell(right_id);
      builder_.Value(key.view()[0]);
      t.WriteTo(builder_);
      Row out = builder_.Finish();
      builder_.Pointer(k.second).Bool(side == 1);
      Key id = value::IdFromValues(builder_.Finish().values());
      next[id] = std::move(out);
    }
  }

  JoinKind kind_;
  AsofDirection direction_;
  size_t left_arity_;
  size_t right_arity_;
  std::string operation_;
  ReportFn report_;
  value::RowBuilder builder_;
  absl::node_hash_map<Row, Instance> instances_;
  absl::flat_hash_set<const Row*> touched_set_;
  TimeQueue queue_;
};

// Rows of one side as [side, key, time, cells...] (without the cells when the operator does
// not need them); rows whose key or time failed are reported and left out.
Coll TagSide(const Coll& input, bool right, const expr::Expression& key, const expr::Expression& time,
             const std::string& operation, ReportFn report, bool with_cells = true) {
  struct State {
    expr::Expression key, time;
    Evaluator evaluator;
    value::RowBuilder builder;
    std::string operation;
    ReportFn report;
    bool right;
    bool with_cells;
  };
  auto state = std::make_shared<State>(State{key, time, {}, {}, operation, std::move(report), right, with_cells});
  return input.Unary<Data>("AsofTag", [state](auto& in, auto& out, auto&) {
    in.ForEach([&](const Time& t, std::vector<Upd>& updates) {
      std::vector<Upd> tagged;
      tagged.reserve(updates.size());
      for (Upd& u : updates) {
        RowInput row{u.data.second.view(), u.data.first};
        Value k = state->evaluator.Eval(state->key, row);
        Value tm = state->evaluator.Eval(state->time, row);
        if (state->evaluator.failed() || tm.IsNone()) {
          std::string why = state->evaluator.failed() ? state->evaluator.error() : "the time or key is None";
          state->report(state->operation, why + "; the row is left out", u.data.first);
          state->evaluator.ClearError();
          continue;
        }
        state->builder.Bool(state->right);
        k.WriteTo(state->builder);
        tm.WriteTo(state->builder);
        if (state->with_cells) {
          for (value::ValueView v : u.data.second.view().values()) state->builder.Value(v);
        }
        tagged.push_back({Data(u.data.first, state->builder.Finish()), u.time, u.diff});
      }
      out.Send(t, std::move(tagged));
    });
  });
}

}  // namespace

Coll LowerAsofJoin(const Coll& left, const Coll& right, const TableGraph::Node& node, ReportFn report) {
  Coll tagged = TagSide(left, false, node.exprs[0], node.exprs[1], node.name, report)
                    .Concat(TagSide(right, true, node.exprs[2], node.exprs[3], node.name, report));
  Coll routed = ExchangeByCell(tagged, 1);
  auto logic = std::make_shared<AsofLogic>(node, std::move(report));
  return routed.Unary<Data>("AsofJoin", [logic](auto& in, auto& out, auto& op) {
    logic->queue().Take(in, out, op);
    logic->Run(out, op.InputFrontier(0));
  });
}

Coll LowerAsofNowJoin(const Coll& left, const Coll& right, const TableGraph::Node& node, ReportFn report) {
  // Tagged rows: [side, key, (unused time), cells...].
  value::RowBuilder b;
  expr::Expression no_time = expr::Expression::Constant(b.Int(0).Finish());
  Coll tagged = TagSide(left, false, node.exprs[0], no_time, node.name, report)
                    .Concat(TagSide(right, true, node.exprs[1], no_time, node.name, report));
  Coll routed = ExchangeByCell(tagged, 1);
  struct State {
    TimeQueue queue;
    absl::node_hash_map<Row, absl::flat_hash_map<Key, Row>> right;  // key -> right rows by id
    size_t left_arity = 0, right_arity = 0;
    bool keep_unmatched = false;
    bool id_from_left = false;
    value::RowBuilder builder;
  };
  auto state = std::make_shared<State>();
  state->left_arity = static_cast<size_t>(node.arities[0]);
  state->right_arity = static_cast<size_t>(node.arities[1]);
  state->keep_unmatched = node.join_kind == JoinKind::kLeft;
  state->id_from_left = node.join_id == JoinId::kLeft;
  (void)report;
  return routed.Unary<Data>("AsofNowJoin", [state](auto& in, auto& out, auto& op) {
    state->queue.Take(in, out, op);
    std::vector<Upd> ready = state->queue.Ready(op.InputFrontier(0));
    std::vector<Upd> output;
    value::RowBuilder& b = state->builder;
    auto cells_of = [&](RowView row) { AppendCellsAfter(b, row, 3); };
    bool completed = ForEachTime(ready, [&](Time time, Upd* first, Upd* last) {
      // The right side's changes of this time first: a left row sees them.
      for (Upd* u = first; u != last; ++u) {
        RowView row = (*u).data.second.view();
        if (!row[0].AsBool()) continue;
        b.Value(row[1]);
        Row key = b.Finish();
        auto& rows = state->right[key];
        if ((*u).diff > 0) {
          cells_of(row);
          rows[(*u).data.first] = b.Finish();
        } else {
          rows.erase((*u).data.first);
          if (rows.empty()) state->right.erase(key);
        }
      }
      for (Upd* u = first; u != last; ++u) {
        RowView row = (*u).data.second.view();
        if (row[0].AsBool() || (*u).diff < 0) continue;  // left rows are not stored: insertions only
        b.Value(row[1]);
        Row key = b.Finish();
        const Key& left_id = (*u).data.first;
        auto emit = [&](const Key* right_id, const Row* right_cells) {
          cells_of(row);
          if (right_cells) {
            for (value::ValueView v : right_cells->view().values()) b.Value(v);
          } else {
            for (size_t c = 0; c < state->right_arity; ++c) b.Null();
          }
          b.Pointer(left_id);
          if (right_id) b.Pointer(*right_id); else b.Null();
          Row out_row = b.Finish();
          Key id = left_id;
          if (!state->id_from_left) {
            b.Pointer(left_id);
            if (right_id) b.Pointer(*right_id); else b.Null();
            id = value::IdFromValues(b.Finish().values());
          }
          output.push_back({Data(id, std::move(out_row)), time, (*u).diff});
        };
        auto it = state->right.find(key);
        if (it == state->right.end()) {
          if (state->keep_unmatched) emit(nullptr, nullptr);
          continue;
        }
        for (const auto& [right_id, cells] : it->second) emit(&right_id, &cells);
      }
      return true;
    });
    if (!completed) return;
    if (!output.empty()) out.Send(state->queue.capabilities.front().time(), std::move(output));
    state->queue.Retain({});
  });
}

Coll LowerSort(const Coll& input, const TableGraph::Node& node, ReportFn report) {
  // Tagged rows: [side (unused), instance, key]; the cells are not needed.
  Coll tagged = TagSide(input, false, node.exprs[1], node.exprs[0], node.name, report, /*with_cells=*/false);
  Coll routed = ExchangeByCell(tagged, 1);
  using Ordered = std::set<std::pair<Value, Key>, SessionKeyLess>;
  struct State {
    TimeQueue queue;
    absl::node_hash_map<Row, Ordered> instances;
    absl::flat_hash_map<Key, Row> emitted;  // (prev, next) per id
    value::RowBuilder builder;
  };
  auto state = std::make_shared<State>();
  return routed.Unary<Data>("Sort", [state](auto& in, auto& out, auto& op) {
    state->queue.Take(in, out, op);
    std::vector<Upd> ready = state->queue.Ready(op.InputFrontier(0));
    std::vector<Upd> output;
    value::RowBuilder& b = state->builder;
    bool completed = ForEachTime(ready, [&](Time time, Upd* first, Upd* last) {
      // Apply the changes, remembering which rows may have new neighbours.
      std::vector<std::pair<Ordered*, std::pair<Value, Key>>> touched;
      std::vector<Key> removed;
      for (Upd* u = first; u != last; ++u) {
        RowView row = (*u).data.second.view();
        b.Value(row[1]);
        Row instance = b.Finish();
        auto entry = std::make_pair(Value::FromView(row[2]), (*u).data.first);
        if (entry.first.kind() == value::ValueKind::kString || entry.first.kind() == value::ValueKind::kBytes) {
          entry.first = Value::Owned(entry.first.kind(), std::string(entry.first.text()));
        }
        Ordered& ordered = state->instances[instance];
        if ((*u).diff > 0) {
          ordered.insert(entry);
        } else {
          ordered.erase(entry);
          removed.push_back(entry.second);
        }
        touched.emplace_back(&ordered, std::move(entry));
      }
      // Rows whose neighbours may have changed: each changed row's place and its neighbours.
      absl::flat_hash_map<Key, std::pair<std::optional<Key>, std::optional<Key>>> next;
      auto refresh = [&](Ordered& ordered, typename Ordered::iterator it) {
        std::optional<Key> prev, succ;
        if (it != ordered.begin()) prev = std::prev(it)->second;
        if (auto n = std::next(it); n != ordered.end()) succ = n->second;
        next[it->second] = {prev, succ};
      };
      for (auto& [ordered, entry] : touched) {
        // `it`: the row itself (inserted) or the row after where it was (removed).
        auto it = ordered->lower_bound(entry);
        bool present = it != ordered->end() && it->second == entry.second && CompareValues(it->first, entry.first) == 0;
        if (it != ordered->begin()) refresh(*ordered, std::prev(it));
        if (it != ordered->end()) {
          refresh(*ordered, it);
          if (present && std::next(it) != ordered->end()) refresh(*ordered, std::next(it));
        }
      }
      for (const Key& id : removed) {
        if (next.contains(id)) continue;
        auto old = state->emitted.find(id);
        if (old == state->emitted.end()) continue;
        output.push_back({Data(id, std::move(old->second)), time, -1});
        state->emitted.erase(old);
      }
      for (auto& [id, neighbours] : next) {
        auto put = [&](const std::optional<Key>& k) {
          if (k) b.Pointer(*k); else b.Null();
        };
        put(neighbours.first);
        put(neighbours.second);
        Row row = b.Finish();
        auto old = state->emitted.find(id);
        if (old != state->emitted.end()) {
          if (old->second == row) continue;
          output.push_back({Data(id, old->second), time, -1});
          old->second = row;
        } else {
          state->emitted.emplace(id, row);
        }
        output.push_back({Data(id, std::move(row)), time, +1});
      }
      return true;
    });
    if (!completed) return;
    if (!output.empty()) out.Send(state->queue.capabilities.front().time(), std::move(output));
    state->queue.Retain({});
  });
}

Coll LowerDeduplicate(const Coll& input, const TableGraph::Node& node, ReportFn report) {
  bool has_instance = node.exprs.size() > 1;
  value::RowBuilder nb;
  expr::Expression instance = has_instance ? node.exprs[1] : expr::Expression::Constant(nb.Null().Finish());
  // Tagged rows: [side (unused), instance, value, cells...].
  Coll tagged = TagSide(input, false, instance, node.exprs[0], node.name, report);
  Coll routed = ExchangeByCell(tagged, 1);
  struct Accepted {
    Row value;  // one cell
    Row cells;
    Key id;     // the result's id
  };
  struct State {
    TimeQueue queue;
    absl::node_hash_map<Row, Accepted> accepted;  // by instance
    std::shared_ptr<BatchFunction> acceptor;
    std::string operation;
    ReportFn report;
    value::RowBuilder builder;
  };
  auto state = std::make_shared<State>();
  state->acceptor = node.function;
  state->operation = node.name;
  state->report = std::move(report);
  return routed.Unary<Data>("Deduplicate", [state](auto& in, auto& out, auto& op) {
    state->queue.Take(in, out, op);
    std::vector<Upd> ready = state->queue.Ready(op.InputFrontier(0));
    std::vector<Upd> output;
    value::RowBuilder& b = state->builder;
    bool completed = ForEachTime(ready, [&](Time time, Upd* first, Upd* last) {
      // Candidates per instance, in id order; deletions are ignored.
      std::map<Row, std::vector<Upd*>, RowLess> candidates;
      for (Upd* u = first; u != last; ++u) {
        if ((*u).diff <= 0) continue;
        b.Value((*u).data.second.view()[1]);
        candidates[b.Finish()].push_back(u);
      }
      for (auto& [inst, rows] : candidates) {
        std::sort(rows.begin(), rows.end(), [](const Upd* a, const Upd* c) { return a->data.first < c->data.first; });
      }
      absl::flat_hash_map<Row, std::optional<Accepted>> before;  // what each touched instance emitted
      auto accept = [&](const Row& inst, const Upd* u) {
        RowView row = u->data.second.view();
        Accepted a;
        b.Value(row[2]);
        a.value = b.Finish();
        AppendCellsAfter(b, row, 3);
        a.cells = b.Finish();
        b.Value(inst.view()[0]);  // None without an instance, as Pathway derives it
        a.id = value::IdFromValues(b.Finish().values());
        auto [it, fresh] = state->accepted.try_emplace(inst);
        if (!before.contains(inst)) before[inst] = fresh ? std::nullopt : std::optional<Accepted>(it->second);
        it->second = std::move(a);
      };
      // Rounds: each instance's next candidate, the acceptor called once per round.
      size_t round = 0;
      while (true) {
        std::vector<std::pair<const Row*, const Upd*>> asking;
        std::vector<Row> args;
        bool any = false;
        for (auto& [inst, rows] : candidates) {
          if (round >= rows.size()) continue;
          any = true;
          const Upd* u = rows[round];
          auto it = state->accepted.find(inst);
          if (it == state->accepted.end()) {
            accept(inst, u);
            continue;
          }
          b.Value(u->data.second.view()[2]);
          b.Value(it->second.value.view()[0]);
          args.push_back(b.Finish());
          asking.emplace_back(&inst, u);
        }
        if (!any) break;
        if (!args.empty()) {
          std::vector<Row> results;
          std::vector<RowFailure> failures;
          if (absl::Status s = (*state->acceptor)(args, results, failures); !s.ok()) {
            op.owner().Fail(s);
            return false;
          }
          for (const RowFailure& f : failures) state->report(state->operation, f.message, asking[f.index].second->data.first);
          for (size_t k = 0; k < asking.size() && k < results.size(); ++k) {
            value::ValueView v = results[k].view()[0];
            if (v.kind() == value::ValueKind::kBool && v.AsBool()) accept(*asking[k].first, asking[k].second);
          }
        }
        ++round;
      }
      for (auto& [inst, old] : before) {
        const Accepted& now = state->accepted.at(inst);
        if (old && old->cells == now.cells) continue;
        if (old) output.push_back({Data(old->id, old->cells), time, -1});
        output.push_back({Data(now.id, now.cells), time, +1});
      }
      return true;
    });
    if (!completed) return;
    if (!output.empty()) out.Send(state->queue.capabilities.front().time(), std::move(output));
    state->queue.Retain({});
  });
}

Coll LowerForgetFilter(const Coll& input, const TableGraph::Node& node) {
  (void)node;
  struct State {
    TimeQueue queue;
    absl::flat_hash_map<Key, Row> current;  // the row each id holds downstream
  };
  auto state = std::make_shared<State>();
  return input.Unary<Data>("FilterOutForgetting", [state](auto& in, auto& out, auto& op) {
    state->queue.Take(in, out, op);
    std::vector<Upd> ready = state->queue.Ready(op.InputFrontier(0));
    std::vector<Upd> output;
    bool completed = ForEachTime(ready, [&](Time time, Upd* first, Upd* last) {
      if (time % 2 == 0) {
        // Net change per id at this time: its new row (if any) replaces what it holds.
        absl::flat_hash_map<Key, std::optional<Row>> next;
        std::vector<Key> order;
        for (Upd* u = first; u != last; ++u) {
          auto [it, fresh] = next.try_emplace(u->data.first);
          if (fresh) order.push_back(u->data.first);
          if (u->diff > 0) it->second = std::move(u->data.second);
        }
        for (const Key& id : order) {
          std::optional<Row>& row = next[id];
          auto held = state->current.find(id);
          if (held != state->current.end()) {
            if (row && *row == held->second) continue;
            output.push_back({Data(id, held->second), time, -1});
            state->current.erase(held);
          }
          if (row) {
            output.push_back({Data(id, *row), time, +1});
            state->current.emplace(id, std::move(*row));
          }
        }
      }
      return true;
    });
    if (!completed) return;
    if (!output.empty()) out.Send(state->queue.capabilities.front().time(), std::move(output));
    state->queue.Retain({});
  });
}

}  // namespace deltaflow::table::temporal_internal
