// Key: the 128-bit id of a row.
//
// Every row of a table is identified by a `Key`, derived by hashing (an input's primary key,
// group values, the pair of joined ids, ...) with one stable hash, XXH3-128 over the canonical
// row encoding. The same values give the same key in every process and every run, so keys can
// be persisted, exchanged between workers and printed. Keys also decide which worker owns a
// row: exchange routes by `ShardHash()`.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace deltaflow::value {

/// A 128-bit row id. Totally ordered (high word first), trivially copyable.
class Key {
 public:
  constexpr Key() = default;
  constexpr Key(uint64_t high, uint64_t low) : high_(high), low_(low) {}

  constexpr uint64_t high() const { return high_; }
  constexpr uint64_t low() const { return low_; }

  /// The 64 bits used to pick a worker for this key. Stable across processes.
  constexpr uint64_t ShardHash() const { return low_; }

  /// Printable form: `^` followed by 26 Crockford base-32 digits, most significant first.
  std::string ToString() const;

  /// Parses the form written by `ToString()`. Fails on anything else.
  static absl::StatusOr<Key> Parse(std::string_view text);

  constexpr auto operator<=>(const Key&) const = default;

 private:
  uint64_t high_ = 0;
  uint64_t low_ = 0;
};

template <typename H>
H AbslHashValue(H state, const Key& key) {
  return H::combine(std::move(state), key.high(), key.low());
}

/// XXH3-128 with seed 0 over `size` bytes: the one hash deltaflow uses for anything that leaves
/// a process or a run.
Key StableHash128(const void* data, size_t size);

}  // namespace deltaflow::value
