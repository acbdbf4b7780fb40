// Degrees: how many edges leave each node, and how many nodes have each out-degree.
//
// `OutDegrees(edges)` is `Count` of the edges' sources: `(node, number of edges leaving it)`
// for every node with at least one out-edge (parallel edges each count). `DegreeDistribution`
// is `Count` of those degrees: `(degree, number of nodes with that out-degree)`; nodes
// without out-edges have no degree record, so degree 0 never appears.
//
// Incremental behaviour: inserting or deleting an edge `(s, d)` touches the key `s` of the
// first count only, so it changes at most one degree record (−old, +new), which in turn
// changes at most two records of the distribution. The cost of a change is independent of
// the size of the graph. With totally ordered times both counts take the `CountTotal` fast
// path.
#pragma once

#include <cstdint>
#include <utility>

#include "deltaflow/dd/algorithms/graph.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/reduce.h"

namespace deltaflow::dd::algorithms {

/// `(node, out-degree)` for every node with at least one out-edge.
template <typename T>
Collection<std::pair<Node, int64_t>, T> OutDegrees(const Collection<Edge, T>& edges) {
  return Count(edges.Map([](const Edge& e) { return e.first; }));
}

/// `(degree, number of nodes with that out-degree)` for every out-degree >= 1 that occurs.
template <typename T>
Collection<std::pair<int64_t, int64_t>, T> DegreeDistribution(const Collection<Edge, T>& edges) {
  // Each change of a node's degree is a (-old, +new) pair on the few small degrees: summed
  // where they are made, before the exchange sends every update of a degree to its worker.
  return Count(OutDegrees(edges).Map([](const std::pair<Node, int64_t>& d) { return d.second; }).ConsolidateStream());
}

}  // namespace deltaflow::dd::algorithms
