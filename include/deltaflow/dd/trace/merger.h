// Merger: fueled, resumable merging of two adjacent batches, with compaction.
//
// A spine keeps its batches few by merging them, but a merge of two large batches must not
// stall the worker: `Merger::Work(fuel)` does about `fuel` units of work (one unit per update
// read) and returns, keeping its position, so the spine can spread a merge over many calls
// (DESIGN.md "Trace / spine"; differential-dataflow `Batch::begin_merge`/`work`).
//
// While merging, every time is advanced by the compaction frontier the merge was started
// with (see advance.h); updates that become equal in (key, val, time) are summed and zero
// sums dropped. This is where history collapses: an insert and its retraction cancel once
// the frontier has passed both.
//
// Inputs must be adjacent: `older->Upper() == newer->Lower()`. The result covers
// `[older->Lower(), newer->Upper())` and has `since` = the join of the inputs' `since` and
// the merge's frontier.
//
// Threading: a merger is used by one thread at a time (the worker that owns the spine).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "deltaflow/base/check.h"
#include "deltaflow/dd/difference.h"
#include "deltaflow/dd/trace/advance.h"
#include "deltaflow/dd/trace/batch.h"
#include "deltaflow/dd/trace/description.h"
#include "deltaflow/dd/trace/layout.h"
#include "deltaflow/time/antichain.h"

namespace deltaflow::dd {

/// Sorts `(time, diff)` pairs by time, sums equal times and drops zero sums. `sorted` says
/// the input is already in time order (then only adjacent equal times are summed).
template <typename T, typename R>
void ConsolidateUpdates(std::vector<std::pair<T, R>>& updates, bool sorted) {
  if (!sorted) {
    auto by_time = [](const std::pair<T, R>& a, const std::pair<T, R>& b) {
      return a.first < b.first;
    };
    if (updates.size() <= 16) {
      // Insertion sort: the common (key, val) has a handful of updates.
      for (std::size_t i = 1; i < updates.size(); ++i) {
        for (std::size_t j = i; j > 0 && by_time(updates[j], updates[j - 1]); --j) {
          std::swap(updates[j], updates[j - 1]);
        }
      }
    } else {
      std::sort(updates.begin(), updates.end(), by_time);
    }
  }
  std::size_t out = 0;
  for (std::size_t i = 0; i < updates.size();) {
    std::size_t j = i + 1;
    R sum = updates[i].second;
    while (j < updates.size() && updates[j].first == updates[i].first) {
      sum += updates[j].second;
      ++j;
    }
    if (!IsZero(sum)) {
      if (out != i) updates[out].first = std::move(updates[i].first);
      updates[out].second = std::move(sum);
      ++out;
    }
    i = j;
  }
  updates.resize(out);
}

/// Merges two adjacent batches in bounded steps; see the file comment.
template <typename Batch>
class Merger {
 public:
  using K = typename Batch::KeyType;
  using V = typename Batch::ValType;
  using T = typename Batch::TimeType;
  using R = typename Batch::DiffType;
  using BatchPtr = std::shared_ptr<const Batch>;

  /// Starts merging `older` and `newer` (both non-null), advancing times by `frontier`.
  Merger(BatchPtr older, BatchPtr newer, const time::Antichain<T>& frontier)
      : older_(std::move(older)),
        newer_(std::move(newer)),
        cursor1_(*older_),
        cursor2_(*newer_),
        frontier_(frontier),
        input_len_(older_->Len() + newer_->Len()) {
    DELTAFLOW_DCHECK(older_->Upper() == newer_->Lower(), "Merger: batches are not adjacent");
    // Advancing by the minimum (or by nothing) changes no time; skip the per-update work.
    advance_ = !(frontier_.IsEmpty() || frontier_ == time::Antichain<T>(time::Minimum<T>()));
    description_ =
        Description<T>(older_->Lower(), newer_->Upper(),
                       time::JoinOf(time::JoinOf(older_->Since(), newer_->Since()), frontier_));
    builder_.Reserve(older_->KeyCount() + newer_->KeyCount(),
                     older_->ValCount() + newer_->ValCount(), older_->Len() + newer_->Len(),
                     older_->Keys().ArenaBytes() + newer_->Keys().ArenaBytes(),
                     older_->Vals().ArenaBytes() + newer_->Vals().ArenaBytes());
  }

  Merger(Merger&&) noexcept = default;
  Merger& operator=(Merger&&) noexcept = default;

  /// Does merge work until `fuel` is spent or the merge is complete, subtracting the work
  /// done from `fuel` (it may go slightly negative: a key is merged as a whole). Returns
  /// whether the merge is complete.
  bool Work(int64_t& fuel) {
    if (result_ != nullptr) return true;
    while (fuel > 0 && (cursor1_.KeyValid() || cursor2_.KeyValid())) {
      int order;
      if (!cursor2_.KeyValid()) {
        order = -1;
      } else if (!cursor1_.KeyValid()) {
        order = 1;
      } else {
        order = Layout<K>::Compare(cursor1_.Key(), cursor2_.Key());
      }
      std::size_t work;
      if (order < 0) {
        work = CopyKey(cursor1_);
        cursor1_.StepKey();
      } else if (order > 0) {
        work = CopyKey(cursor2_);
        cursor2_.StepKey();
      } else {
        work = MergeKey();
        cursor1_.StepKey();
        cursor2_.StepKey();
      }
      fuel -= static_cast<int64_t>(work);
    }
    if (!cursor1_.KeyValid() && !cursor2_.KeyValid()) {
      result_ = std::make_shared<const Batch>(builder_.Done(std::move(description_)));
      // The inputs are no longer needed; release them now rather than when the spine takes
      // the result.
      older_.reset();
      newer_.reset();
      return true;
    }
    return false;
  }

  /// Completes the merge regardless of fuel.
  void Finish() {
    int64_t fuel = std::numeric_limits<int64_t>::max();
    Work(fuel);
  }

  bool IsDone() const { return result_ != nullptr; }

  /// The merged batch; null until `IsDone()`.
  const BatchPtr& Result() const { return result_; }

  /// The number of updates in the two inputs.
  std::size_t InputLen() const { return input_len_; }

  /// Bytes held: the inputs while the merge runs, then the result. (The partial output is
  /// not counted; it is bounded by the inputs.)
  std::size_t ByteSize() const {
    std::size_t total = 0;
    if (older_ != nullptr) total += older_->ByteSize();
    if (newer_ != nullptr) total += newer_->ByteSize();
    if (result_ != nullptr) total += result_->ByteSize();
    return total;
  }

  /// The inputs (null once the merge is complete).
  const BatchPtr& Older() const { return older_; }
  const BatchPtr& Newer() const { return newer_; }

 private:
  using Cursor = typename Batch::BatchCursor;

  // Emits every val of the cursor's current key. Returns the updates read.
  std::size_t CopyKey(Cursor& cursor) {
    std::size_t work = 0;
    bool key_pushed = false;
    for (; cursor.ValValid(); cursor.StepVal()) {
      work += EmitVal(cursor.Key(), cursor.Val(), cursor, nullptr, key_pushed);
    }
    return work;
  }

  // Merges the vals of the key both cursors are at.
  std::size_t MergeKey() {
    std::size_t work = 0;
    bool key_pushed = false;
    while (cursor1_.ValValid() && cursor2_.ValValid()) {
      const int order = Layout<V>::Compare(cursor1_.Val(), cursor2_.Val());
      if (order < 0) {
        work += EmitVal(cursor1_.Key(), cursor1_.Val(), cursor1_, nullptr, key_pushed);
        cursor1_.StepVal();
      } else if (order > 0) {
        work += EmitVal(cursor2_.Key(), cursor2_.Val(), cursor2_, nullptr, key_pushed);
        cursor2_.StepVal();
      } else {
        work += EmitVal(cursor1_.Key(), cursor1_.Val(), cursor1_, &cursor2_, key_pushed);
        cursor1_.StepVal();
        cursor2_.StepVal();
      }
    }
    for (; cursor1_.ValValid(); cursor1_.StepVal()) {
      work += EmitVal(cursor1_.Key(), cursor1_.Val(), cursor1_, nullptr, key_pushed);
    }
    for (; cursor2_.ValValid(); cursor2_.StepVal()) {
      work += EmitVal(cursor2_.Key(), cursor2_.Val(), cursor2_, nullptr, key_pushed);
    }
    return work;
  }

  // Emits the updates of (key, val) from `a` and, if given, `b` (times advanced and
  // consolidated); pushes the key first if this is its first surviving val.
  std::size_t EmitVal(Borrowed<K> key, Borrowed<V> val, const Cursor& a, const Cursor* b,
                      bool& key_pushed) {
    const auto times_a = a.Times();
    const auto diffs_a = a.Diffs();
    if (!advance_ && b == nullptr) {
      // A batch is consolidated already: copy straight through.
      PushKeyVal(key, val, key_pushed);
      for (std::size_t i = 0; i < times_a.size(); ++i) builder_.PushUpdate(times_a[i], diffs_a[i]);
      return times_a.size();
    }
    if (b == nullptr && times_a.size() == 1) {
      // One update (most vals of a large trace): advance it, nothing to consolidate.
      T time = times_a[0];
      AdvanceBy(time, frontier_);
      PushKeyVal(key, val, key_pushed);
      builder_.PushUpdate(time, diffs_a[0]);
      return 1;
    }
    updates_.clear();
    bool sorted = Collect(times_a, diffs_a);
    std::size_t work = times_a.size();
    if (b != nullptr) {
      Collect(b->Times(), b->Diffs());
      sorted = false;
      work += b->Times().size();
    }
    ConsolidateUpdates(updates_, sorted);
    if (updates_.empty()) return work;
    PushKeyVal(key, val, key_pushed);
    for (const auto& [time, diff] : updates_) builder_.PushUpdate(time, diff);
    return work;
  }

  // Pushes `val`, and `key` first if this is its first surviving val.
  void PushKeyVal(Borrowed<K> key, Borrowed<V> val, bool& key_pushed) {
    if (!key_pushed) {
      builder_.PushKey(key);
      key_pushed = true;
    }
    builder_.PushVal(val);
  }

  // Appends advanced copies of the updates; returns whether they stayed in time order.
  bool Collect(std::span<const T> times, std::span<const R> diffs) {
    bool sorted = true;
    const std::size_t first = updates_.size();
    for (std::size_t i = 0; i < times.size(); ++i) {
      T time = times[i];
      if (advance_) AdvanceBy(time, frontier_);
      if (updates_.size() > first && time < updates_.back().first) sorted = false;
      updates_.emplace_back(std::move(time), diffs[i]);
    }
    return sorted;
  }

  BatchPtr older_;
  BatchPtr newer_;
  Cursor cursor1_;
  Cursor cursor2_;
  time::Antichain<T> frontier_;
  bool advance_ = false;
  Description<T> description_;
  typename Batch::Builder builder_;
  BatchPtr result_;
  std::size_t input_len_ = 0;
  std::vector<std::pair<T, R>> updates_;  // scratch for one (key, val), reused
};

}  // namespace deltaflow::dd
