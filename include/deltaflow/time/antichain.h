// Antichains, frontiers and batches of count changes.
//
// A *frontier* describes which times may still appear somewhere: every future time is
// greater than or equal to some element of the frontier. Only the minimal such times
// matter, so a frontier is an *antichain* — a set of mutually incomparable times. The empty
// antichain is the closed frontier: nothing more will ever come.
//
// `Antichain<T>` is that set. `MutableAntichain<T>` is a multiset of times with counts (the
// capabilities or messages held at one place) that maintains the antichain of its minimal
// times with positive count and reports how that frontier changes as counts change.
// `ChangeBatch<T>` accumulates `(time, diff)` count changes cheaply and consolidates them
// lazily; it is how pointstamp changes travel and are summed.
//
// These follow timely-dataflow's `Antichain`, `MutableAntichain` and `ChangeBatch`.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "deltaflow/base/check.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::time {

// ---------------------------------------------------------------------------------------
// Antichain
// ---------------------------------------------------------------------------------------

/// A set of mutually incomparable times, kept sorted by the total order `<` so that equal
/// sets have equal representations (for `==` and hashing).
///
/// Most frontiers hold a single time, which is stored inline without a heap allocation.
template <PartialOrder T>
class Antichain {
 public:
  using value_type = T;
  using const_iterator = typename absl::InlinedVector<T, 1>::const_iterator;

  /// The empty antichain: a closed frontier.
  Antichain() = default;

  /// The antichain holding just `time`.
  explicit Antichain(T time) { elements_.push_back(std::move(time)); }

  /// The minimal elements of `times`.
  Antichain(std::initializer_list<T> times) {
    for (const T& time : times) Insert(time);
  }

  /// The minimal elements of a range of times.
  template <typename Range>
  static Antichain FromRange(const Range& times) {
    Antichain result;
    for (const T& time : times) result.Insert(time);
    return result;
  }

  /// Inserts `time` unless some element is already less than or equal to it, and removes
  /// the elements it is less than or equal to. Returns whether `time` was inserted.
  bool Insert(const T& time) {
    using deltaflow::time::LessEqual;
    for (const T& element : elements_) {
      if (LessEqual(element, time)) return false;
    }
    // `time` is not dominated; drop what it dominates, then place it in sorted position.
    elements_.erase(std::remove_if(elements_.begin(), elements_.end(),
                                   [&](const T& element) { return LessEqual(time, element); }),
                    elements_.end());
    elements_.insert(std::lower_bound(elements_.begin(), elements_.end(), time), time);
    return true;
  }

  /// Inserts every time of a range; returns whether any was inserted.
  template <typename Range>
  bool Extend(const Range& times) {
    bool inserted = false;
    for (const T& time : times) inserted |= Insert(time);
    return inserted;
  }

  /// Whether some element is less than or equal to `time`: `time` may still appear.
  bool LessEqual(const T& time) const {
    using deltaflow::time::LessEqual;
    for (const T& element : elements_) {
      if (LessEqual(element, time)) return true;
    }
    return false;
  }

  /// Whether some element is strictly less than `time`.
  bool LessThan(const T& time) const {
    using deltaflow::time::LessThan;
    for (const T& element : elements_) {
      if (LessThan(element, time)) return true;
    }
    return false;
  }

  /// Whether every element of `other` is greater than or equal to some element of this
  /// antichain: this frontier is at or before `other`. Every antichain dominates the empty
  /// one.
  bool Dominates(const Antichain& other) const {
    for (const T& time : other.elements_) {
      if (!LessEqual(time)) return false;
    }
    return true;
  }

  /// The elements, sorted by the total order.
  std::span<const T> Elements() const { return {elements_.data(), elements_.size()}; }

  /// The only element. It is an error to call this unless `Size() == 1`.
  const T& Single() const {
    DELTAFLOW_DCHECK(elements_.size() == 1, "Antichain::Single on an antichain of size != 1");
    return elements_.front();
  }

  std::size_t Size() const { return elements_.size(); }
  bool IsEmpty() const { return elements_.empty(); }
  void Clear() { elements_.clear(); }

  const_iterator begin() const { return elements_.begin(); }
  const_iterator end() const { return elements_.end(); }

  /// Set equality.
  bool operator==(const Antichain& other) const { return elements_ == other.elements_; }

 private:
  absl::InlinedVector<T, 1> elements_;
};

/// Hashing for absl containers.
template <typename H, PartialOrder T>
H AbslHashValue(H state, const Antichain<T>& antichain) {
  for (const T& time : antichain) state = H::combine(std::move(state), time);
  return H::combine(std::move(state), antichain.Size());
}

/// Prints `{a, b, ...}`.
template <PartialOrder T>
std::ostream& operator<<(std::ostream& out, const Antichain<T>& antichain) {
  out << '{';
  bool first = true;
  for (const T& time : antichain) {
    out << (first ? "" : ", ") << time;
    first = false;
  }
  return out << '}';
}

/// The frontier at or before both `a` and `b`: the minimal elements of their union. A time
/// is beyond the result iff it is beyond `a` or beyond `b`.
template <PartialOrder T>
Antichain<T> MeetOf(const Antichain<T>& a, const Antichain<T>& b) {
  Antichain<T> result = a;
  result.Extend(b);
  return result;
}

/// The least frontier at or after both `a` and `b`: the minimal pairwise joins. A time is
/// beyond the result iff it is beyond `a` and beyond `b`. The join with a closed frontier
/// is closed.
template <Lattice T>
Antichain<T> JoinOf(const Antichain<T>& a, const Antichain<T>& b) {
  Antichain<T> result;
  for (const T& x : a) {
    for (const T& y : b) result.Insert(Join(x, y));
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// ChangeBatch
// ---------------------------------------------------------------------------------------

/// A collection of `(time, diff)` count changes. Updates are appended in O(1) and
/// consolidated (sorted, summed per time, zeros dropped) only when read or when the
/// unconsolidated tail grows past half the batch, so memory stays proportional to the
/// number of distinct times with a non-zero sum.
template <PartialOrder T>
class ChangeBatch {
 public:
  using Change = std::pair<T, int64_t>;

  ChangeBatch() = default;

  /// A batch holding one change.
  ChangeBatch(T time, int64_t diff) { Update(std::move(time), diff); }

  /// Adds `diff` to the count of `time`.
  void Update(T time, int64_t diff) {
    if (diff == 0) return;
    updates_.emplace_back(std::move(time), diff);
    MaintainBounds();
  }

  /// Adds every `(time, diff)` of a range.
  template <typename Range>
  void Extend(const Range& changes) {
    for (const auto& [time, diff] : changes) {
      if (diff == 0) continue;
      updates_.emplace_back(time, diff);
      MaintainBounds();
    }
  }

  /// Whether the net changes are all zero.
  bool IsEmpty() {
    // The clean prefix holds distinct times with non-zero counts; each dirty update touches
    // one time, so fewer dirty updates than clean entries cannot cancel them all.
    if (clean_ > updates_.size() / 2) return false;
    Compact();
    return updates_.empty();
  }

  /// The consolidated changes, sorted by time; valid until the next mutation.
  std::span<const Change> Updates() {
    Compact();
    return {updates_.data(), updates_.size()};
  }

  /// Moves out the consolidated changes, leaving the batch empty.
  std::vector<Change> Drain() {
    Compact();
    std::vector<Change> result = std::move(updates_);
    updates_.clear();
    clean_ = 0;
    return result;
  }

  /// Appends the consolidated changes to `out` and empties the batch, keeping this batch's
  /// storage for reuse (no allocation in steady state).
  void DrainInto(std::vector<Change>& out) {
    Compact();
    out.insert(out.end(), updates_.begin(), updates_.end());
    Clear();
  }

  /// Moves every change of this batch into `other`, leaving this batch empty.
  void DrainInto(ChangeBatch& other) {
    if (other.updates_.empty()) {
      std::swap(updates_, other.updates_);
      std::swap(clean_, other.clean_);
    } else {
      other.Extend(updates_);
    }
    Clear();
  }

  /// Sorts, sums per time and drops zeros.
  void Compact() {
    if (clean_ == updates_.size()) return;
    std::sort(updates_.begin(), updates_.end(),
              [](const Change& a, const Change& b) { return a.first < b.first; });
    std::size_t out = 0;
    for (std::size_t i = 0; i < updates_.size();) {
      std::size_t j = i;
      int64_t sum = 0;
      while (j < updates_.size() && updates_[j].first == updates_[i].first) {
        sum += updates_[j].second;
        ++j;
      }
      if (sum != 0) {
        if (out != i) updates_[out].first = std::move(updates_[i].first);
        updates_[out].second = sum;
        ++out;
      }
      i = j;
    }
    updates_.resize(out);
    clean_ = out;
  }

  /// Removes every change, keeping the storage.
  void Clear() {
    updates_.clear();
    clean_ = 0;
  }

 private:
  // Consolidates once the unconsolidated suffix is at least as long as the clean prefix, so
  // each update is sorted O(log n) times amortised and memory stays within twice the
  // consolidated size. Small batches are left alone: sorting them buys nothing.
  void MaintainBounds() {
    if (updates_.size() > 32 && updates_.size() / 2 >= clean_) Compact();
  }

  std::vector<Change> updates_;
  // `updates_[0, clean_)` is sorted, consolidated and free of zeros.
  std::size_t clean_ = 0;
};

// ---------------------------------------------------------------------------------------
// MutableAntichain
// ---------------------------------------------------------------------------------------

/// A multiset of times with signed counts, together with its frontier: the minimal times
/// whose count is positive. Counts may be transiently negative (a message can be seen
/// consumed before it is seen sent); only positive counts hold the frontier back.
///
/// Updating it reports the changes to the frontier as `(time, +1)` for a time that joined
/// the frontier and `(time, -1)` for one that left it.
template <PartialOrder T>
class MutableAntichain {
 public:
  using Change = std::pair<T, int64_t>;

  /// The empty multiset, with a closed frontier.
  MutableAntichain() = default;

  /// A multiset holding `time` once.
  explicit MutableAntichain(const T& time) : frontier_(time) { updates_.Update(time, 1); }

  /// Applies count changes and returns the resulting frontier changes, consolidated; the
  /// span is valid until the next call on this object. It is an error for `changes` to
  /// alias this object's storage.
  template <typename Range>
  std::span<const Change> UpdateIter(const Range& changes) {
    frontier_changes_.Clear();
    bool rebuild = false;
    for (const auto& [time, diff] : changes) {
      if (diff == 0) continue;
      // The frontier can only change if the time is not strictly beyond it, and a negative
      // change strictly before every frontier element (a transiently negative count) cannot
      // change it either.
      if (!rebuild) {
        const bool beyond_frontier = frontier_.LessThan(time);
        const bool before_frontier = !frontier_.LessEqual(time);
        rebuild = !(beyond_frontier || (diff < 0 && before_frontier));
      }
      updates_.Update(time, diff);
    }
    if (rebuild) Rebuild();
    return frontier_changes_.Updates();
  }

  /// Applies one count change; see `UpdateIter`.
  std::span<const Change> UpdateOne(const T& time, int64_t diff) {
    const Change change(time, diff);
    return UpdateIter(std::span<const Change>(&change, 1));
  }

  /// The minimal times with a positive count.
  const Antichain<T>& Frontier() const { return frontier_; }

  /// Whether some frontier element is less than or equal to `time`.
  bool LessEqual(const T& time) const { return frontier_.LessEqual(time); }

  /// Whether some frontier element is strictly less than `time`.
  bool LessThan(const T& time) const { return frontier_.LessThan(time); }

  /// Whether the frontier is empty (no time has a positive count).
  bool IsEmpty() const { return frontier_.IsEmpty(); }

  /// The net count of `time`.
  int64_t CountFor(const T& time) {
    for (const auto& [t, diff] : updates_.Updates()) {
      if (t == time) return diff;
    }
    return 0;
  }

  /// The consolidated non-zero counts, sorted by time.
  std::span<const Change> Counts() { return updates_.Updates(); }

 private:
  // Recomputes the frontier from the consolidated counts. Sorting by the total order (a
  // linear extension of the partial order) visits every time after all times below it, so
  // one pass of `Insert` that never removes anything yields the minimal elements.
  void Rebuild() {
    for (const T& time : frontier_) frontier_changes_.Update(time, -1);
    frontier_.Clear();
    for (const auto& [time, count] : updates_.Updates()) {
      if (count > 0) frontier_.Insert(time);
    }
    for (const T& time : frontier_) frontier_changes_.Update(time, 1);
  }

  ChangeBatch<T> updates_;
  Antichain<T> frontier_;
  ChangeBatch<T> frontier_changes_;
};

}  // namespace deltaflow::time
