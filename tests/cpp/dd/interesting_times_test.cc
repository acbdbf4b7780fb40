#include "deltaflow/dd/operators/interesting_times.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "deltaflow/time/product.h"

namespace deltaflow::dd::reduce_internal {
namespace {

using PTime = time::Product<uint64_t, uint32_t>;
using In = TimedValue<int64_t, PTime, int64_t>;
using Out = TimedValue<int64_t, PTime, int64_t>;

// Output rules to check against: distinct values, the count of records, the minimum.
void Distinct(const std::vector<std::pair<int64_t, int64_t>>& in,
              std::vector<std::pair<int64_t, int64_t>>& out) {
  for (const auto& [v, c] : in) {
    if (c > 0) out.emplace_back(v, 1);
  }
}
void Count(const std::vector<std::pair<int64_t, int64_t>>& in,
           std::vector<std::pair<int64_t, int64_t>>& out) {
  int64_t n = 0;
  for (const auto& [v, c] : in) n += c;
  if (n != 0) out.emplace_back(n, 1);
}
void Min(const std::vector<std::pair<int64_t, int64_t>>& in,
         std::vector<std::pair<int64_t, int64_t>>& out) {
  for (const auto& [v, c] : in) {
    if (c > 0) {
      out.emplace_back(v, 1);
      return;
    }
  }
}

template <typename Logic>
void RunOracle(Logic logic, uint64_t seed, bool total_order_only) {
  constexpr uint32_t kGrid = 4;
  std::mt19937_64 rng(seed);
  std::set<PTime> complete;
  std::vector<In> input;
  std::vector<Out> output;
  std::vector<PTime> pending;
  ReduceScratch<int64_t, int64_t, PTime, int64_t> scratch;
  auto in_grid = [&](const PTime& t) { return t.outer < kGrid && t.inner < kGrid; };
  for (int round = 0; round < 12 && complete.size() < kGrid * kGrid; ++round) {
    // Complete a random minimal incomplete time (or, for total order, a whole outer time).
    std::vector<PTime> minimal;
    for (uint64_t o = 0; o < kGrid; ++o) {
      for (uint32_t i = 0; i < kGrid; ++i) {
        PTime t(o, i);
        if (complete.count(t)) continue;
        bool below_done = (o == 0 || complete.count(PTime(o - 1, i))) &&
                          (i == 0 || complete.count(PTime(o, i - 1)));
        if (below_done) minimal.push_back(t);
      }
    }
    std::vector<PTime> newly;
    if (total_order_only) {
      uint64_t o = minimal.front().outer;
      for (uint32_t i = 0; i < kGrid; ++i) newly.push_back(PTime(o, i));
    } else {
      newly.push_back(minimal[rng() % minimal.size()]);
    }
    for (const PTime& t : newly) complete.insert(t);
    // New input at the newly complete times.
    std::vector<PTime> seeds = pending;
    pending.clear();
    for (const PTime& t : newly) {
      int n = static_cast<int>(rng() % 3);
      for (int k = 0; k < n; ++k) {
        input.push_back({static_cast<int64_t>(rng() % 4), t, rng() % 3 == 0 ? -1 : 1});
        seeds.push_back(t);
      }
    }
    time::Antichain<PTime> upper;
    for (uint64_t o = 0; o <= kGrid; ++o) {
      for (uint32_t i = 0; i <= kGrid; ++i) {
        if (!complete.count(PTime(o, i))) upper.Insert(PTime(o, i));
      }
    }
    std::vector<Out> corrections;
    ReduceKey<int64_t, int64_t, PTime, int64_t>(input, output, seeds, upper, logic, scratch,
                                                corrections, pending);
    for (const auto& c : corrections) {
      ASSERT_TRUE(complete.count(c.time)) << "correction at an incomplete time";
      output.push_back(c);
    }
    std::sort(pending.begin(), pending.end());
    pending.erase(std::unique(pending.begin(), pending.end()), pending.end());
    for (const PTime& t : complete) {
      ASSERT_TRUE(in_grid(t));
      std::vector<std::pair<int64_t, int64_t>> in_at, want, got;
      AccumulateAt<int64_t, PTime, int64_t>(input, t, in_at);
      if (!in_at.empty()) logic(in_at, want);
      AccumulateAt<int64_t, PTime, int64_t>(output, t, got);
      ASSERT_EQ(got, want) << "seed " << seed << " round " << round << " at " << t;
    }
  }
}

TEST(ReduceKeyTest, OracleDistinctOverPartiallyOrderedTimes) {
  for (uint64_t seed = 0; seed < 200; ++seed) RunOracle(Distinct, seed, false);
}

TEST(ReduceKeyTest, OracleCountOverPartiallyOrderedTimes) {
  for (uint64_t seed = 0; seed < 200; ++seed) RunOracle(Count, seed, false);
}

TEST(ReduceKeyTest, OracleMinOverTotallyAdvancingFrontiers) {
  for (uint64_t seed = 0; seed < 200; ++seed) RunOracle(Min, seed, true);
}

}  // namespace
}  // namespace deltaflow::dd::reduce_internal
