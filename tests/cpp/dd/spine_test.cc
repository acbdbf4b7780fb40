// Spine against an oracle: random batches are inserted while readers advance their
// compaction frontiers; at every step the spine's accumulation at sampled times beyond its
// compaction frontier must equal the accumulation of every update ever inserted, and
// compaction must make history collapse.
#include "deltaflow/dd/trace/spine.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "deltaflow/dd/trace/batch.h"
#include "deltaflow/dd/trace/batcher.h"
#include "deltaflow/dd/trace/trace.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/product.h"
#include "deltaflow/value/row.h"
#include "gtest/gtest.h"
#include "testing/random_values.h"

namespace deltaflow::dd {
namespace {

using time::Antichain;
using value::Row;
using P = time::Product<uint64_t, uint32_t>;

using U64Spine = Spine<uint64_t, uint64_t, uint64_t, int64_t>;
static_assert(Trace<U64Spine>);
static_assert(TraceReader<TraceHandle<U64Spine>>);
static_assert(!Trace<TraceHandle<U64Spine>>);
static_assert(TraceCursor<U64Spine::CursorType>);
static_assert(TraceCursor<OrdBatch<Row, Row, P, int64_t>::BatchCursor>);
static_assert(Trace<Spine<Row, Row, P, int64_t>>);

// Accumulates, per (key, val), the diffs of updates at times <= `t` read through `cursor`.
template <typename K, typename V, typename T, typename C>
std::map<std::pair<K, V>, int64_t> AccumulateCursor(C cursor, const T& t) {
  std::map<std::pair<K, V>, int64_t> out;
  for (; cursor.KeyValid(); cursor.StepKey()) {
    for (; cursor.ValValid(); cursor.StepVal()) {
      int64_t sum = 0;
      cursor.MapTimes([&](const T& time, const int64_t& r) {
        if (time::LessEqual(time, t)) sum += r;
      });
      if (sum != 0) {
        out[{Layout<K>::ToOwned(cursor.Key()), Layout<V>::ToOwned(cursor.Val())}] = sum;
      }
    }
  }
  return out;
}

template <typename K, typename V, typename T>
std::map<std::pair<K, V>, int64_t> AccumulateReference(
    const std::map<std::tuple<K, V, T>, int64_t>& reference, const T& t) {
  std::map<std::pair<K, V>, int64_t> out;
  for (const auto& [kvt, r] : reference) {
    if (time::LessEqual(std::get<2>(kvt), t)) out[{std::get<0>(kvt), std::get<1>(kvt)}] += r;
  }
  std::erase_if(out, [](const auto& entry) { return entry.second == 0; });
  return out;
}

// Merges everything mergeable, completing every merge.
template <typename S>
void CompactFully(S& spine) {
  for (int i = 0; i < 8; ++i) spine.Exert(int64_t{1} << 40);
}

// Checks that the batches tile time: each lower is the previous upper.
template <typename S>
void ExpectContiguous(const S& spine) {
  std::optional<Antichain<typename S::TimeType>> previous;
  spine.MapBatches([&](const typename S::BatchType& batch) {
    if (previous.has_value()) {
      EXPECT_EQ(batch.Lower(), *previous);
    }
    previous = batch.Upper();
  });
  if (previous.has_value()) {
    EXPECT_EQ(*previous, spine.Upper());
  }
}

// The oracle loop. Each round: random updates at times beyond the batcher's lower bound,
// sealed at `make_upper(round)` and inserted; readers advance (logical and physical
// together) to random frontiers; then the spine is checked at sampled times beyond its
// compaction frontier. Returns the spine's Len() after the final full compaction.
template <typename K, typename V, typename T, typename MakeKey, typename MakeVal, typename MakeTime,
          typename MakeUpper, typename MakeFrontier>
void RunOracle(uint64_t seed, int rounds, MakeKey make_key, MakeVal make_val, MakeTime make_time,
               MakeUpper make_upper, MakeFrontier make_frontier) {
  using SpineT = Spine<K, V, T, int64_t>;
  std::mt19937_64 rng(seed);
  auto spine = std::make_shared<SpineT>();
  std::vector<std::optional<TraceHandle<SpineT>>> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(TraceHandle<SpineT>(spine));
  MergeBatcher<K, V, T, int64_t> batcher;
  std::map<std::tuple<K, V, T>, int64_t> reference;
  std::vector<std::tuple<K, V, T, int64_t>> chunk;
  std::size_t max_len = 0;
  std::size_t checked = 0;

  for (int round = 0; round < rounds; ++round) {
    const std::size_t size = rng() % 40;
    for (std::size_t i = 0; i < size; ++i) {
      K k = make_key(rng);
      V v = make_val(rng);
      T t = make_time(rng, batcher.Lower());
      // Mostly insertions, with retractions of recent insertions so things cancel.
      const int64_t r = rng() % 3 == 0 ? -1 : 1;
      reference[{k, v, t}] += r;
      chunk.emplace_back(std::move(k), std::move(v), std::move(t), r);
    }
    batcher.Push(chunk);
    spine->Insert(
        std::make_shared<const typename SpineT::BatchType>(batcher.Seal(make_upper(round))));
    max_len = std::max(max_len, spine->Len());

    // Readers move on, independently, lagging behind the upper; one sometimes leaves and
    // is replaced by a copy of another (which starts at the other's frontiers).
    for (auto& reader : readers) {
      if (rng() % 3 != 0) continue;
      const Antichain<T> next =
          time::JoinOf(reader->GetLogicalCompaction(), make_frontier(rng, round));
      reader->SetLogicalCompaction(next);
      reader->SetPhysicalCompaction(next);
    }
    if (rng() % 10 == 0) {
      const std::size_t leaving = rng() % readers.size();
      readers[leaving].reset();
      readers[leaving].emplace(*readers[(leaving + 1) % readers.size()]);
    }
    if (rng() % 4 == 0) spine->Exert(static_cast<int64_t>(rng() % 200));

    // The trace's frontier is the meet of the readers'.
    Antichain<T> meet;
    for (const auto& reader : readers) meet = time::MeetOf(meet, reader->GetLogicalCompaction());
    ASSERT_EQ(spine->GetLogicalCompaction(), meet) << "round " << round;
    ExpectContiguous(*spine);

    // Sample times beyond the compaction frontier and before the upper (later times would
    // see updates the batcher still holds).
    for (int sample = 0; sample < 24; ++sample) {
      const auto& elements = meet.Elements();
      const T t = time::Join(elements[rng() % elements.size()],
                             make_time(rng, Antichain<T>(time::Minimum<T>())));
      ASSERT_TRUE(meet.LessEqual(t));
      if (spine->Upper().LessEqual(t)) continue;
      ++checked;
      ASSERT_EQ((AccumulateCursor<K, V>(spine->Cursor(), t)), AccumulateReference(reference, t))
          << "round " << round << " time " << t;
      // Readers see the same through their handles.
      ASSERT_EQ((AccumulateCursor<K, V>(readers[0]->Cursor(), t)),
                AccumulateReference(reference, t));
    }
  }

  EXPECT_GT(checked, static_cast<std::size_t>(rounds));
  // Merging kept the number of batches far below the number inserted.
  EXPECT_LT(spine->BatchCount(), static_cast<std::size_t>(rounds) / 4);

  // Seal what the batcher still holds, so the spine has every update of the reference.
  spine->Insert(
      std::make_shared<const typename SpineT::BatchType>(batcher.Seal(make_upper(rounds + 4))));
  ASSERT_EQ(batcher.Len(), 0u);

  // Every reader moves past every time: after full compaction history has collapsed to at
  // most a handful of updates per (key, val).
  const std::size_t before = spine->Len();
  for (auto& reader : readers) {
    const Antichain<T> all = time::JoinOf(reader->GetLogicalCompaction(), spine->Upper());
    reader->SetLogicalCompaction(all);
    reader->SetPhysicalCompaction(all);
  }
  CompactFully(*spine);
  EXPECT_LE(spine->BatchCount(), 1u);
  std::size_t live_pairs = 0;
  {
    std::map<std::pair<K, V>, bool> seen;
    for (const auto& [kvt, r] : reference) seen[{std::get<0>(kvt), std::get<1>(kvt)}] = true;
    live_pairs = seen.size();
  }
  EXPECT_LT(spine->Len(), before);
  EXPECT_LE(spine->Len(), live_pairs * spine->Upper().Size());
  EXPECT_LT(spine->Len(), max_len);
  for (const T& t : spine->Upper()) {
    EXPECT_EQ((AccumulateCursor<K, V>(spine->Cursor(), t)), AccumulateReference(reference, t));
  }

  // With every reader gone nothing can be read: the spine lets go of everything.
  readers.clear();
  EXPECT_TRUE(spine->GetLogicalCompaction().IsEmpty());
  EXPECT_EQ(spine->Len(), 0u);
  spine->Insert(std::make_shared<const typename SpineT::BatchType>(batcher.Seal(Antichain<T>())));
  EXPECT_EQ(spine->Len(), 0u);
  EXPECT_TRUE(spine->Upper().IsEmpty());
}

TEST(Spine, OracleU64) {
  RunOracle<uint64_t, uint64_t, uint64_t>(
      11, 150, [](std::mt19937_64& rng) { return rng() % 40; },
      [](std::mt19937_64& rng) { return rng() % 3; },
      [](std::mt19937_64& rng, const Antichain<uint64_t>& lower) {
        return lower.Single() + rng() % 4;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); },
      [](std::mt19937_64& rng, int round) {
        return Antichain<uint64_t>(round > 5 ? uint64_t(round) - rng() % 6 : 0);
      });
}

TEST(Spine, OracleU64ManyKeys) {
  // Wider key range: larger batches and deeper levels.
  RunOracle<uint64_t, uint64_t, uint64_t>(
      12, 120, [](std::mt19937_64& rng) { return rng() % 5000; },
      [](std::mt19937_64& rng) { return rng() % 2; },
      [](std::mt19937_64& rng, const Antichain<uint64_t>& lower) {
        return lower.Single() + rng() % 2;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); },
      [](std::mt19937_64& rng, int round) {
        return Antichain<uint64_t>(round > 3 ? uint64_t(round) - rng() % 4 : 0);
      });
}

TEST(Spine, OracleRowKeys) {
  RunOracle<Row, Row, uint64_t>(
      13, 80, [](std::mt19937_64& rng) { return testing::RandomRow(rng, 1, 0); },
      [](std::mt19937_64& rng) { return testing::RandomRow(rng, 1, 0); },
      [](std::mt19937_64& rng, const Antichain<uint64_t>& lower) {
        return lower.Single() + rng() % 3;
      },
      [](int round) { return Antichain<uint64_t>(uint64_t(round) + 1); },
      [](std::mt19937_64& rng, int round) {
        return Antichain<uint64_t>(round > 4 ? uint64_t(round) - rng() % 5 : 0);
      });
}

TEST(Spine, OracleProductTimes) {
  // Partially ordered times: uppers and reader frontiers are antichains of incomparable
  // times, and advancing a time takes the meet of its joins with each frontier element.
  RunOracle<uint64_t, uint64_t, P>(
      14, 100, [](std::mt19937_64& rng) { return rng() % 30; },
      [](std::mt19937_64& rng) { return rng() % 2; },
      [](std::mt19937_64& rng, const Antichain<P>& lower) {
        const P& base = lower.Elements()[rng() % lower.Size()];
        return time::Join(base, P(rng() % 3, static_cast<uint32_t>(rng() % 4)));
      },
      [](int round) {
        const uint64_t r = static_cast<uint64_t>(round);
        return Antichain<P>{P(r + 2, static_cast<uint32_t>(r)), P(r, static_cast<uint32_t>(r + 2))};
      },
      [](std::mt19937_64& rng, int round) {
        const uint64_t lag = rng() % 4;
        const uint64_t r = round > 4 ? static_cast<uint64_t>(round) - lag : 0;
        if (rng() % 2 == 0) return Antichain<P>(P(r, static_cast<uint32_t>(r)));
        return Antichain<P>{P(r + 1, static_cast<uint32_t>(r)), P(r, static_cast<uint32_t>(r + 1))};
      });
}

using U64Batch = U64Spine::BatchType;

std::shared_ptr<const U64Batch> MakeBatch(
    uint64_t lower, uint64_t upper,
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t, int64_t>> updates) {
  std::sort(updates.begin(), updates.end());
  U64Batch::Builder builder;
  for (const auto& [k, v, t, r] : updates) builder.Push(k, v, t, r);
  return std::make_shared<const U64Batch>(builder.Done(Description<uint64_t>(
      Antichain<uint64_t>(lower), Antichain<uint64_t>(upper), Antichain<uint64_t>(uint64_t{0}))));
}

TEST(Spine, InsertThenRetractCollapses) {
  U64Spine spine;
  spine.Insert(MakeBatch(0, 2, {{7, 1, 0, 1}, {8, 1, 1, 1}}));
  spine.Insert(MakeBatch(2, 4, {{7, 1, 2, -1}}));
  spine.SetPhysicalCompaction(Antichain<uint64_t>(uint64_t{4}));
  CompactFully(spine);
  EXPECT_EQ(spine.Len(), 3u);  // not compacted logically: all history kept
  spine.SetLogicalCompaction(Antichain<uint64_t>(uint64_t{4}));
  spine.Insert(MakeBatch(4, 6, {}));
  spine.SetPhysicalCompaction(Antichain<uint64_t>(uint64_t{6}));
  CompactFully(spine);
  // Key 7 was inserted and retracted before the frontier: it is gone. Key 8 remains, its
  // time advanced to the frontier.
  EXPECT_EQ(spine.Len(), 1u);
  auto cursor = spine.Cursor();
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 8u);
  cursor.MapTimes([](const uint64_t& t, const int64_t& r) {
    EXPECT_EQ(t, 4u);
    EXPECT_EQ(r, 1);
  });
  cursor.StepKey();
  EXPECT_FALSE(cursor.KeyValid());
}

TEST(Spine, ReadersDriveCompaction) {
  auto spine = std::make_shared<U64Spine>();
  TraceHandle<U64Spine> fast(spine);
  std::optional<TraceHandle<U64Spine>> slow(std::in_place, spine);
  spine->Insert(MakeBatch(0, 2, {{1, 1, 0, 1}}));
  spine->Insert(MakeBatch(2, 4, {{1, 1, 2, -1}}));
  fast.SetLogicalCompaction(Antichain<uint64_t>(uint64_t{4}));
  fast.SetPhysicalCompaction(Antichain<uint64_t>(uint64_t{4}));
  // The slow reader still needs time 0: nothing may be advanced or merged.
  EXPECT_EQ(spine->GetLogicalCompaction(), Antichain<uint64_t>(uint64_t{0}));
  CompactFully(*spine);
  EXPECT_EQ(spine->Len(), 2u);
  EXPECT_EQ(spine->BatchCount(), 2u);
  // A copy of the fast reader is registered at the fast reader's frontiers.
  TraceHandle<U64Spine> copy = fast;
  EXPECT_EQ(copy.GetLogicalCompaction(), Antichain<uint64_t>(uint64_t{4}));
  slow.reset();  // dropping the slow reader releases the history
  EXPECT_EQ(spine->GetLogicalCompaction(), Antichain<uint64_t>(uint64_t{4}));
  EXPECT_EQ(spine->GetPhysicalCompaction(), Antichain<uint64_t>(uint64_t{4}));
  CompactFully(*spine);
  EXPECT_EQ(spine->Len(), 0u);
  // Moving a handle transfers its registration.
  TraceHandle<U64Spine> moved = std::move(copy);
  EXPECT_EQ(moved.GetLogicalCompaction(), Antichain<uint64_t>(uint64_t{4}));
  spine->Insert(MakeBatch(4, 6, {{2, 2, 5, 1}}));
  EXPECT_EQ(moved.Len(), 1u);
}

TEST(Spine, CursorThroughRespectsPhysicalFrontier) {
  U64Spine spine;
  spine.Insert(MakeBatch(0, 1, {{1, 1, 0, 1}}));
  spine.Insert(MakeBatch(1, 2, {{2, 1, 1, 1}}));
  spine.Insert(MakeBatch(2, 3, {{3, 1, 2, 1}}));
  spine.SetPhysicalCompaction(Antichain<uint64_t>(uint64_t{1}));
  CompactFully(spine);
  // Batches [1, 2) and [2, 3) are beyond the physical frontier and stay distinct.
  auto through = spine.CursorThrough(Antichain<uint64_t>(uint64_t{2}));
  ASSERT_TRUE(through.has_value());
  std::vector<uint64_t> keys;
  for (; through->KeyValid(); through->StepKey()) keys.push_back(through->Key());
  EXPECT_EQ(keys, (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(spine.CursorThrough(Antichain<uint64_t>(uint64_t{4})).has_value());
  spine.SetPhysicalCompaction(Antichain<uint64_t>(uint64_t{3}));
  CompactFully(spine);
  EXPECT_EQ(spine.BatchCount(), 1u);
  EXPECT_FALSE(spine.CursorThrough(Antichain<uint64_t>(uint64_t{2})).has_value());
  EXPECT_TRUE(spine.CursorThrough(Antichain<uint64_t>(uint64_t{3})).has_value());
}

TEST(Spine, CursorListMergesBatches) {
  U64Spine spine;
  spine.Insert(MakeBatch(0, 1, {{1, 1, 0, 1}, {5, 1, 0, 1}, {5, 3, 0, 1}}));
  spine.Insert(MakeBatch(1, 2, {{2, 1, 1, 1}, {5, 1, 1, 1}, {5, 2, 1, 1}}));
  spine.Insert(MakeBatch(2, 3, {{5, 1, 2, 1}, {9, 0, 2, 1}}));
  EXPECT_EQ(spine.BatchCount(), 3u);  // physical frontier at 0: nothing merged
  auto cursor = spine.Cursor();
  std::vector<std::tuple<uint64_t, uint64_t, int64_t>> seen;
  for (; cursor.KeyValid(); cursor.StepKey()) {
    for (; cursor.ValValid(); cursor.StepVal()) {
      int64_t sum = 0;
      cursor.MapTimes([&](const uint64_t&, const int64_t& r) { sum += r; });
      seen.emplace_back(cursor.Key(), cursor.Val(), sum);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::tuple<uint64_t, uint64_t, int64_t>>{
                      {1, 1, 1}, {2, 1, 1}, {5, 1, 3}, {5, 2, 1}, {5, 3, 1}, {9, 0, 1}}));
  cursor.RewindKeys();
  cursor.SeekKey(5);
  ASSERT_TRUE(cursor.KeyValid());
  cursor.SeekVal(2);
  ASSERT_TRUE(cursor.ValValid());
  EXPECT_EQ(cursor.Val(), 2u);
  cursor.StepVal();
  EXPECT_EQ(cursor.Val(), 3u);
  cursor.RewindVals();
  EXPECT_EQ(cursor.Val(), 1u);
  cursor.SeekKey(6);
  EXPECT_EQ(cursor.Key(), 9u);
  // A cursor keeps its batches alive and unchanged after the spine moves on.
  spine.SetPhysicalCompaction(Antichain<uint64_t>(uint64_t{3}));
  spine.SetLogicalCompaction(Antichain<uint64_t>(uint64_t{3}));
  CompactFully(spine);
  EXPECT_EQ(spine.BatchCount(), 1u);
  cursor.RewindKeys();
  EXPECT_EQ(cursor.Key(), 1u);
  EXPECT_GT(spine.ByteSize(), 0u);
}

TEST(Spine, ManyBatchesStayLogarithmic) {
  // With the physical frontier keeping up, the number of batches stays O(log n).
  U64Spine spine;
  spine.SetPhysicalCompaction(Antichain<uint64_t>());
  std::mt19937_64 rng(3);
  for (uint64_t i = 0; i < 2000; ++i) {
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t, int64_t>> updates;
    std::map<uint64_t, bool> keys;
    for (int j = 0; j < 10; ++j) keys[rng() % 100000] = true;
    for (const auto& [k, unused] : keys) updates.emplace_back(k, 0, i, 1);
    spine.Insert(MakeBatch(i, i + 1, updates));
    EXPECT_LE(spine.BatchCount(), 2 * 16u) << i;
  }
  EXPECT_EQ(spine.Len(), 20000u);
}

}  // namespace
}  // namespace deltaflow::dd
