// Table graphs: `TableGraph` (the builder) and `run_graph`, a thin layer over
// deltaflow/table/graph.h. Expressions arrive as nested tuples:
//   ("column", index, text) | ("const", value, text) | ("id", text) | (op, [args...], text)
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "deltaflow/persist/store.h"
#include "deltaflow/table/graph.h"
#include "fmt/format.h"
#include "native_handles.h"
#include "pointer.h"
#include "register.h"
#include "value_conversion.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace {

using expr::Expression;
using table::TableGraph;
using value::Key;
using value::Row;

Row EncodeValues(py::handle values, const char* what) {
  PyRowEncoder encoder;
  size_t index = 0;
  for (py::handle v : values) {
    if (absl::Status s = encoder.Append(v); !s.ok()) {
      throw py::type_error(std::string(what) + ", value " + std::to_string(index) + ": " + std::string(s.message()));
    }
    ++index;
  }
  return encoder.Finish();
}

Expression ToExpression(py::handle spec) {
  auto t = spec.cast<py::tuple>();
  auto op = t[0].cast<std::string>();
  if (op == "column") return Expression::Column(t[1].cast<int32_t>(), t[2].cast<std::string>());
  if (op == "const") {
    py::tuple one = py::make_tuple(t[1]);
    return Expression::Constant(EncodeValues(one, "constant"), t[2].cast<std::string>());
  }
  if (op == "id") {
    Expression e;
    e.op = expr::Op::kId;
    e.text = t[1].cast<std::string>();
    return e;
  }
  absl::StatusOr<expr::Op> parsed = expr::ParseOp(op);
  if (!parsed.ok()) throw py::value_error(std::string(parsed.status().message()));
  std::vector<Expression> args;
  for (py::handle a : t[1]) args.push_back(ToExpression(a));
  return Expression::Call(*parsed, std::move(args), t[2].cast<std::string>());
}

std::vector<Expression> ToExpressions(const py::list& specs) {
  std::vector<Expression> out;
  for (py::handle s : specs) out.push_back(ToExpression(s));
  return out;
}

table::ReducerKind ParseReducer(const std::string& name) {
  using K = table::ReducerKind;
  static const std::pair<const char*, K> kNames[] = {
      {"count", K::kCount},       {"sum", K::kSum},       {"avg", K::kAvg},
      {"min", K::kMin},           {"max", K::kMax},       {"argmin", K::kArgMin},
      {"argmax", K::kArgMax},     {"any", K::kAny},       {"unique", K::kUnique},
      {"tuple", K::kTuple},       {"sorted_tuple", K::kSortedTuple},
      {"count_distinct", K::kCountDistinct},              {"earliest", K::kEarliest},
      {"latest", K::kLatest},     {"ndarray", K::kNdArray},
  };
  for (const auto& [n, k] : kNames) {
    if (name == n) return k;
  }
  throw py::value_error("unknown reducer '" + name + "'");
}

// Holds the first Python exception raised by a callback during a run, to re-raise it after.
struct PyErrorSlot {
  std::mutex mutex;
  std::optional<py::error_already_set> error;
  void Store(py::error_already_set& e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error.emplace(std::move(e));
  }
};

// Set by `request_stop` (from any thread): the run in progress stops as at its timeout.
std::atomic<bool> g_stop_requested{false};

// The error slot of the run in progress (read and written under the GIL): user functions
// called from worker threads store their exception here, to be re-raised by `run_graph`.
std::shared_ptr<PyErrorSlot> g_run_errors;

class PyOutputHandler final : public io::Sink {
 public:
  PyOutputHandler(py::object on_time, py::object on_end, std::shared_ptr<PyErrorSlot> errors)
      : on_time_(std::move(on_time)), on_end_(std::move(on_end)), errors_(std::move(errors)) {}
  ~PyOutputHandler() override {
    py::gil_scoped_acquire gil;
    on_time_ = py::object();
    on_end_ = py::object();
  }

  absl::Status Write(io::Time time, std::vector<io::Change>& changes) override {
    py::gil_scoped_acquire gil;
    try {
      ReleasePendingObjects();
      py::list items(changes.size());
      for (size_t i = 0; i < changes.size(); ++i) {
        items[i] = py::make_tuple(KeyToPy(changes[i].id), RowToPy(changes[i].row), changes[i].diff);
      }
      changes.clear();
      on_time_(time, items);
    } catch (py::error_already_set& e) {
      errors_->Store(e);
      return absl::CancelledError("output callback failed");
    }
    return absl::OkStatus();
  }
  absl::Status End() override {
    if (on_end_.is_none()) return absl::OkStatus();
    py::gil_scoped_acquire gil;
    try {
      on_end_();
    } catch (py::error_already_set& e) {
      errors_->Store(e);
      return absl::CancelledError("output callback failed");
    }
    return absl::OkStatus();
  }

 private:
  py::object on_time_;
  py::object on_end_;
  std::shared_ptr<PyErrorSlot> errors_;
};

// A persistence store handed to `run_graph`.
struct PersistenceStore {
  std::shared_ptr<persist::Store> store;
};

// A Python object with `poll() -> (list[(Pointer, tuple, diff)], more: bool)`.
class PySource final : public io::Source {
 public:
  explicit PySource(py::object source) : source_(std::move(source)) {}
  ~PySource() override {
    py::gil_scoped_acquire gil;
    source_ = py::object();
  }
  void SetErrors(std::shared_ptr<PyErrorSlot> errors) { errors_ = std::move(errors); }
  void DrainErrors(std::vector<io::SourceError>& errors) override {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(source_, "drain_errors")) return;
    try {
      for (py::handle message : source_.attr("drain_errors")()) {
        errors.push_back({"python source", message.cast<std::string>()});
      }
    } catch (py::error_already_set& e) {
      if (errors_) errors_->Store(e);
    }
  }
  void SetWakeup(std::function<void()> wakeup) override {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(source_, "set_wakeup")) return;
    if (wakeup) {
      source_.attr("set_wakeup")(py::cpp_function(std::move(wakeup)));
    } else {
      source_.attr("set_wakeup")(py::none());
    }
  }
  absl::StatusOr<io::PollResult> Poll(std::vector<io::Change>& out, size_t max_rows) override {
    (void)max_rows;  // a Python source hands over what its subject committed (its own backlog bounds it)
    py::gil_scoped_acquire gil;
    try {
      py::tuple result = source_.attr("poll")();
      for (py::handle item : result[0]) {
        auto t = item.cast<py::tuple>();
        io::Change u;
        u.id = t[0].cast<PyPointer>().key;
        u.row = EncodeValues(t[1], "source row");
        u.diff = t[2].cast<int64_t>();
        out.push_back(std::move(u));
      }
      return result[1].cast<bool>() ? io::PollResult::kMore : io::PollResult::kFinished;
    } catch (py::error_already_set& e) {
      if (errors_) errors_->Store(e);
      return absl::CancelledError("python source failed");
    }
  }

  // Persistence: a Python source's offsets are `(counter, state bytes or None)` from its
  // `offsets()`; `seek(counter, state)` and `restore([(id, row, diff)])` take them back.
  io::Offsets CurrentOffsets() const override {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(source_, "offsets")) return {};
    try {
      py::tuple t = source_.attr("offsets")();
      io::Offset offset;
      offset.sequence = t[0].cast<uint64_t>();
      if (!t[1].is_none()) {
        offset.position = 1;
        offset.opaque = t[1].cast<std::string>();
      }
      return {{"subject", std::move(offset)}};
    } catch (py::error_already_set& e) {
      if (errors_) errors_->Store(e);
      return {};
    }
  }
  absl::Status Seek(const io::Offsets& offsets) override {
    auto it = offsets.find("subject");
    if (it == offsets.end()) return absl::OkStatus();
    py::gil_scoped_acquire gil;
    if (!py::hasattr(source_, "seek")) return absl::OkStatus();
    try {
      py::object state = it->second.position != 0 ? py::object(py::bytes(it->second.opaque)) : py::object(py::none());
      source_.attr("seek")(it->second.sequence, state);
    } catch (py::error_already_set& e) {
      return absl::InvalidArgumentError(fmt::format("resuming the Python source failed: {}", e.what()));
    }
    return absl::OkStatus();
  }
  void OnPersisted() override {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(source_, "on_persisted")) return;
    try {
      source_.attr("on_persisted")();
    } catch (py::error_already_set& e) {
      if (errors_) errors_->Store(e);
    }
  }
  void Restore(const std::vector<io::Change>& batch) override {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(source_, "restore")) return;
    try {
      py::list items(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        items[i] = py::make_tuple(KeyToPy(batch[i].id), RowToPy(batch[i].row), batch[i].diff);
      }
      source_.attr("restore")(items);
    } catch (py::error_already_set& e) {
      if (errors_) errors_->Store(e);
    }
  }

 private:
  py::object source_;
  std::shared_ptr<PyErrorSlot> errors_;
};

}  // namespace

// A user function called from the engine on batches of argument rows: the Python side takes a
// list of argument tuples and returns (results, [(row index, reason), ...]).
std::shared_ptr<table::BatchFunction> MakeBatchFunction(py::function fn) {
  auto holder = std::make_shared<py::object>(std::move(fn));
  return std::make_shared<table::BatchFunction>(
      [holder](const std::vector<Row>& rows, std::vector<Row>& results,
               std::vector<table::RowFailure>& failures) -> absl::Status {
        py::gil_scoped_acquire gil;
        try {
          py::list batch(rows.size());
          for (size_t i = 0; i < rows.size(); ++i) batch[i] = RowToPy(rows[i]);
          // The Python side returns (results, [(row index, reason), ...]).
          py::tuple out = (*holder)(batch);
          PyRowEncoder encoder;
          size_t index = 0;
          for (py::handle v : out[0]) {
            if (absl::Status s = encoder.Append(v); !s.ok()) {
              encoder.Clear();
              encoder.Append(py::module_::import("deltaflow").attr("ERROR")).IgnoreError();
              failures.push_back({index, "the function returned a value deltaflow cannot store: " +
                                             std::string(s.message())});
            }
            results.push_back(encoder.Finish());
            ++index;
          }
          for (py::handle f : out[1]) {
            auto t = f.cast<py::tuple>();
            failures.push_back({t[0].cast<size_t>(), t[1].cast<std::string>()});
          }
        } catch (py::error_already_set& e) {
          std::string what = e.what();
          if (g_run_errors) g_run_errors->Store(e);
          return absl::InvalidArgumentError(what);
        }
        return absl::OkStatus();
      });
}

void RegisterTable(py::module_& m) {
  py::class_<NativeSource>(m, "NativeSource", "A source implemented in C++ (e.g. a file source).");
  py::class_<NativeSink>(m, "NativeSink", "An output handler implemented in C++ (e.g. a file sink).");
  py::class_<TableGraph>(m, "TableGraph", "A dataflow of table operations (see deltaflow/table/graph.h).")
      .def(py::init<>())
      .def(
          "static_input",
          [](TableGraph& g, const py::list& rows, int arity, std::string name) {
            std::vector<table::TableUpdate> updates;
            updates.reserve(rows.size());
            for (py::handle item : rows) {
              auto t = item.cast<py::tuple>();
              table::TableUpdate u;
              u.id = t[0].cast<PyPointer>().key;
              u.row = EncodeValues(t[1], "input row");
              u.time = t[2].cast<uint64_t>();
              u.diff = t[3].cast<int64_t>();
              updates.push_back(std::move(u));
            }
            return g.StaticInput(std::move(updates), arity, std::move(name));
          },
          py::arg("rows"), py::arg("arity"), py::arg("name"))
      .def(
          "source_input",
          [](TableGraph& g, py::object source, int arity, std::string name, size_t max_backlog,
             std::string persistent_name) {
            return g.SourceInput(std::make_shared<PySource>(std::move(source)), arity, std::move(name), max_backlog,
                                 std::move(persistent_name));
          },
          py::arg("source"), py::arg("arity"), py::arg("name"), py::arg("max_backlog") = 0,
          py::arg("persistent_name") = "")
      .def(
          "native_source_input",
          [](TableGraph& g, const NativeSource& source, int arity, std::string name, size_t max_backlog,
             std::string persistent_name) {
            return g.SourceInput(source.source, arity, std::move(name), max_backlog, std::move(persistent_name));
          },
          py::arg("source"), py::arg("arity"), py::arg("name"), py::arg("max_backlog") = 0,
          py::arg("persistent_name") = "")
      .def("select", [](TableGraph& g, int input, const py::list& exprs, std::string name) {
        return g.Select(input, ToExpressions(exprs), std::move(name));
      })
      .def("filter", [](TableGraph& g, int input, py::handle e, std::string name) {
        return g.Filter(input, ToExpression(e), std::move(name));
      })
      .def("reindex", [](TableGraph& g, int input, py::handle e, std::string name) {
        return g.Reindex(input, ToExpression(e), std::move(name));
      })
      .def("concat", [](TableGraph& g, std::vector<int> inputs, std::string name) {
        return g.Concat(std::move(inputs), std::move(name));
      })
      .def("groupby_reduce",
           [](TableGraph& g, int input, const py::list& group_by, const py::list& reducers, py::object group_id,
              std::string name) {
             std::vector<table::Reducer> rs;
             for (py::handle r : reducers) {
               auto t = r.cast<py::tuple>();
               table::Reducer reducer;
               reducer.kind = ParseReducer(t[0].cast<std::string>());
               reducer.args = ToExpressions(t[1].cast<py::list>());
               reducer.skip_nones = t[2].cast<bool>();
               reducer.text = t[3].cast<std::string>();
               rs.push_back(std::move(reducer));
             }
             std::optional<Expression> id;
             if (!group_id.is_none()) id = ToExpression(group_id);
             return g.GroupByReduce(input, ToExpressions(group_by), std::move(rs), std::move(id), std::move(name));
           })
      .def("join",
           [](TableGraph& g, int left, int right, const py::list& lkeys, const py::list& rkeys, const std::string& kind,
              const std::string& id, std::string name) {
             table::JoinKind k = kind == "inner"  ? table::JoinKind::kInner
                                 : kind == "left" ? table::JoinKind::kLeft
                                 : kind == "right" ? table::JoinKind::kRight
                                                   : table::JoinKind::kOuter;
             table::JoinId i = id == "left" ? table::JoinId::kLeft : id == "right" ? table::JoinId::kRight : table::JoinId::kPair;
             return g.Join(left, right, ToExpressions(lkeys), ToExpressions(rkeys), k, i, std::move(name));
           })
      .def("zip", [](TableGraph& g, std::vector<int> inputs, std::string name) {
        return g.Zip(std::move(inputs), std::move(name));
      })
      .def("update_rows", [](TableGraph& g, int base, int updates, std::string name) {
        return g.UpdateRows(base, updates, std::move(name));
      })
      .def("restrict", [](TableGraph& g, int input, int keys, std::string name) {
        return g.Restrict(input, keys, std::move(name));
      })
      .def("difference", [](TableGraph& g, int input, int keys, std::string name) {
        return g.Difference(input, keys, std::move(name));
      })
      .def("flatten", [](TableGraph& g, int input, int column, std::string name) {
        return g.Flatten(input, column, std::move(name));
      })
      .def("apply",
           [](TableGraph& g, int input, const py::list& args, py::function fn, bool deterministic, std::string name) {
             return g.Apply(input, ToExpressions(args), MakeBatchFunction(std::move(fn)), deterministic, std::move(name));
           })
      .def("asof_join",
           [](TableGraph& g, int left, int right, py::handle left_key, py::handle left_time, py::handle right_key,
              py::handle right_time, const std::string& kind, const std::string& direction, std::string name) {
             table::JoinKind k = kind == "inner"  ? table::JoinKind::kInner
                                 : kind == "left" ? table::JoinKind::kLeft
                                 : kind == "right" ? table::JoinKind::kRight
                                                   : table::JoinKind::kOuter;
             table::AsofDirection d = direction == "backward" ? table::AsofDirection::kBackward
                                      : direction == "forward" ? table::AsofDirection::kForward
                                                               : table::AsofDirection::kNearest;
             return g.AsofJoin(left, right, ToExpression(left_key), ToExpression(left_time), ToExpression(right_key),
                               ToExpression(right_time), k, d, std::move(name));
           })
      .def("asof_now_join",
           [](TableGraph& g, int left, int right, py::handle left_key, py::handle right_key, const std::string& kind,
              bool id_from_left, std::string name) {
             table::JoinKind k = kind == "left" ? table::JoinKind::kLeft : table::JoinKind::kInner;
             return g.AsofNowJoin(left, right, ToExpression(left_key), ToExpression(right_key), k, id_from_left,
                                  std::move(name));
           })
      .def("sort",
           [](TableGraph& g, int input, py::handle key, py::handle instance, std::string name) {
             return g.Sort(input, ToExpression(key), ToExpression(instance), std::move(name));
           })
      .def("deduplicate",
           [](TableGraph& g, int input, py::handle value, py::object instance, py::function acceptor, std::string name) {
             std::optional<expr::Expression> inst;
             if (!instance.is_none()) inst = ToExpression(instance);
             return g.Deduplicate(input, ToExpression(value), std::move(inst), MakeBatchFunction(std::move(acceptor)),
                                  std::move(name));
           })
      .def("scope_input", [](TableGraph& g, int index, int arity, std::string name) {
        return g.ScopeInput(index, arity, std::move(name));
      })
      .def("iterate",
           [](TableGraph& g, std::vector<int> inputs, const TableGraph& body, std::vector<int> body_outputs, int iterated,
              std::optional<uint32_t> limit, std::string name) {
             return g.Iterate(std::move(inputs), std::make_shared<const TableGraph>(body), std::move(body_outputs), iterated,
                              limit, std::move(name));
           })
      .def("iterate_output", [](TableGraph& g, int node, int index, int arity, std::string name) {
        return g.IterateOutput(node, index, arity, std::move(name));
      })
      .def("sessions",
           [](TableGraph& g, int input, int time_column, int instance_column, py::object max_gap, py::object predicate,
              std::string name) {
             std::optional<Row> gap;
             if (!max_gap.is_none()) {
               PyRowEncoder encoder;
               if (absl::Status s = encoder.Append(max_gap); !s.ok()) throw py::value_error(std::string(s.message()));
               gap = encoder.Finish();
             }
             std::shared_ptr<table::BatchFunction> fn;
             if (!predicate.is_none()) fn = MakeBatchFunction(predicate.cast<py::function>());
             return g.Sessions(input, time_column, instance_column, std::move(gap), std::move(fn), std::move(name));
           })
      .def("gate",
           [](TableGraph& g, int input, const std::string& kind, py::handle threshold, py::handle time, bool mark,
              std::string name) {
             table::GateKind k = kind == "buffer" ? table::GateKind::kBuffer
                                 : kind == "forget" ? table::GateKind::kForget
                                 : kind == "freeze" ? table::GateKind::kFreeze
                                                    : throw py::value_error("gate kind must be buffer, forget or freeze");
             return g.Gate(input, k, ToExpression(threshold), ToExpression(time), mark, std::move(name));
           })
      .def("filter_out_forgetting",
           [](TableGraph& g, int input, std::string name) { return g.FilterOutForgetting(input, std::move(name)); })
      .def(
          "output",
          [](TableGraph& g, int input, std::string name, bool keep_error_rows) {
            return g.Output(input, std::move(name), keep_error_rows);
          },
          py::arg("input"), py::arg("name"), py::arg("keep_error_rows") = false)
      .def("error_log", &TableGraph::ErrorLog)
      .def("arity", &TableGraph::Arity)
      .def("__len__", [](const TableGraph& g) { return g.nodes().size(); });

  m.def(
      "request_stop", [] { g_stop_requested = true; },
      "Stops the run in progress cleanly, as its timeout would (callable from any thread).");
  py::class_<PersistenceStore>(m, "PersistenceStore", "Where a run's checkpoints are kept (deltaflow/persist/store.h).")
      .def_static(
          "filesystem",
          [](const std::string& path) {
            absl::StatusOr<std::shared_ptr<persist::Store>> store = persist::MakeFilesystemStore(path);
            if (!store.ok()) throw py::value_error(std::string(store.status().message()));
            return PersistenceStore{std::move(*store)};
          },
          py::arg("path"))
      .def_static("memory", [] { return PersistenceStore{persist::MakeMemoryStore()}; });
  m.def(
      "run_graph",
      [](TableGraph& graph, const py::list& handlers, uint32_t workers, bool terminate_on_error, double timeout_s,
         const PersistenceStore* persistence, double commit_interval_s, const std::string& replay_mode) {
        auto errors = std::make_shared<PyErrorSlot>();
        std::vector<std::unique_ptr<PyOutputHandler>> owned;
        std::vector<io::Sink*> raw;
        std::vector<std::shared_ptr<io::Sink>> native;
        for (py::handle h : handlers) {
          if (h.is_none()) {
            raw.push_back(nullptr);
            continue;
          }
          if (py::isinstance<NativeSink>(h)) {
            native.push_back(h.cast<NativeSink&>().handler);
            raw.push_back(native.back().get());
            continue;
          }
          auto t = h.cast<py::tuple>();
          owned.push_back(std::make_unique<PyOutputHandler>(py::reinterpret_borrow<py::object>(t[0]),
                                                            py::reinterpret_borrow<py::object>(t[1]), errors));
          raw.push_back(owned.back().get());
        }
        for (const auto& node : graph.nodes()) {
          if (auto* s = dynamic_cast<PySource*>(node.source.get())) s->SetErrors(errors);
        }
        table::RunOptions options;
        options.workers = workers;
        options.terminate_on_error = terminate_on_error;
        if (timeout_s > 0) options.timeout = absl::Seconds(timeout_s);
        if (persistence != nullptr) options.persistence = persistence->store;
        if (replay_mode == "continue") {
          options.persistence_use = table::RunOptions::PersistenceUse::kReplayThenContinue;
        } else if (replay_mode == "stop") {
          options.persistence_use = table::RunOptions::PersistenceUse::kReplayOnly;
        } else if (!replay_mode.empty()) {
          throw py::value_error("replay_mode must be '', 'continue' or 'stop'");
        }
        if (commit_interval_s > 0) options.commit_interval = absl::Seconds(commit_interval_s);
        g_stop_requested = false;
        options.should_stop = [] { return g_stop_requested.load(); };
        options.poll = [errors]() -> absl::Status {
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) {
            py::error_already_set e;
            errors->Store(e);
            return absl::CancelledError("interrupted");
          }
          return absl::OkStatus();
        };
        absl::StatusOr<table::RunResult> result;
        g_run_errors = errors;
        {
          py::gil_scoped_release release;
          result = table::RunTableGraph(graph, raw, options);
        }
        g_run_errors.reset();
        ReleasePendingObjects();
        {
          std::lock_guard<std::mutex> lock(errors->mutex);
          if (errors->error) {
            py::error_already_set e = std::move(*errors->error);
            errors->error.reset();
            owned.clear();
            throw std::move(e);
          }
        }
        owned.clear();
        if (!result.ok()) {
          // Failures the engine found (data errors) are deltaflow.engine.EngineError.
          const absl::Status& s = result.status();
          py::object engine_error = py::module_::import("deltaflow.engine").attr("EngineError");
          PyErr_SetString(engine_error.ptr(), std::string(s.message()).c_str());
          throw py::error_already_set();
        }
        py::list log;
        for (const auto& e : result->errors) log.append(py::make_tuple(e.operation, e.message, KeyToPy(e.id)));
        py::list state;
        for (const auto& s : result->state) state.append(py::make_tuple(s.operation, s.worker, s.last, s.peak));
        return py::make_tuple(log, state);
      },
      py::arg("graph"), py::arg("handlers"), py::arg("workers") = 1, py::arg("terminate_on_error") = true,
      py::arg("timeout_s") = 0.0, py::arg("persistence") = nullptr, py::arg("commit_interval_s") = 0.0,
      py::arg("replay_mode") = "",
      "Runs a table graph to completion; `handlers[i]` is (on_time(time, changes), on_end) or None. "
      "Returns the error log: (operation, message, id) per failed row.");
}

}  // namespace deltaflow::python
