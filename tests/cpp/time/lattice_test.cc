// Lattice laws for deltaflow's time types, checked exhaustively on small grids and on
// random samples with a fixed seed.
#include "deltaflow/time/lattice.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/hash/hash_testing.h"
#include "deltaflow/time/product.h"
#include "gtest/gtest.h"

namespace deltaflow::time {
namespace {

using Nested = Product<IterationTime, uint32_t>;

static_assert(Lattice<uint64_t>);
static_assert(Lattice<uint32_t>);
static_assert(Lattice<IterationTime>);
static_assert(Lattice<Nested>);
static_assert(TotalOrder<uint64_t>);
static_assert(TotalOrder<Timestamp>);
static_assert(!TotalOrder<IterationTime>);
static_assert(Minimum<IterationTime>() == IterationTime(0, 0));
static_assert(LessEqual(IterationTime(1, 2), IterationTime(1, 3)));
static_assert(!LessEqual(IterationTime(1, 3), IterationTime(2, 2)));

// Checks every lattice law on all pairs and triples of `times`.
template <typename T>
void ExpectLatticeLaws(const std::vector<T>& times) {
  for (const T& a : times) {
    EXPECT_TRUE(LessEqual(a, a)) << a;
    EXPECT_TRUE(LessEqual(Minimum<T>(), a)) << a;
    for (const T& b : times) {
      const bool ab = LessEqual(a, b);
      const bool ba = LessEqual(b, a);
      if (ab && ba) {
        EXPECT_EQ(a, b) << "antisymmetry";
      }
      // The sorting order extends the partial order.
      if (ab) {
        EXPECT_LE(a, b) << a << " " << b;
      }
      EXPECT_EQ(LessThan(a, b), ab && !(a == b));

      const T join = Join(a, b);
      const T meet = Meet(a, b);
      EXPECT_EQ(join, Join(b, a));
      EXPECT_EQ(meet, Meet(b, a));
      EXPECT_TRUE(LessEqual(a, join) && LessEqual(b, join)) << a << " " << b;
      EXPECT_TRUE(LessEqual(meet, a) && LessEqual(meet, b)) << a << " " << b;
      EXPECT_EQ(ab, join == b);
      EXPECT_EQ(ab, meet == a);
      for (const T& c : times) {
        if (ab && LessEqual(b, c)) {
          EXPECT_TRUE(LessEqual(a, c)) << "transitivity";
        }
        // Join is the least upper bound, meet the greatest lower bound.
        if (LessEqual(a, c) && LessEqual(b, c)) {
          EXPECT_TRUE(LessEqual(join, c));
        }
        if (LessEqual(c, a) && LessEqual(c, b)) {
          EXPECT_TRUE(LessEqual(c, meet));
        }
      }
    }
  }
}

TEST(LatticeTest, IntegerTimesObeyLatticeLawsExhaustively) {
  std::vector<uint64_t> wide;
  std::vector<uint32_t> narrow;
  for (uint32_t i = 0; i < 12; ++i) {
    wide.push_back(i);
    narrow.push_back(i);
  }
  wide.push_back(kMaxTimestamp);
  ExpectLatticeLaws(wide);
  ExpectLatticeLaws(narrow);
}

TEST(LatticeTest, ProductObeysLatticeLawsExhaustivelyOnGrid) {
  std::vector<IterationTime> grid;
  for (uint64_t outer = 0; outer < 4; ++outer) {
    for (uint32_t inner = 0; inner < 4; ++inner) grid.emplace_back(outer, inner);
  }
  ExpectLatticeLaws(grid);
}

TEST(LatticeTest, NestedProductObeysLatticeLawsOnRandomSample) {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<uint32_t> coordinate(0, 3);
  std::vector<Nested> sample;
  for (int i = 0; i < 40; ++i) {
    sample.emplace_back(IterationTime(coordinate(rng), coordinate(rng)), coordinate(rng));
  }
  ExpectLatticeLaws(sample);
}

TEST(LatticeTest, ProductOrderIsPartialWhileSortOrderIsLexicographic) {
  const IterationTime a(1, 5);
  const IterationTime b(2, 0);
  EXPECT_FALSE(LessEqual(a, b));
  EXPECT_FALSE(LessEqual(b, a));
  EXPECT_LT(a, b);  // Lexicographic: the outer coordinate decides.
  EXPECT_EQ(Join(a, b), IterationTime(2, 5));
  EXPECT_EQ(Meet(a, b), IterationTime(1, 0));

  std::vector<IterationTime> times = {{2, 0}, {1, 5}, {1, 0}, {0, 9}};
  std::sort(times.begin(), times.end());
  EXPECT_EQ(times, (std::vector<IterationTime>{{0, 9}, {1, 0}, {1, 5}, {2, 0}}));
}

TEST(LatticeTest, ProductHashIsConsistentWithEquality) {
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      IterationTime(0, 0),
      IterationTime(0, 1),
      IterationTime(1, 0),
      IterationTime(kMaxTimestamp, 7),
  }));
}

TEST(LatticeTest, TimestampSeparatesCommitsFromRetractions) {
  EXPECT_TRUE(IsOriginal(0));
  EXPECT_TRUE(IsOriginal(1000));
  EXPECT_FALSE(IsOriginal(1001));
  EXPECT_TRUE(IsRetraction(1001));
  EXPECT_EQ(RetractionTime(1000), 1001u);
  EXPECT_EQ(OriginalTime(1001), 1000u);
  EXPECT_EQ(OriginalTime(1000), 1000u);
  EXPECT_EQ(NextOriginalTime(1000), 1002u);
  EXPECT_EQ(NextOriginalTime(1001), 1002u);
  EXPECT_EQ(CommitTimeFromMillis(1717171717171), 1717171717170u);
  // Retractions of a commit come after all of its inputs and before the next commit.
  EXPECT_TRUE(LessThan<Timestamp>(1000, RetractionTime(1000)));
  EXPECT_TRUE(LessThan<Timestamp>(RetractionTime(1000), NextOriginalTime(1000)));
}

}  // namespace
}  // namespace deltaflow::time
