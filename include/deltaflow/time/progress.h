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
// `Builder` describes the graph. Building it computes, once, the minimal path summaries
// between every location and every target (all pairs), and rejects a cycle along which time
// does not advance (it could never make progress). The resulting `Tracker` takes pointstamp
// count changes and maintains every target's frontier. A change is first applied to the
// pointstamps of its own location; only when that location's frontier moves is the move
// pushed, through the precomputed summaries, to the targets it reaches. Work is thus
// proportional to frontier movements times the targets they reach, never to the whole
// graph.
//
// This follows timely-dataflow's `progress::reachability` (`Builder`, `Tracker`), using
// precomputed all-pairs summaries in place of its worklist propagation.
#pragma once

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

  /// The minimal summaries of the paths from `source` to `target`; empty if none.
  const Antichain<S>& PathSummaries(Source source, Target target) const {
    return FindReach(source_reach_[SourceId(source)], TargetId(target));
  }

  /// The minimal summaries of the paths from `from` to `to`, including the empty path
  /// (identity) when they are the same input; empty if none.
  const Antichain<S>& PathSummaries(Target from, Target to) const {
    return FindReach(target_reach_[TargetId(from)], TargetId(to));
  }

  uint32_t NodeCount() const { return static_cast<uint32_t>(source_offset_.size() - 1); }
  uint32_t InputCount(uint32_t node) const {
    return target_offset_[node + 1] - target_offset_[node];
  }
  uint32_t OutputCount(uint32_t node) const {
    return source_offset_[node + 1] - source_offset_[node];
  }

 private:
  // A target reachable from some location, with the minimal summaries of the paths there.
  struct Reach {
    uint32_t target;
    Antichain<S> summaries;
  };

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

  const Antichain<S>& FindReach(const std::vector<Reach>& reach, uint32_t target) const {
    for (const Reach& entry : reach) {
      if (entry.target == target) return entry.summaries;
    }
    return no_path_;
  }

  // Pushes the frontier changes of one location through its reach to the targets' pending
  // implications.
  void PushThrough(std::span<const Change> changes, const std::vector<Reach>& reach) {
    for (const auto& [time, diff] : changes) {
      for (const Reach& entry : reach) {
        for (const S& summary : entry.summaries) {
          std::optional<T> result = summary.ResultsIn(time);
          if (!result.has_value()) continue;
          implication_pending_[entry.target].Update(*std::move(result), diff);
          MarkDirty(entry.target, implication_dirty_, dirty_implications_);
        }
      }
    }
  }

  // Node n's outputs are sources [source_offset_[n], source_offset_[n + 1]); likewise its
  // inputs are targets. Both have one entry per node plus a final total.
  std::vector<uint32_t> source_offset_;
  std::vector<uint32_t> target_offset_;
  std::vector<Target> targets_;  // By target id.
  Antichain<S> no_path_;         // Returned by `PathSummaries` when there is no path.

  // All-pairs summaries: from each source / target to the targets it reaches.
  std::vector<std::vector<Reach>> source_reach_;
  std::vector<std::vector<Reach>> target_reach_;

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

  // Per target: counts of the times implied there by location frontiers, and their
  // frontier, which is the target's frontier.
  std::vector<ChangeBatch<T>> implication_pending_;
  std::vector<bool> implication_dirty_;
  std::vector<uint32_t> dirty_implications_;
  std::vector<MutableAntichain<T>> frontiers_;

  // Per target: frontier changes not yet drained.
  std::vector<ChangeBatch<T>> pushed_;
  std::vector<bool> pushed_dirty_;
  std::vector<uint32_t> dirty_pushed_;
};

// ---------------------------------------------------------------------------------------
// Implementation.
// ---------------------------------------------------------------------------------------

template <PartialOrder T, PathSummary<T> S>
void Tracker<T, S>::PropagateAll() {
  for (const uint32_t id : dirty_sources_) {
    source_dirty_[id] = false;
    PushThrough(source_points_[id].UpdateIter(source_pending_[id].Updates()), source_reach_[id]);
    source_pending_[id].Clear();
  }
  dirty_sources_.clear();
  for (const uint32_t id : dirty_targets_) {
    target_dirty_[id] = false;
    PushThrough(target_points_[id].UpdateIter(target_pending_[id].Updates()), target_reach_[id]);
    target_pending_[id].Clear();
  }
  dirty_targets_.clear();
  for (const uint32_t id : dirty_implications_) {
    implication_dirty_[id] = false;
    std::span<const Change> changes = frontiers_[id].UpdateIter(implication_pending_[id].Updates());
    implication_pending_[id].Clear();
    if (changes.empty()) continue;
    pushed_[id].Extend(changes);
    MarkDirty(id, pushed_dirty_, dirty_pushed_);
  }
  dirty_implications_.clear();
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

  // All-pairs minimal path summaries, by a worklist search from each location. Summaries
  // are inserted into antichains, so a path around an (advancing) cycle is dominated by the
  // path that skips it and the search ends.
  {
    std::vector<Antichain<S>> at_source(sources);
    std::vector<Antichain<S>> at_target(targets);
    std::vector<std::pair<uint32_t, S>> work;  // (location, summary); sources first.
    auto search = [&](uint32_t start) -> std::vector<Reach> {
      for (auto& antichain : at_source) antichain.Clear();
      for (auto& antichain : at_target) antichain.Clear();
      work.clear();
      if (start < sources) {
        at_source[start].Insert(Minimum<S>());
      } else {
        at_target[start - sources].Insert(Minimum<S>());
      }
      work.emplace_back(start, Minimum<S>());
      while (!work.empty()) {
        auto [location, summary] = std::move(work.back());
        work.pop_back();
        if (location < sources) {
          for (const uint32_t target : edges[location]) {
            if (at_target[target].Insert(summary)) work.emplace_back(sources + target, summary);
          }
          continue;
        }
        const Target target = tracker.targets_[location - sources];
        const Node& node = nodes[target.node];
        for (uint32_t o = 0; o < node.outputs; ++o) {
          for (const S& step : node.summary[target.port][o]) {
            std::optional<S> path = summary.FollowedBy(step);
            if (!path.has_value()) continue;
            const uint32_t source = tracker.source_offset_[target.node] + o;
            if (at_source[source].Insert(*path)) work.emplace_back(source, *std::move(path));
          }
        }
      }
      std::vector<Reach> reach;
      for (uint32_t t = 0; t < targets; ++t) {
        if (!at_target[t].IsEmpty()) reach.push_back(Reach{t, at_target[t]});
      }
      return reach;
    };
    tracker.source_reach_.reserve(sources);
    for (uint32_t s = 0; s < sources; ++s) tracker.source_reach_.push_back(search(s));
    tracker.target_reach_.reserve(targets);
    for (uint32_t t = 0; t < targets; ++t) tracker.target_reach_.push_back(search(sources + t));
  }

  tracker.source_pending_.resize(sources);
  tracker.target_pending_.resize(targets);
  tracker.source_dirty_.assign(sources, false);
  tracker.target_dirty_.assign(targets, false);
  tracker.source_points_.resize(sources);
  tracker.target_points_.resize(targets);
  tracker.implication_pending_.resize(targets);
  tracker.implication_dirty_.assign(targets, false);
  tracker.frontiers_.resize(targets);
  tracker.pushed_.resize(targets);
  tracker.pushed_dirty_.assign(targets, false);
  return tracker;
}

}  // namespace deltaflow::time
