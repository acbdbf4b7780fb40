// Progress tracking: from the times held in a dataflow graph to every input's frontier.
//
// A dataflow graph is made of nodes (operators) with numbered input ports (*targets*) and
// output ports (*sources*); edges connect a source to targets. Times are held in two ways:
//
//   * an operator holds a *capability* at an output port: it may still send data at that
//     time (a pointstamp at a source);
//   * a message at some time has been sent to an input but not yet consumed (a pointstamp at
//     a target).
//
// Inside a node, input `i` connects to output `o` through an antichain of path summaries
// (empty: no connection; the identity for a pipeline operator; for an iteration's feedback
// node, a summary that advances the round). A pointstamp at time `t` at some location could
// therefore produce, at a target reachable from it along a path with summary `s`, the time
// `s.ResultsIn(t)`. The *frontier* of a target is the antichain of minimal such times over
// all pointstamps with a positive count: the times that could still arrive there. An
// operator may finalize a time once its input frontiers have passed it.
//
// `Builder` describes the graph; building it rejects a cycle along which time does not
// advance (it could never make progress). The resulting `Tracker` takes pointstamp count
// changes and maintains every target's frontier. A change is first applied to the
// pointstamps of its own location; only when that location's frontier moves is the move
// added to the location's *implications*, and only when the implications' frontier moves is
// that passed on, one hop, to the locations after it (through the node's summaries), in
// time order. A move thus travels only as far as it changes what is implied: a message at
// a time its target already waits for costs one hop, whatever the size of the graph.
//
// This follows timely-dataflow's `progress::reachability` (`Builder`, `Tracker`) and its
// worklist propagation.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "deltaflow/base/check.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"
#include "deltaflow/time/path_summary.h"

namespace deltaflow::time {

/// An output port of a node: where capabilities are held and from which edges leave.
struct Source {
  uint32_t node = 0;
  uint32_t port = 0;

  constexpr auto operator<=>(const Source&) const = default;
  constexpr bool operator==(const Source&) const = default;
};

/// An input port of a node: where messages arrive and whose frontier the tracker reports.
struct Target {
  uint32_t node = 0;
  uint32_t port = 0;

  constexpr auto operator<=>(const Target&) const = default;
  constexpr bool operator==(const Target&) const = default;
};

template <typename H>
H AbslHashValue(H state, const Source& source) {
  return H::combine(std::move(state), source.node, source.port);
}

template <typename H>
H AbslHashValue(H state, const Target& target) {
  return H::combine(std::move(state), target.node, target.port);
}

inline std::ostream& operator<<(std::ostream& out, const Source& source) {
  return out << "node " << source.node << " output " << source.port;
}

inline std::ostream& operator<<(std::ostream& out, const Target& target) {
  return out << "node " << target.node << " input " << target.port;
}

template <PartialOrder T, PathSummary<T> S>
class Tracker;

/// Describes a dataflow graph for progress tracking. Building is single-threaded; the
/// builder is a plain value and may be copied to build several trackers (one per worker).
template <PartialOrder T, PathSummary<T> S = SummaryFor<T>>
class Builder {
 public:
  /// `summary[i][o]`: the summaries from input `i` to output `o`; empty if not connected.
  using SummaryMatrix = std::vector<std::vector<Antichain<S>>>;

  struct Node {
    uint32_t inputs = 0;
    uint32_t outputs = 0;
    SummaryMatrix summary;
  };

  struct Edge {
    Source from;
    Target to;
  };

  /// Adds a node with `inputs` input ports and `outputs` output ports connected by
  /// `summary` (which must be `inputs` × `outputs`; checked by `Build`). Returns the node's
  /// index; nodes are numbered 0, 1, 2, ... in the order added.
  uint32_t AddNode(uint32_t inputs, uint32_t outputs, SummaryMatrix summary) {
    nodes_.push_back(Node{inputs, outputs, std::move(summary)});
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  /// Adds a node whose every input reaches every output unchanged (identity summary), as
  /// for map, filter, join and most operators.
  uint32_t AddNode(uint32_t inputs, uint32_t outputs) {
    return AddNode(
        inputs, outputs,
        SummaryMatrix(inputs, std::vector<Antichain<S>>(outputs, Antichain<S>(Minimum<S>()))));
  }

  /// Connects output `from` to input `to`. Ports are checked by `Build`.
  void AddEdge(Source from, Target to) { edges_.push_back(Edge{from, to}); }

  const std::vector<Node>& Nodes() const { return nodes_; }
  const std::vector<Edge>& Edges() const { return edges_; }

  /// Builds a tracker for this graph. Fails with `InvalidArgumentError` if a summary matrix
  /// has the wrong shape, an edge names a missing port, or a cycle does not advance time.
  absl::StatusOr<Tracker<T, S>> Build() const { return Tracker<T, S>::Make(*this); }

 private:
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
};

/// Maintains the frontier of every target of a graph from pointstamp count changes.
///
/// Threading: a tracker belongs to one worker and is not synchronised. Each worker keeps
/// its own tracker and feeds it the same exchanged changes; since the result depends only
/// on the sums of the changes, all workers agree once they have applied the same changes,
/// whatever the order.
///
/// Use: call `UpdateSource`/`UpdateTarget` for every change (cheap, nothing propagates),
/// then `PropagateAll`, then read `Frontier` or drain the frontier changes. Initially no
/// pointstamp is held and every frontier is empty; the runtime registers the operators'
/// initial capabilities (usually at `Minimum<T>()`) before the first `PropagateAll`.
/// Counts may go transiently negative (a consumed message seen before its send); only
/// positive counts hold frontiers back.
template <PartialOrder T, PathSummary<T> S = SummaryFor<T>>
class Tracker {
 public:
  using Change = std::pair<T, int64_t>;

  /// Validates `builder`'s graph and precomputes its path summaries.
  static absl::StatusOr<Tracker> Make(const Builder<T, S>& builder);

  Tracker(Tracker&&) = default;
  Tracker& operator=(Tracker&&) = default;
  Tracker(const Tracker&) = default;
  Tracker& operator=(const Tracker&) = default;

  /// Adds `diff` to the count of capabilities at `time` held at output `source`. It is an
  /// error to name a port the graph does not have.
  void UpdateSource(Source source, const T& time, int64_t diff) {
    const uint32_t id = SourceId(source);
    if (diff == 0) return;
    source_pending_[id].Update(time, diff);
    MarkDirty(id, source_dirty_, dirty_sources_);
  }

  /// Adds `diff` to the count of messages at `time` in flight to input `target`. It is an
  /// error to name a port the graph does not have.
  void UpdateTarget(Target target, const T& time, int64_t diff) {
    const uint32_t id = TargetId(target);
    if (diff == 0) return;
    target_pending_[id].Update(time, diff);
    MarkDirty(id, target_dirty_, dirty_targets_);
  }

  /// Whether changes have been recorded that `PropagateAll` has not applied yet.
  bool HasPendingUpdates() const { return !dirty_sources_.empty() || !dirty_targets_.empty(); }

  /// Applies every recorded change. Afterwards `Frontier` is current for every target and
  /// each target's frontier changes have been added to its `FrontierChanges`.
  void PropagateAll();

  /// The times that could still arrive at `target`, as of the last `PropagateAll`.
  const Antichain<T>& Frontier(Target target) const {
    return frontiers_[TargetId(target)].Frontier();
  }

  /// The accumulated, not yet drained changes to `target`'s frontier: `(t, +1)` when `t`
  /// joined it, `(t, -1)` when `t` left it. The caller drains or clears it.
  ChangeBatch<T>& FrontierChanges(Target target) { return pushed_[TargetId(target)]; }

  /// Calls `sink(Target, std::span<const Change>)` once for each target whose frontier
  /// changed since the last drain, with the consolidated changes, and clears them.
  template <typename Sink>
  void DrainFrontierChanges(Sink&& sink) {
    for (const uint32_t id : dirty_pushed_) {
      pushed_dirty_[id] = false;
      std::span<const Change> changes = pushed_[id].Updates();
      if (!changes.empty()) sink(targets_[id], changes);
      pushed_[id].Clear();
    }
    dirty_pushed_.clear();
  }

  /// The minimal summaries of the paths from `source` to `target`; empty if none. Computed
  /// on each call (a search of the graph).
  Antichain<S> PathSummaries(Source source, Target target) const {
    return Search(SourceId(source), TargetId(target));
  }

  /// The minimal summaries of the paths from `from` to `to`, including the empty path
  /// (identity) when they are the same input; empty if none.
  Antichain<S> PathSummaries(Target from, Target to) const {
    return Search(SourceCount() + TargetId(from), TargetId(to));
  }

  uint32_t NodeCount() const { return static_cast<uint32_t>(source_offset_.size() - 1); }
  uint32_t InputCount(uint32_t node) const {
    return target_offset_[node + 1] - target_offset_[node];
  }
  uint32_t OutputCount(uint32_t node) const {
    return source_offset_[node + 1] - source_offset_[node];
  }

 private:
  Tracker() = default;

  uint32_t SourceId(Source source) const {
    DELTAFLOW_DCHECK(
        source.node + 1 < source_offset_.size() && source.port < OutputCount(source.node),
        "Tracker: unknown source");
    return source_offset_[source.node] + source.port;
  }

  uint32_t TargetId(Target target) const {
    DELTAFLOW_DCHECK(
        target.node + 1 < target_offset_.size() && target.port < InputCount(target.node),
        "Tracker: unknown target");
    return target_offset_[target.node] + target.port;
  }

  static void MarkDirty(uint32_t id, std::vector<bool>& flags, std::vector<uint32_t>& list) {
    if (!flags[id]) {
      flags[id] = true;
      list.push_back(id);
    }
  }

  uint32_t SourceCount() const { return source_offset_.back(); }

  // A change of the implications at a location (sources are numbered first, then targets),
  // waiting in the worklist.
  struct Work {
    T time;
    uint32_t location;
    int64_t diff;
  };

  // Worklist order: earliest time first (in `T`'s total order, which extends its partial
  // order), then location, so that the changes of one (time, location) meet.
  static bool Later(const Work& a, const Work& b) {
    if (b.time < a.time) return true;
    if (a.time < b.time) return false;
    return b.location < a.location;
  }

  void Push(const T& time, uint32_t location, int64_t diff) {
    work_.push_back(Work{time, location, diff});
    std::push_heap(work_.begin(), work_.end(), Later);
  }

  // The minimal summaries of the paths from `start` (a location number) to target `to`.
  Antichain<S> Search(uint32_t start, uint32_t to) const;

  // Node n's outputs are sources [source_offset_[n], source_offset_[n + 1]); likewise its
  // inputs are targets. Both have one entry per node plus a final total.
  std::vector<uint32_t> source_offset_;
  std::vector<uint32_t> target_offset_;
  std::vector<Target> targets_;  // By target id.

  // The graph, one hop at a time: the targets each source feeds, and for each target the
  // sources of its node it reaches with their summaries.
  std::vector<std::vector<uint32_t>> edges_;
  std::vector<std::vector<std::pair<uint32_t, Antichain<S>>>> node_paths_;

  // Recorded, not yet propagated changes per location.
  std::vector<ChangeBatch<T>> source_pending_;
  std::vector<ChangeBatch<T>> target_pending_;
  std::vector<bool> source_dirty_;
  std::vector<bool> target_dirty_;
  std::vector<uint32_t> dirty_sources_;
  std::vector<uint32_t> dirty_targets_;

  // Pointstamp counts per location, whose frontiers feed the implications.
  std::vector<MutableAntichain<T>> source_points_;
  std::vector<MutableAntichain<T>> target_points_;

  // Per location: counts of the times implied there (its own pointstamps' frontier, and
  // what its predecessors' implications imply through one hop), and their frontier. A
  // target's is its reported frontier.
  std::vector<MutableAntichain<T>> source_implications_;
  std::vector<MutableAntichain<T>> frontiers_;
  std::vector<Work> work_;                  // a heap (see `Later`)
  std::vector<std::pair<T, int64_t>> scratch_;  // one location's frontier changes

  // Per target: frontier changes not yet drained.
  std::vector<ChangeBatch<T>> pushed_;
  std::vector<bool> pushed_dirty_;
  std::vector<uint32_t> dirty_pushed_;
};

// ---------------------------------------------------------------------------------------
// Implementation.
// ---------------------------------------------------------------------------------------

// Propagation, one hop at a time (as timely dataflow's reachability tracker does): a
// change of a location's pointstamp frontier changes its implications; a change of a
// location's implication frontier is passed on to its successors (a source's targets
// unchanged, a target's node outputs through their summaries). Only frontier changes travel,
// so a change stops where the times it implies were implied already: a message at a time
// its operator's input already waits for costs one hop, not the whole downstream graph.
template <PartialOrder T, PathSummary<T> S>
void Tracker<T, S>::PropagateAll() {
  const uint32_t sources = SourceCount();
  for (const uint32_t id : dirty_sources_) {
    source_dirty_[id] = false;
    for (const auto& [time, diff] : source_points_[id].UpdateIter(source_pending_[id].Updates())) Push(time, id, diff);
    source_pending_[id].Clear();
  }
  dirty_sources_.clear();
  for (const uint32_t id : dirty_targets_) {
    target_dirty_[id] = false;
    for (const auto& [time, diff] : target_points_[id].UpdateIter(target_pending_[id].Updates())) {
      Push(time, sources + id, diff);
    }
    target_pending_[id].Clear();
  }
  dirty_targets_.clear();
  while (!work_.empty()) {
    std::pop_heap(work_.begin(), work_.end(), Later);
    Work work = std::move(work_.back());
    work_.pop_back();
    while (!work_.empty() && work_.front().location == work.location && work_.front().time == work.time) {
      std::pop_heap(work_.begin(), work_.end(), Later);
      work.diff += work_.back().diff;
      work_.pop_back();
    }
    if (work.diff == 0) continue;
    if (work.location < sources) {
      std::span<const Change> changes = source_implications_[work.location].UpdateOne(work.time, work.diff);
      scratch_.assign(changes.begin(), changes.end());
      for (const auto& [time, diff] : scratch_) {
        for (const uint32_t target : edges_[work.location]) Push(time, sources + target, diff);
      }
      continue;
    }
    const uint32_t id = work.location - sources;
    std::span<const Change> changes = frontiers_[id].UpdateOne(work.time, work.diff);
    if (changes.empty()) continue;
    scratch_.assign(changes.begin(), changes.end());
    for (const auto& [time, diff] : scratch_) {
      pushed_[id].Update(time, diff);
      for (const auto& [source, summaries] : node_paths_[id]) {
        for (const S& summary : summaries) {
          std::optional<T> result = summary.ResultsIn(time);
          if (result.has_value()) Push(*std::move(result), source, diff);
        }
      }
    }
    MarkDirty(id, pushed_dirty_, dirty_pushed_);
  }
}

template <PartialOrder T, PathSummary<T> S>
Antichain<S> Tracker<T, S>::Search(uint32_t start, uint32_t to) const {
  // A worklist search; summaries are inserted into antichains, so a path around an
  // (advancing) cycle is dominated by the path that skips it and the search ends.
  const uint32_t sources = SourceCount();
  std::vector<Antichain<S>> at(sources + static_cast<uint32_t>(targets_.size()));
  std::vector<std::pair<uint32_t, S>> work;
  at[start].Insert(Minimum<S>());
  work.emplace_back(start, Minimum<S>());
  while (!work.empty()) {
    auto [location, summary] = std::move(work.back());
    work.pop_back();
    if (location < sources) {
      for (const uint32_t target : edges_[location]) {
        if (at[sources + target].Insert(summary)) work.emplace_back(sources + target, summary);
      }
      continue;
    }
    for (const auto& [source, steps] : node_paths_[location - sources]) {
      for (const S& step : steps) {
        std::optional<S> path = summary.FollowedBy(step);
        if (path.has_value() && at[source].Insert(*path)) work.emplace_back(source, *std::move(path));
      }
    }
  }
  return at[sources + to];
}

template <PartialOrder T, PathSummary<T> S>
absl::StatusOr<Tracker<T, S>> Tracker<T, S>::Make(const Builder<T, S>& builder) {
  using Node = typename Builder<T, S>::Node;
  const std::vector<Node>& nodes = builder.Nodes();

  Tracker tracker;
  tracker.source_offset_.reserve(nodes.size() + 1);
  tracker.target_offset_.reserve(nodes.size() + 1);
  uint32_t sources = 0;
  uint32_t targets = 0;
  for (uint32_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (node.summary.size() != node.inputs) {
      return absl::InvalidArgumentError(
          absl::StrCat("progress graph: node ", n, " has ", node.inputs,
                       " inputs but a summary matrix with ", node.summary.size(), " rows"));
    }
    for (uint32_t i = 0; i < node.inputs; ++i) {
      if (node.summary[i].size() != node.outputs) {
        return absl::InvalidArgumentError(absl::StrCat(
            "progress graph: node ", n, " has ", node.outputs, " outputs but summary row ", i,
            " has ", node.summary[i].size(), " entries"));
      }
    }
    tracker.source_offset_.push_back(sources);
    tracker.target_offset_.push_back(targets);
    sources += node.outputs;
    targets += node.inputs;
    for (uint32_t i = 0; i < node.inputs; ++i) tracker.targets_.push_back(Target{n, i});
  }
  tracker.source_offset_.push_back(sources);
  tracker.target_offset_.push_back(targets);

  // Edges by source id.
  std::vector<std::vector<uint32_t>> edges(sources);
  for (const auto& edge : builder.Edges()) {
    if (edge.from.node >= nodes.size() || edge.from.port >= nodes[edge.from.node].outputs) {
      return absl::InvalidArgumentError(
          absl::StrCat("progress graph: an edge leaves missing output port ", edge.from.port,
                       " of node ", edge.from.node));
    }
    if (edge.to.node >= nodes.size() || edge.to.port >= nodes[edge.to.node].inputs) {
      return absl::InvalidArgumentError(
          absl::StrCat("progress graph: an edge enters missing input port ", edge.to.port,
                       " of node ", edge.to.node));
    }
    edges[tracker.SourceId(edge.from)].push_back(tracker.TargetId(edge.to));
  }

  // Reject cycles that do not advance time: a cycle in the graph of locations whose links
  // are the edges plus the node connections containing the identity summary. Iterative
  // depth-first search; locations are numbered sources first, then targets.
  {
    const uint32_t count = sources + targets;
    auto successors = [&](uint32_t location, std::vector<uint32_t>& out) {
      out.clear();
      if (location < sources) {
        for (const uint32_t target : edges[location]) out.push_back(sources + target);
        return;
      }
      const Target target = tracker.targets_[location - sources];
      const Node& node = nodes[target.node];
      for (uint32_t o = 0; o < node.outputs; ++o) {
        for (const S& summary : node.summary[target.port][o]) {
          if (IsIdentitySummary(summary)) {
            out.push_back(tracker.source_offset_[target.node] + o);
            break;
          }
        }
      }
    };
    enum class Color : uint8_t { kWhite, kGrey, kBlack };
    std::vector<Color> color(count, Color::kWhite);
    struct Frame {
      uint32_t location;
      std::vector<uint32_t> next;
      std::size_t index;
    };
    std::vector<Frame> stack;
    auto describe = [&](uint32_t location) -> std::string {
      if (location < sources) {
        uint32_t n = 0;
        while (tracker.source_offset_[n + 1] <= location) ++n;
        return absl::StrCat("node ", n, " output ", location - tracker.source_offset_[n]);
      }
      const Target target = tracker.targets_[location - sources];
      return absl::StrCat("node ", target.node, " input ", target.port);
    };
    for (uint32_t root = 0; root < count; ++root) {
      if (color[root] != Color::kWhite) continue;
      color[root] = Color::kGrey;
      stack.push_back(Frame{root, {}, 0});
      successors(root, stack.back().next);
      while (!stack.empty()) {
        Frame& frame = stack.back();
        if (frame.index == frame.next.size()) {
          color[frame.location] = Color::kBlack;
          stack.pop_back();
          continue;
        }
        const uint32_t next = frame.next[frame.index++];
        if (color[next] == Color::kGrey) {
          std::string cycle;
          std::size_t start = stack.size();
          while (stack[start - 1].location != next) --start;
          for (std::size_t k = start - 1; k < stack.size(); ++k) {
            absl::StrAppend(&cycle, describe(stack[k].location), " -> ");
          }
          absl::StrAppend(&cycle, describe(next));
          return absl::InvalidArgumentError(absl::StrCat(
              "progress graph: a cycle does not advance time (every summary on it is the "
              "identity), so its frontier could never move: ",
              cycle));
        }
        if (color[next] == Color::kWhite) {
          color[next] = Color::kGrey;
          stack.push_back(Frame{next, {}, 0});
          successors(next, stack.back().next);
        }
      }
    }
  }

  // One hop at a time: each target's node outputs with their summaries.
  tracker.node_paths_.resize(targets);
  for (uint32_t t = 0; t < targets; ++t) {
    const Target target = tracker.targets_[t];
    const Node& node = nodes[target.node];
    for (uint32_t o = 0; o < node.outputs; ++o) {
      if (node.summary[target.port][o].IsEmpty()) continue;
      tracker.node_paths_[t].emplace_back(tracker.source_offset_[target.node] + o, node.summary[target.port][o]);
    }
  }
  tracker.edges_ = std::move(edges);

  tracker.source_pending_.resize(sources);
  tracker.target_pending_.resize(targets);
  tracker.source_dirty_.assign(sources, false);
  tracker.target_dirty_.assign(targets, false);
  tracker.source_points_.resize(sources);
  tracker.target_points_.resize(targets);
  tracker.source_implications_.resize(sources);
  tracker.frontiers_.resize(targets);
  tracker.pushed_.resize(targets);
  tracker.pushed_dirty_.assign(targets, false);
  return tracker;
}

}  // namespace deltaflow::time
