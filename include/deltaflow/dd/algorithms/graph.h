// Graphs as collections: the vocabulary shared by the algorithms in dd/algorithms/.
//
// A graph is a collection of directed edges `(src, dst)` over `uint64_t` node ids. Its nodes
// are the nodes that appear in some edge, as source or destination; a node with no edge left
// is no longer part of the graph, and every algorithm retracts what it said about it. An
// edge present with multiplicity m counts as m parallel edges (this matters to degrees and
// PageRank only; reachability, distances and components ignore multiplicity).
//
// Everything in dd/algorithms/ is built only from the public dd operators (map, flat_map,
// concat, arrange, join_core, reduce, count, distinct, iterate): the algorithms are as
// incremental as those operators are, and double as a proof that the operators suffice.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/reduce.h"

namespace deltaflow::dd::algorithms {

/// A node id.
using Node = uint64_t;
/// A directed edge `(src, dst)`.
using Edge = std::pair<Node, Node>;

/// Every node that appears in an edge of `edges`, as source or destination, once.
template <typename T>
Collection<Node, T> Nodes(const Collection<Edge, T>& edges) {
  return Distinct(edges.FlatMap([](const Edge& e) { return std::array<Node, 2>{e.first, e.second}; }));
}

/// Each edge in both directions: `(a, b)` gives `(a, b)` and `(b, a)`.
template <typename T>
Collection<Edge, T> Undirected(const Collection<Edge, T>& edges) {
  return edges.FlatMap([](const Edge& e) { return std::array<Edge, 2>{e, Edge(e.second, e.first)}; });
}

/// `Reduce` logic keeping, per key, the smallest value present (once). Values arrive sorted,
/// so that is the first value with a positive accumulated count.
struct KeepMin {
  template <typename K, typename V, typename R>
  void operator()(const K&, const std::vector<std::pair<V, R>>& in,
                  std::vector<std::pair<V, R>>& out) const {
    for (const auto& [value, count] : in) {
      if (count > R{}) {
        out.emplace_back(value, R{1});
        return;
      }
    }
  }
};

}  // namespace deltaflow::dd::algorithms
