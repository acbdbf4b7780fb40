// Antichain, MutableAntichain and ChangeBatch, each checked against a brute-force
// recomputation on random inputs with fixed seeds.
#include "deltaflow/time/antichain.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "deltaflow/time/lattice.h"
#include "deltaflow/time/product.h"
#include "gtest/gtest.h"

namespace deltaflow::time {
namespace {

using Time = IterationTime;
using Changes = std::vector<std::pair<Time, int64_t>>;
using IntChanges = std::vector<std::pair<uint64_t, int64_t>>;

template <typename T>
std::vector<std::pair<T, int64_t>> Copy(std::span<const std::pair<T, int64_t>> changes) {
  return std::vector<std::pair<T, int64_t>>(changes.begin(), changes.end());
}

// The minimal elements of `times`, sorted: what an antichain of them must hold.
std::vector<Time> BruteMinimal(const std::vector<Time>& times) {
  std::vector<Time> result;
  for (const Time& t : times) {
    bool minimal = true;
    for (const Time& u : times) {
      if (LessThan(u, t)) minimal = false;
    }
    if (minimal && std::find(result.begin(), result.end(), t) == result.end()) {
      result.push_back(t);
    }
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<Time> ToVector(const Antichain<Time>& antichain) {
  return std::vector<Time>(antichain.begin(), antichain.end());
}

std::vector<Time> Grid(uint32_t side) {
  std::vector<Time> grid;
  for (uint64_t outer = 0; outer < side; ++outer) {
    for (uint32_t inner = 0; inner < side; ++inner) grid.emplace_back(outer, inner);
  }
  return grid;
}

Time RandomTime(std::mt19937_64& rng, uint32_t side) {
  std::uniform_int_distribution<uint32_t> coordinate(0, side - 1);
  const uint64_t outer = coordinate(rng);
  return Time(outer, coordinate(rng));
}

TEST(AntichainTest, InsertKeepsExactlyTheMinimalElements) {
  std::mt19937_64 rng(1);
  for (int round = 0; round < 200; ++round) {
    Antichain<Time> antichain;
    std::vector<Time> inserted;
    const int count = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < count; ++i) {
      const Time t = RandomTime(rng, 6);
      const bool dominated = antichain.LessEqual(t);
      EXPECT_EQ(antichain.Insert(t), !dominated);
      inserted.push_back(t);
      ASSERT_EQ(ToVector(antichain), BruteMinimal(inserted));
    }
    // Elements are mutually incomparable.
    for (const Time& a : antichain) {
      for (const Time& b : antichain) {
        if (!(a == b)) {
          EXPECT_FALSE(LessEqual(a, b));
        }
      }
    }
  }
}

TEST(AntichainTest, LessEqualAndLessThanMatchBruteForce) {
  std::mt19937_64 rng(2);
  const std::vector<Time> grid = Grid(5);
  for (int round = 0; round < 100; ++round) {
    std::vector<Time> times;
    for (int i = 0; i < 4; ++i) times.push_back(RandomTime(rng, 5));
    const Antichain<Time> antichain = Antichain<Time>::FromRange(times);
    for (const Time& t : grid) {
      bool less_equal = false;
      bool less_than = false;
      for (const Time& u : times) {
        less_equal |= LessEqual(u, t);
        less_than |= LessThan(u, t);
      }
      EXPECT_EQ(antichain.LessEqual(t), less_equal) << antichain << " " << t;
      EXPECT_EQ(antichain.LessThan(t), less_than) << antichain << " " << t;
    }
  }
}

TEST(AntichainTest, EmptyAntichainIsClosedFrontier) {
  const Antichain<Time> closed;
  EXPECT_TRUE(closed.IsEmpty());
  EXPECT_FALSE(closed.LessEqual(Time(0, 0)));
  EXPECT_FALSE(closed.LessThan(Time(kMaxTimestamp, 0)));
  // Every frontier is at or before the closed one; the closed one is before none but itself.
  EXPECT_TRUE(Antichain<Time>(Time(3, 3)).Dominates(closed));
  EXPECT_TRUE(closed.Dominates(closed));
  EXPECT_FALSE(closed.Dominates(Antichain<Time>(Time(3, 3))));
}

TEST(AntichainTest, DominatesMeetAndJoinMatchBruteForce) {
  std::mt19937_64 rng(3);
  const std::vector<Time> grid = Grid(6);
  for (int round = 0; round < 100; ++round) {
    Antichain<Time> a;
    Antichain<Time> b;
    for (int i = 0; i < 3; ++i) a.Insert(RandomTime(rng, 5));
    for (int i = 0; i < static_cast<int>(rng() % 4); ++i) b.Insert(RandomTime(rng, 5));
    const Antichain<Time> meet = MeetOf(a, b);
    const Antichain<Time> join = JoinOf(a, b);
    bool a_before_b = true;  // Every time beyond b is beyond a.
    for (const Time& t : grid) {
      EXPECT_EQ(meet.LessEqual(t), a.LessEqual(t) || b.LessEqual(t)) << a << b << t;
      EXPECT_EQ(join.LessEqual(t), a.LessEqual(t) && b.LessEqual(t)) << a << b << t;
      if (b.LessEqual(t) && !a.LessEqual(t)) a_before_b = false;
    }
    EXPECT_EQ(a.Dominates(b), a_before_b) << a << " " << b;
    EXPECT_TRUE(meet.Dominates(a) && meet.Dominates(b));
    EXPECT_TRUE(a.Dominates(join) && b.Dominates(join));
  }
}

TEST(AntichainTest, EqualityIgnoresInsertionOrder) {
  const Antichain<Time> a = {Time(0, 3), Time(2, 1), Time(1, 2)};
  const Antichain<Time> b = {Time(1, 2), Time(5, 5), Time(2, 1), Time(0, 3)};
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Size(), 3u);
  EXPECT_FALSE(a == Antichain<Time>(Time(0, 0)));
  EXPECT_EQ(Antichain<Time>(Time(4, 4)).Single(), Time(4, 4));
}

TEST(AntichainTest, ChangeBatchConsolidatesAndDropsZeros) {
  std::mt19937_64 rng(4);
  for (int round = 0; round < 50; ++round) {
    ChangeBatch<Time> batch;
    std::map<Time, int64_t> expected;
    const int count = static_cast<int>(rng() % 300);
    for (int i = 0; i < count; ++i) {
      const Time t = RandomTime(rng, 4);
      const int64_t diff = static_cast<int64_t>(rng() % 5) - 2;
      batch.Update(t, diff);
      expected[t] += diff;
      if (i % 37 == 0) {
        std::size_t distinct = 0;
        for (const auto& [time, sum] : expected) distinct += sum != 0;
        EXPECT_EQ(batch.IsEmpty(), distinct == 0);
      }
    }
    Changes want;
    for (const auto& [time, sum] : expected) {
      if (sum != 0) want.emplace_back(time, sum);
    }
    const auto updates = batch.Updates();
    EXPECT_EQ(Copy(updates), want);
    EXPECT_EQ(batch.IsEmpty(), want.empty());
    if (round % 2 == 0) {
      EXPECT_EQ(batch.Drain(), want);
    } else {
      Changes out;
      batch.DrainInto(out);
      EXPECT_EQ(out, want);
    }
    EXPECT_TRUE(batch.IsEmpty());
  }
}

TEST(AntichainTest, ChangeBatchCancellationAndMerging) {
  ChangeBatch<uint64_t> batch(5, 2);
  batch.Update(3, 1);
  batch.Update(5, -2);
  batch.Update(7, 0);
  EXPECT_FALSE(batch.IsEmpty());
  batch.Update(3, -1);
  EXPECT_TRUE(batch.IsEmpty());

  ChangeBatch<uint64_t> other;
  other.Extend(IntChanges{{1, 1}, {2, 2}, {1, 1}});
  batch.Update(2, -2);
  other.DrainInto(batch);
  EXPECT_TRUE(other.IsEmpty());
  const auto updates = batch.Updates();
  EXPECT_EQ(Copy(updates), (IntChanges{{1, 2}}));
}

TEST(AntichainTest, ChangeBatchCancelsLongRunsOfOpposingUpdates) {
  ChangeBatch<uint64_t> batch;
  for (int i = 0; i < 100000; ++i) {
    batch.Update(static_cast<uint64_t>(i % 3), 1);
    batch.Update(static_cast<uint64_t>(i % 3), -1);
  }
  EXPECT_TRUE(batch.IsEmpty());
}

TEST(AntichainTest, MutableAntichainFrontierMatchesBruteForce) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 100; ++round) {
    MutableAntichain<Time> mutable_antichain;
    std::map<Time, int64_t> counts;
    std::vector<Time> frontier;  // Reconstructed from the reported changes only.
    for (int step = 0; step < 40; ++step) {
      Changes changes;
      const int count = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < count; ++i) {
        Time t = RandomTime(rng, 5);
        int64_t diff = static_cast<int64_t>(rng() % 3) + 1;
        // Mostly retract held times; sometimes drive a count negative (out-of-order news).
        if (rng() % 2 == 0) {
          auto it = counts.begin();
          if (it != counts.end()) {
            std::advance(it, rng() % counts.size());
            t = it->first;
            diff = -diff;
          }
        } else if (rng() % 10 == 0) {
          diff = -diff;
        }
        changes.emplace_back(t, diff);
        counts[t] += diff;
      }
      std::map<Time, int64_t> reported;
      for (const auto& [time, diff] : mutable_antichain.UpdateIter(changes)) {
        reported[time] += diff;
        if (diff > 0) {
          frontier.push_back(time);
        } else {
          auto it = std::find(frontier.begin(), frontier.end(), time);
          ASSERT_NE(it, frontier.end()) << "removed a time not in the frontier";
          frontier.erase(it);
        }
      }
      std::vector<Time> positive;
      for (const auto& [time, sum] : counts) {
        if (sum > 0) positive.push_back(time);
      }
      const std::vector<Time> expected = BruteMinimal(positive);
      ASSERT_EQ(ToVector(mutable_antichain.Frontier()), expected);
      std::sort(frontier.begin(), frontier.end());
      ASSERT_EQ(frontier, expected);
      for (const auto& [time, diff] : reported) EXPECT_TRUE(diff == 1 || diff == -1);
      EXPECT_EQ(mutable_antichain.IsEmpty(), expected.empty());
      const Time probe = RandomTime(rng, 6);
      EXPECT_EQ(mutable_antichain.LessEqual(probe),
                Antichain<Time>::FromRange(expected).LessEqual(probe));
      EXPECT_EQ(mutable_antichain.CountFor(probe), counts[probe]);
    }
  }
}

TEST(AntichainTest, MutableAntichainReportsNothingForChangesBeyondFrontier) {
  MutableAntichain<uint64_t> frontier(4);
  EXPECT_TRUE(frontier.UpdateOne(9, 1).empty());
  EXPECT_TRUE(frontier.UpdateOne(4, 1).empty());
  EXPECT_TRUE(frontier.UpdateOne(4, -1).empty());
  const auto moved = frontier.UpdateOne(4, -1);
  EXPECT_EQ(Copy(moved), (IntChanges{{4, -1}, {9, 1}}));
  EXPECT_EQ(frontier.Frontier(), Antichain<uint64_t>(9));
  frontier.UpdateOne(9, -1);
  EXPECT_TRUE(frontier.IsEmpty());
}

}  // namespace
}  // namespace deltaflow::time
