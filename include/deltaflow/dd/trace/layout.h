// Column layout: how the keys or values of a batch are stored.
//
// A batch stores each field of its updates as a column (DESIGN.md "Batch"). `Layout<T>` says
// how a column of `T` is laid out and how its elements are read and compared:
//
//   * most types (integers, `value::Key`, times, diffs) sit in a plain `std::vector<T>`; a
//     cursor hands out `const T&`;
//   * empty types (`Unit`, the val of a collection arranged by itself) take no bytes: their
//     column is a count;
//   * `value::Row` is variable-length, so a `RowColumn` keeps every row's bytes back to back
//     in one arena with an offset per row and hands out `value::RowView`s into it. Pushing a
//     row copies its bytes; no row owns a heap allocation of its own.
//
// `Borrowed<T>` is what a cursor returns and what builders accept: `Row` converts to
// `RowView`, so a `Row` can be pushed wherever a `RowView` is expected. Rows order by
// `value::CompareRows` and are equal when their (canonical) bytes are equal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "deltaflow/base/check.h"
#include "deltaflow/value/row.h"

namespace deltaflow::dd {

/// A column of fixed-size elements.
template <typename T>
class VectorColumn {
 public:
  using Borrowed = const T&;

  void Push(const T& element) { elements_.push_back(element); }
  /// Removes the last element. It is an error to call this on an empty column.
  void PopBack() { elements_.pop_back(); }
  std::size_t Size() const { return elements_.size(); }
  bool Empty() const { return elements_.empty(); }
  const T& operator[](std::size_t index) const {
    DELTAFLOW_DCHECK(index < elements_.size(), "column index out of range");
    return elements_[index];
  }
  const T& Back() const { return elements_.back(); }
  /// Asks the processor to start loading element `index` (a hint; no effect on results).
  void Prefetch(std::size_t index) const { __builtin_prefetch(elements_.data() + index); }
  /// Prepares for `count` elements (whose encoded size totals about `bytes`; unused here).
  void Reserve(std::size_t count, std::size_t /*bytes*/ = 0) { elements_.reserve(count); }
  void Clear() { elements_.clear(); }
  /// Releases unused capacity when more than half of it is idle (after consolidation
  /// shrank a batch below its reserved upper bound).
  void ShrinkIfSparse() {
    if (elements_.size() < elements_.capacity() / 2) elements_.shrink_to_fit();
  }
  /// Bytes held, capacity included.
  std::size_t ByteSize() const { return elements_.capacity() * sizeof(T); }
  /// Bytes of variable-length element data (none: elements are stored inline).
  std::size_t ArenaBytes() const { return 0; }

 private:
  std::vector<T> elements_;
};

/// A column of an empty type: every element is the same, so only their number is kept.
template <typename T>
class EmptyColumn {
  static_assert(std::is_empty_v<T>, "EmptyColumn holds empty types only");

 public:
  using Borrowed = const T&;

  void Push(const T& /*element*/) { ++size_; }
  void PopBack() {
    DELTAFLOW_DCHECK(size_ > 0, "PopBack on an empty column");
    --size_;
  }
  std::size_t Size() const { return size_; }
  bool Empty() const { return size_ == 0; }
  const T& operator[](std::size_t index) const {
    DELTAFLOW_DCHECK(index < size_, "column index out of range");
    return kElement;
  }
  const T& Back() const { return kElement; }
  void Prefetch(std::size_t /*index*/) const {}
  void Reserve(std::size_t /*count*/, std::size_t /*bytes*/ = 0) {}
  void Clear() { size_ = 0; }
  void ShrinkIfSparse() {}
  std::size_t ByteSize() const { return 0; }
  std::size_t ArenaBytes() const { return 0; }

 private:
  static constexpr T kElement{};
  std::size_t size_ = 0;
};

/// A column of rows: one byte arena plus an offset per row. Row `i` spans
/// `[offsets_[i], offsets_[i + 1])` of the arena. Offsets are 64-bit because merged batches of
/// a large arrangement can exceed 4 GiB of row bytes.
///
/// Rows holding object handles (rare: Python objects in cells) are additionally kept as
/// owned `Row`s, which retain the handles for as long as the column lives; the arena itself
/// only borrows them.
class RowColumn {
 public:
  using Borrowed = value::RowView;

  RowColumn() { offsets_.push_back(0); }

  void Push(value::RowView row) {
    bytes_.insert(bytes_.end(), row.data(), row.data() + row.size());
    offsets_.push_back(bytes_.size());
    if (row.has_objects()) object_holders_.emplace_back(Size() - 1, value::Row(row));
  }
  /// Removes the last row. It is an error to call this on an empty column.
  void PopBack() {
    DELTAFLOW_DCHECK(!Empty(), "PopBack on an empty column");
    offsets_.pop_back();
    bytes_.resize(offsets_.back());
    if (!object_holders_.empty() && object_holders_.back().first == Size()) {
      object_holders_.pop_back();
    }
  }
  std::size_t Size() const { return offsets_.size() - 1; }
  bool Empty() const { return offsets_.size() == 1; }
  value::RowView operator[](std::size_t index) const {
    DELTAFLOW_DCHECK(index + 1 < offsets_.size(), "column index out of range");
    const uint64_t begin = offsets_[index];
    return value::RowView(bytes_.data() + begin, offsets_[index + 1] - begin);
  }
  value::RowView Back() const { return (*this)[Size() - 1]; }
  /// Asks the processor to start loading row `index`'s offset (its bytes follow from it).
  void Prefetch(std::size_t index) const { __builtin_prefetch(offsets_.data() + index); }
  void Reserve(std::size_t count, std::size_t bytes = 0) {
    offsets_.reserve(count + 1);
    bytes_.reserve(bytes);
  }
  void Clear() {
    bytes_.clear();
    offsets_.assign(1, 0);
    object_holders_.clear();
  }
  void ShrinkIfSparse() {
    if (bytes_.size() < bytes_.capacity() / 2) bytes_.shrink_to_fit();
    if (offsets_.size() < offsets_.capacity() / 2) offsets_.shrink_to_fit();
  }
  /// Bytes of row data in the arena (excluding spare capacity).
  std::size_t ArenaBytes() const { return bytes_.size(); }
  std::size_t ByteSize() const {
    std::size_t total = bytes_.capacity() + offsets_.capacity() * sizeof(uint64_t);
    for (const auto& holder : object_holders_) total += sizeof(holder) + holder.second.size();
    return total;
  }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<uint64_t> offsets_;
  std::vector<std::pair<std::size_t, value::Row>> object_holders_;
};

/// How a column of `T` is stored, read and ordered. The primary template covers types with
/// `<` and `==` stored by value.
template <typename T>
struct Layout {
  using Column = std::conditional_t<std::is_empty_v<T>, EmptyColumn<T>, VectorColumn<T>>;
  using Borrowed = const T&;

  static bool Less(const T& a, const T& b) { return a < b; }
  static bool Equal(const T& a, const T& b) { return a == b; }
  /// Three-way comparison: <0, 0 or >0.
  static int Compare(const T& a, const T& b) { return a < b ? -1 : (b < a ? 1 : 0); }
  /// The borrowed form of an owned element (for searching with an owned key).
  static const T& Borrow(const T& owned) { return owned; }
  static T ToOwned(const T& borrowed) { return borrowed; }
  /// Encoded bytes of one element, for reserving arenas (fixed-size types need none).
  static std::size_t EncodedSize(const T& /*element*/) { return 0; }
};

/// Rows live in a `RowColumn` and are read as `RowView`s.
template <>
struct Layout<value::Row> {
  using Column = RowColumn;
  using Borrowed = value::RowView;

  static bool Less(value::RowView a, value::RowView b) { return value::CompareRows(a, b) < 0; }
  static bool Equal(value::RowView a, value::RowView b) { return a == b; }
  static int Compare(value::RowView a, value::RowView b) { return value::CompareRows(a, b); }
  static value::RowView Borrow(const value::Row& owned) { return owned.view(); }
  static value::Row ToOwned(value::RowView borrowed) { return value::Row(borrowed); }
  static std::size_t EncodedSize(const value::Row& row) { return row.size(); }
};

/// The column type storing `T`s.
template <typename T>
using ColumnFor = typename Layout<T>::Column;

/// What a cursor returns for a `T` and what builders accept: `const T&` or `RowView`.
template <typename T>
using Borrowed = typename Layout<T>::Borrowed;

/// A list of offsets into another column, pushed in non-decreasing order.
///
/// While the offsets are `0, s, 2s, 3s, ...` — every key of the batch with one val, or every
/// val with one update, the usual shape of a consolidated batch and always that of a
/// collection arranged by itself — the list is just the stride `s` and a count: no memory,
/// and no load when a cursor reads it. The first offset off the stride stores the list:
/// 32-bit values while they fit and 64-bit values after, so batches under 4G entries pay 4
/// bytes per offset.
class OffsetList {
 public:
  void Push(uint64_t offset) {
    if (strided_) {
      if (count_ == 0 ? offset == 0 : (count_ == 1 || offset == count_ * stride_)) {
        if (count_ == 1) stride_ = offset;
        ++count_;
        return;
      }
      Store();
    }
    if (large_.empty() && offset <= UINT32_MAX) {
      small_.push_back(static_cast<uint32_t>(offset));
    } else {
      large_.push_back(offset);
    }
  }
  void PopBack() {
    if (strided_) {
      DELTAFLOW_DCHECK(count_ > 0, "PopBack on an empty offset list");
      --count_;
    } else if (!large_.empty()) {
      large_.pop_back();
    } else {
      small_.pop_back();
    }
  }
  uint64_t operator[](std::size_t index) const {
    if (strided_) return index * stride_;
    return index < small_.size() ? small_[index] : large_[index - small_.size()];
  }
  uint64_t Back() const {
    if (strided_) return (count_ - 1) * stride_;
    return large_.empty() ? small_.back() : large_.back();
  }
  std::size_t Size() const { return strided_ ? count_ : small_.size() + large_.size(); }
  /// Expects about `count` offsets: reserved if and when they stop following a stride.
  void Reserve(std::size_t count) {
    if (strided_) {
      reserve_ = count;
    } else {
      small_.reserve(count);
    }
  }
  void ShrinkIfSparse() {
    if (small_.size() < small_.capacity() / 2) small_.shrink_to_fit();
  }
  std::size_t ByteSize() const {
    return small_.capacity() * sizeof(uint32_t) + large_.capacity() * sizeof(uint64_t);
  }
  /// Whether the offsets are stored as a stride (for tests and memory accounting).
  bool IsStrided() const { return strided_; }

 private:
  // Writes out the strided offsets, which the next push does not continue.
  void Store() {
    strided_ = false;
    small_.reserve(std::max(reserve_, count_ + 1));
    for (std::size_t i = 0; i < count_; ++i) Push(i * stride_);
  }

  bool strided_ = true;
  std::size_t count_ = 0;    // while strided: offsets pushed
  uint64_t stride_ = 0;      // while strided: the difference between neighbours
  std::size_t reserve_ = 0;  // offsets expected, reserved when stored
  std::vector<uint32_t> small_;
  std::vector<uint64_t> large_;
};

}  // namespace deltaflow::dd
