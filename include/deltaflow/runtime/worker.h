// Worker: one worker's copy of a dataflow graph, its scheduler and its progress tracking.
//
// A dataflow is a graph of operators connected by typed streams of update messages. Each
// worker owns a copy of the whole graph (timely style) and runs it by *steps*: a step applies
// the progress changes operators made since the last step, tells operators whose input
// frontiers moved, and runs every operator that has something to do once. An operator does a
// bounded amount of work per run and never blocks; an operator with nothing to do is not run
// at all, so an idle dataflow costs nothing.
//
// Progress: every message is sent *at* a time (its capability time; the updates inside carry
// times at or after it) and counts as a pointstamp at the input it was sent to until that
// input consumes it. Operators hold `Capability`s — the right to send at a time from an
// output — which count as pointstamps at the output. The worker feeds both kinds of change to
// a `time::Tracker`, which yields every input's frontier: the times that may still arrive.
//
// Threading contract: a worker and everything in its graph is used by one thread at a time.
// Operators are run only from `Step()`; input sessions, probes and captures may be used
// between steps from the thread that drives the worker. Exchange between workers (a later
// layer) sends its messages and progress through this same accounting.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "deltaflow/base/check.h"
#include "deltaflow/runtime/codec.h"
#include "deltaflow/runtime/communicator.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"
#include "deltaflow/time/path_summary.h"
#include "deltaflow/time/progress.h"

namespace deltaflow::runtime {

template <time::Lattice T>
class Worker;

/// A change in pointstamp counts one worker announces to all: `diff` at `time` at an output
/// (`is_target` false: capabilities) or an input (true: messages in flight) of node `node`.
template <typename T>
struct ProgressUpdate {
  uint32_t node;
  uint32_t port;
  bool is_target;
  T time;
  int64_t diff;
};

template <Encodable T>
struct Codec<ProgressUpdate<T>> {
  static void Encode(const ProgressUpdate<T>& u, std::string& out) {
    Codec<uint32_t>::Encode(u.node, out);
    Codec<uint32_t>::Encode(u.port, out);
    Codec<bool>::Encode(u.is_target, out);
    Codec<T>::Encode(u.time, out);
    Codec<int64_t>::Encode(u.diff, out);
  }
  static bool Decode(const char*& p, const char* end, ProgressUpdate<T>& u) {
    return Codec<uint32_t>::Decode(p, end, u.node) && Codec<uint32_t>::Decode(p, end, u.port) &&
           Codec<bool>::Decode(p, end, u.is_target) && Codec<T>::Decode(p, end, u.time) &&
           Codec<int64_t>::Decode(p, end, u.diff);
  }
};

/// An operator in a worker's graph. Subclasses implement `Run`.
template <time::Lattice T>
class Operator {
 public:
  explicit Operator(std::string name) : name_(std::move(name)) {}
  virtual ~Operator() = default;
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  /// Does a bounded amount of work: consumes queued messages, reacts to input frontiers,
  /// sends output. Called by `Worker::Step` on the worker's thread, only when the operator
  /// was activated (a message arrived, a frontier moved, or it asked via `Activate`).
  virtual void Run() = 0;

  /// Called once by `Worker::Finalize`, after progress tracking is built and initial
  /// capabilities are handed out (a nested scope finalizes its inner graph here).
  virtual absl::Status OnFinalize() { return absl::OkStatus(); }

  const std::string& name() const { return name_; }
  uint32_t index() const { return index_; }
  uint32_t InputCount() const { return static_cast<uint32_t>(frontiers_.size()); }
  /// The frontier of input `port`: times that may still arrive there.
  const time::Antichain<T>& InputFrontier(uint32_t port) const { return frontiers_[port]; }

  /// Called by `Worker::AddOperator` only.
  void AttachToWorker(Worker<T>* worker, uint32_t index, uint32_t inputs) {
    worker_ = worker;
    index_ = index;
    frontiers_.resize(inputs, time::Antichain<T>(time::Minimum<T>()));
  }
  /// Called by the worker only, when progress tracking moves an input frontier.
  void SetInputFrontier(uint32_t port, const time::Antichain<T>& frontier) {
    frontiers_[port] = frontier;
  }

 protected:
  Worker<T>& worker() const { return *worker_; }

 private:
  std::string name_;
  uint32_t index_ = 0;
  Worker<T>* worker_ = nullptr;
  std::vector<time::Antichain<T>> frontiers_;
};

/// The right to send messages at `time()` (or later) from one output of an operator. Copying
/// a capability holds the time once more; destroying it releases the hold; `Downgrade` moves
/// it to a later time. While any capability at time t exists, every input downstream sees t
/// (or an earlier time) in its frontier.
template <time::Lattice T>
class Capability {
 public:
  Capability() = default;
  Capability(Worker<T>* worker, time::Source source, T time)
      : worker_(worker), source_(source), time_(std::move(time)) {
    worker_->UpdateCapability(source_, time_, +1);
  }
  Capability(const Capability& other) : Capability() {
    if (other.worker_ != nullptr) *this = Capability(other.worker_, other.source_, other.time_);
  }
  Capability(Capability&& other) noexcept
      : worker_(std::exchange(other.worker_, nullptr)),
        source_(other.source_),
        time_(std::move(other.time_)) {}
  Capability& operator=(Capability other) noexcept {
    std::swap(worker_, other.worker_);
    std::swap(source_, other.source_);
    std::swap(time_, other.time_);
    return *this;
  }
  ~Capability() { Drop(); }

  /// Wraps a hold that progress tracking already counts (the initial capabilities, which
  /// every worker counts once per peer up front so that no worker can see a frontier pass
  /// before all its peers have started).
  static Capability Adopt(Worker<T>* worker, time::Source source, T time) {
    Capability capability;
    capability.worker_ = worker;
    capability.source_ = source;
    capability.time_ = std::move(time);
    return capability;
  }

  bool valid() const { return worker_ != nullptr; }
  const T& time() const { return time_; }
  time::Source source() const { return source_; }

  /// A new capability for the same output at `later`. It is an error if `later` is not
  /// greater than or equal to `time()`.
  Capability Delayed(const T& later) const {
    using deltaflow::time::LessEqual;
    DELTAFLOW_CHECK(valid() && LessEqual(time_, later), "capability delayed to an earlier time");
    return Capability(worker_, source_, later);
  }
  /// Moves this capability to `later`, which must be at or after `time()`.
  void Downgrade(const T& later) { *this = Delayed(later); }
  /// Releases the capability.
  void Drop() {
    if (worker_ != nullptr) {
      worker_->UpdateCapability(source_, time_, -1);
      worker_ = nullptr;
    }
  }

 private:
  Worker<T>* worker_ = nullptr;
  time::Source source_;
  T time_{};
};

/// One worker's graph and scheduler. Build the graph (operators and edges), call
/// `Finalize()`, then drive it with `Step()` between uses of inputs and probes.
template <time::Lattice T>
class Worker {
 public:
  using Summary = time::SummaryFor<T>;

  /// A single worker, alone in its dataflow.
  Worker() : Worker(0, 1, nullptr, nullptr) {}

  /// Worker `index` of `peers`, exchanging data and progress through `communicator`.
  /// `channels` numbers the channels this worker's graph allocates; a nested scope shares
  /// its parent's counter so that every worker numbers its channels alike.
  Worker(uint32_t index, uint32_t peers, Communicator* communicator,
         std::shared_ptr<uint64_t> channels = nullptr)
      : index_(index),
        peers_(peers),
        communicator_(communicator),
        channels_(channels ? std::move(channels) : std::make_shared<uint64_t>(0)) {
    DELTAFLOW_CHECK(peers == 1 || communicator != nullptr, "several workers need a communicator");
    if (peers_ > 1) progress_channel_ = communicator_->Channel<ProgressBatch>(AllocateChannel());
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  uint32_t index() const { return index_; }
  uint32_t peers() const { return peers_; }
  Communicator* communicator() const { return communicator_; }
  const std::shared_ptr<uint64_t>& channel_counter() const { return channels_; }

  /// The next channel number; every worker allocates them in the same order.
  uint64_t AllocateChannel() { return (*channels_)++; }

  /// Asks the worker to activate `op` whenever `has_input()` is true at the start of a step
  /// (an exchange receiver with items in its mailbox, a nested scope with pending work).
  void AddPoller(uint32_t op, std::function<bool()> has_input) {
    pollers_.emplace_back(op, std::move(has_input));
  }

  /// True if something arrived from outside this worker's graph: progress from peers, or
  /// input for a polled operator.
  bool HasExternalInput() const {
    if (progress_channel_ && progress_channel_->HasPending(index_)) return true;
    for (const auto& [op, has_input] : pollers_) {
      if (has_input()) return true;
    }
    return false;
  }

  /// Stops the dataflow with `status` (the first failure wins).
  void Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  const absl::Status& status() const { return status_; }

  using SummaryMatrix = typename time::Builder<T, Summary>::SummaryMatrix;

  /// Adds an operator with `inputs` inputs and `outputs` outputs, every input connected to
  /// every output by the identity summary unless `summary` says otherwise. Returns the
  /// operator; the worker owns it. Only before `Finalize()`.
  template <typename Op>
  Op* AddOperator(std::unique_ptr<Op> op, uint32_t inputs, uint32_t outputs,
                  std::optional<SummaryMatrix> summary = {}) {
    DELTAFLOW_CHECK(!finalized_, "operators can only be added before Finalize()");
    uint32_t index = static_cast<uint32_t>(operators_.size());
    op->AttachToWorker(this, index, inputs);
    Op* raw = op.get();
    operators_.push_back(std::move(op));
    nodes_.push_back(NodeShape{inputs, outputs, std::move(summary), /*connected=*/true});
    active_.push_back(false);
    return raw;
  }

  /// Adds ports to an operator whose inputs and outputs are all identity-connected (or, with
  /// `SetUnconnected`, all unconnected). Returns the index of the first new input and output.
  /// Only before `Finalize()`; used by operators whose ports appear while the graph is built
  /// (a nested scope gains one per entered and left collection).
  std::pair<uint32_t, uint32_t> AddPorts(uint32_t op, uint32_t inputs, uint32_t outputs) {
    DELTAFLOW_CHECK(!finalized_, "ports can only be added before Finalize()");
    NodeShape& node = nodes_[op];
    DELTAFLOW_CHECK(!node.summary.has_value(), "AddPorts on an operator with explicit summaries");
    std::pair<uint32_t, uint32_t> first{node.inputs, node.outputs};
    node.inputs += inputs;
    node.outputs += outputs;
    operators_[op]->AttachToWorker(this, op, node.inputs);
    return first;
  }

  /// Declares that no input of `op` reaches any of its outputs inside the operator.
  void SetUnconnected(uint32_t op) { nodes_[op].connected = false; }

  /// Connects output `from` to input `to`. Only before `Finalize()`.
  void AddEdge(time::Source from, time::Target to) {
    DELTAFLOW_CHECK(!finalized_, "edges can only be added before Finalize()");
    edges_.emplace_back(from, to);
  }

  /// Builds progress tracking for the graph and hands each output of every operator an
  /// initial capability at the minimal time: operators that keep it registered a callback
  /// with `OnInitialCapability`; the rest are released. Then runs every operator's
  /// `OnFinalize`. Fails if the graph has a cycle along which time does not advance.
  absl::Status Finalize() {
    DELTAFLOW_CHECK(!finalized_, "Finalize() called twice");
    time::Builder<T, Summary> builder;
    for (NodeShape& node : nodes_) {
      if (node.summary) {
        builder.AddNode(node.inputs, node.outputs, std::move(*node.summary));
      } else if (node.connected) {
        builder.AddNode(node.inputs, node.outputs);
      } else {
        builder.AddNode(node.inputs, node.outputs,
                        SummaryMatrix(node.inputs, std::vector<time::Antichain<Summary>>(node.outputs)));
      }
    }
    for (const auto& [from, to] : edges_) builder.AddEdge(from, to);
    absl::StatusOr<time::Tracker<T, Summary>> tracker = builder.Build();
    if (!tracker.ok()) return tracker.status();
    tracker_.emplace(*std::move(tracker));
    finalized_ = true;
    // Every input starts at the minimal time, held by the initial capabilities below: one per
    // output on every worker, all counted here (released ones are announced as -1).
    for (uint32_t op = 0; op < operators_.size(); ++op) {
      for (uint32_t out = 0; out < nodes_[op].outputs; ++out) {
        tracker_->UpdateSource(time::Source{op, out}, time::Minimum<T>(), peers_);
        Capability<T> initial = Capability<T>::Adopt(this, time::Source{op, out}, time::Minimum<T>());
        auto it = initial_takers_.find(std::pair(op, out));
        if (it != initial_takers_.end()) it->second(std::move(initial));
      }
      Activate(op);
    }
    initial_takers_.clear();
    // Start every operator from the tracker's frontiers, not an assumed minimum: an input no
    // edge reaches (an exchange's receiving side) starts empty, and the tracker only ever
    // reports *changes*.
    tracker_->PropagateAll();
    tracker_->DrainFrontierChanges([](time::Target, auto) {});
    for (auto& op : operators_) {
      for (uint32_t port = 0; port < op->InputCount(); ++port) {
        op->SetInputFrontier(port, tracker_->Frontier(time::Target{op->index(), port}));
      }
    }
    for (auto& op : operators_) {
      if (absl::Status status = op->OnFinalize(); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

  /// Registers who receives the initial capability of output `out` of operator `op` (e.g.
  /// an input session). Without a taker, the capability is released at once.
  void OnInitialCapability(uint32_t op, uint32_t out, std::function<void(Capability<T>)> take) {
    initial_takers_[std::pair(op, out)] = std::move(take);
  }

  /// Runs one scheduling round. Returns true if the worker may have more to do (an operator
  /// is active or progress is pending); false means it is idle until new input arrives.
  bool Step() {
    DELTAFLOW_CHECK(finalized_, "Step() before Finalize()");
    if (!timers_.empty()) {
      absl::Time now = absl::Now();
      while (!timers_.empty() && timers_.top().deadline <= now) {
        Activate(timers_.top().op);
        timers_.pop();
      }
    }
    for (const auto& [op, has_input] : pollers_) {
      if (has_input()) Activate(op);
    }
    PropagateProgress();
    // One sweep in operator order. Operators are added after those they read from, so what
    // an operator sends on is mostly taken up by its consumers later in the same sweep; an
    // operator activated at or before the sweep's position (itself, or the head of a
    // feedback loop) runs in the next step. Each operator runs at most once per step.
    for (uint32_t op = 0; op < active_.size() && active_count_ > 0; ++op) {
      if (!active_[op]) continue;
      active_[op] = false;
      --active_count_;
      operators_[op]->Run();
    }
    PropagateProgress();
    return active_count_ > 0;
  }

  /// True if some operator is waiting to run.
  bool HasActive() const { return active_count_ > 0; }

  /// Steps until nothing is left to do.
  void StepUntilIdle() {
    while (Step()) {
    }
  }

  /// Asks for operator `op` to run in the first step after `deadline` (a commit on a timer,
  /// a timeout). With a `Runtime`, the worker is woken then; a worker stepped by hand runs
  /// the operator in the first step after the deadline.
  void ActivateAt(uint32_t op, absl::Time deadline) { timers_.push(Timer{deadline, op}); }

  /// The earliest requested timer, or `absl::InfiniteFuture()`.
  absl::Time NextTimer() const {
    return timers_.empty() ? absl::InfiniteFuture() : timers_.top().deadline;
  }

  /// Marks an operator to be run in the next step.
  void Activate(uint32_t op) {
    if (!active_[op]) {
      active_[op] = true;
      ++active_count_;
    }
  }

  /// Records a change in capabilities held at an output (see `Capability`).
  void UpdateCapability(time::Source source, const T& time, int64_t diff) {
    if (!tracker_) return;
    if (peers_ == 1) {
      tracker_->UpdateSource(source, time, diff);
    } else {
      outgoing_.push_back({source.node, source.port, /*is_target=*/false, time, diff});
    }
  }
  /// Records messages sent to (+) or consumed from (-) an input, on any worker.
  void UpdateMessages(time::Target target, const T& time, int64_t diff) {
    DELTAFLOW_DCHECK(tracker_.has_value(), "messages sent before Finalize()");
    if (peers_ == 1) {
      tracker_->UpdateTarget(target, time, diff);
    } else {
      outgoing_.push_back({target.node, target.port, /*is_target=*/true, time, diff});
    }
  }

  /// True once every input of every operator has an empty frontier and nothing is left to
  /// process: nothing will ever happen again in this dataflow. Does not step or propagate
  /// (a driver may ask from another thread while the worker is idle).
  bool Done() const {
    if (active_count_ > 0 || !outgoing_.empty() || tracker_->HasPendingUpdates() ||
        HasExternalInput()) {
      return false;
    }
    for (const auto& op : operators_) {
      for (uint32_t port = 0; port < op->InputCount(); ++port) {
        if (!op->InputFrontier(port).IsEmpty()) return false;
      }
    }
    return true;
  }

  size_t OperatorCount() const { return operators_.size(); }

  /// A one-line summary of the worker's state, for diagnostics: active operators, pending
  /// progress, and operators whose inputs are not yet complete.
  std::string DebugState() const {
    std::ostringstream out;
    out << "active=" << active_count_ << " outgoing=" << outgoing_.size()
        << " tracker_pending=" << tracker_->HasPendingUpdates()
        << " external=" << HasExternalInput() << " open inputs:";
    for (const auto& op : operators_) {
      for (uint32_t port = 0; port < op->InputCount(); ++port) {
        const auto& tracked = tracker_->Frontier(time::Target{op->index(), port});
        if (!op->InputFrontier(port).IsEmpty() || !tracked.IsEmpty()) {
          out << " " << op->name() << "#" << op->index() << "." << port << "="
              << op->InputFrontier(port) << "(tracker " << tracked << ")";
        }
      }
    }
    return out.str();
  }

  /// Applies pending progress changes and tells operators whose input frontiers moved
  /// (activating them). `Step` does this itself; a scope driving an inner worker calls it
  /// after moving messages out of the inner graph.
  void PropagateProgress() {
    if (peers_ > 1) ExchangeProgress();
    if (!tracker_->HasPendingUpdates()) return;
    tracker_->PropagateAll();
    tracker_->DrainFrontierChanges([this](time::Target target, auto) {
      operators_[target.node]->SetInputFrontier(target.port, tracker_->Frontier(target));
      Activate(target.node);
    });
  }

 private:
  using ProgressBatch = std::vector<ProgressUpdate<T>>;

  // Announces this worker's progress changes to every worker (itself included) in one batch,
  // so message counts travel with the capability changes they offset, then applies every
  // batch received, each sender's in the order sent.
  void ExchangeProgress() {
    if (!outgoing_.empty()) {
      for (uint32_t w = 0; w + 1 < peers_; ++w) {
        progress_channel_->Send((index_ + 1 + w) % peers_, outgoing_);
      }
      progress_channel_->Send(index_, std::move(outgoing_));
      outgoing_.clear();
    }
    incoming_.clear();
    if (!progress_channel_->Receive(index_, incoming_)) return;
    for (const ProgressBatch& batch : incoming_) {
      for (const ProgressUpdate<T>& u : batch) {
        if (u.is_target) {
          tracker_->UpdateTarget(time::Target{u.node, u.port}, u.time, u.diff);
        } else {
          tracker_->UpdateSource(time::Source{u.node, u.port}, u.time, u.diff);
        }
      }
    }
  }

  struct Timer {
    absl::Time deadline;
    uint32_t op;
    bool operator>(const Timer& other) const { return deadline > other.deadline; }
  };

  uint32_t index_;
  uint32_t peers_;
  Communicator* communicator_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::shared_ptr<uint64_t> channels_;
  std::shared_ptr<ExchangeChannel<ProgressBatch>> progress_channel_;
  ProgressBatch outgoing_;
  std::vector<ProgressBatch> incoming_;
  std::vector<std::pair<uint32_t, std::function<bool()>>> pollers_;
  absl::Status status_;
  struct NodeShape {
    uint32_t inputs;
    uint32_t outputs;
    std::optional<SummaryMatrix> summary;
    bool connected;
  };

  bool finalized_ = false;
  std::vector<NodeShape> nodes_;
  std::vector<std::pair<time::Source, time::Target>> edges_;
  std::optional<time::Tracker<T, Summary>> tracker_;
  std::vector<std::unique_ptr<Operator<T>>> operators_;
  std::vector<bool> active_;  // by operator: to run in this step's sweep or the next step
  uint32_t active_count_ = 0;
  std::map<std::pair<uint32_t, uint32_t>, std::function<void(Capability<T>)>> initial_takers_;
};

}  // namespace deltaflow::runtime
