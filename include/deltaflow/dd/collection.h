// Collection: a stream of updates `(data, time, diff)` in one worker's dataflow, and the
// operators that build new collections from it.
//
// A collection's contents at time t are the sum of all its updates at times <= t. Operators
// are attached by calling methods on a collection while the graph is being built (before
// `Worker::Finalize`):
//
//   auto [input, words] = NewInput<std::string>(worker);
//   auto counts = words.Map([](const std::string& w) { return w.size(); }).Consolidate();
//
// Stateless operators (`Map`, `Filter`, `FlatMap`, `Negate`, `Concat`, `Inspect`) act per
// update and keep no state; `Consolidate` holds updates until their time is complete and
// emits them summed. Stateful operators over arrangements live in dd/operators/.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "deltaflow/dd/stream.h"
#include "deltaflow/runtime/worker.h"
#include "deltaflow/time/antichain.h"

namespace deltaflow::dd {

template <typename D, typename T, typename R = int64_t>
class Collection;

/// An operator with one input and one output whose behaviour is `logic(input, output,
/// operator)`, called on every run. The building block of the operators in this file.
template <typename DIn, typename DOut, typename T, typename R, typename Logic>
class UnaryOperator final : public Operator<T> {
 public:
  UnaryOperator(std::string name, Logic logic) : Operator<T>(std::move(name)), logic_(std::move(logic)) {}

  void Wire(Worker<T>* worker) {
    input_ = std::make_unique<InputPort<DIn, T, R>>(worker, time::Target{this->index(), 0});
    output_ = std::make_unique<OutputPort<DOut, T, R>>(time::Source{this->index(), 0});
  }
  InputPort<DIn, T, R>* input() { return input_.get(); }
  OutputPort<DOut, T, R>* output() { return output_.get(); }
  Worker<T>& owner() const { return this->worker(); }

  void Run() override { logic_(*input_, *output_, *this); }

 private:
  Logic logic_;
  std::unique_ptr<InputPort<DIn, T, R>> input_;
  std::unique_ptr<OutputPort<DOut, T, R>> output_;
};

/// An operator with two inputs and one output whose behaviour is `logic(input1, input2,
/// output, operator)`, called on every run.
template <typename D1, typename D2, typename DOut, typename T, typename R, typename Logic>
class BinaryOperator final : public Operator<T> {
 public:
  BinaryOperator(std::string name, Logic logic) : Operator<T>(std::move(name)), logic_(std::move(logic)) {}

  void Wire(Worker<T>* worker) {
    input1_ = std::make_unique<InputPort<D1, T, R>>(worker, time::Target{this->index(), 0});
    input2_ = std::make_unique<InputPort<D2, T, R>>(worker, time::Target{this->index(), 1});
    output_ = std::make_unique<OutputPort<DOut, T, R>>(time::Source{this->index(), 0});
  }
  InputPort<D1, T, R>* input1() { return input1_.get(); }
  InputPort<D2, T, R>* input2() { return input2_.get(); }
  OutputPort<DOut, T, R>* output() { return output_.get(); }
  Worker<T>& owner() const { return this->worker(); }

  void Run() override { logic_(*input1_, *input2_, *output_, *this); }

 private:
  Logic logic_;
  std::unique_ptr<InputPort<D1, T, R>> input1_;
  std::unique_ptr<InputPort<D2, T, R>> input2_;
  std::unique_ptr<OutputPort<DOut, T, R>> output_;
};

/// An operator with one input and no output (probes, captures, sinks).
template <typename D, typename T, typename R, typename Logic>
class SinkOperator final : public Operator<T> {
 public:
  SinkOperator(std::string name, Logic logic) : Operator<T>(std::move(name)), logic_(std::move(logic)) {}
  void Wire(Worker<T>* worker) {
    input_ = std::make_unique<InputPort<D, T, R>>(worker, time::Target{this->index(), 0});
  }
  InputPort<D, T, R>* input() { return input_.get(); }
  void Run() override { logic_(*input_, this->InputFrontier(0)); }

 private:
  Logic logic_;
  std::unique_ptr<InputPort<D, T, R>> input_;
};

/// An operator merging several inputs of one type into one output.
template <typename D, typename T, typename R>
class ConcatOperator final : public Operator<T> {
 public:
  explicit ConcatOperator(uint32_t inputs) : Operator<T>("Concat"), inputs_count_(inputs) {}
  void Wire(Worker<T>* worker) {
    for (uint32_t i = 0; i < inputs_count_; ++i) {
      inputs_.push_back(std::make_unique<InputPort<D, T, R>>(worker, time::Target{this->index(), i}));
    }
    output_ = std::make_unique<OutputPort<D, T, R>>(time::Source{this->index(), 0});
  }
  InputPort<D, T, R>* input(uint32_t i) { return inputs_[i].get(); }
  OutputPort<D, T, R>* output() { return output_.get(); }
  void Run() override {
    for (auto& input : inputs_) {
      input->ForEach([this](const T& time, std::vector<Update<D, T, R>>& updates) {
        output_->Send(time, std::move(updates));
      });
    }
  }

 private:
  uint32_t inputs_count_;
  std::vector<std::unique_ptr<InputPort<D, T, R>>> inputs_;
  std::unique_ptr<OutputPort<D, T, R>> output_;
};

/// The frontier seen by a probe: lets the driver of a worker wait until a time is complete.
/// Thread-safe: the worker writes it while stepping, a driver thread may read it at any time.
template <time::Lattice T>
class ProbeHandle {
 public:
  ProbeHandle() : state_(std::make_shared<State>()) {}
  /// True while some time strictly before `t` may still change the probed collection.
  bool LessThan(const T& t) const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->frontier.LessThan(t);
  }
  /// True while `t` itself (or an earlier time) may still change the probed collection.
  bool LessEqual(const T& t) const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->frontier.LessEqual(t);
  }
  /// True once nothing more will ever arrive.
  bool Done() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->frontier.IsEmpty();
  }
  time::Antichain<T> frontier() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->frontier;
  }
  void Set(const time::Antichain<T>& frontier) const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->frontier = frontier;
  }

 private:
  struct State {
    std::mutex mutex;
    time::Antichain<T> frontier{time::Minimum<T>()};
  };
  std::shared_ptr<State> state_;
};

/// Every update a captured collection produced, in arrival order (tests and small sinks).
template <typename D, typename T, typename R = int64_t>
using CapturedUpdates = std::shared_ptr<std::vector<Update<D, T, R>>>;

/// Sorts updates by (data, time) and sums the diffs of equal pairs, dropping zeros.
template <typename D, typename T, typename R>
void ConsolidateUpdates(std::vector<Update<D, T, R>>& updates) {
  std::sort(updates.begin(), updates.end(), [](const auto& a, const auto& b) {
    if (a.data < b.data) return true;
    if (b.data < a.data) return false;
    return a.time < b.time;
  });
  size_t out = 0;
  for (size_t i = 0; i < updates.size();) {
    size_t j = i;
    R sum = updates[i].diff;
    while (++j < updates.size() && updates[j].data == updates[i].data &&
           updates[j].time == updates[i].time) {
      sum += updates[j].diff;
    }
    if (sum != 0) {
      if (out != i) updates[out] = std::move(updates[i]);
      updates[out].diff = sum;
      ++out;
    }
    i = j;
  }
  updates.resize(out);
}

template <typename D, typename T, typename R>
class Collection {
 public:
  using Data = D;
  using Time = T;
  using Diff = R;

  Collection(Worker<T>* worker, OutputPort<D, T, R>* port) : worker_(worker), port_(port) {}

  Worker<T>& worker() const { return *worker_; }
  OutputPort<D, T, R>* port() const { return port_; }

  /// Connects this collection to an input port of a new operator.
  void ConnectTo(InputPort<D, T, R>* input) const {
    port_->AddConsumer(input);
    worker_->AddEdge(port_->source(), input->target());
  }

  /// A new collection produced by a one-input operator running `logic(input, output, op)`.
  template <typename DOut, typename Logic>
  Collection<DOut, T, R> Unary(std::string name, Logic logic) const {
    using Op = UnaryOperator<D, DOut, T, R, Logic>;
    Op* op = worker_->AddOperator(std::make_unique<Op>(std::move(name), std::move(logic)), 1, 1);
    op->Wire(worker_);
    ConnectTo(op->input());
    return Collection<DOut, T, R>(worker_, op->output());
  }

  /// Applies `f` to each record: `f(const D&) -> DOut`.
  template <typename F>
  auto Map(F f) const {
    using DOut = std::decay_t<std::invoke_result_t<F&, const D&>>;
    return Unary<DOut>("Map", [f = std::move(f)](auto& input, auto& output, auto&) mutable {
      input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
        std::vector<Update<DOut, T, R>> out;
        out.reserve(updates.size());
        for (auto& u : updates) out.push_back({f(u.data), std::move(u.time), u.diff});
        output.Send(time, std::move(out));
      });
    });
  }

  /// Keeps the records for which `f(const D&)` is true.
  template <typename F>
  Collection Filter(F f) const {
    return Unary<D>("Filter", [f = std::move(f)](auto& input, auto& output, auto&) mutable {
      input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
        std::erase_if(updates, [&](const auto& u) { return !f(u.data); });
        output.Send(time, std::move(updates));
      });
    });
  }

  /// Replaces each record by the records `f(const D&)` returns (any iterable).
  template <typename F>
  auto FlatMap(F f) const {
    using Range = std::decay_t<std::invoke_result_t<F&, const D&>>;
    using DOut = std::decay_t<decltype(*std::begin(std::declval<Range&>()))>;
    return Unary<DOut>("FlatMap", [f = std::move(f)](auto& input, auto& output, auto&) mutable {
      input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
        std::vector<Update<DOut, T, R>> out;
        for (auto& u : updates) {
          for (auto&& d : f(u.data)) out.push_back({std::forward<decltype(d)>(d), u.time, u.diff});
        }
        output.Send(time, std::move(out));
      });
    });
  }

  /// Negates every diff: the collection that cancels this one.
  Collection Negate() const {
    return Unary<D>("Negate", [](auto& input, auto& output, auto&) {
      input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
        for (auto& u : updates) u.diff = -u.diff;
        output.Send(time, std::move(updates));
      });
    });
  }

  /// Calls `f(const Update&)` for every update that passes, and passes it on unchanged.
  template <typename F>
  Collection Inspect(F f) const {
    return Unary<D>("Inspect", [f = std::move(f)](auto& input, auto& output, auto&) mutable {
      input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
        for (const auto& u : updates) f(u);
        output.Send(time, std::move(updates));
      });
    });
  }

  /// The sum of this collection and `others`.
  Collection Concat(std::initializer_list<Collection> others) const {
    auto op_owned = std::make_unique<ConcatOperator<D, T, R>>(1 + others.size());
    auto* op = worker_->AddOperator(std::move(op_owned), 1 + others.size(), 1);
    op->Wire(worker_);
    ConnectTo(op->input(0));
    uint32_t i = 1;
    for (const Collection& other : others) other.ConnectTo(op->input(i++));
    return Collection(worker_, op->output());
  }
  Collection Concat(const Collection& other) const { return Concat({other}); }

  /// The same collection with updates held until their time is complete, then emitted
  /// once per (data, time) with summed diffs; records whose diffs cancel are not emitted.
  Collection Consolidate() const;

  /// The same collection with the updates of each message consolidated as it passes,
  /// holding nothing back: cheaper than `Consolidate` and without its wait for complete
  /// times, for streams where a message repeats records (a `Map` onto few values before an
  /// exchange sends them all to one worker).
  Collection ConsolidateStream() const {
    return Unary<D>("ConsolidateStream", [](auto& input, auto& output, auto&) {
      input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
        ConsolidateUpdates(updates);
        output.Send(time, std::move(updates));
      });
    });
  }

  /// A probe on this collection's frontier.
  ProbeHandle<T> Probe() const {
    ProbeHandle<T> handle;
    auto logic = [handle](InputPort<D, T, R>& input, const time::Antichain<T>& frontier) {
      input.ForEach([](const T&, auto&) {});
      handle.Set(frontier);
    };
    using Op = SinkOperator<D, T, R, decltype(logic)>;
    Op* op = worker_->AddOperator(std::make_unique<Op>("Probe", std::move(logic)), 1, 0);
    op->Wire(worker_);
    ConnectTo(op->input());
    return handle;
  }

  /// Records every update into the returned vector as it arrives.
  CapturedUpdates<D, T, R> Capture() const {
    auto captured = std::make_shared<std::vector<Update<D, T, R>>>();
    auto logic = [captured](InputPort<D, T, R>& input, const time::Antichain<T>&) {
      input.ForEach([&](const T&, std::vector<Update<D, T, R>>& updates) {
        for (auto& u : updates) captured->push_back(std::move(u));
      });
    };
    using Op = SinkOperator<D, T, R, decltype(logic)>;
    Op* op = worker_->AddOperator(std::make_unique<Op>("Capture", std::move(logic)), 1, 0);
    op->Wire(worker_);
    ConnectTo(op->input());
    return captured;
  }

 private:
  Worker<T>* worker_;
  OutputPort<D, T, R>* port_;
};

/// A new collection produced by a two-input operator running
/// `logic(input1, input2, output, op)`.
template <typename DOut, typename D1, typename D2, typename T, typename R, typename Logic>
Collection<DOut, T, R> Binary(const Collection<D1, T, R>& first, const Collection<D2, T, R>& second,
                              std::string name, Logic logic) {
  using Op = BinaryOperator<D1, D2, DOut, T, R, Logic>;
  Worker<T>& worker = first.worker();
  Op* op = worker.AddOperator(std::make_unique<Op>(std::move(name), std::move(logic)), 2, 1);
  op->Wire(&worker);
  first.ConnectTo(op->input1());
  second.ConnectTo(op->input2());
  return Collection<DOut, T, R>(&worker, op->output());
}

/// Ensures `capabilities` (kept an antichain) covers `time`, the time of a message being
/// consumed from an input of the operator whose output is `source`.
template <typename T>
void HoldCapability(std::vector<Capability<T>>& capabilities, Worker<T>& worker,
                    time::Source source, const T& time) {
  using deltaflow::time::LessEqual;
  for (const auto& c : capabilities) {
    if (LessEqual(c.time(), time)) return;
  }
  std::erase_if(capabilities, [&](const auto& c) { return LessEqual(time, c.time()); });
  capabilities.emplace_back(&worker, source, time);
}

/// Replaces `capabilities` by capabilities at exactly the times of `needed`, each derived from
/// a held one at or before it (it is an error if none is: times only move forward).
template <typename T>
void RetainCapabilitiesFor(std::vector<Capability<T>>& capabilities,
                           const time::Antichain<T>& needed) {
  using deltaflow::time::LessEqual;
  std::vector<Capability<T>> next;
  for (const T& t : needed.Elements()) {
    for (const auto& capability : capabilities) {
      if (LessEqual(capability.time(), t)) {
        next.push_back(capability.Delayed(t));
        break;
      }
    }
  }
  capabilities = std::move(next);
}

template <typename D, typename T, typename R>
Collection<D, T, R> Collection<D, T, R>::Consolidate() const {
  struct State {
    std::vector<Update<D, T, R>> pending;
    std::vector<Capability<T>> capabilities;  // an antichain: minimal times of `pending`
  };
  auto state = std::make_shared<State>();
  return Unary<D>("Consolidate", [state](auto& input, auto& output, auto& op) {
    using deltaflow::time::LessEqual;
    input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
      HoldCapability(state->capabilities, op.owner(), output.source(), time);
      for (auto& u : updates) state->pending.push_back(std::move(u));
    });
    const time::Antichain<T>& frontier = op.InputFrontier(0);
    if (state->pending.empty()) {
      state->capabilities.clear();
      return;
    }
    // Every pending update is at or after a held capability: if the frontier has passed
    // none of them, nothing is complete, and rescanning would make a long time quadratic.
    if (std::all_of(state->capabilities.begin(), state->capabilities.end(),
                    [&](const auto& c) { return frontier.LessEqual(c.time()); })) {
      return;
    }
    // Updates whose time the frontier has passed are complete: send them, each under a held
    // capability at or before its time.
    std::vector<Update<D, T, R>> ready;
    std::vector<Update<D, T, R>> later;
    for (auto& u : state->pending) {
      (frontier.LessEqual(u.time) ? later : ready).push_back(std::move(u));
    }
    if (ready.empty()) {
      state->pending = std::move(later);
      return;
    }
    ConsolidateUpdates(ready);
    for (const auto& capability : state->capabilities) {
      std::vector<Update<D, T, R>> batch;
      for (auto& u : ready) {
        if (u.diff != 0 && LessEqual(capability.time(), u.time)) {
          batch.push_back(u);
          u.diff = 0;  // sent
        }
      }
      output.Send(capability.time(), std::move(batch));
    }
    // Keep capabilities only for the minimal times still pending.
    time::Antichain<T> needed;
    for (const auto& u : later) needed.Insert(u.time);
    RetainCapabilitiesFor(state->capabilities, needed);
    state->pending = std::move(later);
  });
}

/// Feeds updates into a dataflow from outside it. Holds a capability at its current time:
/// downstream frontiers cannot pass `time()` until `AdvanceTo` or `Close`. It is an error to
/// destroy the worker before its input sessions.
template <typename D, typename T, typename R = int64_t>
class InputSession {
 public:
  InputSession(Worker<T>* worker, OutputPort<D, T, R>* port) : worker_(worker), port_(port) {}
  InputSession(const InputSession&) = delete;
  InputSession& operator=(const InputSession&) = delete;
  InputSession(InputSession&&) = default;
  ~InputSession() { Close(); }

  /// Receives the initial capability (called from `Worker::Finalize`).
  void TakeCapability(Capability<T> capability) {
    capability_ = std::move(capability);
    time_ = capability_.time();
  }

  /// Adds `diff` copies of `data` at the current time.
  void Update(D data, R diff) { UpdateAt(std::move(data), time_, diff); }
  void Insert(D data) { Update(std::move(data), 1); }
  void Remove(D data) { Update(std::move(data), -1); }
  /// Adds an update at `time`, which must not be before the current time.
  void UpdateAt(D data, T time, R diff) {
    using deltaflow::time::LessEqual;
    DELTAFLOW_CHECK(capability_.valid(), "update on a closed input session");
    DELTAFLOW_CHECK(LessEqual(time_, time), "update at a time before the session's time");
    buffer_.push_back({std::move(data), std::move(time), diff});
    if (buffer_.size() >= kFlushSize) Flush();
  }
  /// Sends buffered updates into the dataflow.
  void Flush() {
    if (!buffer_.empty() && capability_.valid()) port_->Send(capability_.time(), std::move(buffer_));
    buffer_.clear();
  }
  /// Declares that no more updates will come at times before `time`. `time` must not be
  /// before the current time.
  void AdvanceTo(const T& time) {
    Flush();
    if (!capability_.valid()) return;
    capability_.Downgrade(time);
    time_ = time;
  }
  /// Declares that no more updates will ever come.
  void Close() {
    Flush();
    capability_.Drop();
  }
  const T& time() const { return time_; }
  bool closed() const { return !capability_.valid(); }

 private:
  static constexpr size_t kFlushSize = 4096;
  Worker<T>* worker_;
  OutputPort<D, T, R>* port_;
  Capability<T> capability_;
  T time_{};
  std::vector<dd::Update<D, T, R>> buffer_;
};

/// The operator behind an input session: it only owns the output port.
template <typename D, typename T, typename R>
class InputOperator final : public Operator<T> {
 public:
  InputOperator() : Operator<T>("Input") {}
  void Wire() { output_ = std::make_unique<OutputPort<D, T, R>>(time::Source{this->index(), 0}); }
  OutputPort<D, T, R>* output() { return output_.get(); }
  void Run() override {}

 private:
  std::unique_ptr<OutputPort<D, T, R>> output_;
};

/// Adds an input to `worker`'s graph: the session to feed it and the collection it produces.
template <typename D, typename R = int64_t, typename T>
std::pair<std::unique_ptr<InputSession<D, T, R>>, Collection<D, T, R>> NewInput(Worker<T>& worker) {
  auto* op = worker.AddOperator(std::make_unique<InputOperator<D, T, R>>(), 0, 1);
  op->Wire();
  auto session = std::make_unique<InputSession<D, T, R>>(&worker, op->output());
  InputSession<D, T, R>* raw = session.get();
  worker.OnInitialCapability(op->index(), 0,
                             [raw](Capability<T> capability) { raw->TakeCapability(std::move(capability)); });
  return {std::move(session), Collection<D, T, R>(&worker, op->output())};
}

}  // namespace deltaflow::dd
