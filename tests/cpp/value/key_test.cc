#include "deltaflow/value/key.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace deltaflow::value {
namespace {

TEST(KeyTest, PrintsAndParsesEveryKey) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    Key key(rng(), rng());
    std::string text = key.ToString();
    ASSERT_EQ(text.size(), 27u);
    ASSERT_EQ(text[0], '^');
    absl::StatusOr<Key> parsed = Key::Parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, key);
  }
  EXPECT_EQ(Key(0, 0).ToString(), "^00000000000000000000000000");
  EXPECT_EQ(Key(~0ULL, ~0ULL).ToString(), "^ZZZZZZZZZZZZZZZZZZZZZZZZZW");
  // The least significant byte prints first (as Pathway prints its ids).
  EXPECT_EQ(Key(0, 1).ToString(), "^04000000000000000000000000");
}

TEST(KeyTest, RejectsMalformedText) {
  EXPECT_FALSE(Key::Parse("").ok());
  EXPECT_FALSE(Key::Parse("00000000000000000000000000").ok());
  EXPECT_FALSE(Key::Parse("^0000000000000000000000000U").ok());   // U is not a digit
  EXPECT_FALSE(Key::Parse("^00000000000000000000000001").ok());   // more than 128 bits
  absl::Status status = Key::Parse("^abc").status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_NE(status.message().find("^abc"), std::string_view::npos);
}

TEST(KeyTest, OrdersByHighThenLowWord) {
  EXPECT_LT(Key(0, 5), Key(1, 0));
  EXPECT_LT(Key(1, 0), Key(1, 1));
  EXPECT_EQ(Key(3, 4), Key(3, 4));
}

TEST(KeyTest, StableHashIsXxh3Of128BitsAndNeverChanges) {
  // Pinned values: ids are persisted and compared across processes and releases, so the hash
  // must never change. These are XXH3-128 (seed 0) digests.
  EXPECT_EQ(StableHash128("", 0), Key(0x99aa06d3014798d8ULL, 0x6001c324468d497fULL));
  EXPECT_EQ(StableHash128("deltaflow", 9), Key(0xd8c73588eb66e901ULL, 0xa74a9aa4d0dfebb5ULL));
}

}  // namespace
}  // namespace deltaflow::value
