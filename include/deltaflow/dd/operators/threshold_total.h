// Count and threshold for totally ordered times (differential dataflow's `count_total` and
// `threshold_total`).
//
// With totally ordered times, a key's count just before a batch is everything the trace holds
// for it, and within the batch the count changes at the batch's times in order. So the
// operator needs no output trace and no interesting-time bookkeeping: for each key of a batch
// it reads the count so far from the input trace (through the batch's lower bound), then
// walks the batch's times, emitting the change of the output at each one. `Count`, `Distinct`
// and `Threshold` use this path whenever the time type is totally ordered.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd {

/// For every key of `arranged` and every time its count changes: `emit(key, time, old, new,
/// out)`, appending output updates to `out`. Totally ordered times only.
template <typename D, typename K, typename T, typename R, typename Emit>
  requires time::TotalOrder<T>
Collection<D, T, R> AggregateTotal(const Arranged<K, Unit, T, R>& arranged, std::string name,
                                   Emit emit) {
  using A = Arranged<K, Unit, T, R>;
  auto handle = std::make_shared<typename A::Handle>(arranged.NewHandle());
  auto logic = [handle, emit = std::move(emit)](auto& input, auto& output, auto&) mutable {
    input.ForEach([&](const T& time, std::vector<Update<typename A::BatchPtr, T, R>>& batches) {
      std::vector<Update<D, T, R>> out;
      for (const auto& b : batches) {
        auto trace = handle->CursorThrough(b.data->Lower());
        DELTAFLOW_CHECK(trace.has_value(), "count: trace merged past a batch's lower bound");
        for (auto cursor = b.data->Cursor(); cursor.KeyValid(); cursor.StepKey()) {
          R count{};
          trace->SeekKey(cursor.Key());
          if (trace->KeyValid() && trace->Key() == cursor.Key()) {
            for (; trace->ValValid(); trace->StepVal()) {
              trace->MapTimes([&](const T&, const R& r) { count += r; });
            }
          }
          for (; cursor.ValValid(); cursor.StepVal()) {
            // Times of one (key, val) are sorted and distinct within a batch.
            cursor.MapTimes([&](const T& t, const R& r) {
              R next = count + r;
              emit(cursor.Key(), t, count, next, out);
              count = next;
            });
          }
        }
        // Only accumulations at or after the next batch are read from now on.
        handle->SetPhysicalCompaction(b.data->Upper());
        handle->SetLogicalCompaction(b.data->Upper());
      }
      output.Send(time, std::move(out));
    });
  };
  Collection<typename A::BatchPtr, T, R> stream(&arranged.worker(), arranged.batches());
  return stream.template Unary<D>(std::move(name), std::move(logic));
}

/// (record, count) for every record with a non-zero count; totally ordered times.
template <typename D, typename T, typename R>
  requires time::TotalOrder<T>
Collection<std::pair<D, R>, T, R> CountTotal(const Collection<D, T, R>& collection) {
  using Out = std::pair<D, R>;
  return AggregateTotal<Out>(
      ArrangeBySelf(collection), "CountTotal",
      [](const auto& key, const T& t, const R& old_count, const R& new_count,
         std::vector<Update<Out, T, R>>& out) {
        if (old_count != R{}) out.push_back({Out(ToOwned<D>(key), old_count), t, R{-1}});
        if (new_count != R{}) out.push_back({Out(ToOwned<D>(key), new_count), t, R{1}});
      });
}

/// Each record with multiplicity `f(count)`; totally ordered times.
template <typename D, typename T, typename R, typename F>
  requires time::TotalOrder<T>
Collection<D, T, R> ThresholdTotal(const Collection<D, T, R>& collection, F f) {
  return AggregateTotal<D>(
      ArrangeBySelf(collection), "ThresholdTotal",
      [f = std::move(f)](const auto& key, const T& t, const R& old_count, const R& new_count,
                         std::vector<Update<D, T, R>>& out) {
        R before = old_count == R{} ? R{} : f(old_count);
        R after = new_count == R{} ? R{} : f(new_count);
        if (before != after) out.push_back({ToOwned<D>(key), t, after - before});
      });
}

}  // namespace deltaflow::dd
