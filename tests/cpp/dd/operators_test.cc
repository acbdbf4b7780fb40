// Oracle tests for the stateful operators: for random streams of insertions and retractions,
// the output accumulated at every completed time equals the same function computed from
// scratch over the input accumulated at that time.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/iterate.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/join.h"
#include "deltaflow/dd/operators/reduce.h"
#include "deltaflow/value/row.h"
#include "testing/cluster.h"
#include "testing/random_values.h"
#include "testing/contents.h"

namespace deltaflow::dd {
namespace {

using deltaflow::testing::ContentsAt;

using Time = uint64_t;

// Builds the pipeline on `peers` workers, feeds `rounds` rounds of random updates drawn by
// `draw(rng)` (spread over the workers' inputs), advancing time by 2 each round, and after
// each round checks the output captured on all workers against `reference`.
template <typename D, typename Out, typename Build, typename Draw, typename Reference>
void RunOracle(uint32_t peers, uint64_t seed, int rounds, Build build, Draw draw,
               Reference reference) {
  // Four workers exchange bytes (each item through its Codec), as workers in different
  // processes would; two exchange C++ objects.
  testing::LocalCluster<Time> cluster(peers, /*serialize=*/peers == 4);
  std::vector<std::unique_ptr<InputSession<D, Time, int64_t>>> inputs;
  std::vector<CapturedUpdates<Out, Time, int64_t>> captures;
  std::vector<ProbeHandle<Time>> probes;
  for (uint32_t w = 0; w < peers; ++w) {
    auto [input, collection] = NewInput<D>(cluster.worker(w));
    auto result = build(collection);
    captures.push_back(result.Capture());
    probes.push_back(result.Probe());
    inputs.push_back(std::move(input));
  }
  ASSERT_TRUE(cluster.Finalize().ok());
  auto all_passed = [&](Time t) {
    return std::none_of(probes.begin(), probes.end(), [&](const auto& p) { return p.LessThan(t); });
  };
  auto captured = [&] {
    std::vector<Update<Out, Time, int64_t>> all;
    for (const auto& c : captures) all.insert(all.end(), c->begin(), c->end());
    return all;
  };
  std::mt19937_64 rng(seed);
  std::vector<Update<D, Time, int64_t>> fed;
  size_t next_input = 0;
  for (int round = 0; round < rounds; ++round) {
    Time t = 2 * static_cast<Time>(round);
    int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      D d = draw(rng);
      auto& input = inputs[next_input++ % peers];
      // Retract something present half of the time, so multiplicities go up and down.
      auto now = ContentsAt(fed, t);
      if (!now.empty() && rng() % 2) {
        auto it = now.begin();
        std::advance(it, rng() % now.size());
        input->Update(it->first, -1);
        fed.push_back({it->first, t, -1});
      } else {
        input->Update(d, 1);
        fed.push_back({d, t, 1});
      }
    }
    for (auto& input : inputs) input->AdvanceTo(t + 2);
    if (rng() % 3 == 0) {
      cluster.Step();  // sometimes let several rounds pile up
    } else {
      ASSERT_TRUE(cluster.StepUntil([&] { return all_passed(t + 2); }));
    }
    if (!all_passed(t + 2)) continue;
    auto output = captured();
    for (Time past = 0; past <= t; past += 2) {
      std::map<Out, int64_t> expected = reference(ContentsAt(fed, past));
      ASSERT_EQ(ContentsAt(output, past), expected)
          << "workers " << peers << " seed " << seed << " time " << past;
    }
  }
  for (auto& input : inputs) input->Close();
  cluster.StepUntilIdle();
  EXPECT_TRUE(cluster.Done());
}

constexpr uint32_t kWorkerCounts[] = {1, 2, 4};

uint64_t SmallKey(std::mt19937_64& rng) { return rng() % 8; }

TEST(OperatorsTest, CountOracleOnU64) {
  for (uint64_t seed = 0; seed < 15; ++seed) {
    for (uint32_t peers : kWorkerCounts) RunOracle<uint64_t, std::pair<uint64_t, int64_t>>(
        peers, seed, 20, [](const auto& c) { return Count(c); }, SmallKey,
        [](const std::map<uint64_t, int64_t>& in) {
          std::map<std::pair<uint64_t, int64_t>, int64_t> out;
          for (const auto& [k, n] : in) out[{k, n}] = 1;
          return out;
        });
  }
}

TEST(OperatorsTest, CountOracleOnStringsAndRows) {
  auto draw_string = [](std::mt19937_64& rng) { return std::string(1 + rng() % 3, 'a' + rng() % 3); };
  auto draw_row = [](std::mt19937_64& rng) { return testing::RandomRow(rng, 1, 1); };
  for (uint64_t seed = 0; seed < 8; ++seed) {
    for (uint32_t peers : kWorkerCounts) {
      RunOracle<std::string, std::pair<std::string, int64_t>>(
          peers, seed, 15, [](const auto& c) { return Count(c); }, draw_string,
          [](const std::map<std::string, int64_t>& in) {
            std::map<std::pair<std::string, int64_t>, int64_t> out;
            for (const auto& [k, n] : in) out[{k, n}] = 1;
            return out;
          });
      RunOracle<value::Row, std::pair<value::Row, int64_t>>(
          peers, seed, 15, [](const auto& c) { return Count(c); }, draw_row,
          [](const std::map<value::Row, int64_t>& in) {
            std::map<std::pair<value::Row, int64_t>, int64_t> out;
            for (const auto& [k, n] : in) out[{k, n}] = 1;
            return out;
          });
    }
  }
}

TEST(OperatorsTest, CountThroughGeneralReduceOracleOnU64) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    for (uint32_t peers : kWorkerCounts) RunOracle<uint64_t, std::pair<uint64_t, int64_t>>(
        peers, seed, 20, [](const auto& c) { return CountByReduce(c); }, SmallKey,
        [](const std::map<uint64_t, int64_t>& in) {
          std::map<std::pair<uint64_t, int64_t>, int64_t> out;
          for (const auto& [k, n] : in) out[{k, n}] = 1;
          return out;
        });
  }
}

TEST(OperatorsTest, ThresholdThroughGeneralReduceOracleOnU64) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    for (uint32_t peers : kWorkerCounts) RunOracle<uint64_t, uint64_t>(
        peers, seed, 20,
        [](const auto& c) { return ThresholdByReduce(c, [](int64_t n) { return n >= 2 ? n - 1 : 0; }); },
        SmallKey, [](const std::map<uint64_t, int64_t>& in) {
          std::map<uint64_t, int64_t> out;
          for (const auto& [k, n] : in) {
            if (n >= 2) out[k] = n - 1;
          }
          return out;
        });
  }
}

TEST(OperatorsTest, DistinctAndThresholdOracleOnU64) {
  for (uint64_t seed = 0; seed < 15; ++seed) {
    for (uint32_t peers : kWorkerCounts) RunOracle<uint64_t, uint64_t>(
        peers, seed, 20, [](const auto& c) { return Distinct(c); }, SmallKey,
        [](const std::map<uint64_t, int64_t>& in) {
          std::map<uint64_t, int64_t> out;
          for (const auto& [k, n] : in) {
            if (n > 0) out[k] = 1;
          }
          return out;
        });
    for (uint32_t peers : kWorkerCounts) RunOracle<uint64_t, uint64_t>(
        peers, seed, 20,
        [](const auto& c) { return Threshold(c, [](int64_t n) { return n >= 2 ? n - 1 : 0; }); },
        SmallKey, [](const std::map<uint64_t, int64_t>& in) {
          std::map<uint64_t, int64_t> out;
          for (const auto& [k, n] : in) {
            if (n >= 2) out[k] = n - 1;
          }
          return out;
        });
  }
}

TEST(OperatorsTest, ReduceMinOracleOnRows) {
  // Keys and values are canonical rows carrying strings and numbers.
  auto draw = [](std::mt19937_64& rng) {
    value::RowBuilder b;
    static const char* kNames[] = {"ann", "bob", "cy", "dee"};
    value::Row key = b.String(kNames[rng() % 4]).Finish();
    value::Row val = b.Int(static_cast<int64_t>(rng() % 10) - 3).String("x").Finish();
    return std::pair<value::Row, value::Row>(key, val);
  };
  for (uint64_t seed = 0; seed < 10; ++seed) {
    for (uint32_t peers : kWorkerCounts) RunOracle<std::pair<value::Row, value::Row>, std::pair<value::Row, value::Row>>(
        peers, seed, 20,
        [](const auto& c) {
          return Reduce<value::Row>(c, [](const value::Row&, const auto& in, auto& out) {
            for (const auto& [v, n] : in) {
              if (n > 0) {
                out.emplace_back(v, 1);  // the smallest value present
                return;
              }
            }
          });
        },
        draw,
        [](const std::map<std::pair<value::Row, value::Row>, int64_t>& in) {
          std::map<value::Row, value::Row> best;
          for (const auto& [kv, n] : in) {
            if (n <= 0) continue;
            auto it = best.find(kv.first);
            if (it == best.end() || kv.second < it->second) best.insert_or_assign(kv.first, kv.second);
          }
          std::map<std::pair<value::Row, value::Row>, int64_t> out;
          for (const auto& [k, v] : best) out[{k, v}] = 1;
          return out;
        });
  }
}

TEST(OperatorsTest, JoinOracleOnU64) {
  // One input of tagged records: tag 0 goes to the left side, tag 1 to the right.
  using Tagged = std::pair<uint64_t, std::pair<uint64_t, uint64_t>>;  // (tag, (key, val))
  auto draw = [](std::mt19937_64& rng) {
    return Tagged(rng() % 2, {rng() % 5, rng() % 3});
  };
  using Out = std::pair<uint64_t, std::pair<uint64_t, uint64_t>>;
  for (uint64_t seed = 0; seed < 15; ++seed) {
    for (uint32_t peers : kWorkerCounts) RunOracle<Tagged, Out>(
        peers, seed, 20,
        [seed](const auto& c) {
          auto left = c.Filter([](const Tagged& t) { return t.first == 0; })
                          .Map([](const Tagged& t) { return t.second; });
          auto right = c.Filter([](const Tagged& t) { return t.first == 1; })
                           .Map([](const Tagged& t) { return t.second; });
          if (seed % 2 == 1) {
            // Three joined updates per run at most: batches are joined across many runs.
            return JoinCore(Arrange(left), Arrange(right),
                            [](const auto& k, const auto& v1, const auto& v2) {
                              return Out(k, {v1, v2});
                            },
                            /*fuel_per_run=*/3);
          }
          return Join(left, right);
        },
        draw,
        [](const std::map<Tagged, int64_t>& in) {
          std::map<Out, int64_t> out;
          for (const auto& [l, nl] : in) {
            if (l.first != 0) continue;
            for (const auto& [r, nr] : in) {
              if (r.first != 1 || r.second.first != l.second.first) continue;
              out[{l.second.first, {l.second.second, r.second.second}}] += nl * nr;
            }
          }
          std::erase_if(out, [](const auto& kv) { return kv.second == 0; });
          return out;
        });
  }
}

TEST(OperatorsTest, JoinAndDistinctOracleOnRows) {
  // Tagged rows: (tag, key, val) with string keys; tag 0 left, 1 right.
  using Tagged = value::Row;
  auto draw = [](std::mt19937_64& rng) {
    static const char* kKeys[] = {"k1", "k2", "k3"};
    value::RowBuilder b;
    return b.Int(static_cast<int64_t>(rng() % 2)).String(kKeys[rng() % 3])
        .Int(static_cast<int64_t>(rng() % 3)).Finish();
  };
  auto split = [](const Tagged& row) {
    value::RowBuilder b;
    return std::pair<value::Row, value::Row>(b.Value(row[1]).Finish(), b.Value(row[2]).Finish());
  };
  using Out = std::pair<value::Row, std::pair<value::Row, value::Row>>;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    for (uint32_t peers : kWorkerCounts) {
      RunOracle<Tagged, Out>(
          peers, seed, 15,
          [&](const auto& c) {
            auto left = c.Filter([](const Tagged& t) { return t[0].AsInt() == 0; })
                            .Map([&](const Tagged& t) { return split(t); });
            auto right = c.Filter([](const Tagged& t) { return t[0].AsInt() == 1; })
                             .Map([&](const Tagged& t) { return split(t); });
            return Join(left, right);
          },
          draw,
          [&](const std::map<Tagged, int64_t>& in) {
            std::map<Out, int64_t> out;
            for (const auto& [l, nl] : in) {
              if (l[0].AsInt() != 0) continue;
              for (const auto& [r, nr] : in) {
                if (r[0].AsInt() != 1 || !(r[1].encoded().size() == l[1].encoded().size() &&
                                           r[1].AsString() == l[1].AsString())) {
                  continue;
                }
                auto lk = split(l);
                auto rk = split(r);
                out[{lk.first, {lk.second, rk.second}}] += nl * nr;
              }
            }
            std::erase_if(out, [](const auto& kv) { return kv.second == 0; });
            return out;
          });
      RunOracle<Tagged, Tagged>(
          peers, seed, 15, [](const auto& c) { return Distinct(c); }, draw,
          [](const std::map<Tagged, int64_t>& in) {
            std::map<Tagged, int64_t> out;
            for (const auto& [row, n] : in) {
              if (n > 0) out[row] = 1;
            }
            return out;
          });
    }
  }
}

TEST(OperatorsTest, SharedArrangementIsBuiltOnce) {
  Worker<Time> worker;
  auto [input, pairs] = NewInput<std::pair<uint64_t, uint64_t>>(worker);
  auto a1 = Arrange(pairs);
  auto a2 = Arrange(pairs);
  EXPECT_EQ(a1.trace(), a2.trace());
  size_t before = worker.OperatorCount();
  Arrange(pairs);
  EXPECT_EQ(worker.OperatorCount(), before);
}

TEST(OperatorsTest, CompactionCollapsesHistoryOfAnArrangement) {
  Worker<Time> worker;
  auto [input, keys] = NewInput<uint64_t>(worker);
  auto arranged = ArrangeBySelf(keys);
  auto counts = ReduceCore<int64_t>(arranged, [](const uint64_t&, const auto& in, auto& out) {
    int64_t n = 0;
    for (const auto& [u, c] : in) n += c;
    out.emplace_back(n, 1);
  });
  auto probe = counts.AsCollection([](const auto& k, const auto& v) { return std::pair(k, v); }).Probe();
  ASSERT_TRUE(worker.Finalize().ok());
  // The same key inserted and retracted at 500 times: with compaction the trace keeps at
  // most a handful of updates, not 1000.
  for (Time t = 0; t < 1000; t += 2) {
    input->Update(7, (t / 2) % 2 == 0 ? 1 : -1);
    input->AdvanceTo(t + 2);
    while (probe.LessThan(t + 2)) worker.Step();
  }
  for (int i = 0; i < 50; ++i) arranged.trace()->Exert(1 << 20);
  EXPECT_LE(arranged.trace()->Len(), 4u) << "history did not collapse";
  input->Close();
  worker.StepUntilIdle();
}

TEST(OperatorsTest, ReachabilityOracleThroughIterateWithChangingEdges) {
  // Nodes reachable from node 0, with edges added and removed over time: partially ordered
  // times inside the loop (outer time, round).
  using Edge = std::pair<uint64_t, uint64_t>;
  for (uint32_t peers : kWorkerCounts) {
    for (uint64_t seed = 0; seed < 6; ++seed) {
      testing::LocalCluster<Time> cluster(peers, /*serialize=*/peers == 4);
      std::vector<std::unique_ptr<InputSession<Edge, Time, int64_t>>> edge_inputs;
      std::vector<std::unique_ptr<InputSession<uint64_t, Time, int64_t>>> root_inputs;
      std::vector<CapturedUpdates<uint64_t, Time, int64_t>> captures;
      std::vector<ProbeHandle<Time>> probes;
      for (uint32_t w = 0; w < peers; ++w) {
        auto [edge_input, edges] = NewInput<Edge>(cluster.worker(w));
        auto [root_input, roots] = NewInput<uint64_t>(cluster.worker(w));
        auto reached = Iterate(roots, [&edges, &roots](auto& scope, const auto& inner) {
          auto e = scope.Enter(edges);
          auto r = scope.Enter(roots);
          auto keyed = inner.Map([](uint64_t n) { return std::pair<uint64_t, Unit>(n, Unit{}); });
          auto next = JoinCore(Arrange(keyed), Arrange(e),
                               [](const uint64_t&, const Unit&, const uint64_t& dst) { return dst; });
          return Distinct(next.Concat(r));
        });
        captures.push_back(reached.Capture());
        probes.push_back(reached.Probe());
        edge_inputs.push_back(std::move(edge_input));
        root_inputs.push_back(std::move(root_input));
      }
      ASSERT_TRUE(cluster.Finalize().ok());
      root_inputs[0]->Insert(0);
      std::mt19937_64 rng(seed);
      std::map<Edge, int64_t> present;
      size_t next = 0;
      for (Time t = 0; t < 20; t += 2) {
        for (int i = 0; i < 4; ++i) {
          Edge e(rng() % 10, rng() % 10);
          auto& input = edge_inputs[next++ % peers];
          if (present[e] > 0 && rng() % 2) {
            input->Remove(e);
            --present[e];
          } else if (present[e] == 0) {
            input->Insert(e);
            ++present[e];
          }
        }
        for (auto& in : edge_inputs) in->AdvanceTo(t + 2);
        for (auto& in : root_inputs) in->AdvanceTo(t + 2);
        ASSERT_TRUE(cluster.StepUntil([&] {
          return std::none_of(probes.begin(), probes.end(),
                              [&](const auto& p) { return p.LessThan(t + 2); });
        }));
        // Breadth-first search over the present edges.
        std::set<uint64_t> seen{0};
        std::vector<uint64_t> frontier{0};
        while (!frontier.empty()) {
          uint64_t n = frontier.back();
          frontier.pop_back();
          for (const auto& [e, c] : present) {
            if (c > 0 && e.first == n && seen.insert(e.second).second) frontier.push_back(e.second);
          }
        }
        std::map<uint64_t, int64_t> expected;
        for (uint64_t n : seen) expected[n] = 1;
        std::vector<Update<uint64_t, Time, int64_t>> all;
        for (const auto& c : captures) all.insert(all.end(), c->begin(), c->end());
        ASSERT_EQ(ContentsAt(all, t), expected) << "workers " << peers << " seed " << seed << " time " << t;
      }
      for (auto& in : edge_inputs) in->Close();
      for (auto& in : root_inputs) in->Close();
      cluster.StepUntilIdle();
      EXPECT_TRUE(cluster.Done());
    }
  }
}

}  // namespace
}  // namespace deltaflow::dd
