#include "deltaflow/dd/collection.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "deltaflow/time/product.h"
#include "deltaflow/value/row.h"
#include "testing/random_values.h"
#include "testing/contents.h"

namespace deltaflow::dd {
namespace {

using deltaflow::testing::ContentsAt;

using Time = uint64_t;

TEST(CollectionTest, StatelessOperatorsMatchARecomputationAtEveryTime) {
  Worker<Time> worker;
  auto [input, numbers] = NewInput<int64_t>(worker);
  std::vector<Update<int64_t, Time, int64_t>> inspected;
  auto evens = numbers.Filter([](int64_t x) { return x % 2 == 0; });
  auto doubled = numbers.Map([](int64_t x) { return 2 * x; });
  auto expanded = numbers.FlatMap([](int64_t x) { return std::vector<int64_t>{x, x + 100}; });
  auto result = evens.Concat({doubled, expanded.Negate()})
                    .Inspect([&](const auto& u) { inspected.push_back(u); });
  auto captured = result.Capture();
  auto probe = result.Probe();
  ASSERT_TRUE(worker.Finalize().ok());

  std::mt19937_64 rng(1);
  std::vector<Update<int64_t, Time, int64_t>> fed;
  for (Time t = 0; t < 40; t += 2) {
    for (int i = 0; i < 20; ++i) {
      int64_t x = static_cast<int64_t>(rng() % 10);
      int64_t diff = (rng() % 3 == 0) ? -1 : 1;
      input->Update(x, diff);
      fed.push_back({x, t, diff});
    }
    input->AdvanceTo(t + 2);
    while (probe.LessThan(t + 2)) worker.Step();
    // Everything up to t is final: compare with the same function computed from scratch.
    std::map<int64_t, int64_t> expected;
    for (const auto& [x, count] : ContentsAt(fed, t)) {
      if (x % 2 == 0) expected[x] += count;
      expected[2 * x] += count;
      expected[x] -= count;
      expected[x + 100] -= count;
    }
    std::erase_if(expected, [](const auto& kv) { return kv.second == 0; });
    EXPECT_EQ(ContentsAt(*captured, t), expected) << "at time " << t;
  }
  EXPECT_EQ(inspected.size(), captured->size());
  input->Close();
  worker.StepUntilIdle();
  EXPECT_TRUE(probe.Done());
  EXPECT_TRUE(worker.Done());
}

TEST(CollectionTest, ProbeFollowsTheInputTime) {
  Worker<Time> worker;
  auto [input, strings] = NewInput<std::string>(worker);
  auto probe = strings.Map([](const std::string& s) { return s + "!"; }).Probe();
  ASSERT_TRUE(worker.Finalize().ok());
  worker.StepUntilIdle();
  EXPECT_TRUE(probe.LessEqual(0));
  input->AdvanceTo(6);
  EXPECT_TRUE(probe.LessThan(6));
  worker.StepUntilIdle();
  EXPECT_FALSE(probe.LessThan(6));
  EXPECT_TRUE(probe.LessEqual(6));
  EXPECT_FALSE(worker.Step()) << "an idle worker has nothing to run";
  input->Close();
  worker.StepUntilIdle();
  EXPECT_TRUE(probe.Done());
}

TEST(CollectionTest, OneStepCarriesABatchDownAChainOfOperators) {
  // A step runs active operators in the order they were added, so what an operator sends
  // is taken up by the operators after it in the same step, not one operator per step.
  Worker<Time> worker;
  auto [input, numbers] = NewInput<int64_t>(worker);
  Collection<int64_t, Time, int64_t> chain = numbers;
  for (int i = 0; i < 10; ++i) chain = chain.Map([](int64_t x) { return x + 1; });
  auto captured = chain.Capture();
  ASSERT_TRUE(worker.Finalize().ok());
  worker.StepUntilIdle();
  input->Insert(5);
  input->Flush();
  worker.Step();
  ASSERT_EQ(captured->size(), 1u);
  EXPECT_EQ((*captured)[0].data, 15);
}

TEST(CollectionTest, ConsolidateOracleEmitsEachChangeOnceWhenItsTimeIsComplete) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Worker<Time> worker;
    auto [input, records] = NewInput<int64_t>(worker);
    auto consolidated = records.Consolidate();
    auto captured = consolidated.Capture();
    auto probe = consolidated.Probe();
    ASSERT_TRUE(worker.Finalize().ok());

    std::mt19937_64 rng(seed);
    std::vector<Update<int64_t, Time, int64_t>> fed;
    Time now = 0;
    for (int round = 0; round < 30; ++round) {
      for (int i = 0; i < 10; ++i) {
        // Updates may be for the current time or a little later.
        Time t = now + 2 * (rng() % 3);
        int64_t x = static_cast<int64_t>(rng() % 6);
        int64_t diff = static_cast<int64_t>(rng() % 5) - 2;
        input->UpdateAt(x, t, diff);
        fed.push_back({x, t, diff});
      }
      now += 2 * (1 + rng() % 2);
      input->AdvanceTo(now);
      if (rng() % 2) worker.Step();  // sometimes leave work for later
      while (probe.LessThan(now)) worker.Step();
      for (Time t = 0; t < now; t += 2) {
        ASSERT_EQ(ContentsAt(*captured, t), ContentsAt(fed, t)) << "seed " << seed << " time " << t;
      }
      // Nothing is emitted for an incomplete time.
      for (const auto& u : *captured) ASSERT_LT(u.time, now);
    }
    // Each (record, time) is emitted at most once, never with a zero diff.
    std::map<std::pair<int64_t, Time>, int> seen;
    for (const auto& u : *captured) {
      EXPECT_NE(u.diff, 0);
      EXPECT_EQ(++seen[std::make_pair(u.data, u.time)], 1);
    }
  }
}

TEST(CollectionTest, ConsolidateStreamSumsEachMessageWithoutWaitingForItsTime) {
  Worker<Time> worker;
  auto [input, records] = NewInput<int64_t>(worker);
  auto captured = records.ConsolidateStream().Capture();
  ASSERT_TRUE(worker.Finalize().ok());
  for (int64_t x : {1, 2, 1, 1, 3, 2}) input->UpdateAt(x, 0, 1);
  input->UpdateAt(3, 0, -1);
  input->UpdateAt(2, 2, 1);
  input->Flush();  // the input's time stays at 0: time 0 is not complete
  worker.StepUntilIdle();
  std::map<std::pair<int64_t, Time>, int64_t> out;
  for (const auto& u : *captured) {
    EXPECT_NE(u.diff, 0) << "record " << u.data;
    EXPECT_TRUE(out.emplace(std::pair(u.data, u.time), u.diff).second) << "record " << u.data << " sent twice";
  }
  EXPECT_EQ(out, (std::map<std::pair<int64_t, Time>, int64_t>{{{1, 0}, 3}, {{2, 0}, 2}, {{2, 2}, 1}}));
}

TEST(CollectionTest, ConsolidateOracleOnRows) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Worker<Time> worker;
    auto [input, records] = NewInput<value::Row>(worker);
    auto consolidated = records.Consolidate();
    auto captured = consolidated.Capture();
    auto probe = consolidated.Probe();
    ASSERT_TRUE(worker.Finalize().ok());
    std::mt19937_64 rng(seed);
    std::vector<Update<value::Row, Time, int64_t>> fed;
    for (Time now = 0; now < 40; now += 2) {
      for (int i = 0; i < 10; ++i) {
        value::Row row = testing::RandomRow(rng, 2, 1);
        Time t = now + 2 * (rng() % 2);
        int64_t diff = rng() % 2 ? 1 : -1;
        input->UpdateAt(row, t, diff);
        fed.push_back({row, t, diff});
      }
      input->AdvanceTo(now + 2);
      while (probe.LessThan(now + 2)) worker.Step();
      ASSERT_EQ(ContentsAt(*captured, now), ContentsAt(fed, now)) << "seed " << seed;
      for (const auto& u : *captured) ASSERT_LE(u.time, now) << "emitted before complete";
    }
  }
}

TEST(CollectionTest, ConsolidateOracleWithPartiallyOrderedTimes) {
  using PTime = time::Product<uint64_t, uint32_t>;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<Update<int64_t, PTime, int64_t>> fed;
    for (int i = 0; i < 200; ++i) {
      PTime t(rng() % 4, static_cast<uint32_t>(rng() % 4));
      fed.push_back({static_cast<int64_t>(rng() % 5), t, rng() % 2 ? 1 : -1});
    }
    Worker<PTime> worker;
    auto [input, records] = NewInput<int64_t>(worker);
    auto consolidated = records.Consolidate();
    auto captured = consolidated.Capture();
    auto probe = consolidated.Probe();
    ASSERT_TRUE(worker.Finalize().ok());
    // Feed in two phases around advancing to (2, 0), so that times (0..1, *) complete while
    // (2.., *) stay open.
    // Half of the later updates arrive early too: they must be held back.
    std::vector<Update<int64_t, PTime, int64_t>> late;
    for (size_t i = 0; i < fed.size(); ++i) {
      const auto& u = fed[i];
      if (u.time.outer < 2 || i % 2 == 0) {
        input->UpdateAt(u.data, u.time, u.diff);
      } else {
        late.push_back(u);
      }
    }
    input->AdvanceTo(PTime(2, 0));
    worker.StepUntilIdle();
    EXPECT_FALSE(probe.LessThan(PTime(2, 0)));
    for (const auto& u : *captured) EXPECT_LT(u.time.outer, 2u) << "emitted before complete";
    for (const auto& u : late) input->UpdateAt(u.data, u.time, u.diff);
    input->Close();
    worker.StepUntilIdle();
    for (uint64_t a = 0; a < 4; ++a) {
      for (uint32_t b = 0; b < 4; ++b) {
        PTime t(a, b);
        ASSERT_EQ(ContentsAt(*captured, t), ContentsAt(fed, t)) << a << "," << b;
      }
    }
  }
}

}  // namespace
}  // namespace deltaflow::dd
