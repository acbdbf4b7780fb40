#include "deltaflow/table/graph.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/driver_input.h"
#include "deltaflow/dd/exchange.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/join.h"
#include "deltaflow/dd/operators/reduce.h"
#include "deltaflow/persist/checkpoint.h"
#include "deltaflow/runtime/runtime.h"
#include "deltaflow/table/group_reduce_internal.h"
#include "deltaflow/table/temporal_internal.h"
#include "deltaflow/dd/iterate.h"
#include "fmt/format.h"

namespace deltaflow::table {

using expr::Evaluator;
using expr::Expression;
using expr::RowInput;
using expr::Value;
using value::Key;
using value::Row;
using value::RowBuilder;
using value::RowView;

// --- Graph building ------------------------------------------------------------------------

int TableGraph::Add(Node node) {
  for (int input : node.inputs) {
    DELTAFLOW_CHECK(input >= 0 && input < static_cast<int>(nodes_.size()), "table graph: node reads a later node");
  }
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size()) - 1;
}

int TableGraph::StaticInput(std::vector<TableUpdate> rows, int arity, std::string name) {
  Node node{Kind::kStaticInput, std::move(name)};
  node.rows = std::move(rows);
  node.arity = arity;
  return Add(std::move(node));
}

int TableGraph::SourceInput(std::shared_ptr<io::Source> source, int arity, std::string name, size_t max_backlog,
                            std::string persistent_name) {
  Node node{Kind::kSourceInput, std::move(name)};
  node.source = std::move(source);
  node.max_backlog = max_backlog;
  node.persistent_name = std::move(persistent_name);
  node.arity = arity;
  return Add(std::move(node));
}

int TableGraph::Select(int input, std::vector<Expression> exprs, std::string name) {
  Node node{Kind::kSelect, std::move(name), {input}};
  node.arity = static_cast<int>(exprs.size());
  node.exprs = std::move(exprs);
  return Add(std::move(node));
}

int TableGraph::Filter(int input, Expression predicate, std::string name) {
  Node node{Kind::kFilter, std::move(name), {input}};
  node.exprs.push_back(std::move(predicate));
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::Reindex(int input, Expression new_id, std::string name) {
  Node node{Kind::kReindex, std::move(name), {input}};
  node.exprs.push_back(std::move(new_id));
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::Concat(std::vector<int> inputs, std::string name) {
  DELTAFLOW_CHECK(!inputs.empty(), "concat of no tables");
  Node node{Kind::kConcat, std::move(name), std::move(inputs)};
  node.arity = Arity(node.inputs[0]);
  return Add(std::move(node));
}

int TableGraph::GroupByReduce(int input, std::vector<Expression> group_by, std::vector<Reducer> reducers,
                              std::optional<Expression> group_id, std::string name) {
  Node node{Kind::kGroupByReduce, std::move(name), {input}};
  node.arity = static_cast<int>(group_by.size() + reducers.size());
  node.column = static_cast<int>(group_by.size());
  node.exprs = std::move(group_by);
  if (group_id) {
    node.exprs.push_back(std::move(*group_id));
    node.join_id = JoinId::kLeft;  // marks "id given by the last expression"
  }
  node.reducers = std::move(reducers);
  return Add(std::move(node));
}

int TableGraph::Join(int left, int right, std::vector<Expression> left_keys, std::vector<Expression> right_keys,
                     JoinKind kind, JoinId id, std::string name) {
  DELTAFLOW_CHECK(left_keys.size() == right_keys.size(), "join: key lists differ in length");
  Node node{Kind::kJoin, std::move(name), {left, right}};
  node.column = static_cast<int>(left_keys.size());
  for (auto& e : left_keys) node.exprs.push_back(std::move(e));
  for (auto& e : right_keys) node.exprs.push_back(std::move(e));
  node.join_kind = kind;
  node.join_id = id;
  node.arities = {Arity(left), Arity(right)};
  node.arity = Arity(left) + Arity(right) + 2;
  return Add(std::move(node));
}

int TableGraph::Zip(std::vector<int> inputs, std::string name) {
  DELTAFLOW_CHECK(!inputs.empty(), "zip of no tables");
  Node node{Kind::kZip, std::move(name), std::move(inputs)};
  for (int input : node.inputs) {
    node.arities.push_back(Arity(input));
    node.arity += Arity(input);
  }
  return Add(std::move(node));
}

int TableGraph::UpdateRows(int base, int updates, std::string name) {
  Node node{Kind::kUpdateRows, std::move(name), {base, updates}};
  node.arity = Arity(base);
  return Add(std::move(node));
}

int TableGraph::Restrict(int input, int keys, std::string name) {
  Node node{Kind::kRestrict, std::move(name), {input, keys}};
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::Difference(int input, int keys, std::string name) {
  Node node{Kind::kDifference, std::move(name), {input, keys}};
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::Flatten(int input, int column, std::string name) {
  Node node{Kind::kFlatten, std::move(name), {input}};
  node.column = column;
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::Apply(int input, std::vector<Expression> args, std::shared_ptr<BatchFunction> function,
                      bool deterministic, std::string name) {
  Node node{Kind::kApply, std::move(name), {input}};
  node.exprs = std::move(args);
  node.function = std::move(function);
  node.deterministic = deterministic;
  node.arity = Arity(input) + 1;
  return Add(std::move(node));
}

int TableGraph::Gate(int input, GateKind kind, Expression threshold, Expression time, bool mark, std::string name) {
  Node node{Kind::kGate, std::move(name), {input}};
  node.exprs = {std::move(threshold), std::move(time)};
  node.gate = kind;
  node.mark = mark;
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::FilterOutForgetting(int input, std::string name) {
  Node node{Kind::kForgetFilter, std::move(name), {input}};
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::Sessions(int input, int time_column, int instance_column, std::optional<value::Row> max_gap,
                         std::shared_ptr<BatchFunction> predicate, std::string name) {
  Node node{Kind::kSessions, std::move(name), {input}};
  node.exprs = {Expression::Column(time_column), Expression::Column(instance_column)};
  if (max_gap) node.exprs.push_back(Expression::Constant(std::move(*max_gap)));
  node.function = std::move(predicate);
  node.arity = Arity(input) + 3;
  return Add(std::move(node));
}

int TableGraph::AsofJoin(int left, int right, Expression left_key, Expression left_time, Expression right_key,
                         Expression right_time, JoinKind kind, AsofDirection direction, std::string name) {
  Node node{Kind::kAsofJoin, std::move(name), {left, right}};
  node.exprs = {std::move(left_key), std::move(left_time), std::move(right_key), std::move(right_time)};
  node.join_kind = kind;
  node.direction = direction;
  node.arities = {Arity(left), Arity(right)};
  node.arity = Arity(left) + Arity(right) + 4;
  return Add(std::move(node));
}

int TableGraph::AsofNowJoin(int left, int right, Expression left_key, Expression right_key, JoinKind kind,
                            bool id_from_left, std::string name) {
  Node node{Kind::kAsofNowJoin, std::move(name), {left, right}};
  node.exprs = {std::move(left_key), std::move(right_key)};
  node.join_kind = kind;
  node.join_id = id_from_left ? JoinId::kLeft : JoinId::kPair;
  node.arities = {Arity(left), Arity(right)};
  node.arity = Arity(left) + Arity(right) + 2;
  return Add(std::move(node));
}

int TableGraph::Sort(int input, Expression key, Expression instance, std::string name) {
  Node node{Kind::kSort, std::move(name), {input}};
  node.exprs = {std::move(key), std::move(instance)};
  node.arity = 2;
  return Add(std::move(node));
}

int TableGraph::Deduplicate(int input, Expression value, std::optional<Expression> instance,
                            std::shared_ptr<BatchFunction> acceptor, std::string name) {
  Node node{Kind::kDeduplicate, std::move(name), {input}};
  node.exprs = {std::move(value)};
  if (instance) node.exprs.push_back(std::move(*instance));
  node.function = std::move(acceptor);
  node.arity = Arity(input);
  return Add(std::move(node));
}

int TableGraph::ScopeInput(int index, int arity, std::string name) {
  Node node{Kind::kScopeInput, std::move(name)};
  node.column = index;
  node.arity = arity;
  return Add(std::move(node));
}

int TableGraph::Iterate(std::vector<int> inputs, std::shared_ptr<const TableGraph> body, std::vector<int> body_outputs,
                        int iterated, std::optional<uint32_t> limit, std::string name) {
  Node node{Kind::kIterate, std::move(name), std::move(inputs)};
  node.body = std::move(body);
  node.body_outputs = std::move(body_outputs);
  node.iterated = iterated;
  node.limit = limit;
  node.arity = 0;
  return Add(std::move(node));
}

int TableGraph::IterateOutput(int iterate_node, int index, int arity, std::string name) {
  Node node{Kind::kIterateOutput, std::move(name), {iterate_node}};
  node.column = index;
  node.arity = arity;
  return Add(std::move(node));
}

int TableGraph::ErrorLog() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].kind == Kind::kErrorLog) return static_cast<int>(i);
  }
  Node node{Kind::kErrorLog, "error log"};
  node.arity = 3;
  return Add(std::move(node));
}

int TableGraph::Output(int input, std::string name, bool keep_error_rows) {
  Node node{Kind::kOutput, std::move(name), {input}};
  node.keep_error_rows = keep_error_rows;
  node.arity = Arity(input);
  node.column = outputs_++;
  output_nodes_.push_back(input);
  return Add(std::move(node));
}

// --- Running -------------------------------------------------------------------------------

namespace {

using group_reduce_internal::Coll;
using group_reduce_internal::Data;
using group_reduce_internal::Upd;
using group_reduce_internal::Worker;

// State shared by every worker of one run.
// With persistence, the results of non-deterministic functions: those of earlier runs (so that
// a replayed row gets the value its outputs were given then) and those computed in this run,
// waiting to be logged at the next checkpoint. Keyed by a call id (the operation and the
// row's id) and the argument row. Workers read and write it; the driving thread drains it.
struct PersistedCalls {
  std::mutex mutex;
  absl::flat_hash_map<std::pair<Key, Row>, Row> results;
  std::vector<io::Change> pending;  // id: the call id; row: the arguments, then the result
  bool record = true;               // false in a replay: nothing is logged

  static Key CallId(const std::string& operation, const Key& id) {
    RowBuilder b;
    b.String(operation).Pointer(id);
    return value::IdFromValues(b.Finish().values());
  }
};

struct RunContext {
  bool terminate_on_error = true;
  std::shared_ptr<PersistedCalls> calls;  // non-deterministic results; null without persistence
  std::mutex mutex;
  std::vector<ErrorLogEntry> errors;
  std::map<std::pair<std::string, uint32_t>, std::pair<size_t, size_t>> state;  // (op, worker) -> (last, peak)
  std::string fatal;  // a failure that stops the run (a duplicate id)

  struct OutputQueue {
    std::deque<std::pair<Time, std::vector<OutputChange>>> ready;
    bool complete = false;
    // Every time before it is closed and in `ready` (or delivered already).
    Time frontier = 0;
  };
  std::vector<OutputQueue> outputs;
  std::atomic<bool> output_pending{false};
  std::atomic<bool> source_ready{false};  // a source committed data since the last poll

  // Reports a failure on one row: logged, and the cell holds `Error`. The run stops (with
  // terminate_on_error) only when an `Error` reaches an output, as Pathway does: a failed
  // cell that is dropped, unused, or replaced by `fill_error` stops nothing.
  template <typename W>
  void Report(W& worker, const std::string& operation, const Evaluator& evaluator, const Key& id) {
    Report(worker, operation, evaluator.error(), id, evaluator.error_expression());
  }
  template <typename W>
  void Report(W& /*worker*/, const std::string& operation, std::string message, const Key& id,
              std::string expression = {}) {
    Report(operation, std::move(message), id, std::move(expression));
  }
  void Report(const std::string& operation, std::string message, const Key& id, std::string expression = {}) {
    std::lock_guard<std::mutex> lock(mutex);
    errors.push_back({operation, std::move(message), id, std::move(expression)});
  }
  // A failure where no `Error` value can stand in (a filter condition, a join key, a new id):
  // with terminate_on_error it stops the run at once; otherwise the row is dropped and logged.
  template <typename W>
  void ReportFatal(W& worker, const std::string& operation, std::string message, const Key& id,
                   std::string expression = {}) {
    ErrorLogEntry entry{operation, std::move(message), id, std::move(expression)};
    if (terminate_on_error) worker.Fail(absl::InvalidArgumentError(Describe(entry)));
    std::lock_guard<std::mutex> lock(mutex);
    errors.push_back(std::move(entry));
  }
  template <typename W>
  void ReportFatal(W& worker, const std::string& operation, const Evaluator& evaluator, const Key& id) {
    ReportFatal(worker, operation, evaluator.error(), id, evaluator.error_expression());
  }
  static std::string Describe(const ErrorLogEntry& e) {
    std::string where = e.expression.empty() ? "" : fmt::format(" in `{}`", e.expression);
    return fmt::format("{}: {}{} (row {})", e.operation, e.message, where, e.id.ToString());
  }
  // Why an `Error` value exists: the first failure logged (under `mutex`).
  std::string FirstFailureLocked(const std::string& output) const {
    if (!errors.empty()) return Describe(errors.front());
    return fmt::format("an Error value reached {}", output);
  }
};

Row ConcatRows(std::initializer_list<RowView> rows, RowBuilder& builder) {
  for (RowView r : rows) {
    for (value::ValueView v : r.values()) builder.Value(v);
  }
  return builder.Finish();
}

// A static table: emits its shard of the rows once, each at its own time, then closes.
class StaticSourceOperator final : public runtime::Operator<Time> {
 public:
  StaticSourceOperator(std::vector<Upd> updates) : Operator("StaticInput"), updates_(std::move(updates)) {}
  void Wire() { output_ = std::make_unique<dd::OutputPort<Data, Time>>(time::Source{index(), 0}); }
  dd::OutputPort<Data, Time>* output() { return output_.get(); }
  void Take(runtime::Capability<Time> capability) { capability_ = std::move(capability); }
  void Run() override {
    if (!capability_.valid()) return;
    if (!updates_.empty()) {
      Time first = updates_.front().time;
      for (const auto& u : updates_) first = std::min(first, u.time);
      capability_.Downgrade(first);
      output_->Send(first, std::move(updates_));
      updates_.clear();
    }
    capability_.Drop();
  }

 private:
  std::vector<Upd> updates_;
  std::unique_ptr<dd::OutputPort<Data, Time>> output_;
  runtime::Capability<Time> capability_;
};

Coll NewStaticSource(Worker& worker, std::vector<Upd> updates) {
  auto* op = worker.AddOperator(std::make_unique<StaticSourceOperator>(std::move(updates)), 0, 1);
  op->Wire();
  worker.OnInitialCapability(op->index(), 0, [op](runtime::Capability<Time> c) { op->Take(std::move(c)); });
  return Coll(&worker, op->output());
}

// The last stage of an output: on worker 0, collects every change, and when the frontier
// passes a time, consolidates that time's changes and queues them for the driver. Checks that
// no id holds two rows.
void AddOutputSink(const Coll& input, int index, bool keep_error_rows, std::string name,
                   std::shared_ptr<RunContext> ctx) {
  Coll routed = dd::Exchange(input, [](const Data&) -> uint64_t { return 0; });
  struct State {
    std::vector<Upd> pending;
    absl::flat_hash_map<Key, int64_t> current;  // multiplicity per id, to catch duplicates
    Time min_pending = std::numeric_limits<Time>::max();
    Time published_frontier = 0;
    bool complete = false;
  };
  auto state = std::make_shared<State>();
  // Every change reaches worker 0; only its sink reports (the others see nothing).
  bool reporter = input.worker().index() == 0;
  auto logic = [state, ctx, index, keep_error_rows, name, reporter](dd::InputPort<Data, Time>& input,
                                                                   const time::Antichain<Time>& frontier) {
    input.ForEach([&](const Time&, std::vector<Upd>& updates) {
      for (auto& u : updates) {
        state->min_pending = std::min(state->min_pending, u.time);
        state->pending.push_back(std::move(u));
      }
    });
    if (state->complete || !reporter) return;
    // Tells the driver how far this output is closed, once every earlier time is queued.
    auto publish_frontier = [&] {
      Time now = frontier.IsEmpty() ? std::numeric_limits<Time>::max() : frontier.Elements()[0];
      if (now == state->published_frontier) return;
      state->published_frontier = now;
      std::lock_guard<std::mutex> lock(ctx->mutex);
      ctx->outputs[index].frontier = now;
    };
    // Skip the scan while no pending time can be complete (the earliest is not passed).
    if (!frontier.IsEmpty() && !state->pending.empty() && state->min_pending >= frontier.Elements()[0]) {
      publish_frontier();
      return;
    }
    std::vector<Upd> ready;
    std::vector<Upd> later;
    for (auto& u : state->pending) (frontier.LessEqual(u.time) ? later : ready).push_back(std::move(u));
    state->pending = std::move(later);
    state->min_pending = std::numeric_limits<Time>::max();
    for (const auto& u : state->pending) state->min_pending = std::min(state->min_pending, u.time);
    if (!ready.empty()) {
      dd::ConsolidateUpdates(ready);
      std::stable_sort(ready.begin(), ready.end(), [](const Upd& a, const Upd& b) { return a.time < b.time; });
      std::vector<std::pair<Time, std::vector<OutputChange>>> batches;
      for (auto& u : ready) {
        if (u.diff == 0) continue;
        if (batches.empty() || batches.back().first != u.time) batches.emplace_back(u.time, std::vector<OutputChange>{});
        batches.back().second.push_back({u.data.first, std::move(u.data.second), u.diff});
      }
      for (auto& [time, changes] : batches) {
        // Every retraction of the time first (in id order), then every insertion: an id's old
        // row leaves before its new row arrives, and an observer never sees a row added before
        // the one it replaces (under another id) is removed.
        std::stable_sort(changes.begin(), changes.end(), [](const OutputChange& a, const OutputChange& b) {
          if ((a.diff < 0) != (b.diff < 0)) return a.diff < 0;
          return a.id < b.id;
        });
        // Without terminate_on_error, a row holding an Error is not delivered (as Pathway does):
        // its insertion is logged and skipped, and so is its retraction later.
        if (!ctx->terminate_on_error && !keep_error_rows) {
          std::erase_if(changes, [&](const OutputChange& c) {
            if (!c.row.has_errors()) return false;
            if (c.diff > 0) ctx->Report(name, "Error value encountered in output, skipping the row", c.id);
            return true;
          });
        }
        for (const OutputChange& c : changes) {
          int64_t& count = state->current[c.id];
          if (c.diff < 0) {
            count += c.diff;
            if (count == 0) state->current.erase(c.id);
            continue;
          }
          bool error_reached = ctx->terminate_on_error && c.row.has_errors();
          bool duplicate = count > 0 || c.diff > 1;  // two rows (or copies of one) under one id
          if (error_reached || duplicate) {
            std::lock_guard<std::mutex> lock(ctx->mutex);
            if (ctx->fatal.empty()) {
              ctx->fatal = error_reached ? ctx->FirstFailureLocked(name)
                                         : fmt::format("duplicate id {} in {}: ids must be unique", c.id.ToString(), name);
            }
            ctx->outputs[index].complete = true;
            ctx->output_pending = true;
            state->complete = true;
            return;
          }
          count += c.diff;
        }
      }
      std::lock_guard<std::mutex> lock(ctx->mutex);
      for (auto& b : batches) {
        if (!b.second.empty()) ctx->outputs[index].ready.push_back(std::move(b));
      }
      ctx->output_pending = true;
    }
    publish_frontier();
    if (frontier.IsEmpty() && state->pending.empty()) {
      std::lock_guard<std::mutex> lock(ctx->mutex);
      ctx->outputs[index].complete = true;
      ctx->output_pending = true;
      state->complete = true;
    }
  };
  using Op = dd::SinkOperator<Data, Time, int64_t, decltype(logic)>;
  Worker& worker = routed.worker();
  Op* op = worker.AddOperator(std::make_unique<Op>("Output", std::move(logic)), 1, 0);
  op->Wire(&worker);
  routed.ConnectTo(op->input());
}

// Evaluates expressions over rows, in one operator, reporting failures.
struct RowEvaluator {
  std::vector<Expression> exprs;
  Evaluator evaluator;
  RowBuilder builder;
  std::string operation;
  std::shared_ptr<RunContext> ctx;

  // Evaluates every expression into a new row; failing cells become Error.
  template <typename W>
  Row EvalRow(W& worker, const Key& id, RowView row) {
    RowInput input{row, id};
    for (const Expression& e : exprs) {
      Value v = evaluator.Eval(e, input);
      if (evaluator.failed()) {
        ctx->Report(worker, operation, evaluator, id);
        evaluator.ClearError();
        v = Value::Error();
      }
      v.WriteTo(builder);
    }
    return builder.Finish();
  }
};

template <typename C>
C LowerSelect(const C& input, const TableGraph::Node& node, std::shared_ptr<RunContext> ctx) {
  auto state = std::make_shared<RowEvaluator>();
  state->exprs = node.exprs;
  state->operation = node.name;
  state->ctx = std::move(ctx);
  return input.template Unary<Data>("Select", [state](auto& in, auto& out, auto& op) {
    in.ForEach([&](const auto& t, auto& updates) {
      for (auto& u : updates) u.data.second = state->EvalRow(op.owner(), u.data.first, u.data.second);
      out.Send(t, std::move(updates));
    });
  });
}

template <typename C>
C LowerFilter(const C& input, const TableGraph::Node& node, std::shared_ptr<RunContext> ctx) {
  auto state = std::make_shared<RowEvaluator>();
  state->exprs = node.exprs;
  state->operation = node.name;
  state->ctx = std::move(ctx);
  return input.template Unary<Data>("Filter", [state](auto& in, auto& out, auto& op) {
    in.ForEach([&](const auto& t, auto& updates) {
      std::erase_if(updates, [&](const auto& u) {
        Value v = state->evaluator.Eval(state->exprs[0], RowInput{u.data.second, u.data.first});
        if (state->evaluator.failed()) {
          state->ctx->ReportFatal(op.owner(), state->operation, state->evaluator, u.data.first);
          state->evaluator.ClearError();
          return true;
        }
        if (v.IsError()) {
          // A condition computed from a cell that already failed.
          state->ctx->ReportFatal(op.owner(), state->operation, "the condition is an Error value", u.data.first);
          return true;
        }
        return !(v.kind() == value::ValueKind::kBool && v.AsBool());
      });
      out.Send(t, std::move(updates));
    });
  });
}

template <typename C>
C LowerReindex(const C& input, const TableGraph::Node& node, std::shared_ptr<RunContext> ctx) {
  auto state = std::make_shared<RowEvaluator>();
  state->exprs = node.exprs;
  state->operation = node.name;
  state->ctx = std::move(ctx);
  return input.template Unary<Data>("Reindex", [state](auto& in, auto& out, auto& op) {
    in.ForEach([&](const auto& t, auto& updates) {
      std::erase_if(updates, [&](auto& u) {
        Value v = state->evaluator.Eval(state->exprs[0], RowInput{u.data.second, u.data.first});
        if (state->evaluator.failed() || v.kind() != value::ValueKind::kKey) {
          if (state->evaluator.failed()) {
            state->ctx->ReportFatal(op.owner(), state->operation, state->evaluator, u.data.first);
          } else {
            state->ctx->ReportFatal(op.owner(), state->operation,
                                    fmt::format("the new id is {}, not a pointer", v.ToString()), u.data.first);
          }
          state->evaluator.ClearError();
          return true;
        }
        u.data.first = v.AsKey();
        return false;
      });
      out.Send(t, std::move(updates));
    });
  });
}

// Rows keyed by the id of their key values (`IdFromValues`, as Pathway derives it), valued by
// [id, cells...]: the shape joins arrange. Arranging by a 128-bit id instead of the row of key
// values makes the arrangement's sorting and seeking compare integers.
using KeyedData = std::pair<Key, Row>;
template <typename T>
using KeyedCollT = dd::Collection<KeyedData, T>;

template <typename T>
KeyedCollT<T> KeyByUncached(const dd::Collection<Data, T>& input, std::vector<Expression> keys, std::string operation,
                std::shared_ptr<RunContext> ctx) {
  auto state = std::make_shared<RowEvaluator>();
  state->exprs = std::move(keys);
  state->operation = std::move(operation);
  state->ctx = std::move(ctx);
  return input.template Unary<KeyedData>("KeyBy", [state](auto& in, auto& out, auto& op) {
    in.ForEach([&](const auto& t, auto& updates) {
      std::vector<dd::Update<KeyedData, T>> keyed;
      keyed.reserve(updates.size());
      for (auto& u : updates) {
        Row key = state->EvalRow(op.owner(), u.data.first, u.data.second);
        if (key.has_errors()) {
          // A key that failed to compute matches nothing: the row is dropped (and the run
          // stops, with terminate_on_error).
          if (state->ctx->terminate_on_error) {
            std::lock_guard<std::mutex> lock(state->ctx->mutex);
            op.owner().Fail(absl::InvalidArgumentError(state->ctx->FirstFailureLocked(state->operation)));
          }
          continue;
        }
        Key key_id = value::IdFromValues(key.view().values());
        state->builder.Pointer(u.data.first);
        Row val = ConcatRows({u.data.second.view()}, state->builder);
        keyed.push_back({KeyedData(key_id, std::move(val)), u.time, u.diff});
      }
      out.Send(t, std::move(keyed));
    });
  });
}

// An expression tree written out whole (operations, cells, constants), for telling when two
// joins key a table alike.
void AppendFingerprint(const Expression& e, std::string& out) {
  absl::StrAppend(&out, static_cast<int>(e.op), ":", e.index, ":");
  std::span<const uint8_t> constant = e.constant.bytes();
  absl::StrAppend(&out, constant.size(), ":");
  out.append(reinterpret_cast<const char*>(constant.data()), constant.size());
  absl::StrAppend(&out, "(", e.args.size(), ":");
  for (const Expression& arg : e.args) AppendFingerprint(arg, out);
  out.push_back(')');
}

// The keyed collections built from one table, by key expressions: joins that key a table by
// the same expressions share one keyed collection, and so one arrangement (arranging a
// collection twice returns the first arrangement). PageRank's steps all join the edges on
// their source.
template <typename T>
struct KeyedBy {
  absl::flat_hash_map<std::string, KeyedCollT<T>> by_keys;
};

template <typename T>
KeyedCollT<T> KeyBy(const dd::Collection<Data, T>& input, std::vector<Expression> keys, std::string operation,
                std::shared_ptr<RunContext> ctx) {
  std::string fingerprint;
  for (const Expression& key : keys) AppendFingerprint(key, fingerprint);
  auto cache = input.port()->template Attachment<KeyedBy<T>>();
  if (!cache) {
    cache = std::make_shared<KeyedBy<T>>();
    input.port()->SetAttachment(cache);
  }
  if (auto it = cache->by_keys.find(fingerprint); it != cache->by_keys.end()) return it->second;
  KeyedCollT<T> keyed = KeyByUncached(input, std::move(keys), std::move(operation), std::move(ctx));
  cache->by_keys.emplace(std::move(fingerprint), keyed);
  return keyed;
}

// Pathway's join ids: the pair of joined ids, sharded by the join key's values.
Key JoinResultId(JoinId mode, const Key& join_key, const std::optional<Key>& left, const std::optional<Key>& right) {
  if (mode == JoinId::kLeft && left) return *left;
  if (mode == JoinId::kRight && right) return *right;
  return value::WithShard(value::IdFromPointerPair(left, right), join_key);
}

template <typename C>
C LowerJoin(const C& left, const C& right, const TableGraph::Node& node, std::shared_ptr<RunContext> ctx) {
  size_t n = static_cast<size_t>(node.column);
  std::vector<Expression> left_keys(node.exprs.begin(), node.exprs.begin() + static_cast<long>(n));
  std::vector<Expression> right_keys(node.exprs.begin() + static_cast<long>(n), node.exprs.end());
  auto left_keyed = KeyBy(left, left_keys, node.name, ctx);
  auto right_keyed = KeyBy(right, right_keys, node.name, ctx);
  JoinId id_mode = node.join_id;
  int left_arity = node.arities[0];
  int right_arity = node.arities[1];

  auto builder = std::make_shared<RowBuilder>();
  C inner = dd::JoinCore(dd::Arrange(left_keyed), dd::Arrange(right_keyed),
                            [builder, id_mode](const Key& key, RowView lv, RowView rv) {
                              Key lid = lv[0].AsKey();
                              Key rid = rv[0].AsKey();
                              bool first = true;
                              for (value::ValueView v : lv.values()) {
                                if (!first) builder->Value(v);
                                first = false;
                              }
                              first = true;
                              for (value::ValueView v : rv.values()) {
                                if (!first) builder->Value(v);
                                first = false;
                              }
                              builder->Pointer(lid).Pointer(rid);
                              return Data(JoinResultId(id_mode, key, lid, rid), builder->Finish());
                            });
  std::vector<C> parts{inner};
  auto unmatched = [&](const auto& side, const auto& other, bool side_is_left) {
    auto other_keys = dd::Distinct(other.Map([](const KeyedData& d) { return d.first; }));
    auto matched = dd::Semijoin(side, other_keys);
    auto missing = side.Concat(matched.Negate());
    auto b = std::make_shared<RowBuilder>();
    return missing.Map([b, id_mode, side_is_left, left_arity, right_arity](const KeyedData& d) {
      RowView v = d.second.view();
      Key id = v[0].AsKey();
      if (!side_is_left) {
        for (int i = 0; i < left_arity; ++i) b->Null();
      }
      bool first = true;
      for (value::ValueView cell : v.values()) {
        if (!first) b->Value(cell);
        first = false;
      }
      if (side_is_left) {
        for (int i = 0; i < right_arity; ++i) b->Null();
        b->Pointer(id).Null();
        return Data(JoinResultId(id_mode, d.first, id, std::nullopt), b->Finish());
      }
      b->Null().Pointer(id);
      return Data(JoinResultId(id_mode, d.first, std::nullopt, id), b->Finish());
    });
  };
  if (node.join_kind == JoinKind::kLeft || node.join_kind == JoinKind::kOuter) {
    parts.push_back(unmatched(left_keyed, right_keyed, true));
  }
  if (node.join_kind == JoinKind::kRight || node.join_kind == JoinKind::kOuter) {
    parts.push_back(unmatched(right_keyed, left_keyed, false));
  }
  if (parts.size() == 1) return inner;
  C result = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) result = result.Concat(parts[i]);
  return result;
}

template <typename C>
C LowerZip(const std::vector<C>& inputs) {
  C result = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    auto builder = std::make_shared<RowBuilder>();
    result = dd::JoinCore(dd::Arrange(result), dd::Arrange(inputs[i]), [builder](const Key& id, RowView a, RowView b) {
      return Data(id, ConcatRows({a, b}, *builder));
    });
  }
  return result;
}

template <typename C>
C LowerRestrict(const C& input, const C& keys, bool keep) {
  auto ids = keys.Map([](const Data& d) { return d.first; });
  C kept = dd::Semijoin(input, ids);
  if (keep) return kept;
  return input.Concat(kept.Negate());
}

template <typename C>
C LowerUpdateRows(const C& base, const C& updates) {
  auto ids = updates.Map([](const Data& d) { return d.first; });
  C replaced = dd::Semijoin(base, ids);
  return updates.Concat(base).Concat(replaced.Negate());
}

template <typename C>
C LowerFlatten(const C& input, const TableGraph::Node& node, std::shared_ptr<RunContext> ctx) {
  int column = node.column;
  std::string name = node.name;
  auto builder = std::make_shared<RowBuilder>();
  return input.template Unary<Data>("Flatten", [builder, column, name, ctx](auto& in, auto& out, auto& op) {
    in.ForEach([&](const auto& t, auto& updates) {
      std::vector<dd::Update<Data, typename C::Time>> flat;
      for (const auto& u : updates) {
        RowView row = u.data.second.view();
        value::ValueView cell = row[static_cast<size_t>(column)];
        std::vector<Value> items;
        Value v = Value::FromView(cell);
        if (v.kind() == value::ValueKind::kTuple) {
          items = v.TupleItems();
        } else if (v.kind() == value::ValueKind::kString) {
          std::string_view s = v.text();
          for (size_t i = 0; i < s.size();) {
            size_t j = i + 1;
            while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
            items.push_back(Value::Borrowed(value::ValueKind::kString, s.substr(i, j - i)));
            i = j;
          }
        } else if (v.kind() == value::ValueKind::kIntArray) {
          auto a = cell.AsIntArray();
          for (uint64_t i = 0; i < a.size(); ++i) items.push_back(Value::Int(a[i]));
        } else if (v.kind() == value::ValueKind::kFloatArray) {
          auto a = cell.AsFloatArray();
          for (uint64_t i = 0; i < a.size(); ++i) items.push_back(Value::Float(a[i]));
        } else if (v.kind() == value::ValueKind::kJson) {
          std::vector<std::string> texts;
          if (!expr::JsonArrayItems(v.text(), texts)) {
            ctx->ReportFatal(op.owner(), name, fmt::format("cannot flatten the Json value {}: not an array", v.text()),
                             u.data.first);
            continue;
          }
          for (std::string& text : texts) items.push_back(Value::Owned(value::ValueKind::kJson, std::move(text)));
        } else if (v.kind() == value::ValueKind::kNull) {
          continue;
        } else {
          ctx->ReportFatal(op.owner(), name, fmt::format("cannot flatten a value of type {}", value::ValueKindName(v.kind())),
                           u.data.first);
          continue;
        }
        for (size_t i = 0; i < items.size(); ++i) {
          size_t c = 0;
          for (value::ValueView cv : row.values()) {
            if (static_cast<int>(c) == column) {
              items[i].WriteTo(*builder);
            } else {
              builder->Value(cv);
            }
            ++c;
          }
          Key id = value::WithShard(
              expr::IdFromValues({Value::Pointer(u.data.first), Value::Int(static_cast<int64_t>(i))}), u.data.first);
          flat.push_back({Data(id, builder->Finish()), u.time, u.diff});
        }
      }
      out.Send(t, std::move(flat));
    });
  });
}

// Inside `iterate` every function is called as deterministic (for retractions too): a
// retraction may reach a later round before its insertion, so results cannot be served from
// a memo there.
template <typename C>
C LowerApply(const C& input, const TableGraph::Node& node, std::shared_ptr<RunContext> ctx, bool nested = false) {
  struct State {
    RowEvaluator eval;
    std::shared_ptr<BatchFunction> function;
    bool deterministic;
    // Results emitted per (id, argument row), so that a retraction retracts what was emitted.
    absl::flat_hash_map<std::pair<Key, Row>, std::pair<Row, int64_t>> memo;
    std::vector<Row> args;
    std::vector<Row> results;
    std::vector<RowFailure> failures;
    std::vector<size_t> positions;
    RowBuilder builder;
  };
  auto state = std::make_shared<State>();
  state->eval.exprs = node.exprs;
  state->eval.operation = node.name;
  state->eval.ctx = ctx;
  state->function = node.function;
  state->deterministic = node.deterministic || nested;
  return input.template Unary<Data>("Apply", [state](auto& in, auto& out, auto& op) {
    in.ForEach([&](const auto& t, auto& updates) {
      // A non-deterministic function is called for insertions only; retractions take the
      // result stored for their (id, arguments) below (insertions of a batch recorded first).
      std::vector<Row> arg_rows;
      arg_rows.reserve(updates.size());
      for (const auto& u : updates) arg_rows.push_back(state->eval.EvalRow(op.owner(), u.data.first, u.data.second));
      state->args.clear();
      state->positions.clear();
      std::vector<Row> result(updates.size());
      // With persistence, a non-deterministic call made by an earlier run is not made again.
      PersistedCalls* calls = state->deterministic ? nullptr : state->eval.ctx->calls.get();
      std::vector<Key> call_ids;
      std::vector<bool> known;
      if (calls != nullptr) {
        call_ids.resize(updates.size());
        known.resize(updates.size());
        std::lock_guard<std::mutex> lock(calls->mutex);
        for (size_t i = 0; i < updates.size(); ++i) {
          if (updates[i].diff < 0) continue;
          call_ids[i] = PersistedCalls::CallId(state->eval.operation, updates[i].data.first);
          auto it = calls->results.find(std::pair(call_ids[i], arg_rows[i]));
          if (it != calls->results.end()) {
            result[i] = it->second;
            known[i] = true;
          }
        }
      }
      for (size_t i = 0; i < updates.size(); ++i) {
        if (!state->deterministic && updates[i].diff < 0) continue;
        if (calls != nullptr && known[i]) continue;  // known from an earlier run
        state->args.push_back(arg_rows[i]);
        state->positions.push_back(i);
      }
      if (!state->args.empty()) {
        state->results.clear();
        state->failures.clear();
        absl::Status s = (*state->function)(state->args, state->results, state->failures);
        if (!s.ok()) {
          op.owner().Fail(absl::Status(s.code(), fmt::format("{}: {}", state->eval.operation, std::string(s.message()))));
          return;
        }
        if (state->results.size() != state->args.size()) {
          op.owner().Fail(absl::InternalError(fmt::format("{}: function returned {} results for {} rows",
                                                          state->eval.operation, state->results.size(), state->args.size())));
          return;
        }
        for (size_t k = 0; k < state->positions.size(); ++k) {
          result[state->positions[k]] = std::move(state->results[k]);
        }
        if (calls != nullptr) {
          std::lock_guard<std::mutex> lock(calls->mutex);
          for (size_t k = 0; k < state->positions.size() && calls->record; ++k) {
            size_t i = state->positions[k];
            if (result[i].has_objects() || arg_rows[i].has_objects()) continue;  // cannot be persisted: called again
            calls->results.insert_or_assign(std::pair(call_ids[i], arg_rows[i]), result[i]);
            calls->pending.push_back({call_ids[i], ConcatRows({arg_rows[i].view(), result[i].view()}, state->builder), 1});
          }
        }
        for (const RowFailure& f : state->failures) {
          if (f.index < state->positions.size()) {
            state->eval.ctx->Report(op.owner(), state->eval.operation, f.message,
                                    updates[state->positions[f.index]].data.first);
          }
        }
      }
      if (!state->deterministic) {
        // Record insertions first, then serve retractions from the memo.
        for (size_t i = 0; i < updates.size(); ++i) {
          if (updates[i].diff > 0) {
            auto& slot = state->memo[std::pair(updates[i].data.first, arg_rows[i])];
            if (slot.second == 0) slot.first = result[i];
            else result[i] = slot.first;
            slot.second += updates[i].diff;
          }
        }
        for (size_t i = 0; i < updates.size(); ++i) {
          if (updates[i].diff < 0) {
            auto it = state->memo.find(std::pair(updates[i].data.first, arg_rows[i]));
            if (it == state->memo.end()) {
              op.owner().Fail(absl::InternalError(fmt::format(
                  "{}: retraction of a row never inserted (id {})", state->eval.operation, updates[i].data.first.ToString())));
              return;
            }
            result[i] = it->second.first;
            it->second.second += updates[i].diff;
            if (it->second.second <= 0) state->memo.erase(it);
          }
        }
      }
      for (size_t i = 0; i < updates.size(); ++i) {
        RowView r = result[i].view();
        DELTAFLOW_CHECK(r.size() > 0 && r.arity() == 1, "apply: a result row holds one value");
        updates[i].data.second = ConcatRows({updates[i].data.second.view(), r}, state->builder);
      }
      out.Send(t, std::move(updates));
    });
  });
}

}  // namespace

// Lowers the operations that work for any time (the outer one, and rounds inside `iterate`).
// Returns false for kinds it does not handle.
template <typename C>
bool LowerGeneric(const TableGraph::Node& node, std::vector<std::optional<C>>& t, size_t i,
                  const std::shared_ptr<RunContext>& ctx) {
  auto in = [&](size_t k) -> const C& { return *t[static_cast<size_t>(node.inputs[k])]; };
  switch (node.kind) {
    case TableGraph::Kind::kSelect:
      t[i] = LowerSelect(in(0), node, ctx);
      return true;
    case TableGraph::Kind::kFilter:
      t[i] = LowerFilter(in(0), node, ctx);
      return true;
    case TableGraph::Kind::kReindex:
      t[i] = LowerReindex(in(0), node, ctx);
      return true;
    case TableGraph::Kind::kConcat: {
      C c = in(0);
      for (size_t k = 1; k < node.inputs.size(); ++k) c = c.Concat(in(k));
      t[i] = c;
      return true;
    }
    case TableGraph::Kind::kJoin:
      t[i] = LowerJoin(in(0), in(1), node, ctx);
      return true;
    case TableGraph::Kind::kZip: {
      std::vector<C> inputs;
      for (size_t k = 0; k < node.inputs.size(); ++k) inputs.push_back(in(k));
      t[i] = LowerZip(inputs);
      return true;
    }
    case TableGraph::Kind::kUpdateRows:
      t[i] = LowerUpdateRows(in(0), in(1));
      return true;
    case TableGraph::Kind::kRestrict:
      t[i] = LowerRestrict(in(0), in(1), true);
      return true;
    case TableGraph::Kind::kDifference:
      t[i] = LowerRestrict(in(0), in(1), false);
      return true;
    case TableGraph::Kind::kFlatten:
      t[i] = LowerFlatten(in(0), node, ctx);
      return true;
    default:
      return false;
  }
}

// Lowers an iterate node: a nested scope over (outer time, round) where the body graph runs
// on the entered inputs, the iterated ones fed back round after round until they stop
// changing (or the round limit); returns the iterated results as they leave the scope.
std::vector<Coll> LowerIterate(Worker& worker, const TableGraph::Node& node, const std::vector<Coll>& inputs,
                               const std::shared_ptr<RunContext>& ctx) {
  using Inner = time::Product<Time, uint32_t>;
  using InnerColl = dd::Collection<Data, Inner>;
  dd::Subgraph<Time>& scope = dd::NewSubgraph(worker);
  const TableGraph& body = *node.body;
  std::vector<InnerColl> entered;
  std::vector<dd::Variable<Data, Time>> variables;
  for (size_t k = 0; k < inputs.size(); ++k) {
    InnerColl e = scope.Enter(inputs[k]);
    if (k < static_cast<size_t>(node.iterated)) {
      variables.push_back(dd::Variable<Data, Time>::FromSource(e));
      entered.push_back(variables.back().collection());
    } else {
      entered.push_back(e);
    }
  }
  const auto& nodes = body.nodes();
  std::vector<std::optional<InnerColl>> t(nodes.size());
  group_reduce_internal::ReportFn report = [ctx](const std::string& op, std::string msg, const Key& id) {
    ctx->Report(op, std::move(msg), id);
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    const TableGraph::Node& n = nodes[i];
    if (LowerGeneric(n, t, i, ctx)) continue;
    if (n.kind == TableGraph::Kind::kScopeInput) {
      t[i] = entered[static_cast<size_t>(n.column)];
    } else if (n.kind == TableGraph::Kind::kApply) {
      t[i] = LowerApply(*t[static_cast<size_t>(n.inputs[0])], n, ctx, /*nested=*/true);
    } else if (n.kind == TableGraph::Kind::kGroupByReduce &&
               std::none_of(n.reducers.begin(), n.reducers.end(), [](const Reducer& r) {
                 return r.kind == ReducerKind::kEarliest || r.kind == ReducerKind::kLatest;
               })) {
      t[i] = group_reduce_internal::LowerGroupByReduceNested(*t[static_cast<size_t>(n.inputs[0])], n, report);
    } else {
      worker.Fail(absl::InvalidArgumentError(fmt::format("{}: not supported inside iterate", n.name)));
      return std::vector<Coll>(static_cast<size_t>(node.iterated), inputs[0]);
    }
  }
  std::vector<Coll> results;
  for (size_t k = 0; k < static_cast<size_t>(node.iterated); ++k) {
    // Consolidated, so that a round that changes nothing feeds nothing back (a body of
    // selects alone would otherwise circulate cancelling updates forever).
    InnerColl result = t[static_cast<size_t>(node.body_outputs[k])]->Consolidate();
    variables[k].Set(result, node.limit);
    results.push_back(scope.Leave(result));
  }
  return results;
}

namespace {

// A live source of a run, fed from the driving thread.
struct LiveSource {
  std::shared_ptr<io::Source> source;
  std::unique_ptr<dd::DriverInput<Data, Time>> input;
  std::string name;
  size_t max_backlog = 0;
  size_t persist_index = 0;  // its place among the sources persistence knows
  bool open = true;
  bool opened = false;
  // Offsets the source reached by each time, oldest first, until they are committed.
  std::deque<std::pair<Time, io::Offsets>> uncommitted;
  // Rows polled for each time, until every output is past it (the backlog).
  std::deque<std::pair<Time, size_t>> in_flight;
  size_t in_flight_rows = 0;

  // Whether the source must wait: its rows in processing (times not closed) fill its backlog,
  // or `max_times` of its commits are in processing. The latter batches adaptively: while the
  // engine is busy, what the source reads gathers into its next commit, so a heavy stream
  // makes fewer, larger times (fewer output changes), and a light one still commits at once.
  bool BacklogFull(Time closed, size_t max_times) {
    while (!in_flight.empty() && in_flight.front().first < closed) {
      in_flight_rows -= in_flight.front().second;
      in_flight.pop_front();
    }
    return (max_backlog > 0 && in_flight_rows >= max_backlog) || (max_times > 0 && in_flight.size() >= max_times);
  }
};

absl::Status Annotated(const absl::Status& status, const std::string& where) {
  return absl::Status(status.code(), fmt::format("{}: {}", where, std::string(status.message())));
}

// Where every sink stands at a checkpoint at `frontier` (io::Sink::Position).
absl::StatusOr<std::vector<std::string>> SinkPositions(const std::vector<io::Sink*>& sinks, Time frontier) {
  std::vector<std::string> positions(sinks.size());
  for (size_t o = 0; o < sinks.size(); ++o) {
    if (sinks[o] == nullptr) continue;
    absl::StatusOr<std::string> position = sinks[o]->Position(frontier);
    if (!position.ok()) return position.status();
    positions[o] = std::move(*position);
  }
  return positions;
}

// The first even time after `t`.
Time EvenAfter(Time t) { return t + 2 - t % 2; }

}  // namespace

absl::StatusOr<RunResult> RunTableGraph(const TableGraph& graph, const std::vector<io::Sink*>& sinks,
                                        const RunOptions& options) {
  if (static_cast<int>(sinks.size()) != graph.OutputCount()) {
    return absl::InvalidArgumentError(
        fmt::format("{} output handlers for a graph with {} outputs", sinks.size(), graph.OutputCount()));
  }
  auto ctx = std::make_shared<RunContext>();
  ctx->terminate_on_error = options.terminate_on_error;
  ctx->outputs.resize(static_cast<size_t>(graph.OutputCount()));

  runtime::Runtime<Time> rt(runtime::RuntimeOptions{options.workers});
  const auto& nodes = graph.nodes();
  std::map<int, LiveSource> sources;
  std::unique_ptr<dd::DriverInput<Data, Time>> error_log;
  int error_log_node = -1;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind == TableGraph::Kind::kSourceInput) {
      LiveSource& live = sources[static_cast<int>(i)];
      live.source = nodes[i].source;
      live.input = std::make_unique<dd::DriverInput<Data, Time>>(rt);
      live.name = nodes[i].name;
      live.max_backlog = nodes[i].max_backlog;
    }
    if (nodes[i].kind == TableGraph::Kind::kErrorLog) {
      error_log = std::make_unique<dd::DriverInput<Data, Time>>(rt);
      error_log_node = static_cast<int>(i);
    }
  }
  // Outputs that read the error log wait for it; it closes when the others are complete.
  std::vector<bool> reads_error_log(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    reads_error_log[i] = static_cast<int>(i) == error_log_node;
    for (int in : nodes[i].inputs) reads_error_log[i] = reads_error_log[i] || reads_error_log[static_cast<size_t>(in)];
  }
  std::map<std::string, int64_t> operator_ids;
  for (size_t i = 0; i < nodes.size(); ++i) operator_ids.emplace(nodes[i].name, static_cast<int64_t>(i));
  uint32_t peers = options.workers;
  group_reduce_internal::ReportFn report = [ctx](const std::string& op, std::string msg, const Key& id) {
    ctx->Report(op, std::move(msg), id);
  };
  group_reduce_internal::StateFn state_size = [ctx](const std::string& op, uint32_t worker, size_t entries) {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    auto& [last, peak] = ctx->state[{op, worker}];
    last = entries;
    peak = std::max(peak, entries);
  };

  rt.Build([&](Worker& worker) {
    std::vector<std::optional<Coll>> t(nodes.size());
    std::map<size_t, std::vector<Coll>> iterate_results;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const TableGraph::Node& node = nodes[i];
      auto in = [&](size_t k) -> const Coll& { return *t[static_cast<size_t>(node.inputs[k])]; };
      if (LowerGeneric(node, t, i, ctx)) continue;
      switch (node.kind) {
        case TableGraph::Kind::kStaticInput: {
          std::vector<Upd> mine;
          for (const TableUpdate& u : node.rows) {
            if (u.id.ShardHash() % peers == worker.index()) mine.push_back({Data(u.id, u.row), u.time, u.diff});
          }
          t[i] = NewStaticSource(worker, std::move(mine));
          break;
        }
        case TableGraph::Kind::kSourceInput:
          t[i] = sources[static_cast<int>(i)].input->Attach(worker);
          break;
        case TableGraph::Kind::kGroupByReduce:
          t[i] = group_reduce_internal::LowerGroupByReduce(in(0), node, report, state_size);
          break;
        case TableGraph::Kind::kIterate: {
          std::vector<Coll> inputs;
          for (size_t k = 0; k < node.inputs.size(); ++k) inputs.push_back(in(k));
          iterate_results[i] = LowerIterate(worker, node, inputs, ctx);
          break;
        }
        case TableGraph::Kind::kIterateOutput:
          t[i] = iterate_results.at(static_cast<size_t>(node.inputs[0]))[static_cast<size_t>(node.column)];
          break;
        case TableGraph::Kind::kApply:
          if (node.deterministic) {
            t[i] = LowerApply(in(0), node, ctx);
          } else {
            // A retraction is served from the result stored at its insertion: every change of an
            // id meets on one worker, and leaves there only once its time is complete, so a
            // retraction can never arrive before the insertion it retracts.
            Coll by_id = dd::Exchange(in(0), [](const Data& d) -> uint64_t { return d.first.ShardHash(); });
            t[i] = LowerApply(by_id.Consolidate(), node, ctx);
          }
          break;
        case TableGraph::Kind::kGate:
          t[i] = temporal_internal::LowerGate(in(0), node, report, state_size);
          break;
        case TableGraph::Kind::kSessions:
          t[i] = temporal_internal::LowerSessions(in(0), node, report);
          break;
        case TableGraph::Kind::kAsofJoin:
          t[i] = temporal_internal::LowerAsofJoin(in(0), in(1), node, report);
          break;
        case TableGraph::Kind::kAsofNowJoin:
          t[i] = temporal_internal::LowerAsofNowJoin(in(0), in(1), node, report);
          break;
        case TableGraph::Kind::kSort:
          t[i] = temporal_internal::LowerSort(in(0), node, report);
          break;
        case TableGraph::Kind::kDeduplicate:
          t[i] = temporal_internal::LowerDeduplicate(in(0), node, report);
          break;
        case TableGraph::Kind::kForgetFilter:
          t[i] = temporal_internal::LowerForgetFilter(in(0), node);
          break;
        case TableGraph::Kind::kOutput:
          AddOutputSink(in(0), node.column, node.keep_error_rows, node.name, ctx);
          break;
        case TableGraph::Kind::kErrorLog:
          t[i] = error_log->Attach(worker);
          break;
        default:
          worker.Fail(absl::InvalidArgumentError(fmt::format("{}: not valid outside an iteration", node.name)));
          return;
      }
    }
  });
  // Persistence: the last checkpoint's replay, the sources' offsets and the sinks' positions
  // (deltaflow/persist/checkpoint.h); this run's checkpoints are written below.
  std::shared_ptr<void> persistence_lease;  // the store is this run's while it runs (released last)
  std::unique_ptr<persist::RunPersistence> persist;
  std::vector<LiveSource*> persisted;                                // in persistence's order
  bool replaying = false;   // a checkpoint was found: the sources' logs are replayed
  bool recording = false;   // this run writes checkpoints
  Time replay_frontier = 0;  // outputs before it were written by the earlier run
  std::optional<size_t> calls_log;  // the log of non-deterministic results, if any
  std::vector<Time> suppress_before(sinks.size(), 0);  // per output: the times it already has
  if (options.persistence) {
    std::vector<persist::SourceSpec> specs;
    for (auto& [index, live] : sources) {
      const TableGraph::Node& node = nodes[static_cast<size_t>(index)];
      live.persist_index = persisted.size();
      std::string name = node.persistent_name.empty() ? fmt::format("input-{}", persisted.size()) : node.persistent_name;
      persisted.push_back(&live);
      specs.push_back({std::move(name), static_cast<uint32_t>(node.arity)});
    }
    // Results of non-deterministic functions are persisted as one more log.
    bool nondeterministic = std::any_of(nodes.begin(), nodes.end(), [](const TableGraph::Node& node) {
      return node.kind == TableGraph::Kind::kApply && !node.deterministic;
    });
    if (nondeterministic) {
      calls_log = persisted.size();
      ctx->calls = std::make_shared<PersistedCalls>();
      specs.push_back({"deltaflow:function-results", 0});
    }
    std::vector<std::string> sink_names(sinks.size());
    for (const TableGraph::Node& node : nodes) {
      if (node.kind == TableGraph::Kind::kOutput) sink_names[static_cast<size_t>(node.column)] = node.name;
    }
    std::map<std::string, int> seen;
    for (std::string& name : sink_names) {
      if (int n = seen[name]++; n > 0) name += fmt::format("#{}", n);
    }
    absl::StatusOr<std::shared_ptr<void>> lease = options.persistence->Lock();
    if (!lease.ok()) return lease.status();
    persistence_lease = std::move(*lease);
    absl::StatusOr<std::unique_ptr<persist::RunPersistence>> opened =
        persist::RunPersistence::Open(options.persistence, std::move(specs), std::move(sink_names));
    if (!opened.ok()) return opened.status();
    persist = std::move(*opened);
    bool record = options.persistence_use == RunOptions::PersistenceUse::kRecord;
    recording = record;
    if (persist->recovered()) {
      if (record) replay_frontier = persist->frontier();
      if (calls_log) {
        absl::StatusOr<std::vector<persist::LoggedBatch>> batches = persist->ReadReplay(*calls_log);
        if (!batches.ok()) return batches.status();
        RowBuilder b;
        for (const persist::LoggedBatch& batch : *batches) {
          for (const io::Change& c : batch.changes) {
            RowView row = c.row.view();
            size_t n = row.arity();
            if (n == 0) continue;
            for (size_t k = 0; k + 1 < n; ++k) b.Value(row[k]);
            Row args = b.Finish();
            b.Value(row[n - 1]);
            ctx->calls->results.insert_or_assign(std::pair(c.id, std::move(args)), b.Finish());
          }
        }
      }
      // The sources seek now; their logs are replayed (and given to `Restore`) once the
      // workers run, before the sources open.
      for (size_t i = 0; i < persisted.size(); ++i) {
        if (absl::Status s = persisted[i]->source->Seek(persist->offsets(i)); !s.ok()) {
          return Annotated(s, persisted[i]->name);
        }
        replaying = true;
      }
      for (size_t o = 0; o < sinks.size() && record; ++o) {
        const std::string* position = persist->sink_position(o);
        if (position == nullptr || sinks[o] == nullptr) continue;
        if (absl::Status s = sinks[o]->Resume(*position); !s.ok()) return s;
      }
    }
    // Outputs that commit in transactions of their own: each is given again what the replay
    // produces after its last committed transaction.
    suppress_before.assign(sinks.size(), replay_frontier);
    for (size_t o = 0; o < sinks.size() && record; ++o) {
      if (sinks[o] == nullptr) continue;
      absl::StatusOr<bool> transactional = sinks[o]->StartTransactions(persist->SinkIdentity(o));
      if (!transactional.ok()) return transactional.status();
      if (!*transactional || !persist->after_crash()) continue;
      absl::StatusOr<Time> committed = sinks[o]->CommittedFrontier();
      if (!committed.ok()) return committed.status();
      suppress_before[o] = std::min(*committed, replay_frontier);
    }
    if (record) {
      if (absl::Status s = persist->StartLogs(); !s.ok()) return s;
      for (LiveSource* live : persisted) live->source->OnPersisted();
      // A first checkpoint, where the earlier run left off, says that this run has begun: if
      // it crashes before its next one, a restart resumes the outputs from here (what this run
      // wrote is taken back), even after a clean stop of the earlier run.
      absl::StatusOr<std::vector<std::string>> positions = SinkPositions(sinks, replay_frontier);
      if (!positions.ok()) return positions.status();
      if (absl::Status s = persist->Checkpoint(replay_frontier, persist->last_time(), {}, *positions, false); !s.ok()) {
        return s;
      }
    } else {
      recording = false;  // a replay only reads the persisted state
      if (ctx->calls) ctx->calls->record = false;
      if (options.persistence_use == RunOptions::PersistenceUse::kReplayOnly) {
        for (auto& [index, live] : sources) live.open = false;
      }
    }
  }

  // Sources close on every way out, their wakeups (which refer to this run) withdrawn first.
  struct CloseSources {
    std::map<int, LiveSource>& sources;
    ~CloseSources() {
      for (auto& [index, live] : sources) {
        live.source->SetWakeup(nullptr);
        if (live.opened) live.source->Close();
      }
    }
  } close_sources{sources};
  if (absl::Status s = rt.Start(); !s.ok()) return s;

  // Sources commit at even, strictly increasing times: wall-clock milliseconds, the first
  // commit included (DESIGN.md, "Time"). The error log moves with them, so that outputs
  // reading it are delivered while the run goes on.
  // A restarted run first replays what its sources produced before the checkpoint, at the
  // times it formed then (the sinks already have its results), and goes on after them.
  Time next_commit = 2;
  if (!sources.empty()) {
    Time now = static_cast<Time>(absl::ToUnixMillis(absl::Now()));
    next_commit = std::max<Time>(2, now - now % 2);
    if (persist) next_commit = std::max(next_commit, EvenAfter(persist->last_time()));
    if (replaying) {
      // The logs merged by time, one batch per source in hand; each batch goes to its source's
      // `Restore` (which keeps what it needs of it), then into the dataflow.
      std::vector<persist::LogCursor> cursors;
      std::vector<std::optional<persist::LoggedBatch>> heads(persisted.size());
      for (size_t i = 0; i < persisted.size(); ++i) {
        cursors.push_back(persist->Replay(i));
        persist::LoggedBatch batch;
        absl::StatusOr<bool> more = cursors[i].Next(batch);
        if (!more.ok()) return more.status();
        if (*more) heads[i] = std::move(batch);
      }
      std::optional<Time> replay_time;
      while (true) {
        size_t pick = heads.size();
        for (size_t i = 0; i < heads.size(); ++i) {
          if (heads[i] && (pick == heads.size() || heads[i]->time < heads[pick]->time)) pick = i;
        }
        if (pick == heads.size()) break;
        persist::LoggedBatch& batch = *heads[pick];
        if (!replay_time || batch.time > *replay_time) {
          replay_time = batch.time;
          for (auto& [index, live] : sources) live.input->AdvanceTo(*replay_time);
        }
        persisted[pick]->source->Restore(batch.changes);
        for (io::Change& u : batch.changes) {
          if (u.diff != 0) persisted[pick]->input->Update(Data(u.id, std::move(u.row)), u.diff);
        }
        absl::StatusOr<bool> more = cursors[pick].Next(batch);
        if (!more.ok()) return more.status();
        if (!*more) heads[pick].reset();
      }
    }
    for (auto& [index, live] : sources) {
      if (live.open) {
        live.input->AdvanceTo(next_commit);
      } else {
        live.input->Close();
      }
    }
  }
  // Sources open once the replay has restored them (and close on every way out, their
  // wakeups withdrawn first: see CloseSources above).
  for (auto& [index, live] : sources) {
    if (!live.open) continue;  // not read in this run (a replay only)
    if (absl::Status s = live.source->Open(io::SourceContext{options.workers}); !s.ok()) {
      return Annotated(s, live.name);
    }
    live.opened = true;
  }
  for (auto& [index, live] : sources) {
    live.source->SetWakeup([ctx, &rt] {
      ctx->source_ready = true;
      rt.Wake(0);  // a step ends the driver's wait, which then sees `source_ready`
    });
  }
  // The error log's own time: it moves with the sources, and on past a batch of failures it
  // was given, so that outputs reading it complete them while the run goes on.
  Time error_time = next_commit;
  auto advance_error_log = [&](Time to) {
    if (!error_log || to <= error_time) return;
    error_time = to;
    error_log->AdvanceTo(error_time);
  };
  if (error_log) error_log->AdvanceTo(error_time);
  std::vector<io::Change> polled;
  absl::Time deadline = options.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + options.timeout;
  auto outputs_complete = [&] {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    for (const auto& q : ctx->outputs) {
      if (!q.complete || !q.ready.empty()) return false;
    }
    return true;
  };
  // Outputs that do not read the error log are complete (nothing more can fail).
  auto independent_outputs_complete = [&] {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    for (int o = 0; o < graph.OutputCount(); ++o) {
      if (reads_error_log[static_cast<size_t>(graph.OutputNode(o))]) continue;
      if (!ctx->outputs[static_cast<size_t>(o)].complete) return false;
    }
    return true;
  };
  size_t published_errors = 0;
  auto publish_errors = [&] {
    if (!error_log) return;
    std::vector<ErrorLogEntry> fresh;
    {
      std::lock_guard<std::mutex> lock(ctx->mutex);
      for (; published_errors < ctx->errors.size(); ++published_errors) fresh.push_back(ctx->errors[published_errors]);
    }
    RowBuilder b;
    for (size_t k = 0; k < fresh.size(); ++k) {
      const ErrorLogEntry& e = fresh[k];
      auto it = operator_ids.find(e.operation);
      std::string trace = e.expression.empty() ? fmt::format("Occurred here:\n    {}", e.operation)
                                              : fmt::format("Occurred here:\n    {} in {}", e.expression, e.operation);
      b.Int(it == operator_ids.end() ? -1 : it->second).String(e.message).String(trace);
      Row row = b.Finish();
      b.Pointer(e.id).Int(static_cast<int64_t>(published_errors - fresh.size() + k));
      Key id = value::IdFromValues(b.Finish().values());
      error_log->Update(Data(id, std::move(row)), 1);
    }
    if (!fresh.empty()) {
      Time now = static_cast<Time>(absl::ToUnixMillis(absl::Now()));
      advance_error_log(std::max(error_time + 2, now - now % 2));
    }
  };
  // Every output is past the times before `closed`, and each of those times was written to
  // its sink.
  Time closed = 0;
  // A sink hears End as soon as its table is complete and written, not at the end of the
  // whole run (a sink may feed a source that the run still waits for).
  std::vector<bool> ended(sinks.size(), false);
  std::vector<bool> unflushed(sinks.size(), false);
  auto deliver = [&]() -> absl::Status {
    while (true) {
      std::vector<std::pair<int, std::pair<Time, std::vector<OutputChange>>>> batch;
      std::vector<int> complete;
      Time frontier = std::numeric_limits<Time>::max();
      {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->output_pending = false;
        for (size_t o = 0; o < ctx->outputs.size(); ++o) {
          auto& q = ctx->outputs[o];
          while (!q.ready.empty()) {
            batch.emplace_back(static_cast<int>(o), std::move(q.ready.front()));
            q.ready.pop_front();
          }
          if (q.complete && !ended[o]) complete.push_back(static_cast<int>(o));
          frontier = std::min(frontier, q.complete ? std::numeric_limits<Time>::max() : q.frontier);
        }
        if (!ctx->fatal.empty()) return absl::InvalidArgumentError(ctx->fatal);
      }
      for (auto& [o, item] : batch) {
        io::Sink* sink = sinks[static_cast<size_t>(o)];
        if (sink == nullptr || item.first < suppress_before[static_cast<size_t>(o)]) continue;
        if (absl::Status s = sink->Write(item.first, item.second); !s.ok()) return s;
        unflushed[static_cast<size_t>(o)] = true;
      }
      for (int o : complete) {
        ended[static_cast<size_t>(o)] = true;
        io::Sink* sink = sinks[static_cast<size_t>(o)];
        if (sink == nullptr) continue;
        if (absl::Status s = sink->End(); !s.ok()) return s;
        unflushed[static_cast<size_t>(o)] = false;
      }
      closed = std::max(closed, frontier);
      if (batch.empty()) return absl::OkStatus();
    }
  };
  // Offsets are committed once the outputs are past the times that reached them and every
  // sink has flushed what it was given: a source never acknowledges input whose results a
  // sink could still lose.
  // With persistence, a checkpoint is written at the same moment, before the sources are told:
  // a source never acknowledges input that a restart would need again.
  absl::Time next_offset_commit = absl::Now() + options.commit_interval;
  std::optional<Time> unchecked;  // the first time logged since the last checkpoint
  Time sink_frontier = 0;         // what sinks commit: the checkpoint's frontier
  Time last_logged = 0;
  auto commit_offsets = [&](bool now, bool clean_stop) -> absl::Status {
    bool due = clean_stop || (unchecked && *unchecked < closed);
    for (auto& [index, live] : sources) due = due || (!live.uncommitted.empty() && live.uncommitted.front().first < closed);
    if (!due || (!now && absl::Now() < next_offset_commit)) return absl::OkStatus();
    next_offset_commit = absl::Now() + options.commit_interval;
    for (size_t o = 0; o < sinks.size(); ++o) {
      if (sinks[o] == nullptr || !unflushed[o]) continue;
      if (absl::Status s = sinks[o]->Flush(); !s.ok()) return s;
      unflushed[o] = false;
    }
    std::vector<std::optional<io::Offsets>> last(sources.size());
    size_t k = 0;
    for (auto& [index, live] : sources) {
      while (!live.uncommitted.empty() && live.uncommitted.front().first < closed) {
        last[k] = std::move(live.uncommitted.front().second);
        live.uncommitted.pop_front();
      }
      ++k;
    }
    if (recording) {
      if (calls_log) {
        std::vector<io::Change> results;
        {
          std::lock_guard<std::mutex> lock(ctx->calls->mutex);
          results.swap(ctx->calls->pending);
        }
        if (!results.empty()) {
          if (absl::Status s = persist->Log(*calls_log, 0, results); !s.ok()) return s;
        }
      }
      // Once every input is done, every time the run used is complete.
      Time frontier = closed == std::numeric_limits<Time>::max() ? EvenAfter(next_commit) : std::min(closed, next_commit);
      absl::StatusOr<std::vector<std::string>> positions = SinkPositions(sinks, frontier);
      if (!positions.ok()) return positions.status();
      if (absl::Status s = persist->Checkpoint(frontier, frontier, last, *positions, clean_stop); !s.ok()) return s;
      sink_frontier = frontier;
      if (unchecked && *unchecked < frontier) unchecked = last_logged < frontier ? std::nullopt : std::optional(frontier);
    }
    k = 0;
    for (auto& [index, live] : sources) {
      std::optional<io::Offsets>& offsets = last[k++];
      if (!offsets) continue;
      if (absl::Status s = live.source->Commit(*offsets); !s.ok()) return Annotated(s, live.name);
    }
    // With persistence, an output's transaction commits what the checkpoint covers (ended
    // outputs too: the last checkpoint commits their last transaction).
    for (size_t o = 0; o < sinks.size(); ++o) {
      if (sinks[o] == nullptr || (ended[o] && !recording)) continue;
      if (absl::Status s = sinks[o]->Commit(recording ? sink_frontier : closed); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  auto take_source_errors = [&](LiveSource& live) {
    std::vector<io::SourceError> source_errors;
    live.source->DrainErrors(source_errors);
    if (source_errors.empty()) return false;
    std::lock_guard<std::mutex> lock(ctx->mutex);
    for (auto& e : source_errors) {
      fmt::print(stderr, "deltaflow: {}\n", e.message);  // as Pathway logs rejected records
      ctx->errors.push_back({e.source.empty() ? live.name : std::move(e.source), std::move(e.message), Key(), ""});
    }
    return true;
  };

  bool sources_open = std::any_of(sources.begin(), sources.end(), [](const auto& entry) { return entry.second.open; });
  while (true) {
    absl::StatusOr<bool> waited = rt.WaitFor(
        [&] { return ctx->output_pending.load() || ctx->source_ready.load() || outputs_complete(); },
        sources_open ? absl::Milliseconds(5) : options.poll_interval);
    ctx->source_ready = false;
    if (!waited.ok()) return waited.status();
    if (absl::Status d = deliver(); !d.ok()) return d;
    if (absl::Status c = commit_offsets(false, false); !c.ok()) return c;
    if (options.poll) {
      if (absl::Status p = options.poll(); !p.ok()) return p;
    }
    if (sources_open) {
      // Take what the sources have committed: one engine time per commit, several commits
      // per round when they come quickly, but for a few milliseconds at most, so that
      // outputs are delivered while a fast source keeps committing.
      absl::Time poll_until = absl::Now() + absl::Milliseconds(5);
      for (int round = 0; round < 256 && sources_open && absl::Now() < poll_until; ++round) {
        sources_open = false;
        bool any_data = false;
        for (auto& [index, live] : sources) {
          if (!live.open) continue;
          if (live.BacklogFull(closed, options.max_times_in_flight)) {
            sources_open = true;  // open, but waits until the engine catches up
            continue;
          }
          polled.clear();
          size_t room = live.max_backlog > 0 ? live.max_backlog - live.in_flight_rows : SIZE_MAX;
          absl::StatusOr<io::PollResult> more = live.source->Poll(polled, room);
          if (!more.ok()) return Annotated(more.status(), live.name);
          bool errors = take_source_errors(live);
          any_data = any_data || !polled.empty();
          if (!polled.empty()) {
            live.in_flight.emplace_back(next_commit, polled.size());
            live.in_flight_rows += polled.size();
          }
          if (!polled.empty() || errors) {
            io::Offsets offsets = live.source->CurrentOffsets();
            if (!offsets.empty()) live.uncommitted.emplace_back(next_commit, std::move(offsets));
          }
          if (recording && !polled.empty()) {
            if (absl::Status s = persist->Log(live.persist_index, next_commit, polled); !s.ok()) return Annotated(s, live.name);
            if (!unchecked) unchecked = next_commit;
            last_logged = next_commit;
          }
          for (io::Change& u : polled) {
            if (u.diff != 0) live.input->Update(Data(u.id, std::move(u.row)), u.diff);  // diff 0: a note
          }
          if (*more == io::PollResult::kFinished) {
            live.input->Close();
            live.open = false;
          } else {
            sources_open = true;
          }
        }
        if (!any_data) break;
        if (sources_open) {
          Time now = static_cast<Time>(absl::ToUnixMillis(absl::Now()));
          now -= now % 2;
          next_commit = std::max(next_commit + 2, now);
          for (auto& [index, live] : sources) {
            if (live.open) live.input->AdvanceTo(next_commit);
          }
          advance_error_log(next_commit);
        }
      }
    }
    if (error_log) {
      publish_errors();
      if (!sources_open && independent_outputs_complete()) {
        // Let the last failures reach the log, then close it.
        if (absl::Status w = rt.WaitUntil([&] { return independent_outputs_complete(); }); !w.ok()) return w;
        publish_errors();
        error_log->Close();
        error_log.reset();
      }
    }
    if (!sources_open && !error_log && outputs_complete()) break;
    if (absl::Now() >= deadline || (options.should_stop && options.should_stop())) {
      // Stop cleanly: close the sources, then let what they sent complete.
      sources_open = false;
      for (auto& [index, live] : sources) {
        if (live.open) live.input->Close();
        live.open = false;
      }
    }
  }
  for (auto& [index, live] : sources) live.input.reset();
  error_log.reset();
  if (absl::Status s = rt.WaitUntilDone(); !s.ok()) return s;
  if (absl::Status d = deliver(); !d.ok()) return d;
  for (size_t o = 0; o < sinks.size(); ++o) {
    if (sinks[o] == nullptr || ended[o]) continue;
    ended[o] = true;
    if (absl::Status s = sinks[o]->End(); !s.ok()) return s;
    unflushed[o] = false;
  }
  closed = std::numeric_limits<Time>::max();
  if (absl::Status c = commit_offsets(true, recording); !c.ok()) return c;
  RunResult result;
  {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    result.errors = std::move(ctx->errors);
    for (const auto& [key, sizes] : ctx->state) result.state.push_back({key.first, key.second, sizes.first, sizes.second});
  }
  return result;
}

}  // namespace deltaflow::table
