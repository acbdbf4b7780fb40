// Spine: a trace stored as a log-structured merge of batches, merged with bounded effort.
//
// An arrangement receives one batch per sealed interval of time. Keeping every batch would
// make reads slow (a cursor merges all of them); merging everything on each insert would
// make writes slow. The spine keeps batches in *levels*: level i holds batches of at most
// 2^i updates, and each level holds a single batch, or two batches being merged. A new batch
// of n updates enters at level ceil(log2 n) after all smaller levels were rolled up into
// it; when a level gets a second batch their merge begins, and every insert hands each
// running merge fuel proportional to the inserted batch's size (8 * 2^level units). That
// is enough to finish each merge before its level is needed again, so the amortised merge
// work per update is O(log n) and no single insert does more than O(its size * levels)
// work. (differential-dataflow `spine_fueled`.)
//
// Compaction (DESIGN.md "Trace / spine"):
//   * the *logical* frontier says readers only need accumulations at times beyond it;
//     merges begun after it advanced advance times to it, so history collapses and
//     cancelled updates disappear. When it becomes empty no reader remains: the spine drops
//     all its batches, and drops later inserts.
//   * the *physical* frontier says readers only need `CursorThrough` at frontiers beyond it;
//     batches whose upper is not yet at or before it wait unmerged in `pending_`, so a
//     reader can still see the trace as of each batch boundary it may ask for. With the
//     default (the minimum time) nothing is merged: readers, or the owner, must advance it.
//
// Both frontiers only move forward. They are set directly (`SetLogicalCompaction`,
// `SetPhysicalCompaction`) or, for a shared arrangement, derived from every registered
// `TraceHandle` (trace.h): the meet of the readers' frontiers, recomputed whenever a reader
// advances, is copied or is dropped. Use one way or the other for a given spine.
//
// `Exert(fuel)` lets an idle worker continue merges (or roll small batches up when none is
// running), so a quiescent arrangement still compacts.
//
// Threading: a spine is owned by one worker thread; nothing is synchronised and no method
// may run concurrently with another. Cursors hold shared references to the batches they
// read, so they stay valid (seeing the batches of the moment they were made) after the
// spine inserts, merges or drops.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "deltaflow/base/check.h"
#include "deltaflow/dd/difference.h"
#include "deltaflow/dd/trace/batch.h"
#include "deltaflow/dd/trace/layout.h"
#include "deltaflow/dd/trace/merger.h"
#include "deltaflow/dd/trace/trace.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd {

/// A cursor over several batches, presenting their union in key, then val, order. A
/// (key, val) present in several batches is visited once; `MapTimes` then reports the
/// updates of every batch holding it (not consolidated across batches). Holds shared
/// references to its batches.
template <typename Batch>
class CursorList {
 public:
  using K = typename Batch::KeyType;
  using V = typename Batch::ValType;
  using BatchPtr = std::shared_ptr<const Batch>;

  CursorList() = default;
  /// A cursor over `batches` (empty ones are skipped), at the first key.
  explicit CursorList(const std::vector<BatchPtr>& batches) {
    for (const BatchPtr& batch : batches) {
      if (batch != nullptr && !batch->IsEmpty()) batches_.push_back(batch);
    }
    cursors_.reserve(batches_.size());
    for (const BatchPtr& batch : batches_) cursors_.push_back(batch->Cursor());
    MinimizeKeys();
  }

  bool KeyValid() const { return !min_key_.empty(); }
  bool ValValid() const { return !min_val_.empty(); }
  /// It is an error to call this unless `KeyValid()`.
  Borrowed<K> Key() const { return cursors_[min_key_[0]].Key(); }
  /// It is an error to call this unless `ValValid()`.
  Borrowed<V> Val() const { return cursors_[min_val_[0]].Val(); }

  void StepKey() {
    for (uint32_t i : min_key_) cursors_[i].StepKey();
    MinimizeKeys();
  }
  void SeekKey(Borrowed<K> key) {
    for (auto& cursor : cursors_) cursor.SeekKey(key);
    MinimizeKeys();
  }
  void StepVal() {
    for (uint32_t i : min_val_) cursors_[i].StepVal();
    MinimizeVals();
  }
  void SeekVal(Borrowed<V> val) {
    for (uint32_t i : min_key_) cursors_[i].SeekVal(val);
    MinimizeVals();
  }
  void RewindKeys() {
    for (auto& cursor : cursors_) cursor.RewindKeys();
    MinimizeKeys();
  }
  void RewindVals() {
    for (uint32_t i : min_key_) cursors_[i].RewindVals();
    MinimizeVals();
  }
  /// Calls `f(const T&, const R&)` for every update of the current (key, val) in every
  /// batch; times are in order within a batch only.
  template <typename F>
  void MapTimes(F&& f) const {
    for (uint32_t i : min_val_) cursors_[i].MapTimes(f);
  }

 private:
  void MinimizeKeys() {
    min_key_.clear();
    for (uint32_t i = 0; i < cursors_.size(); ++i) {
      if (!cursors_[i].KeyValid()) continue;
      if (min_key_.empty()) {
        min_key_.push_back(i);
        continue;
      }
      const int order = Layout<K>::Compare(cursors_[i].Key(), cursors_[min_key_[0]].Key());
      if (order < 0) min_key_.clear();
      if (order <= 0) min_key_.push_back(i);
    }
    MinimizeVals();
  }
  void MinimizeVals() {
    min_val_.clear();
    for (uint32_t i : min_key_) {
      if (!cursors_[i].ValValid()) continue;
      if (min_val_.empty()) {
        min_val_.push_back(i);
        continue;
      }
      const int order = Layout<V>::Compare(cursors_[i].Val(), cursors_[min_val_[0]].Val());
      if (order < 0) min_val_.clear();
      if (order <= 0) min_val_.push_back(i);
    }
  }

  std::vector<BatchPtr> batches_;
  std::vector<typename Batch::BatchCursor> cursors_;
  absl::InlinedVector<uint32_t, 8> min_key_;  // cursors at the least key
  absl::InlinedVector<uint32_t, 8> min_val_;  // of those, cursors at the least val
};

/// An LSM trace of `OrdBatch`es; see the file comment.
template <typename K, typename V, time::Lattice T, Semigroup R>
class Spine {
 public:
  using KeyType = K;
  using ValType = V;
  using TimeType = T;
  using DiffType = R;
  using BatchType = OrdBatch<K, V, T, R>;
  using BatchPtr = std::shared_ptr<const BatchType>;
  using CursorType = CursorList<BatchType>;
  using Frontier = time::Antichain<T>;

  /// An empty trace: upper, logical and physical frontiers at the minimum time.
  Spine()
      : upper_(time::Minimum<T>()), logical_(time::Minimum<T>()), physical_(time::Minimum<T>()) {}

  Spine(const Spine&) = delete;
  Spine& operator=(const Spine&) = delete;

  /// Appends a batch. It is an error unless `batch->Lower() == Upper()`. Applies merge fuel
  /// proportional to the batch's size.
  void Insert(BatchPtr batch) {
    DELTAFLOW_CHECK(batch != nullptr, "Spine::Insert: null batch");
    DELTAFLOW_CHECK(batch->Lower() == upper_, "Spine::Insert: batch does not start at Upper()");
    upper_ = batch->Upper();
    if (logical_.IsEmpty()) return;  // no reader will ever read it
    pending_.push_back(std::move(batch));
    ConsiderMerges();
  }

  /// Allows times to be advanced to `frontier` (see the file comment). It is an error to
  /// move the frontier backwards. An empty frontier drops every batch.
  void SetLogicalCompaction(const Frontier& frontier) {
    DELTAFLOW_DCHECK(logical_.Dominates(frontier), "Spine: logical frontier moved backwards");
    logical_ = frontier;
    if (logical_.IsEmpty()) {
      levels_.clear();
      pending_.clear();
    }
  }
  /// Allows batches with an upper at or before `frontier` to be merged. It is an error to
  /// move the frontier backwards.
  void SetPhysicalCompaction(const Frontier& frontier) {
    DELTAFLOW_DCHECK(physical_.Dominates(frontier), "Spine: physical frontier moved backwards");
    physical_ = frontier;
    ConsiderMerges();
  }
  const Frontier& GetLogicalCompaction() const { return logical_; }
  const Frontier& GetPhysicalCompaction() const { return physical_; }

  /// The frontier up to which the trace is complete: the upper of the last batch.
  const Frontier& Upper() const { return upper_; }

  /// Multiplies the fuel each insert applies (default 1, DD's calibration).
  void SetEffort(int64_t effort) {
    DELTAFLOW_CHECK(effort >= 1, "Spine::SetEffort: effort must be positive");
    effort_ = effort;
  }

  /// Does up to about `fuel` units of merge work: continues running merges or, if none runs
  /// and there are several batches, rolls the batches of levels below log2(fuel) into one.
  /// Returns whether merges remain in progress (calling again would do more work).
  bool Exert(int64_t fuel) {
    if (logical_.IsEmpty()) return false;
    if (HasMerges()) {
      ApplyFuel(fuel);
    } else if (BatchCount() > 1) {
      IntroduceBatch(nullptr, LevelFor(static_cast<uint64_t>(std::max<int64_t>(fuel, 1))));
    }
    return HasMerges();
  }

  /// A cursor over the whole trace.
  CursorType Cursor() const {
    std::vector<BatchPtr> batches;
    ForEachBatch([&](const BatchPtr& batch) { batches.push_back(batch); });
    return CursorType(batches);
  }

  /// A cursor over exactly the batches whose upper is at or before `upper`; nullopt if a
  /// non-empty batch straddles `upper` (it is beyond the physical frontier) or if `upper` is
  /// beyond `Upper()`.
  std::optional<CursorType> CursorThrough(const Frontier& upper) const {
    if (!upper.Dominates(upper_)) return std::nullopt;
    std::vector<BatchPtr> batches;
    bool straddles = false;
    ForEachBatch([&](const BatchPtr& batch) {
      if (batch->Upper().Dominates(upper)) {
        batches.push_back(batch);
      } else if (!upper.Dominates(batch->Lower()) && !batch->IsEmpty()) {
        straddles = true;
      }
    });
    if (straddles) return std::nullopt;
    return CursorType(batches);
  }

  /// Calls `f(const BatchType&)` for each batch, oldest first (inputs of a running merge
  /// included).
  template <typename F>
  void MapBatches(F&& f) const {
    ForEachBatch([&](const BatchPtr& batch) { f(*batch); });
  }

  /// The number of updates held.
  std::size_t Len() const {
    std::size_t total = 0;
    ForEachBatch([&](const BatchPtr& batch) { total += batch->Len(); });
    return total;
  }
  /// The number of batches held.
  std::size_t BatchCount() const {
    std::size_t count = 0;
    ForEachBatch([&](const BatchPtr&) { ++count; });
    return count;
  }
  /// Bytes held by the batches.
  std::size_t ByteSize() const {
    std::size_t total = sizeof(*this);
    ForEachBatch([&](const BatchPtr& batch) { total += batch->ByteSize(); });
    return total;
  }

  /// Applies a reader's frontier change: `removed`'s elements leave the multiset of reader
  /// frontier elements and `added`'s join it; the spine's frontier becomes the minimal
  /// elements of the multiset. Called by `TraceHandle`, which guarantees each reader moves
  /// forward.
  void AdjustReaderFrontier(Compaction which, const Frontier& removed, const Frontier& added) {
    changes_.clear();
    for (const T& time : removed) changes_.emplace_back(time, -1);
    for (const T& time : added) changes_.emplace_back(time, 1);
    auto& readers = which == Compaction::kLogical ? logical_readers_ : physical_readers_;
    if (readers.UpdateIter(changes_).empty()) return;
    if (which == Compaction::kLogical) {
      SetLogicalCompaction(readers.Frontier());
    } else {
      SetPhysicalCompaction(readers.Frontier());
    }
  }

 private:
  using MergerType = Merger<BatchType>;

  // One level of the LSM: nothing, one batch (null: structurally empty, a placeholder for
  // `Exert`'s virtual batches), or two batches being merged (`merger`) or already merged
  // (`batch`, when `merger` is empty).
  struct Level {
    enum class State : uint8_t { kVacant, kSingle, kDouble };
    State state = State::kVacant;
    BatchPtr batch;
    std::optional<MergerType> merger;

    // The number of updates this level represents (the inputs, while merging).
    std::size_t Len() const {
      if (merger.has_value()) return merger->InputLen();
      return batch != nullptr ? batch->Len() : 0;
    }
  };

  // The level a batch of `len` updates belongs to: ceil(log2(len)), 0 for len <= 1.
  static std::size_t LevelFor(uint64_t len) {
    return len <= 1 ? 0 : static_cast<std::size_t>(std::bit_width(len - 1));
  }

  template <typename F>
  void ForEachBatch(F&& f) const {
    for (std::size_t i = levels_.size(); i-- > 0;) {
      const Level& level = levels_[i];
      if (level.merger.has_value()) {
        if (level.merger->IsDone()) {
          f(level.merger->Result());
        } else {
          f(level.merger->Older());
          f(level.merger->Newer());
        }
      } else if (level.batch != nullptr) {
        f(level.batch);
      }
    }
    for (const BatchPtr& batch : pending_) f(batch);
  }

  bool HasMerges() const {
    for (const Level& level : levels_) {
      if (level.state == Level::State::kDouble) return true;
    }
    return false;
  }

  // Moves pending batches whose upper the physical frontier has passed into the levels.
  void ConsiderMerges() {
    while (!pending_.empty() && pending_.front()->Upper().Dominates(physical_)) {
      BatchPtr batch = std::move(pending_.front());
      pending_.pop_front();
      const std::size_t index = LevelFor(batch->Len());
      IntroduceBatch(std::move(batch), index);
    }
  }

  // Inserts `batch` (possibly null: a virtual batch that forces roll-up) at `index`.
  void IntroduceBatch(BatchPtr batch, std::size_t index) {
    // Fuel 8 * 2^index per merge: each running merge at level j needs at most 2^(j+1)
    // units and is re-entered only after 2^j more updates arrived, so merges complete in
    // time (DD's argument; `InsertAt` still copes if one has not).
    const int64_t fuel =
        index < 50 ? (int64_t{8} << index) * effort_ : std::numeric_limits<int64_t>::max();
    ApplyFuel(fuel);
    RollUp(index);
    InsertAt(std::move(batch), index);
    TidyLayers();
  }

  // Gives each running merge `fuel` and promotes completed merges a level up.
  void ApplyFuel(int64_t fuel) {
    for (std::size_t i = 0; i < levels_.size(); ++i) {
      Level& level = levels_[i];
      if (level.state != Level::State::kDouble) continue;
      if (level.merger.has_value()) {
        int64_t level_fuel = fuel;
        if (!level.merger->Work(level_fuel)) continue;
      }
      BatchPtr merged = CompleteAt(i);
      InsertAt(std::move(merged), i + 1);
    }
  }

  // Merges every batch below `index` into one and places it at `index` (completing a merge
  // there if that starts one, so that `index` can accept the next batch).
  void RollUp(std::size_t index) {
    while (levels_.size() <= index) levels_.emplace_back();
    bool any = false;
    for (std::size_t i = 0; i < index; ++i) any |= levels_[i].state != Level::State::kVacant;
    if (!any) return;
    BatchPtr merged;
    for (std::size_t i = 0; i < index; ++i) {
      InsertAt(std::move(merged), i);
      merged = CompleteAt(i);
    }
    InsertAt(std::move(merged), index);
    if (levels_[index].state == Level::State::kDouble) {
      merged = CompleteAt(index);
      InsertAt(std::move(merged), index + 1);
    }
  }

  // Places `batch` at level `index`: it fills a vacant level, or starts a merge with the
  // (older) batch there. A level still merging is completed first and its result moved up.
  void InsertAt(BatchPtr batch, std::size_t index) {
    while (levels_.size() <= index) levels_.emplace_back();
    switch (levels_[index].state) {
      case Level::State::kVacant:
        levels_[index].state = Level::State::kSingle;
        levels_[index].batch = std::move(batch);
        break;
      case Level::State::kSingle: {
        Level& level = levels_[index];
        BatchPtr older = std::move(level.batch);
        level.state = Level::State::kDouble;
        if (older != nullptr && batch != nullptr) {
          level.merger.emplace(std::move(older), std::move(batch), logical_);
        } else {
          level.batch = older != nullptr ? std::move(older) : std::move(batch);
        }
        break;
      }
      case Level::State::kDouble: {
        BatchPtr merged = CompleteAt(index);
        InsertAt(std::move(merged), index + 1);
        levels_[index].state = Level::State::kSingle;
        levels_[index].batch = std::move(batch);
        break;
      }
    }
  }

  // Empties level `index` and returns its batch, completing a running merge.
  BatchPtr CompleteAt(std::size_t index) {
    Level& level = levels_[index];
    BatchPtr result;
    if (level.merger.has_value()) {
      level.merger->Finish();
      result = level.merger->Result();
    } else {
      result = std::move(level.batch);
    }
    level = Level();
    return result;
  }

  // If the largest level holds a single batch much smaller than its level, moves it down
  // while the levels below are empty (or merges it with the batch it meets, if the levels
  // below that are small enough), so the spine does not stay tall after its contents shrank.
  void TidyLayers() {
    if (levels_.empty()) return;
    std::size_t length = levels_.size();
    if (levels_[length - 1].state != Level::State::kSingle) return;
    const std::size_t appropriate = LevelFor(levels_[length - 1].Len());
    while (appropriate < length - 1) {
      Level& below = levels_[length - 2];
      if (below.state == Level::State::kVacant ||
          (below.state == Level::State::kSingle && below.batch == nullptr)) {
        levels_.erase(levels_.begin() + static_cast<std::ptrdiff_t>(length - 2));
        length = levels_.size();
        continue;
      }
      if (below.state == Level::State::kSingle) {
        std::size_t smaller = 0;
        for (std::size_t i = 0; i + 2 < length; ++i) {
          if (levels_[i].state == Level::State::kSingle) smaller += std::size_t{1} << i;
          if (levels_[i].state == Level::State::kDouble) smaller += std::size_t{2} << i;
        }
        if (smaller <= (std::size_t{1} << length) / 8) {
          BatchPtr batch = std::move(below.batch);
          levels_.erase(levels_.begin() + static_cast<std::ptrdiff_t>(length - 2));
          InsertAt(std::move(batch), length - 2);
        }
      }
      return;
    }
  }

  std::vector<Level> levels_;
  std::deque<BatchPtr> pending_;  // inserted, not yet at or before the physical frontier
  Frontier upper_;
  Frontier logical_;
  Frontier physical_;
  time::MutableAntichain<T> logical_readers_;
  time::MutableAntichain<T> physical_readers_;
  std::vector<std::pair<T, int64_t>> changes_;  // scratch for AdjustReaderFrontier
  int64_t effort_ = 1;
};

}  // namespace deltaflow::dd
