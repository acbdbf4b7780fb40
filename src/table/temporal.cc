// Event-time operators of the table layer: gates (buffer, forget, freeze) and the filter that
// removes what forgetting caused.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

  // The complete updates (the frontier has passed them), sorted by time.
  std::vector<Upd> Ready(const time::Antichain<Time>& frontier) {
    std::vector<Upd> ready;
    if (pending.empty()) return ready;
    if (!capabilities.empty() && frontier.LessEqual(capabilities.front().time())) return ready;
    std::vector<Upd> later;
    for (auto& u : pending) (frontier.LessEqual(u.time) ? later : ready).push_back(std::move(u));
    pending = std::move(later);
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

class GateLogic {
 public:
  GateLogic(const TableGraph::Node& node, ReportFn report)
      : kind_(node.gate), mark_(node.mark), threshold_(node.exprs[0]), time_(node.exprs[1]),
        operation_(node.name), report_(std::move(report)) {}

  void Run(dd::OutputPort<Data, Time>& out, Worker& worker) {
    std::vector<Upd> ready = queue_.Ready(frontier_);
    std::vector<Upd> output;
    size_t i = 0;
    while (i < ready.size()) {
      Time time = ready[i].time;
      size_t end = i;
      while (end < ready.size() && ready[end].time == time) ++end;
      Step(worker, time, ready.data() + i, ready.data() + end, output);
      i = end;
    }
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
  std::optional<std::pair<Value, Value>> Eval(Worker& worker, const Upd& u) {
    RowInput row{u.data.second.view(), u.data.first};
    Value threshold = Own(evaluator_.Eval(threshold_, row));
    Value time = Own(evaluator_.Eval(time_, row));
    if (evaluator_.failed() || threshold.IsNone() || time.IsNone()) {
      std::string why = evaluator_.failed() ? evaluator_.error() : "the event time or threshold is None";
      report_(worker, operation_, fmt::format("{}; the row is passed on ungated", why), u.data.first);
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

  void Step(Worker& worker, Time time, Upd* begin, Upd* end, std::vector<Upd>& output) {
    switch (kind_) {
      case GateKind::kFreeze: {
        std::vector<Value> times;
        for (Upd* u = begin; u != end; ++u) {
          auto tt = Eval(worker, *u);
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
          auto tt = Eval(worker, *u);
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
          auto tt = Eval(worker, *u);
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

Coll LowerGate(const Coll& input, const TableGraph::Node& node, ReportFn report) {
  // One watermark for the whole table: every row meets on worker 0.
  Coll routed = dd::Exchange(input, [](const Data&) -> uint64_t { return 0; });
  auto logic = std::make_shared<GateLogic>(node, std::move(report));
  return routed.Unary<Data>("Gate", [logic](auto& in, auto& out, auto& op) {
    logic->queue().Take(in, out, op);
    logic->set_frontier(op.InputFrontier(0));
    logic->Run(out, op.owner());
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
    size_t i = 0;
    while (i < ready.size()) {
      Time time = ready[i].time;
      size_t end = i;
      while (end < ready.size() && ready[end].time == time) ++end;
      if (time % 2 == 0) {
        // Net change per id at this time: its new row (if any) replaces what it holds.
        absl::flat_hash_map<Key, std::optional<Row>> next;
        std::vector<Key> order;
        for (size_t k = i; k < end; ++k) {
          Upd& u = ready[k];
          auto [it, fresh] = next.try_emplace(u.data.first);
          if (fresh) order.push_back(u.data.first);
          if (u.diff > 0) it->second = std::move(u.data.second);
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
      i = end;
    }
    if (!output.empty()) out.Send(state->queue.capabilities.front().time(), std::move(output));
    state->queue.Retain({});
  });
}

}  // namespace deltaflow::table::temporal_internal
