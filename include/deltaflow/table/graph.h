// Table graphs: Pathway's table semantics on top of the dd core.
//
// A table is a collection of `(id, row)` pairs: at every completed time each id appears at
// most once. A `TableGraph` describes a dataflow of table operations — inputs, select,
// filter, reindex, concat, group-by/reduce, joins, update_rows, restrict, flatten, batched
// user functions and outputs — as plain data. `RunTableGraph` lowers it onto `W` workers
// (each runs its own copy over its shard of ids), runs it until every input is closed and
// hands each output, on the calling thread and in time order, the consolidated changes of
// every completed time.
//
// The graph knows nothing of Python: a Python user's `Table` calls build one through the
// binding, and a C++ user builds one directly. Columns are positions; types were checked by
// whoever built the graph, and the engine reports a value of an unexpected type as an
// evaluation error, never as a crash.
//
// Ids are derived exactly where Pathway derives them: group-by results by the group's values
// (`IdFromValues`, the same function as `pointer_from`), join results by the pair of joined
// ids, reindexing by the expression the user gave. A duplicate id (from `concat`, a reindex,
// an input) is reported as an error naming the operation, never kept as two rows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "deltaflow/expr/expression.h"
#include "deltaflow/io/sink.h"
#include "deltaflow/io/source.h"
#include "deltaflow/persist/store.h"
#include "deltaflow/value/key.h"
#include "deltaflow/value/row.h"

namespace deltaflow::table {

/// Engine time: milliseconds, even for commits (DESIGN.md).
using Time = uint64_t;

/// One change of a table: `diff` copies of `row` under `id` at `time`.
struct TableUpdate {
  value::Key id;
  value::Row row;
  Time time = 0;
  int64_t diff = 1;
};

/// One change delivered to an output for a completed time.
using OutputChange = io::Change;

/// A row a user function failed on: its position in the batch and the reason.
struct RowFailure {
  size_t index;
  std::string message;
};

/// A user function called on a batch of argument rows; fills one result row (one value) per
/// argument row. A row it failed on holds `Error` and is listed in `failures` (reported like a
/// failing expression); a non-OK status stops the run. Called from worker threads, one call
/// at a time per operator.
using BatchFunction = std::function<absl::Status(const std::vector<value::Row>& args, std::vector<value::Row>& results,
                                                 std::vector<RowFailure>& failures)>;


enum class ReducerKind : uint8_t {
  kCount,
  kSum,
  kAvg,
  kMin,
  kMax,
  kArgMin,
  kArgMax,
  kAny,
  kUnique,
  kTuple,
  kSortedTuple,
  kCountDistinct,
  kEarliest,
  kLatest,
  kNdArray,
};

/// One reducer of a group-by: its kind and the expressions it reads (the value, and for
/// `tuple` with `sort_by` the sort key).
struct Reducer {
  ReducerKind kind = ReducerKind::kCount;
  std::vector<expr::Expression> args;
  bool skip_nones = false;
  std::string text;  // for error messages
};

enum class JoinKind : uint8_t { kInner, kLeft, kRight, kOuter };

/// How an event-time gate treats a row, by comparing the row's `threshold` with the
/// watermark: the largest `time` of the rows the gate has seen. A gate acts at the times its
/// input has changes (as Pathway's do), and every gate keeps one watermark for the whole
/// table (its rows meet on one worker).
enum class GateKind : uint8_t {
  /// Holds a row until `threshold <= watermark` (this time's rows count); at the end of the
  /// input, releases what is left at `kEndOfInputTime`.
  kBuffer,
  /// Passes rows, and retracts a row once `threshold <= watermark` of earlier times: state
  /// downstream is forgotten. Marked retractions come at the odd time after (DESIGN.md).
  kForget,
  /// Drops rows with `threshold <= watermark` of earlier times: late data is ignored.
  kFreeze,
};

/// Which row of the other side an as-of join picks for a row at time `t`.
enum class AsofDirection : uint8_t {
  kBackward,  // the latest at or before t
  kForward,   // the earliest at or after t
  kNearest,   // the closer of the two (the later on a tie)
};

/// The time at which buffered rows leave when the input ends (Pathway's, printed as
/// 18446744073709551614).
inline constexpr Time kEndOfInputTime = ~Time{0} - 1;
/// Where a join result's id comes from.
enum class JoinId : uint8_t { kPair, kLeft, kRight };

/// A dataflow of table operations. Nodes are numbered in the order they are added, and a
/// node only reads nodes added before it. Every builder method returns the new node's number.
class TableGraph {
 public:
  enum class Kind : uint8_t {
    kStaticInput,
    kSourceInput,
    kSelect,
    kFilter,
    kReindex,
    kConcat,
    kGroupByReduce,
    kJoin,
    kZip,
    kUpdateRows,
    kRestrict,
    kDifference,
    kFlatten,
    kApply,
    kGate,
    kForgetFilter,
    kSessions,
    kAsofJoin,
    kAsofNowJoin,
    kSort,
    kDeduplicate,
    kScopeInput,
    kIterate,
    kIterateOutput,
    kOutput,
    kErrorLog,
  };

  struct Node {
    Kind kind;
    std::string name;  // the user's operation, for errors ("select at pipeline.py:12")
    std::vector<int> inputs;
    std::vector<expr::Expression> exprs;
    std::vector<Reducer> reducers;
    std::vector<TableUpdate> rows;          // kStaticInput
    std::shared_ptr<io::Source> source;      // kSourceInput
    size_t max_backlog = 0;                  // kSourceInput: rows in processing at most (0: unbounded)
    std::string persistent_name;             // kSourceInput: what persistence knows it by
    std::shared_ptr<BatchFunction> function; // kApply
    bool deterministic = false;              // kApply
    JoinKind join_kind = JoinKind::kInner;
    JoinId join_id = JoinId::kPair;
    int arity = 0;                           // cells per row of this node's output
    int column = -1;                         // kFlatten: the exploded column
    GateKind gate = GateKind::kBuffer;       // kGate
    bool mark = false;                       // kGate (forget): retract at odd times
    AsofDirection direction = AsofDirection::kBackward;  // kAsofJoin
    std::shared_ptr<const TableGraph> body;  // kIterate: the loop body
    std::vector<int> body_outputs;           // kIterate: the body's nodes giving the next iterates
    int iterated = 0;                        // kIterate: how many inputs are iterated (the first ones)
    std::optional<uint32_t> limit;           // kIterate: at most this many applications of the body
    std::vector<int> arities;                // inputs' arities where the node needs them
    bool keep_error_rows = false;            // kOutput: deliver rows holding Error
  };

  /// A table holding `rows` (each with its time and diff), closed after the last time.
  int StaticInput(std::vector<TableUpdate> rows, int arity, std::string name = "input");
  /// A table fed by `source` while the graph runs. With `max_backlog`, the source is not
  /// polled while that many of its rows are still in processing (not yet past every output).
  /// `persistent_name` identifies it to persistence across runs (empty: "input-<k>" for the
  /// k-th source of the graph).
  int SourceInput(std::shared_ptr<io::Source> source, int arity, std::string name = "input", size_t max_backlog = 0,
                  std::string persistent_name = "");
  /// Each row becomes the values of `exprs`; ids are kept.
  int Select(int input, std::vector<expr::Expression> exprs, std::string name = "select");
  /// Rows for which `predicate` is true.
  int Filter(int input, expr::Expression predicate, std::string name = "filter");
  /// Rows under the id `new_id` evaluates to (a pointer); cells are kept.
  int Reindex(int input, expr::Expression new_id, std::string name = "with_id");
  /// The union of tables with the same columns; their ids must be disjoint.
  int Concat(std::vector<int> inputs, std::string name = "concat");
  /// One row per distinct value of `group_by` (id: `IdFromValues(group values)`, or the
  /// value of `group_id` when given): the group values followed by one cell per reducer.
  int GroupByReduce(int input, std::vector<expr::Expression> group_by, std::vector<Reducer> reducers,
                    std::optional<expr::Expression> group_id = std::nullopt,
                    std::string name = "groupby");
  /// Joins rows whose `left_keys` equal `right_keys`. A result row holds the left cells, the
  /// right cells, then the left id and right id (None for the missing side of an outer join).
  int Join(int left, int right, std::vector<expr::Expression> left_keys,
           std::vector<expr::Expression> right_keys, JoinKind kind, JoinId id, std::string name = "join");
  /// Rows of tables with the same ids, side by side (cells of `inputs[0]`, then `inputs[1]`,
  /// ...): the by-id join that combines columns of one universe.
  int Zip(std::vector<int> inputs, std::string name = "zip");
  /// `base` with the rows of `updates` replacing (or adding) rows of the same id.
  int UpdateRows(int base, int updates, std::string name = "update_rows");
  /// Rows of `input` whose id is in `keys`.
  int Restrict(int input, int keys, std::string name = "restrict");
  /// Rows of `input` whose id is not in `keys`.
  int Difference(int input, int keys, std::string name = "difference");
  /// One row per element of the tuple (or Json array, or string) in `column`, which is
  /// replaced by the element; ids derived from the row's id and the element's position.
  int Flatten(int input, int column, std::string name = "flatten");
  /// Appends the result of `function` over the values of `args` as a last cell. A
  /// non-deterministic function's results are stored per id, so a retraction retracts what
  /// was emitted.
  int Apply(int input, std::vector<expr::Expression> args, std::shared_ptr<BatchFunction> function,
            bool deterministic, std::string name = "apply");
  /// An event-time gate (`GateKind`): `threshold` and `time` are evaluated per row. A forget
  /// gate with `mark` retracts at odd times, which `FilterOutForgetting` can drop.
  int Gate(int input, GateKind kind, expr::Expression threshold, expr::Expression time, bool mark = false,
           std::string name = "gate");
  /// The table without the changes forgetting caused (those at odd times); each id keeps the
  /// row it was last given at an even time, so the result stays a consistent table.
  int FilterOutForgetting(int input, std::string name = "filter_out_results_of_forgetting");
  /// Session windows. Rows are ordered by the cell `time_column` within each value of the
  /// cell `instance_column`; neighbours share a session while their times differ by less
  /// than `max_gap` (a one-value row), or, without it, while `predicate` (called on rows
  /// `(earlier time, later time)`, returning one bool) holds. Each row gets three cells: its
  /// session's id (the id of the session's last row), start and end (first and last time).
  int Sessions(int input, int time_column, int instance_column, std::optional<value::Row> max_gap,
               std::shared_ptr<BatchFunction> predicate, std::string name = "session");
  /// As-of join: each row of the left side (`kLeft`, `kInner`), the right side (`kRight`) or
  /// both (`kOuter`) is joined with one row of the other side that has an equal key (`exprs`:
  /// left key, left time, right key, right time), chosen by `direction`. In `kOuter`, rows at
  /// equal times are ordered left before right. A result row holds the left cells, the right
  /// cells (None for a missing side), the left id, the right id, the key and the time of the
  /// row it was made for; its id is derived from that row's id and side.
  int AsofJoin(int left, int right, expr::Expression left_key, expr::Expression left_time, expr::Expression right_key,
               expr::Expression right_time, JoinKind kind, AsofDirection direction, std::string name = "asof_join");
  /// As-of-now join: each row inserted into `left` is joined with the rows of `right` with an
  /// equal key at that time (`exprs`: left key, right key), and the result is never updated
  /// (changes of `right` affect later left rows only; left rows are not stored, so `left`
  /// should be append-only). `kLeft` keeps a left row without matches. A result row holds
  /// the left cells, the right cells, the left id and the right id; its id is derived from
  /// both ids (or is the left id with `id_from_left`).
  int AsofNowJoin(int left, int right, expr::Expression left_key, expr::Expression right_key, JoinKind kind,
                  bool id_from_left, std::string name = "asof_now_join");
  /// Orders rows by `key` within each value of `instance`: one row per input row (same id)
  /// holding the ids of its predecessor and successor (None at either end). Rows with equal
  /// keys are ordered by id. A change updates only the rows next to it.
  int Sort(int input, expr::Expression key, expr::Expression instance, std::string name = "sort");
  /// Deduplication: per value of `instance` (None: one group), the last accepted row. Rows
  /// arrive in time order (by id within a time); the first is accepted, a later one when
  /// `acceptor` (called on rows `(new value, accepted value)`, returning one bool) says so,
  /// replacing the accepted row. Deletions are ignored (the input is a stream of events). A
  /// result row holds the accepted row's cells; its id is `IdFromValues(instance)` (instance
  /// None without one).
  int Deduplicate(int input, expr::Expression value, std::optional<expr::Expression> instance,
                  std::shared_ptr<BatchFunction> acceptor, std::string name = "deduplicate");
  /// Inside an iterate body: the `index`-th collection entering the loop.
  int ScopeInput(int index, int arity, std::string name = "iterate input");
  /// Iteration in a nested scope (rounds inside each outer time). `inputs` enter `body` as its
  /// ScopeInput nodes, in order; the first `iterated` are iterates: in round 0 they hold their
  /// input, in round i + 1 the value of `body_outputs[k]` in round i. The loop runs until the
  /// iterates stop changing (or the body was applied `limit` times) and is kept up to date
  /// as the inputs change, like any other operator. Inside the body: select, filter, reindex,
  /// user functions (called as deterministic),
  /// concat, joins, zip, update_rows, restrict, difference, flatten and group-by.
  int Iterate(std::vector<int> inputs, std::shared_ptr<const TableGraph> body, std::vector<int> body_outputs,
              int iterated, std::optional<uint32_t> limit, std::string name = "iterate");
  /// The `index`-th iterate of an iterate node, after the loop.
  int IterateOutput(int iterate_node, int index, int arity, std::string name = "iterate result");
  /// The error log: one row (operator, message, trace) per row an operation failed on, when
  /// the run does not stop on errors. It closes once every output that does not read it is
  /// complete. At most one per graph.
  int ErrorLog();
  /// Marks `input` as an output; the result indexes `RunTableGraph`'s handlers. When the run
  /// does not stop on errors, rows holding an `Error` are logged and not delivered, unless
  /// `keep_error_rows` (a debugging view of the table).
  int Output(int input, std::string name = "output", bool keep_error_rows = false);

  const std::vector<Node>& nodes() const { return nodes_; }
  int Arity(int node) const { return nodes_[static_cast<size_t>(node)].arity; }
  int OutputCount() const { return outputs_; }
  /// The node behind output `index`.
  int OutputNode(int index) const { return output_nodes_[static_cast<size_t>(index)]; }

 private:
  int Add(Node node);
  std::vector<Node> nodes_;
  int outputs_ = 0;
  std::vector<int> output_nodes_;
};

/// A failure of an expression or operation on one row, for the error log.
struct ErrorLogEntry {
  std::string operation;
  std::string message;
  value::Key id;
  std::string expression;  // the failing expression, when one failed
};

struct RunOptions {
  uint32_t workers = 1;
  /// True: the first failing expression stops the run with its error. False: the cell holds
  /// an `Error` value and the failure goes to the error log.
  bool terminate_on_error = true;
  /// Called regularly on the driving thread (to check for Ctrl-C); a non-OK status stops
  /// the run with that status.
  std::function<absl::Status()> poll;
  /// How often `poll` runs.
  absl::Duration poll_interval = absl::Milliseconds(50);
  /// Stop (cleanly, flushing what completed) after this long; infinite by default.
  absl::Duration timeout = absl::InfiniteDuration();
  /// Checked with `poll`: once it returns true, the run stops as at its timeout (the sources
  /// close, and what they sent completes).
  std::function<bool()> should_stop;
  /// How often sources are told which offsets are durable (`io::Source::Commit`), after every
  /// sink was flushed; also once at the end of the run.
  absl::Duration commit_interval = absl::Seconds(1);
  /// A source is not polled while this many of its commits are still in processing (0: no
  /// limit): under load its records gather into larger commits.
  size_t max_times_in_flight = 2;
  /// Persistence (deltaflow/persist/checkpoint.h): the store checkpoints are kept in; null:
  /// none. With it, a run resumes from the last checkpoint found there and checkpoints every
  /// `commit_interval`.
  std::shared_ptr<persist::Store> persistence;
  /// What a run with `persistence` does with it: record (resume from the last checkpoint and
  /// checkpoint as it goes), or replay the persisted input writing its results again (no
  /// checkpoint is written), then read the inputs on from their offsets or stop.
  enum class PersistenceUse : uint8_t { kRecord, kReplayThenContinue, kReplayOnly };
  PersistenceUse persistence_use = PersistenceUse::kRecord;
};

/// The state an operator held on one worker: entries after its last run, and at most.
struct StateSize {
  std::string operation;
  uint32_t worker = 0;
  size_t last = 0;
  size_t peak = 0;
};

struct RunResult {
  std::vector<ErrorLogEntry> errors;
  /// State sizes of the group-by and gate operators (what forgetting must keep bounded).
  std::vector<StateSize> state;
};

/// Runs `graph` to completion: until every input is closed and every output has received
/// every completed time. `sinks[i]` receives output `i` (null: discarded), on the calling
/// thread, one closed time at a time (io/sink.h). Sources are opened at the start and closed
/// at the end, on every way out; their offsets are committed once every output is past the
/// times built from them and every sink is flushed.
absl::StatusOr<RunResult> RunTableGraph(const TableGraph& graph, const std::vector<io::Sink*>& sinks,
                                        const RunOptions& options);

}  // namespace deltaflow::table
