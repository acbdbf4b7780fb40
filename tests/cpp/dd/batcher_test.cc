// MergeBatcher against a std::map oracle: random chunks of updates, seals at advancing
// uppers; every sealed batch must hold exactly the consolidated updates of its interval.
#include "deltaflow/dd/trace/batcher.h"

#include <cstdint>
#include <map>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "deltaflow/dd/trace/batch.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/product.h"
#include "deltaflow/value/row.h"
#include "gtest/gtest.h"
#include "testing/random_values.h"

namespace deltaflow::dd {
namespace {

using time::Antichain;
using value::Row;

template <typename K, typename V, typename T>
using Reference = std::map<std::tuple<K, V, T>, int64_t>;

// The batch read back through its cursor, as owned tuples.
template <typename K, typename V, typename T>
std::vector<std::tuple<K, V, T, int64_t>> Contents(const OrdBatch<K, V, T, int64_t>& batch) {
  std::vector<std::tuple<K, V, T, int64_t>> out;
  for (auto cursor = batch.Cursor(); cursor.KeyValid(); cursor.StepKey()) {
    for (; cursor.ValValid(); cursor.StepVal()) {
      cursor.MapTimes([&](const T& t, const int64_t& r) {
        out.emplace_back(Layout<K>::ToOwned(cursor.Key()), Layout<V>::ToOwned(cursor.Val()), t, r);
      });
    }
  }
  return out;
}

// Removes and returns the reference updates at times not beyond `upper`.
template <typename K, typename V, typename T>
std::vector<std::tuple<K, V, T, int64_t>> Extract(Reference<K, V, T>& reference,
                                                  const Antichain<T>& upper) {
  std::vector<std::tuple<K, V, T, int64_t>> out;
  for (auto it = reference.begin(); it != reference.end();) {
    const auto& [k, v, t] = it->first;
    if (!upper.LessEqual(t) && it->second != 0) out.emplace_back(k, v, t, it->second);
    if (!upper.LessEqual(t)) {
      it = reference.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

// Runs rounds of: a few random chunks at times in [round, round + 3), then a seal at
// `round + 1` (so some updates are held over). `make_key`/`make_val` draw data;
// `make_time` draws a time given the round and the batcher's lower bound (times must be
// beyond it).
template <typename K, typename V, typename T, typename MakeKey, typename MakeVal, typename MakeTime,
          typename MakeUpper>
void RunOracle(uint64_t seed, int rounds, std::size_t max_chunk, MakeKey make_key, MakeVal make_val,
               MakeTime make_time, MakeUpper make_upper) {
  std::mt19937_64 rng(seed);
  MergeBatcher<K, V, T, int64_t> batcher;
  Reference<K, V, T> reference;
  std::vector<std::tuple<K, V, T, int64_t>> chunk;
  for (int round = 0; round < rounds; ++round) {
    const int chunks = static_cast<int>(rng() % 4);
    for (int c = 0; c < chunks; ++c) {
      const std::size_t size = rng() % max_chunk;
      for (std::size_t i = 0; i < size; ++i) {
        K k = make_key(rng);
        V v = make_val(rng);
        T t = make_time(rng, round, batcher.Lower());
        const int64_t r = static_cast<int64_t>(rng() % 5) - 2;
        reference[{k, v, t}] += r;
        chunk.emplace_back(std::move(k), std::move(v), std::move(t), r);
      }
      batcher.Push(chunk);
      ASSERT_TRUE(chunk.empty());
    }
    const Antichain<T> upper = make_upper(round);
    const auto batch = batcher.Seal(upper);
    EXPECT_EQ(batch.Upper(), upper);
    const auto expected = Extract(reference, upper);
    const auto actual = Contents(batch);
    ASSERT_EQ(actual.size(), expected.size()) << "round " << round;
    EXPECT_TRUE(actual == expected) << "round " << round;
    EXPECT_EQ(batch.Len(), expected.size());
  }
}

TEST(MergeBatcher, OracleU64SmallKeyRange) {
  // Few distinct keys: long runs of equal keys after the radix sort, many cancellations.
  RunOracle<uint64_t, uint64_t, uint64_t>(
      1, 60, 2000, [](std::mt19937_64& rng) { return rng() % 50; },
      [](std::mt19937_64& rng) { return rng() % 4; },
      [](std::mt19937_64& rng, int round, const Antichain<uint64_t>&) {
        return uint64_t(round) + rng() % 3;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); });
}

TEST(MergeBatcher, OracleU64WideKeys) {
  // Keys over all 64 bits: every radix pass runs.
  RunOracle<uint64_t, uint64_t, uint64_t>(
      2, 30, 5000, [](std::mt19937_64& rng) { return rng() % 3 == 0 ? rng() % 1000 : rng(); },
      [](std::mt19937_64& rng) { return rng() % 2; },
      [](std::mt19937_64& rng, int round, const Antichain<uint64_t>&) {
        return uint64_t(round) + rng() % 3;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); });
}

TEST(MergeBatcher, OracleU64LargeBacklog) {
  // Chunks big enough that the backlog is consolidated before a seal, then merged.
  RunOracle<uint64_t, uint64_t, uint64_t>(
      3, 6, 90000, [](std::mt19937_64& rng) { return rng() % 20000; },
      [](std::mt19937_64& rng) { return rng() % 2; },
      [](std::mt19937_64& rng, int round, const Antichain<uint64_t>&) {
        return uint64_t(round) + rng() % 3;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); });
}

TEST(MergeBatcher, OracleU32Keys) {
  RunOracle<uint32_t, uint64_t, uint64_t>(
      4, 20, 3000, [](std::mt19937_64& rng) { return static_cast<uint32_t>(rng() % 100000); },
      [](std::mt19937_64& rng) { return rng() % 3; },
      [](std::mt19937_64& rng, int round, const Antichain<uint64_t>&) {
        return uint64_t(round) + rng() % 3;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); });
}

TEST(MergeBatcher, OracleRowKeys) {
  RunOracle<Row, Row, uint64_t>(
      5, 25, 600, [](std::mt19937_64& rng) { return testing::RandomRow(rng, 1, 1); },
      [](std::mt19937_64& rng) { return testing::RandomRow(rng, 1, 0); },
      [](std::mt19937_64& rng, int round, const Antichain<uint64_t>&) {
        return uint64_t(round) + rng() % 3;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); });
}

TEST(MergeBatcher, OracleProductTimes) {
  // Partially ordered times; uppers are two-element antichains, so updates at incomparable
  // times are split between batches.
  using P = time::Product<uint64_t, uint32_t>;
  RunOracle<uint64_t, uint64_t, P>(
      6, 30, 1500, [](std::mt19937_64& rng) { return rng() % 300; },
      [](std::mt19937_64& rng) { return rng() % 2; },
      [](std::mt19937_64& rng, int round, const Antichain<P>& lower) {
        // Beyond some element of the lower bound, as every pushed update must be.
        const P& base = lower.Elements()[rng() % lower.Size()];
        return time::Join(base,
                          P(uint64_t(round) + rng() % 3, static_cast<uint32_t>(round + rng() % 4)));
      },
      [](int round) {
        return Antichain<P>{P(uint64_t(round) + 2, static_cast<uint32_t>(round)),
                            P(uint64_t(round), static_cast<uint32_t>(round) + 2)};
      });
}

TEST(MergeBatcher, SealEmptyAndCloses) {
  MergeBatcher<uint64_t, uint64_t, uint64_t, int64_t> batcher;
  auto empty = batcher.Seal(Antichain<uint64_t>(uint64_t{3}));
  EXPECT_EQ(empty.Len(), 0u);
  EXPECT_EQ(empty.Lower(), Antichain<uint64_t>(uint64_t{0}));
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t, int64_t>> chunk = {{1, 1, 7, 1}};
  batcher.Push(chunk);
  EXPECT_EQ(batcher.Len(), 1u);
  auto none = batcher.Seal(Antichain<uint64_t>(uint64_t{5}));
  EXPECT_EQ(none.Len(), 0u);
  EXPECT_EQ(batcher.Frontier(), Antichain<uint64_t>(uint64_t{7}));
  auto last = batcher.Seal(Antichain<uint64_t>());
  EXPECT_EQ(last.Len(), 1u);
  EXPECT_EQ(batcher.Len(), 0u);
}

}  // namespace
}  // namespace deltaflow::dd
