// Differences: the multiplicities attached to updates.
//
// An update `(data, time, diff)` says that `data` gained `diff` copies at `time`. Diffs
// accumulate, so the diff type must be a *semigroup* with a recognisable zero: updates whose
// diffs sum to zero cancel and are dropped by consolidation. Operators that retract (negate,
// join's retractions, compaction of insert + delete) need an *abelian group*: a semigroup
// whose elements can be negated.
//
// Customisation scheme (as for `time::Lattice`): `IsZero(r)` and `Negate(r)` are free
// functions found by overload resolution for built-in types (declared below, before the
// concepts) or by argument-dependent lookup for a type in its own namespace; `+=` is the
// ordinary operator. deltaflow uses `int64_t` everywhere today (DESIGN.md); the concepts
// keep the trace layer honest about what it needs of a diff.
#pragma once

#include <concepts>
#include <cstdint>

namespace deltaflow::dd {

/// Whether an integer diff is the additive identity.
constexpr bool IsZero(int64_t r) { return r == 0; }
constexpr bool IsZero(int32_t r) { return r == 0; }

/// The additive inverse of an integer diff.
constexpr int64_t Negate(int64_t r) { return -r; }
constexpr int32_t Negate(int32_t r) { return -r; }

/// A diff that can be accumulated with `+=` and tested for zero. Accumulation must be
/// associative and commutative: consolidation sums updates in whatever order sorting left
/// them.
template <typename R>
concept Semigroup = std::copyable<R> && requires(R& a, const R& b) {
  { a += b };
  { IsZero(b) } -> std::convertible_to<bool>;
};

/// A semigroup with inverses: `Negate(r) += r` is zero.
template <typename R>
concept Abelian = Semigroup<R> && requires(const R& r) {
  { Negate(r) } -> std::convertible_to<R>;
};

}  // namespace deltaflow::dd
