// Reachability and breadth-first distances from a set of roots, by iteration.
//
// `Reachable(edges, roots)`: the least set R with roots ⊆ R and, for every edge (s, d) with
// s in R, d in R. Computed by `Iterate`: round i+1 = distinct(roots ∪ {d | s in round i,
// (s, d) an edge}), a join of the current set (arranged by node) with the edges (arranged by
// source), then `Distinct`. Round i holds the nodes within i hops; the loop stops when a
// round adds nothing.
//
// `BfsDistances(edges, roots)`: `(node, hops)` for every reachable node, hops being the
// length of a shortest path from any root (0 for the roots). The iterate carries
// `(node, distance)` pairs: round i+1 = min per node of {(r, 0) | r a root} ∪ {(d, l + 1) |
// (s, l) in round i, (s, d) an edge}, a join followed by a `Reduce` keeping the minimum.
// Round i is the distances over paths of at most i hops, so the loop stops after (largest
// distance + 1) rounds; cycles are harmless.
//
// Incremental behaviour: inside the loop times are (outer time, round) under the product
// order, and every operator stores its history, so a change of edges or roots at time t is
// propagated round by round as *differences*: an inserted edge (s, d) costs work only where
// some round's distance actually changes, and a deleted edge retracts exactly the records
// that depended on it, round by round, without recomputing unaffected nodes. Roots are
// treated as a set (a root inserted twice is still one root).
#pragma once

#include <cstdint>
#include <utility>

#include "deltaflow/dd/algorithms/graph.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/iterate.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/join.h"
#include "deltaflow/dd/operators/reduce.h"

namespace deltaflow::dd::algorithms {

/// Every node reachable from `roots` along `edges` (the roots included), once.
template <typename T>
Collection<Node, T> Reachable(const Collection<Edge, T>& edges, const Collection<Node, T>& roots) {
  return Iterate(roots, [&edges, &roots](auto& scope, const auto& reached) {
    auto inner_edges = scope.Enter(edges);
    auto inner_roots = scope.Enter(roots);
    auto keyed = reached.Map([](Node n) { return std::pair<Node, Unit>(n, Unit{}); });
    auto next = JoinCore(Arrange(keyed), Arrange(inner_edges),
                         [](const Node&, const Unit&, const Node& dst) { return dst; });
    return Distinct(next.Concat(inner_roots));
  });
}

/// `(node, hops)`: the number of edges on a shortest path from some root to each reachable
/// node (0 for the roots).
template <typename T>
Collection<std::pair<Node, uint64_t>, T> BfsDistances(const Collection<Edge, T>& edges,
                                                      const Collection<Node, T>& roots) {
  using Distance = std::pair<Node, uint64_t>;
  auto start = roots.Map([](Node n) { return Distance(n, 0); });
  return Iterate(start, [&edges, &start](auto& scope, const auto& distances) {
    auto inner_edges = scope.Enter(edges);
    auto inner_start = scope.Enter(start);
    auto proposed = JoinCore(Arrange(distances), Arrange(inner_edges),
                             [](const Node&, const uint64_t& hops, const Node& dst) {
                               return Distance(dst, hops + 1);
                             });
    return Reduce<uint64_t>(proposed.Concat(inner_start), KeepMin{});
  });
}

}  // namespace deltaflow::dd::algorithms
