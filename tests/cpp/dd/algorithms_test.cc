// Oracle tests for the graph algorithms of dd/algorithms/: random graphs whose edges (and
// roots) are inserted and deleted over many times, run on 1, 2 and 4 workers; after each
// round, the output accumulated at every completed time equals a plain sequential
// implementation run over the edges present at that time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "deltaflow/dd/algorithms/connected_components.h"
#include "deltaflow/dd/algorithms/degrees.h"
#include "deltaflow/dd/algorithms/pagerank.h"
#include "deltaflow/dd/algorithms/reachability.h"
#include "deltaflow/dd/collection.h"
#include "testing/cluster.h"
#include "testing/contents.h"

namespace deltaflow::dd::algorithms {
namespace {

using deltaflow::testing::ContentsAt;

using Time = uint64_t;
using EdgeCounts = std::map<Edge, int64_t>;  // edge -> multiplicity (1 or 2)
using NodeSet = std::set<Node>;

template <typename D>
std::set<D> SetOf(const std::map<D, int64_t>& counts) {
  std::set<D> out;
  for (const auto& [d, n] : counts) {
    if (n > 0) out.insert(d);
  }
  return out;
}

// Builds `build(edges, roots)` on `peers` workers and feeds it a random graph on 20-60 nodes:
// about 1.25 edges per node at time 0, then `rounds - 1` rounds that each insert and delete a
// few edges (an insertion may duplicate a present edge, up to multiplicity 2; self-loops
// happen) and now and then add or remove a root. Updates are spread over the workers' input
// sessions. After each round the output accumulated at every time so far is compared with
// `reference(edges, roots)` over the inputs accumulated at that time; sometimes several
// rounds pile up before the workers catch up, so many outer times are in flight at once.
template <typename Out, typename Build, typename Reference>
void RunGraphOracle(uint32_t peers, uint64_t seed, int rounds, Build build, Reference reference) {
  testing::LocalCluster<Time> cluster(peers);
  std::vector<std::unique_ptr<InputSession<Edge, Time, int64_t>>> edge_inputs;
  std::vector<std::unique_ptr<InputSession<Node, Time, int64_t>>> root_inputs;
  std::vector<CapturedUpdates<Out, Time, int64_t>> captures;
  std::vector<ProbeHandle<Time>> probes;
  for (uint32_t w = 0; w < peers; ++w) {
    auto [edge_input, edges] = NewInput<Edge>(cluster.worker(w));
    auto [root_input, roots] = NewInput<Node>(cluster.worker(w));
    Collection<Out, Time> result = build(edges, roots);
    captures.push_back(result.Capture());
    probes.push_back(result.Probe());
    edge_inputs.push_back(std::move(edge_input));
    root_inputs.push_back(std::move(root_input));
  }
  ASSERT_TRUE(cluster.Finalize().ok());
  auto all_passed = [&](Time t) {
    return std::none_of(probes.begin(), probes.end(), [&](const auto& p) { return p.LessThan(t); });
  };

  std::mt19937_64 rng(seed);
  const uint64_t node_count = 20 + rng() % 41;
  std::vector<Update<Edge, Time, int64_t>> fed_edges;
  std::vector<Update<Node, Time, int64_t>> fed_roots;
  size_t next_input = 0;
  auto update_edge = [&](const Edge& e, Time t, int64_t diff) {
    edge_inputs[next_input++ % peers]->Update(e, diff);
    fed_edges.push_back({e, t, diff});
  };
  auto update_root = [&](Node n, Time t, int64_t diff) {
    root_inputs[next_input++ % peers]->Update(n, diff);
    fed_roots.push_back({n, t, diff});
  };
  auto random_node = [&] { return static_cast<Node>(rng() % node_count); };

  for (int round = 0; round < rounds; ++round) {
    Time t = 2 * static_cast<Time>(round);
    EdgeCounts present = ContentsAt(fed_edges, t);
    if (round == 0) {
      for (uint64_t i = 0; i < node_count + node_count / 4; ++i) {
        Edge e(random_node(), random_node());
        if (present[e] < 2) {
          ++present[e];
          update_edge(e, t, +1);
        }
      }
      update_root(random_node(), t, +1);
      update_root(random_node(), t, +1);  // possibly the same root twice
    } else {
      uint64_t inserts = 1 + rng() % (node_count / 5);
      uint64_t deletes = 1 + rng() % (node_count / 5);
      for (uint64_t i = 0; i < deletes; ++i) {
        std::erase_if(present, [](const auto& kv) { return kv.second == 0; });
        if (present.empty()) break;
        auto it = present.begin();
        std::advance(it, rng() % present.size());
        --it->second;
        update_edge(it->first, t, -1);
      }
      for (uint64_t i = 0; i < inserts; ++i) {
        Edge e(random_node(), random_node());
        if (present[e] < 2) {
          ++present[e];
          update_edge(e, t, +1);
        }
      }
      if (rng() % 3 == 0) {
        std::map<Node, int64_t> roots = ContentsAt(fed_roots, t);
        if (!roots.empty() && rng() % 2) {
          auto it = roots.begin();
          std::advance(it, rng() % roots.size());
          update_root(it->first, t, -it->second);
        } else {
          update_root(random_node(), t, +1);
        }
      }
    }
    for (auto& in : edge_inputs) in->AdvanceTo(t + 2);
    for (auto& in : root_inputs) in->AdvanceTo(t + 2);
    if (rng() % 4 == 0 && round + 1 < rounds) {
      cluster.Step();  // let several rounds pile up
    } else {
      ASSERT_TRUE(cluster.StepUntil([&] { return all_passed(t + 2); }));
    }
    if (!all_passed(t + 2)) continue;
    std::vector<Update<Out, Time, int64_t>> output;
    for (const auto& c : captures) output.insert(output.end(), c->begin(), c->end());
    for (Time past = 0; past <= t; past += 2) {
      std::map<Out, int64_t> expected =
          reference(ContentsAt(fed_edges, past), SetOf(ContentsAt(fed_roots, past)));
      ASSERT_EQ(ContentsAt(output, past), expected)
          << "workers " << peers << " seed " << seed << " time " << past;
    }
  }
  for (auto& in : edge_inputs) in->Close();
  for (auto& in : root_inputs) in->Close();
  cluster.StepUntilIdle();
  EXPECT_TRUE(cluster.Done());
}

constexpr uint32_t kWorkerCounts[] = {1, 2, 4};
constexpr int kRounds = 12;
constexpr uint64_t kSeeds = 6;

// Every record once: the expected output of a collection that is a set.
template <typename D, typename Container>
std::map<D, int64_t> Once(const Container& records) {
  std::map<D, int64_t> out;
  for (const auto& r : records) out[D(r)] = 1;
  return out;
}

// ---- Sequential references ---------------------------------------------------------------

std::map<Node, int64_t> SequentialOutDegrees(const EdgeCounts& edges) {
  std::map<Node, int64_t> degrees;
  for (const auto& [e, n] : edges) degrees[e.first] += n;
  return degrees;
}

NodeSet SequentialNodes(const EdgeCounts& edges) {
  NodeSet nodes;
  for (const auto& [e, n] : edges) {
    nodes.insert(e.first);
    nodes.insert(e.second);
  }
  return nodes;
}

std::map<Node, std::vector<Node>> Adjacency(const EdgeCounts& edges) {
  std::map<Node, std::vector<Node>> out;
  for (const auto& [e, n] : edges) out[e.first].push_back(e.second);
  return out;
}

// Breadth-first search from all roots at once.
std::map<Node, uint64_t> SequentialBfs(const EdgeCounts& edges, const NodeSet& roots) {
  auto adjacency = Adjacency(edges);
  std::map<Node, uint64_t> distance;
  std::deque<Node> queue;
  for (Node r : roots) {
    distance[r] = 0;
    queue.push_back(r);
  }
  while (!queue.empty()) {
    Node n = queue.front();
    queue.pop_front();
    for (Node d : adjacency[n]) {
      if (distance.emplace(d, distance[n] + 1).second) queue.push_back(d);
    }
  }
  return distance;
}

// Union-find with the smallest id as every set's representative.
std::map<Node, Node> SequentialComponents(const EdgeCounts& edges) {
  std::map<Node, Node> parent;
  for (Node n : SequentialNodes(edges)) parent[n] = n;
  auto find = [&](Node n) {
    while (parent[n] != n) n = parent[n] = parent[parent[n]];
    return n;
  };
  for (const auto& [e, n] : edges) {
    Node a = find(e.first);
    Node b = find(e.second);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
  std::map<Node, Node> label;
  for (const auto& [n, p] : parent) label[n] = find(n);
  return label;
}

// The integer PageRank of pagerank.h, step by step, with the same arithmetic.
std::map<Node, int64_t> SequentialPageRank(const EdgeCounts& edges, uint32_t iterations) {
  std::map<Node, int64_t> degree = SequentialOutDegrees(edges);
  std::map<Node, int64_t> rank;
  for (Node n : SequentialNodes(edges)) rank[n] = kPageRankScale;
  for (uint32_t step = 0; step < iterations; ++step) {
    std::map<Node, int64_t> next;
    for (const auto& [n, r] : rank) next[n] = kPageRankReset;
    for (const auto& [e, copies] : edges) {
      next[e.second] += copies * (rank[e.first] * 85 / (100 * degree[e.first]));
    }
    rank = std::move(next);
  }
  return rank;
}

// ---- Tests -------------------------------------------------------------------------------

TEST(AlgorithmsTest, OutDegreesOracle) {
  using Out = std::pair<Node, int64_t>;
  for (uint32_t peers : kWorkerCounts) {
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      RunGraphOracle<Out>(
          peers, seed, kRounds, [](const auto& edges, const auto&) { return OutDegrees(edges); },
          [](const EdgeCounts& edges, const NodeSet&) { return Once<Out>(SequentialOutDegrees(edges)); });
    }
  }
}

TEST(AlgorithmsTest, DegreeDistributionOracle) {
  using Out = std::pair<int64_t, int64_t>;
  for (uint32_t peers : kWorkerCounts) {
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      RunGraphOracle<Out>(
          peers, seed, kRounds,
          [](const auto& edges, const auto&) { return DegreeDistribution(edges); },
          [](const EdgeCounts& edges, const NodeSet&) {
            std::map<int64_t, int64_t> histogram;
            for (const auto& [n, d] : SequentialOutDegrees(edges)) ++histogram[d];
            return Once<Out>(histogram);
          });
    }
  }
}

TEST(AlgorithmsTest, ReachableOracle) {
  for (uint32_t peers : kWorkerCounts) {
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      RunGraphOracle<Node>(
          peers, seed, kRounds,
          [](const auto& edges, const auto& roots) { return Reachable(edges, roots); },
          [](const EdgeCounts& edges, const NodeSet& roots) {
            std::map<Node, int64_t> out;
            for (const auto& [n, d] : SequentialBfs(edges, roots)) out[n] = 1;
            return out;
          });
    }
  }
}

TEST(AlgorithmsTest, BfsDistancesOracle) {
  using Out = std::pair<Node, uint64_t>;
  for (uint32_t peers : kWorkerCounts) {
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      RunGraphOracle<Out>(
          peers, seed, kRounds,
          [](const auto& edges, const auto& roots) { return BfsDistances(edges, roots); },
          [](const EdgeCounts& edges, const NodeSet& roots) {
            return Once<Out>(SequentialBfs(edges, roots));
          });
    }
  }
}

TEST(AlgorithmsTest, ConnectedComponentsOracle) {
  using Out = std::pair<Node, Node>;
  for (uint32_t peers : kWorkerCounts) {
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      RunGraphOracle<Out>(
          peers, seed, kRounds,
          [](const auto& edges, const auto&) { return ConnectedComponents(edges); },
          [](const EdgeCounts& edges, const NodeSet&) { return Once<Out>(SequentialComponents(edges)); });
    }
  }
}

TEST(AlgorithmsTest, PageRankOracle) {
  using Out = std::pair<Node, int64_t>;
  for (uint32_t iterations : {0u, 1u, 6u}) {
    for (uint32_t peers : kWorkerCounts) {
      for (uint64_t seed = 0; seed < kSeeds; ++seed) {
        RunGraphOracle<Out>(
            peers, seed, kRounds,
            [iterations](const auto& edges, const auto&) { return PageRank(edges, iterations); },
            [iterations](const EdgeCounts& edges, const NodeSet&) {
              return Once<Out>(SequentialPageRank(edges, iterations));
            });
      }
    }
  }
}

// A small graph checked by hand, so that the oracle's arithmetic is not only compared with
// itself: 0 -> 1, 0 -> 2, 1 -> 2, 2 -> 0, and 3 -> 2 (3 has no in-edges).
TEST(AlgorithmsTest, PageRankOracleByHandOnASmallGraph) {
  EdgeCounts edges{{{0, 1}, 1}, {{0, 2}, 1}, {{1, 2}, 1}, {{2, 0}, 1}, {{3, 2}, 1}};
  // Step 1 from 6M each: 0 pushes 6M*85/200 = 2,550,000 to 1 and 2; 1, 2 and 3 push
  // 5,100,000 each. 0 <- 2; 1 <- 0; 2 <- 0, 1, 3; 3 <- nothing.
  std::map<Node, int64_t> expected{{0, 900'000 + 5'100'000},
                                   {1, 900'000 + 2'550'000},
                                   {2, 900'000 + 2'550'000 + 5'100'000 + 5'100'000},
                                   {3, 900'000}};
  EXPECT_EQ(SequentialPageRank(edges, 1), expected);

  Worker<Time> worker;
  auto [input, collection] = NewInput<Edge>(worker);
  auto ranks = PageRank(collection, 1).Capture();
  ASSERT_TRUE(worker.Finalize().ok());
  for (const auto& [e, n] : edges) input->Insert(e);
  input->Close();
  worker.StepUntilIdle();
  std::map<Node, int64_t> got;
  for (const auto& [rank, n] : ContentsAt(*ranks, 0)) {
    EXPECT_EQ(n, 1);
    got[rank.first] = rank.second;
  }
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace deltaflow::dd::algorithms
