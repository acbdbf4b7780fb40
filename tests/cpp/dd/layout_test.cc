// Column layouts: offset lists (strided while they can be, stored after) and columns of empty
// types, read back against plain vectors of what was pushed.
#include "deltaflow/dd/trace/layout.h"

#include <cstdint>
#include <random>
#include <vector>

#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/trace/batch.h"
#include "gtest/gtest.h"

namespace deltaflow::dd {
namespace {

std::vector<uint64_t> Read(const OffsetList& list) {
  std::vector<uint64_t> out;
  for (std::size_t i = 0; i < list.Size(); ++i) out.push_back(list[i]);
  return out;
}

TEST(OffsetList, StridedOffsetsTakeNoMemory) {
  OffsetList list;
  list.Reserve(1001);
  for (uint64_t i = 0; i <= 1000; ++i) list.Push(3 * i);
  EXPECT_TRUE(list.IsStrided());
  EXPECT_EQ(list.ByteSize(), 0u);
  EXPECT_EQ(list.Size(), 1001u);
  EXPECT_EQ(list[0], 0u);
  EXPECT_EQ(list[517], 1551u);
  EXPECT_EQ(list.Back(), 3000u);
  list.PopBack();
  EXPECT_EQ(list.Back(), 2997u);
  list.Push(2999);  // off the stride: the offsets are written out, the new one after them
  EXPECT_FALSE(list.IsStrided());
  EXPECT_GE(list.ByteSize(), 1001 * sizeof(uint32_t));
  EXPECT_EQ(list.Size(), 1001u);
  EXPECT_EQ(list[999], 2997u);
  EXPECT_EQ(list.Back(), 2999u);
}

TEST(OffsetList, FirstOffsetNotZeroIsStored) {
  OffsetList list;
  list.Push(5);
  list.Push(10);
  EXPECT_FALSE(list.IsStrided());
  EXPECT_EQ(Read(list), (std::vector<uint64_t>{5, 10}));
}

TEST(OffsetList, StoredOffsetsPast32BitsStayExact) {
  // A stride whose multiples pass 2^32, broken late: the stored list switches to 64 bits.
  OffsetList list;
  const uint64_t stride = uint64_t{1} << 31;
  for (uint64_t i = 0; i < 4; ++i) list.Push(i * stride);
  EXPECT_TRUE(list.IsStrided());
  list.Push(3 * stride + 1);
  EXPECT_FALSE(list.IsStrided());
  EXPECT_EQ(Read(list), (std::vector<uint64_t>{0, stride, 2 * stride, 3 * stride, 3 * stride + 1}));
}

TEST(OffsetList, RandomPushesAndPopsMatchAVector) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    OffsetList list;
    std::vector<uint64_t> expected;
    const uint64_t stride = rng() % 4;
    const int length = static_cast<int>(rng() % 50);
    const int break_at = static_cast<int>(rng() % 60);  // past `length`: stays strided
    for (int i = 0; i < length; ++i) {
      uint64_t offset = expected.empty() ? 0 : expected.back() + stride;
      if (i == break_at) offset += 1 + rng() % 3;
      if (rng() % 8 == 0 && !expected.empty()) {
        list.PopBack();
        expected.pop_back();
        continue;
      }
      list.Push(offset);
      expected.push_back(offset);
      ASSERT_EQ(list.Size(), expected.size());
      ASSERT_EQ(list.Back(), expected.back());
    }
    ASSERT_EQ(Read(list), expected) << "round " << round;
  }
}

TEST(EmptyColumn, CountsElementsWithoutStoringThem) {
  ColumnFor<Unit> column;
  static_assert(std::is_same_v<ColumnFor<Unit>, EmptyColumn<Unit>>);
  column.Reserve(100);
  for (int i = 0; i < 100; ++i) column.Push(Unit{});
  column.PopBack();
  EXPECT_EQ(column.Size(), 99u);
  EXPECT_FALSE(column.Empty());
  EXPECT_EQ(column[42], Unit{});
  EXPECT_EQ(column.ByteSize(), 0u);
  column.Clear();
  EXPECT_TRUE(column.Empty());
}

TEST(EmptyColumn, BatchArrangedBySelfStoresKeysTimesAndDiffsOnly) {
  // One update per key, as a consolidated collection arranged by itself holds: no val bytes,
  // no offsets.
  using Batch = OrdBatch<uint64_t, Unit, uint64_t, int64_t>;
  Batch::Builder builder;
  builder.Reserve(1000, 1000, 1000);
  for (uint64_t k = 0; k < 1000; ++k) builder.Push(k * 2, Unit{}, 0, 1);
  Batch batch = builder.Done(Description<uint64_t>(time::Antichain<uint64_t>(uint64_t{0}),
                                                   time::Antichain<uint64_t>(uint64_t{1}),
                                                   time::Antichain<uint64_t>(uint64_t{0})));
  EXPECT_EQ(batch.KeyCount(), 1000u);
  EXPECT_LE(batch.ByteSize(), sizeof(Batch) + 1000 * (sizeof(uint64_t) * 2 + sizeof(int64_t)));
  auto cursor = batch.Cursor();
  cursor.SeekKey(1000);
  ASSERT_TRUE(cursor.KeyValid());
  EXPECT_EQ(cursor.Key(), 1000u);
  int64_t sum = 0;
  cursor.MapTimes([&](const uint64_t&, const int64_t& r) { sum += r; });
  EXPECT_EQ(sum, 1);
}

}  // namespace
}  // namespace deltaflow::dd
