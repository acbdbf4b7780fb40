// Path summaries: how times change along a path of the dataflow graph.
//
// Progress tracking must know, for a time held at one place in the graph, which times it
// can cause at every operator input downstream. A *path summary* answers that for one path:
// `ResultsIn(time)` is the least time a message at `time` can produce at the end of the
// path, or `std::nullopt` if no message can ever take the path (its time would overflow).
// Summaries compose with `FollowedBy` and are themselves partially ordered: a summary that
// is `LessEqual` another yields less-or-equal times from every starting time.
//
// Every summary type has an identity, its least element `Minimum<S>()` (also what `S{}`
// constructs): an edge or a pipeline operator does not change times. Summaries must be
// *inflationary* (`ResultsIn(t) >= t` in the partial order) and monotone (in the time and
// in the summary). Under those rules a cycle whose summaries are all the identity is the
// only cycle that fails to advance time; the graph builder rejects it.
//
// `OffsetSummary<U>` adds a constant to an integer time. `ProductSummary` acts on each
// coordinate of a `Product` time; the feedback edge of an iteration is the product summary
// (identity, +1), which increments the round and leaves the outer time alone.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <optional>
#include <ostream>
#include <type_traits>

#include "deltaflow/time/lattice.h"
#include "deltaflow/time/product.h"

namespace deltaflow::time {

/// A summary `S` of paths over times `T`. See the file comment for the laws it must obey.
template <typename S, typename T>
concept PathSummary = PartialOrder<S> && PartialOrder<T> &&
    requires(const S& summary, const S& next, const T& time) {
  { summary.ResultsIn(time) } -> std::same_as<std::optional<T>>;
  { summary.FollowedBy(next) } -> std::same_as<std::optional<S>>;
};

/// Whether `summary` does not advance time (it is the identity): a cycle made only of such
/// summaries would hold its own frontier back forever.
template <typename S>
requires PartialOrder<S>
constexpr bool IsIdentitySummary(const S& summary) { return LessEqual(summary, Minimum<S>()); }

// ---------------------------------------------------------------------------------------
// OffsetSummary: integer times.
// ---------------------------------------------------------------------------------------

/// Adds a constant `offset` to an unsigned integer time; the identity is offset 0.
template <std::unsigned_integral U>
struct OffsetSummary {
  U offset = 0;

  /// `time + offset`, or nullopt if that overflows (no such time exists).
  constexpr std::optional<U> ResultsIn(U time) const {
    U result;
    if (__builtin_add_overflow(time, offset, &result)) return std::nullopt;
    return result;
  }

  /// The summary of this path followed by `next`: the sum of the offsets, or nullopt if it
  /// overflows (no time could take both paths).
  constexpr std::optional<OffsetSummary> FollowedBy(const OffsetSummary& next) const {
    U sum;
    if (__builtin_add_overflow(offset, next.offset, &sum)) return std::nullopt;
    return OffsetSummary{sum};
  }

  constexpr auto operator<=>(const OffsetSummary&) const = default;
  constexpr bool operator==(const OffsetSummary&) const = default;
};

/// A smaller offset yields smaller times.
template <std::unsigned_integral U>
constexpr bool LessEqual(const OffsetSummary<U>& a, const OffsetSummary<U>& b) {
  return a.offset <= b.offset;
}

/// The identity summary, offset 0.
template <std::unsigned_integral U>
constexpr OffsetSummary<U> MinimumOf(std::type_identity<OffsetSummary<U>>) {
  return OffsetSummary<U>{0};
}

template <std::unsigned_integral U>
std::ostream& operator<<(std::ostream& out, const OffsetSummary<U>& summary) {
  return out << '+' << summary.offset;
}

// ---------------------------------------------------------------------------------------
// ProductSummary: iteration times.
// ---------------------------------------------------------------------------------------

/// Applies `outer` to the outer coordinate and `inner` to the inner coordinate of a
/// `Product` time. Ordered by the product order.
template <PartialOrder OuterSummary, PartialOrder InnerSummary>
struct ProductSummary {
  OuterSummary outer{Minimum<OuterSummary>()};
  InnerSummary inner{Minimum<InnerSummary>()};

  /// Both coordinates advanced, or nullopt if either cannot be.
  template <PartialOrder Outer, PartialOrder Inner>
  constexpr std::optional<Product<Outer, Inner>> ResultsIn(
      const Product<Outer, Inner>& time) const {
    std::optional<Outer> outer_time = outer.ResultsIn(time.outer);
    if (!outer_time.has_value()) return std::nullopt;
    std::optional<Inner> inner_time = inner.ResultsIn(time.inner);
    if (!inner_time.has_value()) return std::nullopt;
    return Product<Outer, Inner>(*std::move(outer_time), *std::move(inner_time));
  }

  /// Coordinate-wise composition, or nullopt if either coordinate cannot be composed.
  constexpr std::optional<ProductSummary> FollowedBy(const ProductSummary& next) const {
    std::optional<OuterSummary> outer_summary = outer.FollowedBy(next.outer);
    if (!outer_summary.has_value()) return std::nullopt;
    std::optional<InnerSummary> inner_summary = inner.FollowedBy(next.inner);
    if (!inner_summary.has_value()) return std::nullopt;
    return ProductSummary{*std::move(outer_summary), *std::move(inner_summary)};
  }

  constexpr auto operator<=>(const ProductSummary&) const = default;
  constexpr bool operator==(const ProductSummary&) const = default;
};

template <PartialOrder OuterSummary, PartialOrder InnerSummary>
constexpr bool LessEqual(const ProductSummary<OuterSummary, InnerSummary>& a,
                         const ProductSummary<OuterSummary, InnerSummary>& b) {
  return LessEqual(a.outer, b.outer) && LessEqual(a.inner, b.inner);
}

template <PartialOrder OuterSummary, PartialOrder InnerSummary>
constexpr ProductSummary<OuterSummary, InnerSummary> MinimumOf(
    std::type_identity<ProductSummary<OuterSummary, InnerSummary>>) {
  return ProductSummary<OuterSummary, InnerSummary>{};
}

template <PartialOrder OuterSummary, PartialOrder InnerSummary>
std::ostream& operator<<(std::ostream& out,
                         const ProductSummary<OuterSummary, InnerSummary>& summary) {
  return out << '(' << summary.outer << ", " << summary.inner << ')';
}

// ---------------------------------------------------------------------------------------
// The summary type of each time type.
// ---------------------------------------------------------------------------------------

/// Maps a time type to its path-summary type; specialise for new time types.
template <typename T>
struct SummaryTraits;

template <>
struct SummaryTraits<uint64_t> {
  using Type = OffsetSummary<uint64_t>;
};

template <>
struct SummaryTraits<uint32_t> {
  using Type = OffsetSummary<uint32_t>;
};

template <PartialOrder Outer, PartialOrder Inner>
struct SummaryTraits<Product<Outer, Inner>> {
  using Type =
      ProductSummary<typename SummaryTraits<Outer>::Type, typename SummaryTraits<Inner>::Type>;
};

/// The path-summary type of time type `T`.
template <typename T>
using SummaryFor = typename SummaryTraits<T>::Type;

/// The summary of an iteration's feedback edge: the outer time unchanged, the round
/// advanced by `rounds`.
template <PartialOrder Outer>
constexpr SummaryFor<Product<Outer, uint32_t>> FeedbackSummary(uint32_t rounds = 1) {
  return SummaryFor<Product<Outer, uint32_t>>{Minimum<SummaryFor<Outer>>(),
                                              OffsetSummary<uint32_t>{rounds}};
}

}  // namespace deltaflow::time
