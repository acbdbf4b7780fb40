// OrdBatch: an immutable, sorted, consolidated run of (key, val, time, diff) updates.
//
// A batch is the unit a trace is made of (DESIGN.md "Batch"). It holds the updates of a
// collection whose times lie in its `Description`'s interval `[lower, upper)`, sorted by
// (key, val, time) and consolidated: no two updates share (key, val, time) and no diff is
// zero. It is stored column-wise, so a cursor walks memory linearly:
//
//   keys_      k0        k1        ...            one entry per distinct key
//   key_offs_  0         2         ...            key i owns vals [key_offs_[i], key_offs_[i+1])
//   vals_      v0 v1     v2 ...                   one entry per distinct (key, val)
//   val_offs_  0  3  4   ...                      val j owns updates [val_offs_[j], val_offs_[j+1])
//   times_     t t t  t  ...                      one entry per update
//   diffs_     r r r  r  ...
//
// Batches are built once by `OrdBatch::Builder` (from sorted updates: the batcher and the
// merger feed it) and then only read, through `OrdBatch::BatchCursor`, which has the
// differential-dataflow cursor interface: keys in order, for each key its vals in order,
// for each (key, val) its (time, diff) updates. Seeks gallop (exponential then binary
// search) forward from the current position, so a sequence of seeks in increasing order
// costs O(log gap) each. (differential-dataflow `trace::implementations::ord`.)
//
// Threading: a built batch is immutable and may be read from any number of threads; a
// `Builder` and a cursor are each used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "deltaflow/base/check.h"
#include "deltaflow/dd/difference.h"
#include "deltaflow/dd/trace/description.h"
#include "deltaflow/dd/trace/layout.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd {

/// The first index in `[lo, hi)` at which `pred` is false, or `hi`; `pred` must be true on a
/// prefix of the range and false after. Exponential search from `lo`, then binary search:
/// O(log d) calls where d is the distance to the answer. `prefetch(i)` is told, one probe
/// ahead, of the indices the search may read next: in a large batch each probe is a cache
/// miss, and without it the misses come one after another.
template <typename Pred, typename Prefetch>
std::size_t Gallop(std::size_t lo, std::size_t hi, Pred&& pred, Prefetch&& prefetch) {
  if (lo >= hi || !pred(lo)) return lo;
  // Invariant: pred(lo) holds; the answer is in (lo, lo + step] (capped at hi).
  std::size_t step = 1;
  while (lo + step < hi) {
    if (lo + 3 * step < hi) prefetch(lo + 3 * step);
    if (!pred(lo + step)) break;
    lo += step;
    step <<= 1;
  }
  for (step >>= 1; step > 0; step >>= 1) {
    if (step > 1) {
      if (lo + step / 2 < hi) prefetch(lo + step / 2);
      if (lo + step + step / 2 < hi) prefetch(lo + step + step / 2);
    }
    if (lo + step < hi && pred(lo + step)) lo += step;
  }
  return lo + 1;
}

template <typename Pred>
std::size_t Gallop(std::size_t lo, std::size_t hi, Pred&& pred) {
  return Gallop(lo, hi, std::forward<Pred>(pred), [](std::size_t) {});
}

/// An immutable batch of updates; see the file comment.
template <typename K, typename V, time::Lattice T, Semigroup R>
class OrdBatch {
 public:
  using KeyType = K;
  using ValType = V;
  using TimeType = T;
  using DiffType = R;
  using KeyRef = Borrowed<K>;
  using ValRef = Borrowed<V>;

  class Builder;
  class BatchCursor;
  using CursorType = BatchCursor;

  /// An empty batch over the empty interval at the minimum time.
  OrdBatch() { InitOffsets(); }

  OrdBatch(OrdBatch&&) noexcept = default;
  OrdBatch& operator=(OrdBatch&&) noexcept = default;
  // Copying a batch is almost always a mistake (share a `std::shared_ptr<const OrdBatch>`).
  OrdBatch(const OrdBatch&) = delete;
  OrdBatch& operator=(const OrdBatch&) = delete;

  /// The number of updates.
  std::size_t Len() const { return times_.size(); }
  /// The number of distinct keys.
  std::size_t KeyCount() const { return keys_.Size(); }
  /// The number of distinct (key, val) pairs.
  std::size_t ValCount() const { return vals_.Size(); }
  bool IsEmpty() const { return times_.empty(); }

  /// The key and val columns, for sizing builders (e.g. row arenas in a merge).
  const ColumnFor<K>& Keys() const { return keys_; }
  const ColumnFor<V>& Vals() const { return vals_; }

  const Description<T>& GetDescription() const { return description_; }
  const time::Antichain<T>& Lower() const { return description_.lower; }
  const time::Antichain<T>& Upper() const { return description_.upper; }
  const time::Antichain<T>& Since() const { return description_.since; }

  /// A cursor at the first key. It borrows the batch, which must outlive it.
  BatchCursor Cursor() const { return BatchCursor(*this); }

  /// Heap bytes held by the columns (capacity included) plus the object itself.
  std::size_t ByteSize() const {
    return sizeof(*this) + keys_.ByteSize() + key_offs_.ByteSize() + vals_.ByteSize() +
           val_offs_.ByteSize() + times_.capacity() * sizeof(T) + diffs_.capacity() * sizeof(R);
  }

  /// Builds a batch from updates pushed in (key, val, time) order.
  ///
  /// Two ways to push: `Push(k, v, t, r)` takes updates sorted by (key, val, time), sums
  /// adjacent updates with equal (key, val, time) and drops those that sum to zero; the
  /// structural `PushKey`/`PushVal`/`PushUpdate` skip the comparisons for callers that know
  /// the structure (the merger, the batcher): it is an error to push a key or val that is not
  /// greater than the previous one of its scope, or, through `PushUpdate`, times that are not
  /// strictly increasing within a (key, val) or a zero diff. Keys and vals left without any
  /// update are removed when the next one begins.
  class Builder {
   public:
    Builder() = default;

    /// Reserves room for the given counts (upper bounds are fine; `Done` releases unused
    /// capacity when more than half is idle). `key_bytes`/`val_bytes` size row arenas.
    void Reserve(std::size_t keys, std::size_t vals, std::size_t updates, std::size_t key_bytes = 0,
                 std::size_t val_bytes = 0) {
      batch_.keys_.Reserve(keys, key_bytes);
      batch_.key_offs_.Reserve(keys + 1);
      batch_.vals_.Reserve(vals, val_bytes);
      batch_.val_offs_.Reserve(vals + 1);
      batch_.times_.reserve(updates);
      batch_.diffs_.reserve(updates);
    }

    /// Pushes one update; see the class comment.
    void Push(KeyRef key, ValRef val, const T& time, const R& diff) {
      if (KeyOpen() && Layout<K>::Equal(batch_.keys_.Back(), key)) {
        if (ValOpen() && Layout<V>::Equal(batch_.vals_.Back(), val)) {
          if (batch_.times_.size() > batch_.val_offs_.Back() && batch_.times_.back() == time) {
            batch_.diffs_.back() += diff;
            return;
          }
          DELTAFLOW_DCHECK(
              batch_.times_.size() == batch_.val_offs_.Back() || batch_.times_.back() < time,
              "Builder::Push: times out of order");
          FinishTime();
        } else {
          DELTAFLOW_DCHECK(!ValOpen() || Layout<V>::Less(batch_.vals_.Back(), val),
                           "Builder::Push: vals out of order");
          PushVal(val);
        }
      } else {
        DELTAFLOW_DCHECK(!KeyOpen() || Layout<K>::Less(batch_.keys_.Back(), key),
                         "Builder::Push: keys out of order");
        PushKey(key);
        PushVal(val);
      }
      batch_.times_.push_back(time);
      batch_.diffs_.push_back(diff);
    }

    /// Starts a new key, closing the previous one.
    void PushKey(KeyRef key) {
      FinishVal();
      FinishKey();
      batch_.keys_.Push(key);
    }
    /// Starts a new val of the current key. It is an error to call this before `PushKey`.
    void PushVal(ValRef val) {
      DELTAFLOW_DCHECK(KeyOpen(), "Builder::PushVal without a key");
      FinishVal();
      batch_.vals_.Push(val);
    }
    /// Appends an update to the current (key, val). It is an error to call this before
    /// `PushVal`.
    void PushUpdate(const T& time, const R& diff) {
      DELTAFLOW_DCHECK(ValOpen(), "Builder::PushUpdate without a val");
      DELTAFLOW_DCHECK(!IsZero(diff), "Builder::PushUpdate with a zero diff");
      batch_.times_.push_back(time);
      batch_.diffs_.push_back(diff);
    }

    /// The number of updates pushed so far (before a final cancellation).
    std::size_t Len() const { return batch_.times_.size(); }

    /// Finishes the batch and resets the builder.
    OrdBatch Done(Description<T> description) {
      FinishVal();
      FinishKey();
      DELTAFLOW_DCHECK(batch_.key_offs_.Size() == batch_.keys_.Size() + 1 &&
                           batch_.val_offs_.Size() == batch_.vals_.Size() + 1 &&
                           batch_.key_offs_.Back() == batch_.vals_.Size() &&
                           batch_.val_offs_.Back() == batch_.times_.size(),
                       "Builder::Done: inconsistent offsets");
      batch_.description_ = std::move(description);
      batch_.keys_.ShrinkIfSparse();
      batch_.key_offs_.ShrinkIfSparse();
      batch_.vals_.ShrinkIfSparse();
      batch_.val_offs_.ShrinkIfSparse();
      if (batch_.times_.size() < batch_.times_.capacity() / 2) {
        batch_.times_.shrink_to_fit();
        batch_.diffs_.shrink_to_fit();
      }
      OrdBatch result = std::move(batch_);
      batch_ = OrdBatch();
      return result;
    }

   private:
    // The last key accepts vals until the next key begins: `key_offs_` then has no entry
    // for its end yet. Likewise for the last val and `val_offs_`.
    bool KeyOpen() const {
      return batch_.key_offs_.Size() == batch_.keys_.Size() && !batch_.keys_.Empty();
    }
    bool ValOpen() const {
      return batch_.val_offs_.Size() == batch_.vals_.Size() && !batch_.vals_.Empty();
    }

    // Drops the last update of the open val if accumulation cancelled it.
    void FinishTime() {
      if (batch_.times_.size() > batch_.val_offs_.Back() && IsZero(batch_.diffs_.back())) {
        batch_.times_.pop_back();
        batch_.diffs_.pop_back();
      }
    }
    void FinishVal() {
      if (!ValOpen()) return;
      FinishTime();
      if (batch_.times_.size() == batch_.val_offs_.Back()) {
        batch_.vals_.PopBack();  // every update of this val cancelled
      } else {
        batch_.val_offs_.Push(batch_.times_.size());
      }
    }
    void FinishKey() {
      if (!KeyOpen()) return;
      if (batch_.vals_.Size() == batch_.key_offs_.Back()) {
        batch_.keys_.PopBack();  // every val of this key cancelled
      } else {
        batch_.key_offs_.Push(batch_.vals_.Size());
      }
    }

    OrdBatch batch_;
  };

  /// A cursor over one batch with the differential-dataflow cursor interface. Positions are
  /// indices, so a cursor is cheap to copy. It borrows the batch, which must outlive it.
  class BatchCursor {
   public:
    explicit BatchCursor(const OrdBatch& batch) : batch_(&batch) { SetKey(0); }

    /// Whether the cursor is at a key (false once keys are exhausted).
    bool KeyValid() const { return key_ < batch_->keys_.Size(); }
    /// Whether the cursor is at a val of the current key.
    bool ValValid() const { return val_ < val_end_; }
    /// The current key. It is an error to call this unless `KeyValid()`.
    KeyRef Key() const { return batch_->keys_[key_]; }
    /// The current val. It is an error to call this unless `ValValid()`.
    ValRef Val() const { return batch_->vals_[val_]; }

    /// Moves to the next key (and its first val).
    void StepKey() { SetKey(key_ + 1); }
    /// Moves forward to the first key not less than `key`; never moves backwards.
    void SeekKey(KeyRef key) {
      const auto& keys = batch_->keys_;
      const std::size_t at =
          Gallop(key_, keys.Size(), [&](std::size_t i) { return Layout<K>::Less(keys[i], key); },
                 [&](std::size_t i) { keys.Prefetch(i); });
      if (at != key_) SetKey(at);
    }
    /// Moves to the next val of the current key.
    void StepVal() { ++val_; }
    /// Moves forward to the first val of the current key not less than `val`.
    void SeekVal(ValRef val) {
      const auto& vals = batch_->vals_;
      val_ = Gallop(val_, val_end_, [&](std::size_t i) { return Layout<V>::Less(vals[i], val); });
    }
    /// Back to the first key.
    void RewindKeys() { SetKey(0); }
    /// Back to the first val of the current key.
    void RewindVals() { SetKey(key_); }

    /// Calls `f(const T& time, const R& diff)` for each update of the current (key, val), in
    /// time order. It is an error to call this unless `ValValid()`.
    template <typename F>
    void MapTimes(F&& f) const {
      const std::size_t end = batch_->val_offs_[val_ + 1];
      for (std::size_t i = batch_->val_offs_[val_]; i < end; ++i) {
        f(batch_->times_[i], batch_->diffs_[i]);
      }
    }
    /// The times of the current (key, val), parallel to `Diffs()`.
    std::span<const T> Times() const {
      const std::size_t begin = batch_->val_offs_[val_];
      return {batch_->times_.data() + begin, batch_->val_offs_[val_ + 1] - begin};
    }
    /// The diffs of the current (key, val), parallel to `Times()`.
    std::span<const R> Diffs() const {
      const std::size_t begin = batch_->val_offs_[val_];
      return {batch_->diffs_.data() + begin, batch_->val_offs_[val_ + 1] - begin};
    }

    /// The number of vals of the current key (at any position).
    std::size_t ValsOfKey() const {
      return KeyValid() ? batch_->key_offs_[key_ + 1] - batch_->key_offs_[key_] : 0;
    }
    const OrdBatch& Batch() const { return *batch_; }

   private:
    void SetKey(std::size_t key) {
      key_ = key;
      if (KeyValid()) {
        val_ = batch_->key_offs_[key];
        val_end_ = batch_->key_offs_[key + 1];
      } else {
        val_ = val_end_ = 0;
      }
    }

    const OrdBatch* batch_;
    std::size_t key_ = 0;
    std::size_t val_ = 0;
    std::size_t val_end_ = 0;
  };

 private:
  void InitOffsets() {
    key_offs_.Push(0);
    val_offs_.Push(0);
  }

  Description<T> description_;
  ColumnFor<K> keys_;
  OffsetList key_offs_;
  ColumnFor<V> vals_;
  OffsetList val_offs_;
  std::vector<T> times_;
  std::vector<R> diffs_;
};

}  // namespace deltaflow::dd
