#include "deltaflow/dd/iterate.h"
#include "testing/contents.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace deltaflow::dd {
namespace {

using deltaflow::testing::ContentsAt;

using Time = uint64_t;

// The fixed point of x -> (x > 10 ? x - 10 : x), computed directly.
int64_t FixedPoint(int64_t x) {
  while (x > 10) x -= 10;
  return x;
}

TEST(IterateTest, OracleFixedPointOfAShrinkingMapMatchesRecomputationAtEveryTime) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Worker<Time> worker;
    auto [input, numbers] = NewInput<int64_t>(worker);
    auto result = Iterate(numbers, [](auto&, const auto& v) {
      return v.Map([](int64_t x) { return x > 10 ? x - 10 : x; }).Consolidate();
    });
    auto captured = result.Capture();
    auto probe = result.Probe();
    ASSERT_TRUE(worker.Finalize().ok());

    std::mt19937_64 rng(seed);
    std::vector<Update<int64_t, Time, int64_t>> fed;
    std::map<int64_t, int64_t> present;
    for (Time t = 0; t < 20; t += 2) {
      for (int i = 0; i < 5; ++i) {
        int64_t x = static_cast<int64_t>(rng() % 60);
        int64_t diff = 1;
        if (present[x] > 0 && rng() % 2) diff = -1;
        present[x] += diff;
        input->Update(x, diff);
        fed.push_back({x, t, diff});
      }
      input->AdvanceTo(t + 2);
      while (probe.LessThan(t + 2)) worker.Step();
      std::map<int64_t, int64_t> expected;
      for (const auto& [x, count] : ContentsAt(fed, t)) expected[FixedPoint(x)] += count;
      std::erase_if(expected, [](const auto& kv) { return kv.second == 0; });
      ASSERT_EQ(ContentsAt(*captured, t), expected) << "seed " << seed << " time " << t;
    }
    input->Close();
    worker.StepUntilIdle();
    EXPECT_TRUE(probe.Done());
    EXPECT_TRUE(worker.Done());
  }
}

TEST(IterateTest, EnteredCollectionsAreVisibleInsideTheLoop) {
  Worker<Time> worker;
  auto [input, numbers] = NewInput<int64_t>(worker);
  auto [other_input, others] = NewInput<int64_t>(worker);
  // The loop body drops the non-negative iterate and adds twice the entered collection, so
  // the fixed point, reached in the second round, is that doubled collection.
  auto result = Iterate(numbers, [&others](auto& scope, const auto& v) {
    auto entered = scope.Enter(others);
    return v.Filter([](int64_t x) { return x < 0; })
        .Concat(entered.Map([](int64_t x) { return 2 * x; }))
        .Consolidate();
  });
  auto probe = result.Probe();
  auto captured = result.Capture();
  ASSERT_TRUE(worker.Finalize().ok());
  input->Insert(5);
  other_input->Insert(7);
  other_input->Insert(8);
  input->AdvanceTo(2);
  other_input->AdvanceTo(2);
  while (probe.LessThan(2)) worker.Step();
  EXPECT_EQ(ContentsAt(*captured, Time{0}), (std::map<int64_t, int64_t>{{14, 1}, {16, 1}}));
  other_input->Remove(7);
  input->Close();
  other_input->Close();
  worker.StepUntilIdle();
  EXPECT_TRUE(probe.Done());
  EXPECT_EQ(ContentsAt(*captured, Time{2}), (std::map<int64_t, int64_t>{{16, 1}}));
}

}  // namespace
}  // namespace deltaflow::dd
