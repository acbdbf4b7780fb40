// Connected components by label propagation.
//
// `ConnectedComponents(edges)` labels every node that appears in an edge with the smallest
// node id of its component, edges taken as undirected (weakly connected components).
// Each node starts with its own id as label; `Iterate` then repeats: every node proposes its
// label to its neighbours (a join of the labels, arranged by node, with the edges in both
// directions, arranged by source), and each node keeps the smallest of its own id and the
// labels proposed to it (a `Reduce` keeping the minimum). Round i labels each node with the
// smallest id within i hops, so the loop stops after (largest component diameter + 1)
// rounds.
//
// Incremental behaviour: labels are recomputed from the nodes' own ids in every round (not
// from the previous result), so the fixed point is exact under deletions too: removing an
// edge that splits a component retracts, round by round, the labels that came through it,
// and the far side settles on its own minimum. Inside the loop times are (outer time,
// round) under the product order, so the work done for an edge change is proportional to
// the (node, round) labels it changes, not to the size of the graph.
#pragma once

#include <utility>

#include "deltaflow/dd/algorithms/graph.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/iterate.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/join.h"
#include "deltaflow/dd/operators/reduce.h"

namespace deltaflow::dd::algorithms {

/// `(node, label)` for every node that appears in an edge: label is the smallest node id of
/// the node's component in the undirected graph.
template <typename T>
Collection<std::pair<Node, Node>, T> ConnectedComponents(const Collection<Edge, T>& edges) {
  using Label = std::pair<Node, Node>;
  auto both_ways = Undirected(edges);
  auto own = Nodes(edges).Map([](Node n) { return Label(n, n); });
  return Iterate(own, [&both_ways, &own](auto& scope, const auto& labels) {
    auto inner_edges = scope.Enter(both_ways);
    auto inner_own = scope.Enter(own);
    auto proposed = JoinCore(Arrange(labels), Arrange(inner_edges),
                             [](const Node&, const Node& label, const Node& neighbour) {
                               return Label(neighbour, label);
                             });
    return Reduce<Node>(proposed.Concat(inner_own), KeepMin{});
  });
}

}  // namespace deltaflow::dd::algorithms
