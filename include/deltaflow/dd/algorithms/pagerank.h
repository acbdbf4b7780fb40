// PageRank for a fixed number of steps, in exact integer arithmetic.
//
// `PageRank(edges, iterations)` gives `(node, rank)` for every node that appears in an edge,
// after exactly `iterations` steps from the uniform start (not run to convergence). Ranks
// are integers, differential dataflow's formulation of the example: each node starts with
// `kScale` units of rank mass, and one step computes
//
//     rank'(v) = kReset + Σ over edges (u, v) of  (rank(u) * 85) / (100 * outdeg(u))
//
// where `kReset` = 15% of `kScale` is the teleport (reset) part every node gets each step,
// the sum runs over every copy of a parallel edge, `outdeg(u)` counts those copies too,
// and `/` is C++'s integer division of non-negative numbers: each edge's share is rounded
// down, once, from the exact 85% / outdeg(u) of rank(u). Results are therefore exact and
// the same on any number of workers; a sequential loop with the same arithmetic gives the
// same numbers. Dangling nodes (no out-edges) push nothing: the 85% of their rank is
// dropped rather than spread over all nodes, so such a node's next rank is only the reset
// part plus what its in-neighbours push to it, and the total mass shrinks below
// `kScale` × nodes when dangling nodes exist. Ranks stay below `kScale` × nodes, so int64
// does not overflow for graphs of up to about 10^10 nodes.
//
// Steps are unrolled: a plain C++ loop builds `iterations` stages, each a join of the
// current ranks (arranged by node) with the edges annotated with their source's out-degree
// (arranged by source, once, shared by all stages), then a `Reduce` summing per node. Each
// stage's `ReduceCore` output is already arranged by node, so it feeds the next stage's join
// without being arranged again. Unrolling keeps every stage on the outer, totally ordered
// times (no iteration scope, no product times) and makes the step count exact by
// construction; the price is a graph whose size grows with `iterations`, so use it for the
// handful of steps PageRank is usually run for.
//
// Incremental behaviour: inserting or deleting an edge (u, v) changes u's out-degree, hence
// the shares of all u's out-edges in stage 1, hence the ranks of u's out-neighbours, and so
// on: each stage revisits only the nodes whose input changed in that stage, and a node whose
// rank comes out the same stops the change there. Adding a node (its first edge) gives it
// the start rank and the reset in every stage; deleting its last edge retracts it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "deltaflow/dd/algorithms/degrees.h"
#include "deltaflow/dd/algorithms/graph.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/join.h"
#include "deltaflow/dd/operators/reduce.h"

namespace deltaflow::dd::algorithms {

/// Rank mass each node starts with.
inline constexpr int64_t kPageRankScale = 6'000'000;
/// Rank mass every node receives in each step (15% of the start mass).
inline constexpr int64_t kPageRankReset = kPageRankScale * 15 / 100;
/// Percent of a node's rank spread over its out-edges in each step.
inline constexpr int64_t kPageRankDampingPercent = 85;

/// The share of `rank` that one of `out_degree` out-edges carries in a step (rounded down).
constexpr int64_t PageRankShare(int64_t rank, int64_t out_degree) {
  return rank * kPageRankDampingPercent / (100 * out_degree);
}

/// `(node, rank)` after `iterations` steps (see the file comment), for every node that
/// appears in an edge. With `iterations == 0`, every node has rank `kPageRankScale`.
template <typename T>
Collection<std::pair<Node, int64_t>, T> PageRank(const Collection<Edge, T>& edges,
                                                 uint32_t iterations) {
  using Rank = std::pair<Node, int64_t>;
  Collection<Node, T> nodes = Nodes(edges);
  Collection<Rank, T> start = nodes.Map([](Node n) { return Rank(n, kPageRankScale); });
  if (iterations == 0) return start;
  Collection<Rank, T> reset = nodes.Map([](Node n) { return Rank(n, kPageRankReset); });
  // (src, (dst, out-degree of src)), arranged once for all stages.
  auto out_edges = Arrange(Join(edges, OutDegrees(edges)));
  auto ranks = Arrange(start);
  for (uint32_t step = 0; step < iterations; ++step) {
    auto pushed = JoinCore(ranks, out_edges,
                           [](const Node&, const int64_t& rank, const std::pair<Node, int64_t>& out) {
                             return Rank(out.first, PageRankShare(rank, out.second));
                           });
    ranks = ReduceCore<int64_t>(
        Arrange(pushed.Concat(reset)),
        [](const Node&, const std::vector<std::pair<int64_t, int64_t>>& in,
           std::vector<std::pair<int64_t, int64_t>>& out) {
          int64_t sum = 0;
          for (const auto& [mass, count] : in) sum += mass * count;
          out.emplace_back(sum, 1);
        });
  }
  return ranks.AsCollection([](const Node& n, const int64_t& rank) { return Rank(n, rank); });
}

}  // namespace deltaflow::dd::algorithms
