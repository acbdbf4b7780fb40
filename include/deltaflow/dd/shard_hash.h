// ShardHash: which worker owns a record.
//
// Exchange routes every record to worker `ShardHash(key) % peers`. The hash is stable across
// processes and runs (XXH3 for bytes, a fixed mixer for integers), because the same routing
// must hold when workers live in different processes (DESIGN.md, "Ids"). Extend it for a new
// type by overloading `ShardHash` in the type's namespace or in `deltaflow::dd`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "deltaflow/value/key.h"
#include "deltaflow/value/row.h"

namespace deltaflow::dd {

/// SplitMix64's finaliser: a bijective mix of 64 bits.
constexpr uint64_t MixBits(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

template <typename I>
  requires std::is_integral_v<I>
uint64_t ShardHash(I value) {
  return MixBits(static_cast<uint64_t>(value));
}

inline uint64_t ShardHash(const value::Key& key) { return key.ShardHash(); }
inline uint64_t ShardHash(const value::Row& row) { return value::HashRow(row).ShardHash(); }
inline uint64_t ShardHash(value::RowView row) { return value::HashRow(row).ShardHash(); }
inline uint64_t ShardHash(std::string_view text) {
  return value::StableHash128(text.data(), text.size()).ShardHash();
}
inline uint64_t ShardHash(const std::string& text) { return ShardHash(std::string_view(text)); }

template <typename A, typename B>
uint64_t ShardHash(const std::pair<A, B>& pair) {
  return MixBits(ShardHash(pair.first) * 31 + ShardHash(pair.second));
}

}  // namespace deltaflow::dd
