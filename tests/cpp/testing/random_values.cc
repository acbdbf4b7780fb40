#include "testing/random_values.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace deltaflow::testing {

void AppendRandomValue(std::mt19937_64& rng, value::RowBuilder& builder, int max_depth) {
  auto pick = [&rng](uint64_t n) { return static_cast<int64_t>(rng() % n); };
  static const int64_t kInts[] = {0, 1, -1, 127, 128, -128, -129, 32767, 40000, -40000,
                                  int64_t{1} << 40, std::numeric_limits<int64_t>::min(),
                                  std::numeric_limits<int64_t>::max()};
  static const double kFloats[] = {0.0, -0.0, 1.5, -2.25, 1e300, -1e-300,
                                   std::numeric_limits<double>::infinity(),
                                   -std::numeric_limits<double>::infinity(),
                                   std::numeric_limits<double>::quiet_NaN()};
  static const char* kStrings[] = {"", "a", "ab", "b", "é", "longer string with spaces",
                                   "\xf0\x9f\x98\x80"};
  static const char* kJson[] = {"null", "1", "1.5", "\"x\"", "[1,2]", "{\"b\":1,\"a\":[true]}"};
  int kind = static_cast<int>(pick(max_depth > 0 ? 15 : 14));
  switch (kind) {
    case 0:
      builder.Null();
      break;
    case 1:
      builder.Bool(pick(2) == 1);
      break;
    case 2:
      builder.Int(pick(3) == 0 ? kInts[pick(std::size(kInts))] : pick(7) - 3);
      break;
    case 3:
      builder.Float(kFloats[pick(std::size(kFloats))]);
      break;
    case 4:
      builder.Pointer(value::Key(static_cast<uint64_t>(pick(3)), static_cast<uint64_t>(pick(3))));
      break;
    case 5:
      builder.String(kStrings[pick(std::size(kStrings))]);
      break;
    case 6: {
      std::string s = kStrings[pick(std::size(kStrings))];
      builder.Bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
      break;
    }
    case 7: {
      std::vector<int64_t> data(static_cast<size_t>(pick(4)));
      for (auto& d : data) d = pick(5) - 2;
      std::vector<uint64_t> shape = {data.size()};
      builder.IntArray(shape, data);
      break;
    }
    case 8: {
      std::vector<double> data(static_cast<size_t>(2 * pick(3)));
      for (auto& d : data) d = kFloats[pick(std::size(kFloats))];
      std::vector<uint64_t> shape = {2, data.size() / 2};
      builder.FloatArray(shape, data);
      break;
    }
    case 9:
      builder.DateTimeNaive(pick(5) * 1'000'000'000 - 2'000'000'000);
      break;
    case 10:
      builder.DateTimeUtc(pick(5) * 1'000'000'000);
      break;
    case 11:
      builder.Duration(pick(5) - 2);
      break;
    case 12:
      (void)builder.Json(kJson[pick(std::size(kJson))]);
      break;
    case 13:
      builder.Error();
      break;
    default: {
      builder.BeginTuple();
      int n = static_cast<int>(pick(4));
      for (int i = 0; i < n; ++i) AppendRandomValue(rng, builder, max_depth - 1);
      builder.EndTuple();
    }
  }
}

value::Row RandomRow(std::mt19937_64& rng, int arity, int max_depth) {
  value::RowBuilder builder;
  for (int i = 0; i < arity; ++i) AppendRandomValue(rng, builder, max_depth);
  return builder.Finish();
}

}  // namespace deltaflow::testing
