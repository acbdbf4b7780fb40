// Iteration: nested scopes with `Product<Outer, uint32_t>` times, feedback, enter and leave.
//
// `Iterate(collection, logic)` repeatedly applies `logic` to a collection until it stops
// changing, inside a nested scope whose times carry a round counter: an update at outer time
// t in round i has time (t, i), and the product order makes rounds of one outer time
// comparable with each other but updates of later outer times never wait for earlier rounds
// of unrelated times. Results leave the scope with the round dropped.
//
// A `Subgraph` is one operator of the parent graph that owns an inner `Worker` over the
// product times. Inner node 0 is the scope's boundary: its outputs are the entered
// collections, its inputs the collections that leave. The subgraph mirrors progress across
// the boundary in both directions:
//   * each entered input's outer frontier F is held inside as capabilities at {(f, 0)};
//   * each leaving collection's inner frontier G is held outside as capabilities at
//     {g.outer}: the parent sees a time as complete once every round of it is.
// Its run moves messages in, steps the inner graph a bounded number of times, moves
// messages out, and asks to run again while the inner graph is busy.
//
// A `Variable` is a collection defined in terms of itself: `FromSource(s)` starts as s in
// round 0; `Set(r)` feeds `r - s` back one round later, so in round i+1 the variable holds
// r's value from round i. The loop reaches a fixed point when `logic` stops producing
// changes, which needs an operator that consolidates (distinct, reduce, consolidate, ...).
#pragma once

#include <functional>
#include <optional>
#include <memory>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/stream.h"
#include "deltaflow/runtime/worker.h"
#include "deltaflow/time/path_summary.h"
#include "deltaflow/time/product.h"

namespace deltaflow::dd {

/// Inner node 0 of a subgraph: owns the inner ends of entered and leaving collections. Its
/// ports are driven by the enclosing `Subgraph`, so its own run does nothing.
template <time::Lattice TInner>
class BoundaryOperator final : public Operator<TInner> {
 public:
  BoundaryOperator() : Operator<TInner>("ScopeBoundary") {}
  void Run() override {}
};

/// Feeds updates from round i back into round i + 1 (the only edge of an iteration whose
/// summary advances time).
template <typename D, typename TOuter, typename R>
class FeedbackOperator final : public Operator<time::Product<TOuter, uint32_t>> {
 public:
  using TInner = time::Product<TOuter, uint32_t>;
  FeedbackOperator() : Operator<TInner>("Feedback") {}
  void Wire(Worker<TInner>* worker) {
    input_ = std::make_unique<InputPort<D, TInner, R>>(worker, time::Target{this->index(), 0});
    output_ = std::make_unique<OutputPort<D, TInner, R>>(time::Source{this->index(), 0});
  }
  InputPort<D, TInner, R>* input() { return input_.get(); }
  OutputPort<D, TInner, R>* output() { return output_.get(); }
  void Run() override {
    input_->ForEach([this](const TInner& time, std::vector<Update<D, TInner, R>>& updates) {
      for (auto& u : updates) ++u.time.inner;
      // The summary input -> output is "one round later", so a message in flight at `time`
      // entitles us to send at the next round.
      output_->Send(TInner(time.outer, time.inner + 1), std::move(updates));
    });
  }

 private:
  std::unique_ptr<InputPort<D, TInner, R>> input_;
  std::unique_ptr<OutputPort<D, TInner, R>> output_;
};

/// A nested scope: one operator of the parent graph running an inner graph over product
/// times. Create with `NewSubgraph`, then `Enter` and `Leave` collections while building.
template <time::Lattice TOuter>
class Subgraph final : public Operator<TOuter> {
 public:
  using TInner = time::Product<TOuter, uint32_t>;

  /// How many inner steps one run of the subgraph takes at most, so that a long iteration
  /// shares the worker with the rest of the parent graph.
  static constexpr int kInnerStepsPerRun = 64;

  explicit Subgraph(const Worker<TOuter>& parent)
      : Operator<TOuter>("Iterate"),
        inner_(parent.index(), parent.peers(), parent.communicator(), parent.channel_counter()) {
    boundary_ = inner_.AddOperator(std::make_unique<BoundaryOperator<TInner>>(), 0, 0);
    inner_.SetUnconnected(boundary_->index());
  }

  Worker<TInner>& inner() { return inner_; }

  /// Brings an outer collection into the scope, at round 0.
  template <typename D, typename R>
  Collection<D, TInner, R> Enter(const Collection<D, TOuter, R>& outer) {
    auto [parent_input, unused_out] = this->worker().AddPorts(this->index(), 1, 0);
    auto [unused_in, boundary_output] = inner_.AddPorts(boundary_->index(), 0, 1);
    auto input = std::make_shared<InputPort<D, TOuter, R>>(
        &this->worker(), time::Target{this->index(), parent_input});
    auto output = std::make_shared<OutputPort<D, TInner, R>>(
        time::Source{boundary_->index(), boundary_output});
    outer.ConnectTo(input.get());
    Entered entered;
    entered.parent_input = parent_input;
    entered.boundary_output = boundary_output;
    entered.pump = [input, output]() {
      input->ForEach([&](const TOuter& time, std::vector<Update<D, TOuter, R>>& updates) {
        std::vector<Update<D, TInner, R>> inner_updates;
        inner_updates.reserve(updates.size());
        for (auto& u : updates) {
          inner_updates.push_back({std::move(u.data), TInner(std::move(u.time), 0), u.diff});
        }
        output->Send(TInner(time, 0), std::move(inner_updates));
      });
    };
    entered_.push_back(std::move(entered));
    keep_alive_.push_back(input);
    keep_alive_.push_back(output);
    return Collection<D, TInner, R>(&inner_, output.get());
  }

  /// Takes an inner collection out of the scope, dropping the round from its times.
  template <typename D, typename R>
  Collection<D, TOuter, R> Leave(const Collection<D, TInner, R>& inner) {
    auto [unused_in, parent_output] = this->worker().AddPorts(this->index(), 0, 1);
    auto [boundary_input, unused_out] = inner_.AddPorts(boundary_->index(), 1, 0);
    auto input = std::make_shared<InputPort<D, TInner, R>>(
        &inner_, time::Target{boundary_->index(), boundary_input});
    auto output = std::make_shared<OutputPort<D, TOuter, R>>(
        time::Source{this->index(), parent_output});
    inner.ConnectTo(input.get());
    size_t slot = left_.size();
    Left left;
    left.boundary_input = boundary_input;
    left.pump = [input, output]() {
      input->ForEach([&](const TInner& time, std::vector<Update<D, TInner, R>>& updates) {
        std::vector<Update<D, TOuter, R>> outer_updates;
        outer_updates.reserve(updates.size());
        for (auto& u : updates) outer_updates.push_back({std::move(u.data), u.time.outer, u.diff});
        output->Send(time.outer, std::move(outer_updates));
      });
    };
    left_.push_back(std::move(left));
    this->worker().OnInitialCapability(this->index(), parent_output,
                                       [this, slot](Capability<TOuter> capability) {
                                         left_[slot].held.push_back(std::move(capability));
                                       });
    keep_alive_.push_back(input);
    keep_alive_.push_back(output);
    return Collection<D, TOuter, R>(&this->worker(), output.get());
  }

  absl::Status OnFinalize() override {
    for (Entered& entered : entered_) {
      inner_.OnInitialCapability(boundary_->index(), entered.boundary_output,
                                 [&entered](Capability<TInner> capability) {
                                   entered.held.push_back(std::move(capability));
                                 });
    }
    return inner_.Finalize();
  }

  void Run() override {
    // In: messages, then the outer frontiers mirrored as inner capabilities.
    for (Entered& entered : entered_) {
      entered.pump();
      const time::Antichain<TOuter>& frontier = this->InputFrontier(entered.parent_input);
      std::vector<Capability<TInner>> held;
      for (const TOuter& t : frontier.Elements()) {
        held.push_back(FromHeld(entered.held, TInner(t, 0)));
      }
      entered.held = std::move(held);
    }
    bool busy = false;
    for (int i = 0; i < kInnerStepsPerRun; ++i) {
      busy = inner_.Step();
      if (!busy) break;
    }
    // Out: messages, then the inner frontiers mirrored as outer capabilities. Consuming the
    // messages moves the inner frontiers, so propagate before reading them.
    for (Left& left : left_) left.pump();
    inner_.PropagateProgress();
    busy = busy || inner_.HasActive();
    for (Left& left : left_) {
      time::Antichain<TOuter> projected;
      for (const TInner& t : boundary_->InputFrontier(left.boundary_input).Elements()) {
        projected.Insert(t.outer);
      }
      std::vector<Capability<TOuter>> held;
      for (const TOuter& t : projected.Elements()) held.push_back(FromHeld(left.held, t));
      left.held = std::move(held);
    }
    if (busy) this->worker().Activate(this->index());
  }

 private:
  // A capability at `time` derived from one of `held` (which must include one at or before
  // `time`: frontiers only move forward).
  template <typename Time>
  static Capability<Time> FromHeld(const std::vector<Capability<Time>>& held, const Time& time) {
    using deltaflow::time::LessEqual;
    for (const auto& capability : held) {
      if (LessEqual(capability.time(), time)) return capability.Delayed(time);
    }
    DELTAFLOW_CHECK(false, "scope boundary frontier moved backwards");
    return {};
  }

  struct Entered {
    uint32_t parent_input = 0;
    uint32_t boundary_output = 0;
    std::function<void()> pump;
    std::vector<Capability<TInner>> held;
  };
  struct Left {
    uint32_t boundary_input = 0;
    std::function<void()> pump;
    std::vector<Capability<TOuter>> held;
  };

  Worker<TInner> inner_;
  BoundaryOperator<TInner>* boundary_;
  std::vector<Entered> entered_;
  std::vector<Left> left_;
  std::vector<std::shared_ptr<void>> keep_alive_;  // ports referenced by the pumps and graphs
};

/// Adds a nested scope to `parent`'s graph.
template <time::Lattice TOuter>
Subgraph<TOuter>& NewSubgraph(Worker<TOuter>& parent) {
  Subgraph<TOuter>* scope = parent.AddOperator(std::make_unique<Subgraph<TOuter>>(parent), 0, 0);
  // Data or progress arriving from peers for the inner graph must wake the scope.
  parent.AddPoller(scope->index(), [scope] { return scope->inner().HasExternalInput(); });
  return *scope;
}

/// A collection defined in terms of itself inside an iteration scope (see the file comment).
template <typename D, typename TOuter, typename R = int64_t>
class Variable {
 public:
  using TInner = time::Product<TOuter, uint32_t>;

  /// A variable equal to `source` in round 0, and to what `Set` gives it in later rounds.
  static Variable FromSource(const Collection<D, TInner, R>& source) {
    Worker<TInner>& worker = source.worker();
    using Summary = time::SummaryFor<TInner>;
    typename Worker<TInner>::SummaryMatrix summary(
        1, std::vector<time::Antichain<Summary>>{time::Antichain<Summary>(time::FeedbackSummary<TOuter>(1))});
    auto* feedback = worker.AddOperator(std::make_unique<FeedbackOperator<D, TOuter, R>>(), 1, 1,
                                        std::move(summary));
    feedback->Wire(&worker);
    Collection<D, TInner, R> fed_back(&worker, feedback->output());
    return Variable(source, source.Concat(fed_back), feedback);
  }

  /// The variable's contents, to build the loop body from.
  const Collection<D, TInner, R>& collection() const { return collection_; }

  /// Defines the variable's value in round i + 1 as `result`'s value in round i. Call once.
  /// With `limit`, the variable stops changing after round `limit - 1`, so `result` is the
  /// body applied at most `limit` times.
  void Set(const Collection<D, TInner, R>& result, std::optional<uint32_t> limit = std::nullopt) {
    DELTAFLOW_CHECK(feedback_ != nullptr, "Variable::Set called twice");
    Collection<D, TInner, R> fed = result.Concat(source_.Negate());
    if (limit) {
      uint32_t last = *limit;
      fed = fed.template Unary<D>("IterationLimit", [last](auto& in, auto& out, auto&) {
        in.ForEach([&](const TInner& time, std::vector<Update<D, TInner, R>>& updates) {
          std::erase_if(updates, [&](const Update<D, TInner, R>& u) { return u.time.inner + 1 >= last; });
          if (!updates.empty()) out.Send(time, std::move(updates));
        });
      });
    }
    fed.ConnectTo(feedback_->input());
    feedback_ = nullptr;
  }

 private:
  Variable(Collection<D, TInner, R> source, Collection<D, TInner, R> collection,
           FeedbackOperator<D, TOuter, R>* feedback)
      : source_(source), collection_(collection), feedback_(feedback) {}

  Collection<D, TInner, R> source_;
  Collection<D, TInner, R> collection_;
  FeedbackOperator<D, TOuter, R>* feedback_;
};

/// Applies `logic(scope, variable)` to `source` until it stops changing and returns the
/// result. `logic` receives the scope (to `Enter` further collections) and the current
/// iterate, and returns the next iterate; it must consolidate for the loop to end.
template <typename D, typename TOuter, typename R, typename Logic>
Collection<D, TOuter, R> Iterate(const Collection<D, TOuter, R>& source, Logic logic) {
  Subgraph<TOuter>& scope = NewSubgraph(source.worker());
  auto variable = Variable<D, TOuter, R>::FromSource(scope.Enter(source));
  Collection<D, time::Product<TOuter, uint32_t>, R> result = logic(scope, variable.collection());
  variable.Set(result);
  return scope.Leave(result);
}

}  // namespace deltaflow::dd
