// Product timestamps: the times of an iteration scope.
//
// Inside `iterate`, a time is a pair (outer, inner): the outer time of the enclosing scope
// and the round of the iteration. Two pairs are ordered by the *product* partial order —
// (a, i) <= (b, j) iff a <= b and i <= j — so round 3 of commit 10 and round 1 of commit 12
// are incomparable: neither can be considered finished because the other is.
//
// The product is a lattice when both coordinates are: join and meet are coordinate-wise.
//
// Separately, `Product` has a *lexicographic* total order through `operator<=>`. That order
// exists only to sort and consolidate updates; it extends the product order (a product
// LessEqual implies lexicographic <=) but says nothing about progress. Never use `<` where
// `LessEqual` is meant.
#pragma once

#include <compare>
#include <ostream>
#include <type_traits>
#include <utility>

#include "deltaflow/time/lattice.h"

namespace deltaflow::time {

/// A pair of times ordered by the product partial order. See the file comment.
template <PartialOrder Outer, PartialOrder Inner>
struct Product {
  Outer outer{Minimum<Outer>()};
  Inner inner{Minimum<Inner>()};

  constexpr Product() = default;
  constexpr Product(Outer outer_time, Inner inner_time)
      : outer(std::move(outer_time)), inner(std::move(inner_time)) {}

  /// Lexicographic order, for sorting only (see the file comment).
  constexpr auto operator<=>(const Product&) const = default;
  constexpr bool operator==(const Product&) const = default;
};

/// Product order: both coordinates are less than or equal.
template <PartialOrder Outer, PartialOrder Inner>
constexpr bool LessEqual(const Product<Outer, Inner>& a, const Product<Outer, Inner>& b) {
  return LessEqual(a.outer, b.outer) && LessEqual(a.inner, b.inner);
}

/// Coordinate-wise join: the least pair above both.
template <Lattice Outer, Lattice Inner>
constexpr Product<Outer, Inner> Join(const Product<Outer, Inner>& a,
                                     const Product<Outer, Inner>& b) {
  return Product<Outer, Inner>(Join(a.outer, b.outer), Join(a.inner, b.inner));
}

/// Coordinate-wise meet: the greatest pair below both.
template <Lattice Outer, Lattice Inner>
constexpr Product<Outer, Inner> Meet(const Product<Outer, Inner>& a,
                                     const Product<Outer, Inner>& b) {
  return Product<Outer, Inner>(Meet(a.outer, b.outer), Meet(a.inner, b.inner));
}

/// The least pair: both coordinates minimal.
template <PartialOrder Outer, PartialOrder Inner>
constexpr Product<Outer, Inner> MinimumOf(std::type_identity<Product<Outer, Inner>>) {
  return Product<Outer, Inner>(Minimum<Outer>(), Minimum<Inner>());
}

/// Hashing for absl containers (in-memory only; absl hashes are salted per process).
template <typename H, PartialOrder Outer, PartialOrder Inner>
H AbslHashValue(H state, const Product<Outer, Inner>& time) {
  return H::combine(std::move(state), time.outer, time.inner);
}

/// Prints `(outer, inner)`, for logs and test failures.
template <PartialOrder Outer, PartialOrder Inner>
std::ostream& operator<<(std::ostream& out, const Product<Outer, Inner>& time) {
  return out << '(' << time.outer << ", " << time.inner << ')';
}

/// The time type of an iteration scope nested in the outer scope.
using IterationTime = Product<Timestamp, uint32_t>;

}  // namespace deltaflow::time
