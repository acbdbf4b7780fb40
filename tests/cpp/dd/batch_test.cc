// OrdBatch, its Builder and its cursor: structure, navigation and consolidation, on u64
// and Row keys.
#include "deltaflow/dd/trace/batch.h"

#include <cstdint>
#include <map>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "deltaflow/dd/trace/advance.h"
#include "deltaflow/dd/trace/batcher.h"
#include "deltaflow/dd/trace/description.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/product.h"
#include "deltaflow/value/row.h"
#include "gtest/gtest.h"

namespace deltaflow::dd {
namespace {

using time::Antichain;
using value::Row;
using value::RowBuilder;

using U64Batch = OrdBatch<uint64_t, uint64_t, uint64_t, int64_t>;
using RowBatch = OrdBatch<Row, Row, uint64_t, int64_t>;
using Updates = std::vector<std::tuple<uint64_t, uint64_t, uint64_t, int64_t>>;

Description<uint64_t> Interval(uint64_t lower, uint64_t upper) {
  return Description<uint64_t>(Antichain<uint64_t>(lower), Antichain<uint64_t>(upper),
                               Antichain<uint64_t>(uint64_t{0}));
}

Row IntRow(int64_t a) {
  RowBuilder builder;
  builder.Int(a);
  return builder.Finish();
}
Row StringRow(std::string_view s) {
  RowBuilder builder;
  builder.String(s);
  return builder.Finish();
}

// Reads a batch back through its cursor as (key, val, time, diff) tuples.
Updates Contents(const U64Batch& batch) {
  Updates out;
  for (auto cursor = batch.Cursor(); cursor.KeyValid(); cursor.StepKey()) {
    for (; cursor.ValValid(); cursor.StepVal()) {
      cursor.MapTimes([&](const uint64_t& t, const int64_t& r) {
        out.emplace_back(cursor.Key(), cursor.Val(), t, r);
      });
    }
  }
  return out;
}

U64Batch Build(const Updates& sorted, Description<uint64_t> description) {
  U64Batch::Builder builder;
  for (const auto& [k, v, t, r] : sorted) builder.Push(k, v, t, r);
  return builder.Done(std::move(description));
}

TEST(OrdBatch, EmptyBatch) {
  U64Batch batch = Build({}, Interval(0, 5));
  EXPECT_EQ(batch.Len(), 0u);
  EXPECT_TRUE(batch.IsEmpty());
  EXPECT_EQ(batch.Upper(), Antichain<uint64_t>(uint64_t{5}));
  auto cursor = batch.Cursor();
  EXPECT_FALSE(cursor.KeyValid());
  EXPECT_FALSE(cursor.ValValid());
  cursor.SeekKey(3);
  EXPECT_FALSE(cursor.KeyValid());
}

TEST(OrdBatch, StructureAndCounts) {
  const Updates updates = {{1, 10, 0, 1}, {1, 10, 2, -1}, {1, 11, 0, 2},
                           {3, 5, 1, 1},  {7, 1, 0, 1},   {7, 2, 0, 1}};
  U64Batch batch = Build(updates, Interval(0, 3));
  EXPECT_EQ(batch.Len(), 6u);
  EXPECT_EQ(batch.KeyCount(), 3u);
  EXPECT_EQ(batch.ValCount(), 5u);
  EXPECT_EQ(Contents(batch), updates);
  EXPECT_GT(batch.ByteSize(), 6 * (3 * sizeof(uint64_t)));
}

TEST(OrdBatch, BuilderConsolidates) {
  // Adjacent equal (key, val, time) are summed; zero sums vanish, and so do vals and keys
  // left without updates.
  const Updates updates = {{1, 10, 0, 1}, {1, 10, 0, -1}, {1, 11, 0, 2}, {1, 11, 0, 3},
                           {2, 1, 0, 1},  {2, 1, 0, -1},  {3, 1, 0, 1},  {3, 1, 1, 1},
                           {3, 1, 1, -1}, {3, 2, 4, 5},   {3, 2, 4, -5}};
  U64Batch batch = Build(updates, Interval(0, 5));
  EXPECT_EQ(Contents(batch), (Updates{{1, 11, 0, 5}, {3, 1, 0, 1}}));
  EXPECT_EQ(batch.KeyCount(), 2u);
  EXPECT_EQ(batch.ValCount(), 2u);
}

TEST(OrdBatch, SeekKeyGallops) {
  Updates updates;
  for (uint64_t k = 0; k < 1000; ++k) updates.emplace_back(3 * k, k % 7, k % 3, 1);
  U64Batch batch = Build(updates, Interval(0, 3));
  auto cursor = batch.Cursor();
  cursor.SeekKey(0);
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 0u);
  cursor.SeekKey(301);  // between keys: lands on the next one
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 303u);
  cursor.SeekKey(303);
  EXPECT_EQ(cursor.Key(), 303u);
  cursor.SeekKey(100);  // seeks never move backwards
  EXPECT_EQ(cursor.Key(), 303u);
  cursor.SeekKey(2997);
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 2997u);
  ASSERT_TRUE(cursor.ValValid());
  EXPECT_EQ(cursor.Val(), 999u % 7);
  cursor.SeekKey(2998);
  EXPECT_FALSE(cursor.KeyValid());
  cursor.RewindKeys();
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 0u);

  // Random seeks in increasing order agree with lower_bound.
  std::mt19937_64 rng(7);
  std::vector<uint64_t> targets;
  for (int i = 0; i < 200; ++i) targets.push_back(rng() % 3100);
  std::sort(targets.begin(), targets.end());
  cursor.RewindKeys();
  for (uint64_t target : targets) {
    cursor.SeekKey(target);
    const uint64_t expected = (target + 2) / 3 * 3;
    if (expected >= 3000) {
      EXPECT_FALSE(cursor.KeyValid());
    } else {
      ASSERT_TRUE(cursor.KeyValid());
      EXPECT_EQ(cursor.Key(), expected);
    }
  }
}

TEST(OrdBatch, ValNavigationAndMapTimes) {
  Updates updates;
  for (uint64_t v = 0; v < 50; ++v) {
    updates.emplace_back(5, 2 * v, 1, 1);
    updates.emplace_back(5, 2 * v, 3, -2);
  }
  updates.emplace_back(6, 0, 0, 1);
  U64Batch batch = Build(updates, Interval(0, 4));
  auto cursor = batch.Cursor();
  cursor.SeekKey(5);
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.ValsOfKey(), 50u);
  cursor.SeekVal(37);
  ASSERT_TRUE(cursor.ValValid());
  EXPECT_EQ(cursor.Val(), 38u);
  std::vector<std::pair<uint64_t, int64_t>> times;
  cursor.MapTimes([&](const uint64_t& t, const int64_t& r) { times.emplace_back(t, r); });
  EXPECT_EQ(times, (std::vector<std::pair<uint64_t, int64_t>>{{1, 1}, {3, -2}}));
  EXPECT_EQ(cursor.Times().size(), 2u);
  EXPECT_EQ(cursor.Diffs()[1], -2);
  cursor.StepVal();
  EXPECT_EQ(cursor.Val(), 40u);
  cursor.SeekVal(1000);  // past the last val of this key: vals exhausted, key still valid
  EXPECT_FALSE(cursor.ValValid());
  EXPECT_TRUE(cursor.KeyValid());
  cursor.RewindVals();
  ASSERT_TRUE(cursor.ValValid());
  EXPECT_EQ(cursor.Val(), 0u);
  cursor.StepKey();
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 6u);
  EXPECT_EQ(cursor.ValsOfKey(), 1u);
  cursor.StepKey();
  EXPECT_FALSE(cursor.KeyValid());
}

TEST(OrdBatch, RowKeysAndVals) {
  // Rows order by value (CompareRows), not by bytes: ints before strings, -5 before 3.
  std::vector<std::tuple<Row, Row, uint64_t, int64_t>> updates = {
      {IntRow(-5), StringRow("a"), 0, 1}, {IntRow(-5), StringRow("b"), 0, 1},
      {IntRow(3), StringRow("x"), 1, 2},  {IntRow(3), StringRow("x"), 1, -2},
      {IntRow(3), StringRow("y"), 0, 1},  {StringRow("k"), IntRow(1), 2, 4}};
  RowBatch::Builder builder;
  for (const auto& [k, v, t, r] : updates) builder.Push(k, v, t, r);
  RowBatch batch = builder.Done(Interval(0, 3));
  EXPECT_EQ(batch.Len(), 4u);
  EXPECT_EQ(batch.KeyCount(), 3u);

  auto cursor = batch.Cursor();
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(Row(cursor.Key()), IntRow(-5));
  cursor.SeekKey(IntRow(0));
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(Row(cursor.Key()), IntRow(3));
  ASSERT_TRUE(cursor.ValValid());
  EXPECT_EQ(Row(cursor.Val()), StringRow("y"));  // "x" cancelled
  cursor.SeekKey(StringRow("a"));
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(Row(cursor.Key()), StringRow("k"));
  cursor.SeekVal(IntRow(1));
  ASSERT_TRUE(cursor.ValValid());
  int64_t diff = 0;
  cursor.MapTimes([&](const uint64_t&, const int64_t& r) { diff += r; });
  EXPECT_EQ(diff, 4);
  cursor.SeekKey(StringRow("z"));
  EXPECT_FALSE(cursor.KeyValid());
}

TEST(OrdBatch, BatcherConsolidatesChunks) {
  MergeBatcher<uint64_t, uint64_t, uint64_t, int64_t> batcher;
  Updates chunk = {{4, 1, 0, 1}, {2, 1, 0, 1}, {4, 1, 0, -1}, {2, 1, 1, 3}, {9, 9, 5, 1}};
  batcher.Push(chunk);
  EXPECT_TRUE(chunk.empty());
  Updates chunk2 = {{2, 1, 1, -3}, {2, 0, 0, 2}};
  batcher.Push(chunk2);
  U64Batch batch = batcher.Seal(Antichain<uint64_t>(uint64_t{2}));
  EXPECT_EQ(Contents(batch), (Updates{{2, 0, 0, 2}, {2, 1, 0, 1}}));
  EXPECT_EQ(batch.GetDescription(), Interval(0, 2));
  EXPECT_EQ(batcher.Lower(), Antichain<uint64_t>(uint64_t{2}));
  EXPECT_EQ(batcher.Frontier(), Antichain<uint64_t>(uint64_t{5}));
  U64Batch rest = batcher.Seal(Antichain<uint64_t>());
  EXPECT_EQ(Contents(rest), (Updates{{9, 9, 5, 1}}));
  EXPECT_TRUE(rest.Upper().IsEmpty());
}

TEST(OrdBatch, AdvanceByFrontier) {
  EXPECT_EQ(AdvancedBy<uint64_t>(3, Antichain<uint64_t>(uint64_t{5})), 5u);
  EXPECT_EQ(AdvancedBy<uint64_t>(7, Antichain<uint64_t>(uint64_t{5})), 7u);
  EXPECT_EQ(AdvancedBy<uint64_t>(7, Antichain<uint64_t>()), 7u);
  using P = time::Product<uint64_t, uint32_t>;
  // Frontier {(2,0), (0,3)}: (1,1) joins to (2,1) and (1,3); their meet is (1,1).
  const Antichain<P> frontier = {P(2, 0), P(0, 3)};
  EXPECT_EQ(AdvancedBy(P(1, 1), frontier), P(1, 1));
  EXPECT_EQ(AdvancedBy(P(0, 0), frontier), P(0, 0));
  const Antichain<P> single = {P(2, 0)};
  EXPECT_EQ(AdvancedBy(P(1, 0), single), P(2, 0));
  // The defining property: for every t beyond the frontier, old <= t iff new <= t.
  for (uint64_t a = 0; a < 4; ++a) {
    for (uint32_t b = 0; b < 5; ++b) {
      const P advanced = AdvancedBy(P(a, b), frontier);
      for (uint64_t x = 0; x < 5; ++x) {
        for (uint32_t y = 0; y < 6; ++y) {
          const P t(x, y);
          if (!frontier.LessEqual(t)) continue;
          EXPECT_EQ(time::LessEqual(P(a, b), t), time::LessEqual(advanced, t));
        }
      }
    }
  }
}

}  // namespace
}  // namespace deltaflow::dd
