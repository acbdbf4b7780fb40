// Traces: the concepts, and reader handles that drive compaction.
//
// A *trace* is the indexed, compacted history of a collection: a sequence of batches tiling
// time, read through one cursor that merges them (DESIGN.md "Trace / spine";
// differential-dataflow `trace::TraceReader` / `Trace`). Two concepts separate the roles:
//
//   * `TraceReader`: what an operator reading an arrangement needs — a cursor over the
//     whole trace, the frontier `Upper()` up to which it is complete, its batches, and
//     the reader's own compaction frontiers.
//   * `Trace`: a reader that can also be written — `Insert` a batch, `Exert` merge effort.
//
// Compaction is driven by readers. Each `TraceHandle` registers a logical frontier (this
// reader will only ask for accumulations at times beyond it) and a physical frontier (this
// reader will only ask for `CursorThrough` a frontier beyond it). The trace's compaction
// frontiers are the meets of its readers' frontiers, recomputed whenever a reader advances,
// is copied or is destroyed; when the last reader goes, the frontiers become empty and the
// trace may discard its contents. So state shrinks by itself as every reader moves on.
//
// Threading: a trace and every handle to it belong to one worker thread. Nothing here is
// synchronised; handles are shared between operators of the same worker's dataflow.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "deltaflow/base/check.h"
#include "deltaflow/time/antichain.h"

namespace deltaflow::dd {

/// The cursor interface over (key, val, time, diff) data shared by batch cursors and
/// trace cursors. Keys ascend; within a key, vals ascend; `MapTimes` visits the current
/// (key, val)'s updates. Seeks only move forward.
template <typename C>
concept TraceCursor = requires(C& c, const C& cc) {
  { cc.KeyValid() } -> std::convertible_to<bool>;
  { cc.ValValid() } -> std::convertible_to<bool>;
  cc.Key();
  cc.Val();
  c.StepKey();
  c.SeekKey(cc.Key());
  c.StepVal();
  c.SeekVal(cc.Val());
  c.RewindKeys();
  c.RewindVals();
};

/// Read access to a trace. See the file comment.
template <typename Tr>
concept TraceReader = requires(Tr& tr, const Tr& ctr,
                               const time::Antichain<typename Tr::TimeType>& frontier) {
  typename Tr::KeyType;
  typename Tr::ValType;
  typename Tr::TimeType;
  typename Tr::DiffType;
  typename Tr::BatchType;
  typename Tr::CursorType;
  requires TraceCursor<typename Tr::CursorType>;
  { ctr.Cursor() } -> std::same_as<typename Tr::CursorType>;
  { ctr.CursorThrough(frontier) } -> std::same_as<std::optional<typename Tr::CursorType>>;
  { ctr.Upper() } -> std::convertible_to<const time::Antichain<typename Tr::TimeType>&>;
  {
    ctr.GetLogicalCompaction()
    } -> std::convertible_to<const time::Antichain<typename Tr::TimeType>&>;
  {
    ctr.GetPhysicalCompaction()
    } -> std::convertible_to<const time::Antichain<typename Tr::TimeType>&>;
  tr.SetLogicalCompaction(frontier);
  tr.SetPhysicalCompaction(frontier);
  ctr.MapBatches([](const typename Tr::BatchType&) {});
};

/// A trace that can be appended to and merged. See the file comment.
template <typename Tr>
concept Trace = TraceReader<Tr> &&
    requires(Tr& tr, std::shared_ptr<const typename Tr::BatchType> batch, int64_t fuel) {
  tr.Insert(std::move(batch));
  { tr.Exert(fuel) } -> std::convertible_to<bool>;
  { tr.Len() } -> std::convertible_to<std::size_t>;
};

/// Which of a reader's two compaction frontiers a change concerns.
enum class Compaction { kLogical, kPhysical };

/// A registered reader of a shared trace (an arrangement read by several operators).
///
/// Each handle holds its own logical and physical compaction frontiers and contributes them
/// to the trace's frontiers, which are the meets over all live handles. Copying a handle
/// registers another reader at the same frontiers; destroying one unregisters it; a
/// moved-from handle holds nothing. The trace is kept alive by its handles (sharing is the
/// point here), and must provide `AdjustReaderFrontier(Compaction, removed, added)`.
///
/// Threading: a handle is used on the worker thread that owns the trace.
template <typename Tr>
class TraceHandle {
 public:
  using KeyType = typename Tr::KeyType;
  using ValType = typename Tr::ValType;
  using TimeType = typename Tr::TimeType;
  using DiffType = typename Tr::DiffType;
  using BatchType = typename Tr::BatchType;
  using CursorType = typename Tr::CursorType;
  using Frontier = time::Antichain<TimeType>;

  /// Registers a new reader of `trace` at the trace's current compaction frontiers.
  explicit TraceHandle(std::shared_ptr<Tr> trace)
      : trace_(std::move(trace)),
        logical_(trace_->GetLogicalCompaction()),
        physical_(trace_->GetPhysicalCompaction()) {
    Register();
  }

  TraceHandle(const TraceHandle& other)
      : trace_(other.trace_), logical_(other.logical_), physical_(other.physical_) {
    if (trace_ != nullptr) Register();
  }
  TraceHandle(TraceHandle&& other) noexcept
      : trace_(std::move(other.trace_)),
        logical_(std::move(other.logical_)),
        physical_(std::move(other.physical_)) {
    other.trace_ = nullptr;
  }
  TraceHandle& operator=(const TraceHandle& other) {
    if (this != &other) *this = TraceHandle(other);
    return *this;
  }
  TraceHandle& operator=(TraceHandle&& other) noexcept {
    if (this != &other) {
      Unregister();
      trace_ = std::move(other.trace_);
      logical_ = std::move(other.logical_);
      physical_ = std::move(other.physical_);
      other.trace_ = nullptr;
    }
    return *this;
  }
  ~TraceHandle() { Unregister(); }

  /// Promises that this reader will only read accumulations at times beyond `frontier`.
  /// It is an error to move a frontier backwards or to use a moved-from handle.
  void SetLogicalCompaction(const Frontier& frontier) {
    DELTAFLOW_DCHECK(logical_.Dominates(frontier), "TraceHandle: logical frontier moved back");
    trace_->AdjustReaderFrontier(Compaction::kLogical, logical_, frontier);
    logical_ = frontier;
  }
  /// Promises that this reader will only call `CursorThrough` with frontiers beyond
  /// `frontier`, so batches below it may be merged.
  void SetPhysicalCompaction(const Frontier& frontier) {
    DELTAFLOW_DCHECK(physical_.Dominates(frontier), "TraceHandle: physical frontier moved back");
    trace_->AdjustReaderFrontier(Compaction::kPhysical, physical_, frontier);
    physical_ = frontier;
  }
  /// This reader's frontiers (the trace's may be earlier, held back by other readers).
  const Frontier& GetLogicalCompaction() const { return logical_; }
  const Frontier& GetPhysicalCompaction() const { return physical_; }

  CursorType Cursor() const { return trace_->Cursor(); }
  std::optional<CursorType> CursorThrough(const Frontier& upper) const {
    return trace_->CursorThrough(upper);
  }
  const Frontier& Upper() const { return trace_->Upper(); }
  template <typename F>
  void MapBatches(F&& f) const {
    trace_->MapBatches(std::forward<F>(f));
  }
  std::size_t Len() const { return trace_->Len(); }

  /// The shared trace (null for a moved-from handle).
  const std::shared_ptr<Tr>& Get() const { return trace_; }

 private:
  void Register() {
    trace_->AdjustReaderFrontier(Compaction::kLogical, Frontier(), logical_);
    trace_->AdjustReaderFrontier(Compaction::kPhysical, Frontier(), physical_);
  }
  void Unregister() {
    if (trace_ == nullptr) return;
    trace_->AdjustReaderFrontier(Compaction::kLogical, logical_, Frontier());
    trace_->AdjustReaderFrontier(Compaction::kPhysical, physical_, Frontier());
    trace_ = nullptr;
  }

  std::shared_ptr<Tr> trace_;
  Frontier logical_;
  Frontier physical_;
};

}  // namespace deltaflow::dd
