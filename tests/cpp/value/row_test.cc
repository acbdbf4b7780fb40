#include "deltaflow/value/row.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "testing/random_values.h"

namespace deltaflow::value {
namespace {

std::vector<uint8_t> Bytes(const Row& row) { return {row.bytes().begin(), row.bytes().end()}; }

TEST(RowTest, EmptyRowIsOneHeaderByte) {
  Row row;
  EXPECT_EQ(row.size(), 1u);
  EXPECT_EQ(row.arity(), 0u);
  EXPECT_EQ(row.view().version(), kRowEncodingVersion);
  EXPECT_TRUE(ValidateRow(row.bytes()).ok());
}

TEST(RowTest, RoundTripsEveryKind) {
  RowBuilder b;
  b.Null().Bool(true).Bool(false).Int(-5).Int(1'000'000'000'000).Float(2.5);
  b.Pointer(Key(1, 2)).String("héllo").Bytes(std::vector<uint8_t>{0, 255, 7});
  b.BeginTuple().Int(1).BeginTuple().String("x").EndTuple().Null().EndTuple();
  std::vector<uint64_t> shape{2, 3};
  std::vector<int64_t> ints{1, 2, 3, 4, 5, -6};
  std::vector<double> floats{0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
  b.IntArray(shape, ints).FloatArray(shape, floats);
  b.DateTimeNaive(1'700'000'000'123'456'789).DateTimeUtc(-1).Duration(42);
  ASSERT_TRUE(b.Json(R"({"b": 1, "a": [true, null]})").ok());
  b.Error();
  Row row = b.Finish();

  ASSERT_TRUE(ValidateRow(row.bytes()).ok()) << ValidateRow(row.bytes());
  ASSERT_EQ(row.arity(), 17u);
  EXPECT_TRUE(row[0].IsNull());
  EXPECT_TRUE(row[1].AsBool());
  EXPECT_FALSE(row[2].AsBool());
  EXPECT_EQ(row[3].AsInt(), -5);
  EXPECT_EQ(row[4].AsInt(), 1'000'000'000'000);
  EXPECT_EQ(row[5].AsFloat(), 2.5);
  EXPECT_EQ(row[6].AsKey(), Key(1, 2));
  EXPECT_EQ(row[7].AsString(), "héllo");
  auto bytes = row[8].AsBytes();
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), (std::vector<uint8_t>{0, 255, 7}));
  ValueSequence tuple = row[9].AsTuple();
  ASSERT_EQ(tuple.size(), 3u);
  EXPECT_EQ(tuple[0].AsInt(), 1);
  EXPECT_EQ(tuple[1].AsTuple()[0].AsString(), "x");
  EXPECT_TRUE(tuple[2].IsNull());
  auto ia = row[10].AsIntArray();
  EXPECT_EQ(ia.shape(), (absl::InlinedVector<uint64_t, 4>{2, 3}));
  ASSERT_EQ(ia.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(ia[i], ints[i]);
  auto fa = row[11].AsFloatArray();
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(fa[i], floats[i]);
  EXPECT_EQ(row[12].kind(), ValueKind::kDateTimeNaive);
  EXPECT_EQ(row[12].AsNanos(), 1'700'000'000'123'456'789);
  EXPECT_EQ(row[13].kind(), ValueKind::kDateTimeUtc);
  EXPECT_EQ(row[13].AsNanos(), -1);
  EXPECT_EQ(row[14].kind(), ValueKind::kDuration);
  EXPECT_EQ(row[14].AsNanos(), 42);
  EXPECT_EQ(row[15].AsJson(), R"({"b":1,"a":[true,null]})");  // fields in written order
  EXPECT_TRUE(row[16].IsError());
  EXPECT_TRUE(row.has_errors());
  EXPECT_FALSE(row.has_objects());
  EXPECT_EQ(row.DebugString(),
            "(None, True, False, -5, 1000000000000, 2.5, ^08000000000000800000000000, "
            "\"h\xC3\xA9llo\", b\"\\x00\\xff\\x07\", (1, (\"x\",), None), "
            "array([1, 2, 3, 4, 5, -6], shape=(2, 3)), "
            "array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5], shape=(2, 3)), "
            "2023-11-14T22:13:20.123456789, 1969-12-31T23:59:59.999999999+00:00, 42ns, "
            "{\"b\":1,\"a\":[true,null]}, Error)");
}

TEST(RowTest, IntegersUseTheirShortestForm) {
  struct Case {
    int64_t value;
    size_t encoded_size;
  };
  for (Case c : {Case{0, 2}, Case{127, 2}, Case{-128, 2}, Case{128, 3}, Case{-129, 3},
                 Case{32767, 3}, Case{32768, 5}, Case{-2147483648LL, 5}, Case{2147483648LL, 9},
                 Case{std::numeric_limits<int64_t>::min(), 9},
                 Case{std::numeric_limits<int64_t>::max(), 9}}) {
    RowBuilder b;
    Row row = b.Int(c.value).Finish();
    EXPECT_EQ(row[0].encoded().size(), c.encoded_size) << c.value;
    EXPECT_EQ(row[0].AsInt(), c.value);
    EXPECT_TRUE(ValidateRow(row.bytes()).ok());
  }
}

TEST(RowTest, FloatsAreCanonical) {
  RowBuilder b;
  Row zero = b.Float(0.0).Finish();
  Row negative_zero = b.Float(-0.0).Finish();
  EXPECT_EQ(Bytes(zero), Bytes(negative_zero));
  EXPECT_FALSE(std::signbit(negative_zero[0].AsFloat()));

  uint64_t odd_nan_bits = 0xfff0000000000123ULL;  // a negative signalling NaN payload
  double odd_nan;
  std::memcpy(&odd_nan, &odd_nan_bits, 8);
  Row nan1 = b.Float(std::numeric_limits<double>::quiet_NaN()).Finish();
  Row nan2 = b.Float(odd_nan).Finish();
  EXPECT_EQ(Bytes(nan1), Bytes(nan2));
  EXPECT_EQ(HashRow(nan1), HashRow(nan2));

  // NaN is greater than every number, infinity included.
  Row inf = b.Float(std::numeric_limits<double>::infinity()).Finish();
  EXPECT_GT(nan1, inf);
  EXPECT_LT(zero, inf);

  // The same canonicalisation applies inside arrays.
  std::vector<uint64_t> shape{2};
  std::vector<double> a{-0.0, odd_nan};
  std::vector<double> c{0.0, std::nan("")};
  EXPECT_EQ(b.FloatArray(shape, a).Finish(), b.FloatArray(shape, c).Finish());
}

TEST(RowTest, IdFromPointerPairIsTheIdOfThePairRow) {
  const Key a(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  const Key b(7, 9);
  auto id_of_row = [](std::optional<Key> x, std::optional<Key> y) {
    RowBuilder builder;
    for (const auto& k : {x, y}) {
      if (k) {
        builder.Pointer(*k);
      } else {
        builder.Null();
      }
    }
    return IdFromValues(builder.Finish().values());
  };
  for (auto [x, y] : std::vector<std::pair<std::optional<Key>, std::optional<Key>>>{
           {a, b}, {b, a}, {a, std::nullopt}, {std::nullopt, b}, {std::nullopt, std::nullopt}}) {
    EXPECT_EQ(IdFromPointerPair(x, y), id_of_row(x, y));
  }
  EXPECT_NE(IdFromPointerPair(a, b), IdFromPointerPair(b, a));
}

TEST(RowTest, EqualityIsByteEqualityAndHashFollows) {
  std::mt19937_64 rng(11);
  std::vector<Row> rows;
  for (int i = 0; i < 3000; ++i) rows.push_back(testing::RandomRow(rng, 1 + i % 3, 2));
  for (size_t i = 0; i + 1 < rows.size(); ++i) {
    const Row& a = rows[i];
    const Row& b = rows[i + 1];
    bool equal = a == b;
    EXPECT_EQ(equal, CompareRows(a, b) == 0) << a.DebugString() << " vs " << b.DebugString();
    if (equal) {
      EXPECT_EQ(HashRow(a), HashRow(b));
    }
  }
}

TEST(RowTest, OrderIsATotalOrderConsistentWithEquality) {
  std::mt19937_64 rng(12);
  std::vector<Row> rows;
  for (int i = 0; i < 400; ++i) rows.push_back(testing::RandomRow(rng, 1 + i % 2, 2));
  for (const Row& a : rows) {
    EXPECT_EQ(CompareRows(a, a), 0);
    for (const Row& b : rows) {
      int ab = CompareRows(a, b);
      int ba = CompareRows(b, a);
      ASSERT_EQ(ab, -ba) << a.DebugString() << " vs " << b.DebugString();
      ASSERT_EQ(ab == 0, a == b) << a.DebugString() << " vs " << b.DebugString();
    }
  }
  std::sort(rows.begin(), rows.end());
  for (size_t i = 0; i + 1 < rows.size(); ++i) {
    for (size_t j = i + 1; j < std::min(rows.size(), i + 20); ++j) {
      ASSERT_LE(CompareRows(rows[i], rows[j]), 0) << "order is not transitive";
    }
  }
}

TEST(RowTest, OrdersWithinKindsByValue) {
  RowBuilder b;
  auto one_int = [&b](int64_t v) { return b.Int(v).Finish(); };
  std::mt19937_64 rng(13);
  for (int i = 0; i < 1000; ++i) {
    auto x = static_cast<int64_t>(rng());
    auto y = static_cast<int64_t>(rng()) >> (rng() % 64);
    EXPECT_EQ(one_int(x) < one_int(y), x < y) << x << " " << y;
  }
  auto one_string = [&b](std::string_view v) { return b.String(v).Finish(); };
  EXPECT_LT(one_string(""), one_string("a"));
  EXPECT_LT(one_string("a"), one_string("ab"));
  EXPECT_LT(one_string("ab"), one_string("b"));
  EXPECT_LT(one_string("z"), one_string("é"));  // bytewise UTF-8 = code point order
  // Kinds order as ValueKind lists them: None < bool < int < float < ... < str.
  EXPECT_LT(b.Null().Finish(), b.Bool(false).Finish());
  EXPECT_LT(b.Bool(true).Finish(), b.Int(-100).Finish());
  EXPECT_LT(b.Int(100).Finish(), b.Float(-1e9).Finish());
  // Tuples compare lexicographically, a prefix first.
  Row t1 = b.BeginTuple().Int(1).EndTuple().Finish();
  Row t12 = b.BeginTuple().Int(1).Int(2).EndTuple().Finish();
  Row t2 = b.BeginTuple().Int(2).EndTuple().Finish();
  EXPECT_LT(t1, t12);
  EXPECT_LT(t12, t2);
}

TEST(RowTest, RowKeyIsStableAcrossRunsAndProcesses) {
  // Pinned: ids derived from values are persisted and exchanged, so they must never change.
  RowBuilder b;
  Row row = b.Int(1).String("a").Finish();
  EXPECT_EQ(Bytes(row), (std::vector<uint8_t>{0x01, 0x04, 0x01, 0x0a, 0x01, 'a'}));
  EXPECT_EQ(HashRow(row), StableHash128(row.bytes().data() + 1, row.size() - 1));
  EXPECT_EQ(HashRow(row).ToString(), HashRow(b.Int(1).String("a").Finish()).ToString());
  EXPECT_NE(HashRow(row), HashRow(b.Int(1).String("b").Finish()));
  EXPECT_NE(HashRow(b.Int(1).Finish()), HashRow(b.Float(1.0).Finish()));
}

TEST(RowTest, ValidateAcceptsBuiltRowsAndRejectsEveryTruncation) {
  std::mt19937_64 rng(14);
  for (int i = 0; i < 500; ++i) {
    Row row = testing::RandomRow(rng, 1 + i % 4, 2);
    ASSERT_TRUE(ValidateRow(row.bytes()).ok()) << row.DebugString();
    auto bytes = Bytes(row);
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
      std::span<const uint8_t> prefix(bytes.data(), cut);
      // A prefix may itself be a valid row (cut between values); otherwise it must fail.
      if (ValidateRow(prefix).ok()) {
        Row copy(prefix);
        EXPECT_LT(copy.arity(), row.arity());
      }
    }
  }
}

TEST(RowTest, ValidateRejectsNonCanonicalBytes) {
  auto check_rejected = [](std::vector<uint8_t> bytes, std::string_view why) {
    absl::Status s = ValidateRow(bytes);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << why;
    EXPECT_NE(s.message().find("invalid row encoding"), std::string_view::npos) << s;
  };
  check_rejected({}, "empty");
  check_rejected({0x02}, "unknown version");
  check_rejected({0x41}, "unknown header flag");
  check_rejected({0x01, 0x00}, "tag zero");
  check_rejected({0x01, 0x7f}, "unknown tag");
  check_rejected({0x01, 0x05, 0x01, 0x00}, "int16 holding a value that fits int8");
  check_rejected({0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x80}, "-0.0");
  check_rejected({0x01, 0x0a, 0x02, 0xc3, 0x28}, "invalid UTF-8");
  check_rejected({0x01, 0x0a, 0x80, 0x00}, "overlong varint");
  check_rejected({0x01, 0x13}, "error without the header flag");
  check_rejected({0x21, 0x01}, "error flag without an error");
  check_rejected({0x01, 0x0c, 0x02, 0x01, 0x01}, "tuple count disagrees with contents");
  check_rejected({0x01, 0x12, 0x03, '{', ' ', '}'}, "json not canonical");
  std::vector<uint8_t> object(26, 0);
  object[0] = 0x11;
  object[1] = 0x14;
  check_rejected(object, "object handles from elsewhere");
}

// Counts releases instead of touching any foreign runtime.
class CountingReleaser final : public ObjectRef::Releaser {
 public:
  void Release(ObjectRef*) override { ++released; }
  int released = 0;
};

TEST(RowTest, RowsOwnTheObjectHandlesTheyHold) {
  CountingReleaser releaser;
  int payload = 0;
  ObjectRef* ref = ObjectRef::Make(&payload, Key(9, 9), &releaser);  // count 1: ours
  {
    RowBuilder b;
    b.Int(1).BeginTuple().Object(ref).EndTuple();
    Row row = b.Finish();
    EXPECT_TRUE(row.has_objects());
    EXPECT_TRUE(ValidateRow(row.bytes(), /*allow_objects=*/true).ok());
    EXPECT_FALSE(ValidateRow(row.bytes()).ok());
    Row copy = row;
    Row moved = std::move(copy);
    std::vector<Row> many(10, moved);
    EXPECT_EQ(moved[1].AsTuple()[0].AsObject(), ref);
    EXPECT_EQ(moved[1].AsTuple()[0].AsObject()->object(), &payload);
    // A value copied into another row takes the handle along.
    RowBuilder other;
    Row rebuilt = other.Value(row[1]).Finish();
    EXPECT_TRUE(rebuilt.has_objects());
  }
  EXPECT_EQ(releaser.released, 0);  // we still hold our reference
  ref->Release();
  EXPECT_EQ(releaser.released, 1);
}

TEST(RowTest, ObjectIdentityInHashesIsTheFingerprintNotThePointer) {
  CountingReleaser releaser;
  int a = 0;
  int b = 0;
  ObjectRef* ra = ObjectRef::Make(&a, Key(5, 6), &releaser);
  ObjectRef* rb = ObjectRef::Make(&b, Key(5, 6), &releaser);
  RowBuilder builder;
  Row row_a = builder.String("x").Object(ra).Finish();
  Row row_b = builder.String("x").Object(rb).Finish();
  EXPECT_EQ(HashRow(row_a), HashRow(row_b));
  EXPECT_EQ(CompareRows(row_a, row_b), 0);
  ra->Release();
  rb->Release();
  EXPECT_EQ(releaser.released, 0);  // the rows still hold them
}

TEST(RowTest, BuilderReusesItsBufferAcrossRows) {
  RowBuilder b;
  for (int i = 0; i < 100; ++i) {
    Row row = b.Int(i).String("abc").Finish();
    ASSERT_EQ(row.arity(), 2u);
    ASSERT_EQ(row[0].AsInt(), i);
  }
}

}  // namespace
}  // namespace deltaflow::value
