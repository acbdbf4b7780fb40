// MergeBatcher: turns unsorted updates into sealed batches.
//
// An arrangement receives updates in arbitrary order, in chunks, and periodically learns
// from its input frontier that no more updates will arrive at times not beyond some
// frontier `upper`. `Seal(upper)` then extracts every held update whose time is not beyond
// `upper` as one `OrdBatch` over `[lower, upper)` (lower being the previous seal's upper) and
// keeps the rest, sorted and consolidated, for later seals. (differential-dataflow
// `MergeBatcher`.)
//
// Sorting dominates batch formation. Keys that are unsigned integers are sorted with an LSD
// radix sort (one histogram pass, then one scatter pass per key byte that actually varies:
// three for keys below 2^24), after which only runs of equal keys are ordered by (val, time);
// other keys fall back to `std::sort`. Held updates are consolidated whenever the unsorted
// backlog outgrows the sorted part, so memory stays proportional to the distinct updates.
// All buffers are members and are reused across seals: in steady state batch formation
// allocates only the batch itself.
//
// Threading: one thread (the worker owning the arrangement) uses a batcher.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "deltaflow/base/check.h"
#include "deltaflow/dd/difference.h"
#include "deltaflow/dd/trace/batch.h"
#include "deltaflow/dd/trace/description.h"
#include "deltaflow/dd/trace/layout.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd {

/// Accumulates unsorted updates and seals them into batches; see the file comment.
template <typename K, typename V, time::Lattice T, Semigroup R>
class MergeBatcher {
 public:
  using Update = std::tuple<K, V, T, R>;
  using Batch = OrdBatch<K, V, T, R>;

  MergeBatcher() : lower_(time::Minimum<T>()) {}

  /// Takes every update of `chunk`, leaving it empty (its storage may be exchanged for a
  /// buffer of this batcher, so callers reusing their chunk vector keep a warm allocation).
  /// It is an error to push an update whose time is not beyond `Lower()`.
  void Push(std::vector<Update>& chunk) {
    if (pending_.empty()) {
      std::swap(pending_, chunk);
    } else {
      pending_.insert(pending_.end(), std::make_move_iterator(chunk.begin()),
                      std::make_move_iterator(chunk.end()));
    }
    chunk.clear();
    if (pending_.size() >= kMinCompaction && pending_.size() >= sorted_.size()) Compact();
  }
  void Push(std::vector<Update>&& chunk) { Push(chunk); }

  /// Extracts the held updates at times not beyond `upper` as a batch over
  /// `[Lower(), upper)` with `since` = the minimum, and makes `upper` the new lower bound.
  /// It is an error for `upper` to be before `Lower()`.
  Batch Seal(const time::Antichain<T>& upper) {
    DELTAFLOW_CHECK(lower_.Dominates(upper), "MergeBatcher::Seal: upper is before lower");
    Compact();
    typename Batch::Builder builder;
    std::size_t key_bytes = 0;
    std::size_t val_bytes = 0;
    if constexpr (!std::is_trivially_copyable_v<K> || !std::is_trivially_copyable_v<V>) {
      for (const Update& u : sorted_) {
        key_bytes += Layout<K>::EncodedSize(std::get<0>(u));
        val_bytes += Layout<V>::EncodedSize(std::get<1>(u));
      }
    }
    builder.Reserve(sorted_.size(), sorted_.size(), sorted_.size(), key_bytes, val_bytes);
    scratch_.clear();
    for (Update& u : sorted_) {
      const T& time = std::get<2>(u);
      if (upper.LessEqual(time)) {
        scratch_.push_back(std::move(u));
      } else {
        DELTAFLOW_DCHECK(lower_.LessEqual(time), "MergeBatcher: update before the lower bound");
        builder.Push(std::get<0>(u), std::get<1>(u), time, std::get<3>(u));
      }
    }
    std::swap(sorted_, scratch_);
    scratch_.clear();
    Batch batch =
        builder.Done(Description<T>(lower_, upper, time::Antichain<T>(time::Minimum<T>())));
    lower_ = upper;
    return batch;
  }

  /// The lower bound of the next sealed batch (the last seal's upper).
  const time::Antichain<T>& Lower() const { return lower_; }

  /// The minimal times of the held updates: no held update is at a time not beyond it.
  /// Walks every held update.
  time::Antichain<T> Frontier() const {
    time::Antichain<T> frontier;
    for (const Update& u : sorted_) frontier.Insert(std::get<2>(u));
    for (const Update& u : pending_) frontier.Insert(std::get<2>(u));
    return frontier;
  }

  /// The number of held updates (the unsorted backlog counted as pushed).
  std::size_t Len() const { return sorted_.size() + pending_.size(); }

  /// Bytes of the batcher's buffers, capacity included (heap memory owned by the updates
  /// themselves, such as long rows, is not counted).
  std::size_t ByteSize() const {
    return sizeof(*this) +
           (pending_.capacity() + sorted_.capacity() + scratch_.capacity()) * sizeof(Update);
  }

 private:
  // Below this many pending updates, consolidating early saves nothing worth a sort.
  static constexpr std::size_t kMinCompaction = std::size_t{1} << 16;

  static constexpr bool kRadixKey =
      std::unsigned_integral<K> && !std::same_as<K, bool> && sizeof(K) <= 8;

  // Sorts and consolidates the backlog and merges it into `sorted_`.
  void Compact() {
    if (pending_.empty()) return;
    Sort(pending_);
    Consolidate(pending_);
    if (sorted_.empty()) {
      std::swap(sorted_, pending_);
    } else {
      scratch_.clear();
      scratch_.reserve(sorted_.size() + pending_.size());
      std::merge(std::make_move_iterator(sorted_.begin()), std::make_move_iterator(sorted_.end()),
                 std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()),
                 std::back_inserter(scratch_),
                 [](const Update& a, const Update& b) { return CompareUpdates(a, b) < 0; });
      Consolidate(scratch_);
      std::swap(sorted_, scratch_);
      scratch_.clear();
    }
    pending_.clear();
  }

  // Three-way comparison by (key, val, time).
  static int CompareUpdates(const Update& a, const Update& b) {
    if (int c = Layout<K>::Compare(std::get<0>(a), std::get<0>(b)); c != 0) return c;
    return CompareValTime(a, b);
  }
  static int CompareValTime(const Update& a, const Update& b) {
    if (int c = Layout<V>::Compare(std::get<1>(a), std::get<1>(b)); c != 0) return c;
    const T& ta = std::get<2>(a);
    const T& tb = std::get<2>(b);
    return ta < tb ? -1 : (tb < ta ? 1 : 0);
  }

  void Sort(std::vector<Update>& updates) {
    if constexpr (kRadixKey) {
      if (updates.size() >= kRadixThreshold) {
        RadixSortByKey(updates);
        SortRunsByValTime(updates);
        return;
      }
    }
    std::sort(updates.begin(), updates.end(),
              [](const Update& a, const Update& b) { return CompareUpdates(a, b) < 0; });
  }

  static constexpr std::size_t kRadixThreshold = 256;

  // Stable LSD radix sort on the key, a byte per pass; passes over bytes every key shares
  // are skipped, so small key ranges cost few passes. Uses `scratch_` as the second buffer.
  void RadixSortByKey(std::vector<Update>& updates) {
    constexpr std::size_t kBytes = sizeof(K);
    std::array<std::array<uint32_t, 256>, kBytes>& counts = radix_counts_;
    for (auto& c : counts) c.fill(0);
    for (const Update& u : updates) {
      uint64_t key = static_cast<uint64_t>(std::get<0>(u));
      for (std::size_t b = 0; b < kBytes; ++b) ++counts[b][(key >> (8 * b)) & 0xff];
    }
    const std::size_t n = updates.size();
    DELTAFLOW_CHECK(n < UINT32_MAX, "MergeBatcher: radix sort of more than 2^32 updates");
    std::vector<Update>* src = &updates;
    std::vector<Update>* dst = &scratch_;
    for (std::size_t b = 0; b < kBytes; ++b) {
      auto& count = counts[b];
      const uint64_t first = static_cast<uint64_t>(std::get<0>((*src)[0]));
      if (count[(first >> (8 * b)) & 0xff] == n) continue;  // every key shares this byte
      std::array<uint32_t, 256> offsets;
      uint32_t sum = 0;
      for (std::size_t d = 0; d < 256; ++d) {
        offsets[d] = sum;
        sum += count[d];
      }
      dst->resize(n);
      for (Update& u : *src) {
        const uint64_t key = static_cast<uint64_t>(std::get<0>(u));
        (*dst)[offsets[(key >> (8 * b)) & 0xff]++] = std::move(u);
      }
      std::swap(src, dst);
    }
    if (src != &updates) std::swap(updates, scratch_);
    scratch_.clear();
  }

  // After sorting by key alone: orders each run of equal keys by (val, time).
  static void SortRunsByValTime(std::vector<Update>& updates) {
    const std::size_t n = updates.size();
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i + 1;
      while (j < n && std::get<0>(updates[j]) == std::get<0>(updates[i])) ++j;
      if (j - i > 1) {
        std::sort(updates.begin() + i, updates.begin() + j,
                  [](const Update& a, const Update& b) { return CompareValTime(a, b) < 0; });
      }
      i = j;
    }
  }

  // Sums adjacent updates with equal (key, val, time) and drops zero sums, in place.
  static void Consolidate(std::vector<Update>& updates) {
    std::size_t out = 0;
    const std::size_t n = updates.size();
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i + 1;
      while (j < n && SameData(updates[i], updates[j])) {
        std::get<3>(updates[i]) += std::get<3>(updates[j]);
        ++j;
      }
      if (!IsZero(std::get<3>(updates[i]))) {
        if (out != i) updates[out] = std::move(updates[i]);
        ++out;
      }
      i = j;
    }
    updates.resize(out);
  }
  static bool SameData(const Update& a, const Update& b) {
    return std::get<2>(a) == std::get<2>(b) && Layout<K>::Equal(std::get<0>(a), std::get<0>(b)) &&
           Layout<V>::Equal(std::get<1>(a), std::get<1>(b));
  }

  time::Antichain<T> lower_;
  std::vector<Update> pending_;  // unsorted backlog
  std::vector<Update> sorted_;   // sorted and consolidated; every time beyond lower_
  std::vector<Update> scratch_;  // second buffer for radix passes, merges and seals
  std::array<std::array<uint32_t, 256>, sizeof(K) <= 8 ? sizeof(K) : 1> radix_counts_{};
};

}  // namespace deltaflow::dd
