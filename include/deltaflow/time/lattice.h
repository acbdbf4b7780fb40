// Partially ordered timestamps and lattices.
//
// Every update in deltaflow carries a time. Times are *partially* ordered: inside `iterate`
// a time is a pair (outer, inner) and two pairs may be incomparable. Differential dataflow
// needs three things of a time type:
//
//   * a partial order `LessEqual(a, b)` ("a happens no later than b"), which decides what
//     a frontier has passed and which updates are visible at a time;
//   * for a `Lattice`, `Join(a, b)` (least upper bound) and `Meet(a, b)` (greatest lower
//     bound), with which `reduce` finds the times an update can affect and compaction
//     advances times;
//   * a total order `<` used only to sort and consolidate updates. It must be a linear
//     extension of the partial order (`LessEqual(a, b)` implies `a <= b`), so that sorting a
//     set of times puts every minimal element before the elements above it.
//
// Customisation scheme: the lattice operations are free functions `LessEqual`, `Join`,
// `Meet` and `MinimumOf(std::type_identity<T>)`, found by overload resolution (for the
// built-in types below) or by argument-dependent lookup (for a type declared in its own
// namespace, like `Product`). Callers use them unqualified; a class with a member of the
// same name brings the free function back with `using deltaflow::time::LessEqual;`.
//
// Deltaflow's outer time `Timestamp` follows Pathway's convention; see below.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "deltaflow/base/check.h"

namespace deltaflow::time {

// ---------------------------------------------------------------------------------------
// Built-in unsigned integers: total orders, join = max, meet = min, minimum = 0.
// Declared before the concepts so that ordinary lookup finds them (built-in types have no
// associated namespace, so ADL never would).
// ---------------------------------------------------------------------------------------

/// Integer times are totally ordered: `a <= b`.
constexpr bool LessEqual(uint64_t a, uint64_t b) { return a <= b; }
constexpr bool LessEqual(uint32_t a, uint32_t b) { return a <= b; }

/// Least upper bound of two integer times: their maximum.
constexpr uint64_t Join(uint64_t a, uint64_t b) { return a < b ? b : a; }
constexpr uint32_t Join(uint32_t a, uint32_t b) { return a < b ? b : a; }

/// Greatest lower bound of two integer times: their minimum.
constexpr uint64_t Meet(uint64_t a, uint64_t b) { return a < b ? a : b; }
constexpr uint32_t Meet(uint32_t a, uint32_t b) { return a < b ? a : b; }

/// The least integer time, 0.
constexpr uint64_t MinimumOf(std::type_identity<uint64_t>) { return 0; }
constexpr uint32_t MinimumOf(std::type_identity<uint32_t>) { return 0; }

// ---------------------------------------------------------------------------------------
// Concepts.
// ---------------------------------------------------------------------------------------

/// A partially ordered time: a regular value with `LessEqual(a, b)`, a least element
/// `MinimumOf(std::type_identity<T>)`, and a total order `<` (for sorting) that extends
/// `LessEqual`.
template <typename T>
concept PartialOrder = std::regular<T> && std::totally_ordered<T> &&
    requires(const T& a, const T& b) {
  { LessEqual(a, b) } -> std::convertible_to<bool>;
  { MinimumOf(std::type_identity<T>{}) } -> std::same_as<T>;
};

/// A partial order in which every pair has a least upper bound `Join` and a greatest lower
/// bound `Meet`.
template <typename T>
concept Lattice = PartialOrder<T> && requires(const T& a, const T& b) {
  { Join(a, b) } -> std::same_as<T>;
  { Meet(a, b) } -> std::same_as<T>;
};

/// Marks a time type whose partial order is total (any two times are comparable).
/// Specialise to `std::true_type` for such a type; operators use it to select fast paths
/// (e.g. a count that needs no interesting-time search).
template <typename T>
struct IsTotalOrder : std::false_type {};
template <>
struct IsTotalOrder<uint64_t> : std::true_type {};
template <>
struct IsTotalOrder<uint32_t> : std::true_type {};

/// A partial order that is total, as declared by `IsTotalOrder`.
template <typename T>
concept TotalOrder = PartialOrder<T> && IsTotalOrder<T>::value;

/// The least element of `T`, less than or equal to every time.
template <PartialOrder T>
constexpr T Minimum() {
  return MinimumOf(std::type_identity<T>{});
}

/// `a` is strictly before `b` in the partial order.
template <PartialOrder T>
constexpr bool LessThan(const T& a, const T& b) {
  return LessEqual(a, b) && !(a == b);
}

// ---------------------------------------------------------------------------------------
// The outer timestamp.
// ---------------------------------------------------------------------------------------

/// Deltaflow's outer time: milliseconds, as in Pathway.
///
/// Inputs commit only at *even* times, taken from a clock that strictly increases. The odd
/// time `t + 1` right after a commit time `t` carries the retractions produced by
/// forgetting (Pathway's `original`/`retraction` split), so that they are ordered after
/// every insertion at `t` and before every input of the next commit.
using Timestamp = uint64_t;

/// The largest timestamp. A frontier never needs it: an empty frontier means "done".
inline constexpr Timestamp kMaxTimestamp = std::numeric_limits<Timestamp>::max();

/// Whether `t` is an input commit time (even).
constexpr bool IsOriginal(Timestamp t) { return t % 2 == 0; }

/// Whether `t` is a retraction time (odd): it holds retractions made by forgetting.
constexpr bool IsRetraction(Timestamp t) { return t % 2 == 1; }

/// The time at which retractions caused by the commit at `t` are emitted: `t + 1`.
/// It is an error to pass a retraction time.
constexpr Timestamp RetractionTime(Timestamp t) {
  DELTAFLOW_DCHECK(IsOriginal(t), "RetractionTime expects an even (original) time");
  return t + 1;
}

/// The commit time a time belongs to: `t` itself if even, else `t - 1`.
constexpr Timestamp OriginalTime(Timestamp t) { return t & ~Timestamp{1}; }

/// The first commit time strictly after `t` (the next even time).
constexpr Timestamp NextOriginalTime(Timestamp t) { return OriginalTime(t) + 2; }

/// Rounds a wall-clock reading in milliseconds down to a commit time (even). A source still
/// has to make successive commits strictly increase.
constexpr Timestamp CommitTimeFromMillis(uint64_t millis) { return OriginalTime(millis); }

}  // namespace deltaflow::time
