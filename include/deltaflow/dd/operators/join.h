// Join: matches two arrangements on their keys (differential dataflow's `join_core`).
//
// Each batch that arrives on one side is joined with the other side's trace as of the
// batches of that side already processed (its *acknowledged* frontier), so every pair of
// updates meets exactly once: when the later of the two batches is processed. A pair
// `(k, v1, t1, r1)`, `(k, v2, t2, r2)` produces `f(k, v1, v2)` at time `Join(t1, t2)` with
// diff `r1 * r2`. The cost of a batch is proportional to the keys it holds and their matches,
// never to the whole state.
//
// Compaction: future batches of side 1 have times at or after side 1's input frontier, and a
// joined time is the join of both times, so side 2's trace may advance its times to side 1's
// frontier (and vice versa) without changing any result; the operator advances its handles
// accordingly, and releases a side's trace entirely once the other side is complete.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"

namespace deltaflow::dd {

namespace join_internal {

// Joins every update of `batch` with the matching keys of `trace` (a cursor), appending
// `emit(key, val_batch, val_trace, time, diff)` results.
template <typename BatchCursor, typename TraceCursor, typename Emit>
void JoinBatchWithTrace(BatchCursor batch, TraceCursor& trace, Emit&& emit) {
  using deltaflow::time::Join;
  for (; batch.KeyValid(); batch.StepKey()) {
    trace.SeekKey(batch.Key());
    if (!trace.KeyValid() || !(trace.Key() == batch.Key())) continue;
    for (batch.RewindVals(); batch.ValValid(); batch.StepVal()) {
      for (trace.RewindVals(); trace.ValValid(); trace.StepVal()) {
        batch.MapTimes([&](const auto& t1, const auto& r1) {
          trace.MapTimes([&](const auto& t2, const auto& r2) {
            emit(batch.Key(), batch.Val(), trace.Val(), Join(t1, t2), r1 * r2);
          });
        });
      }
    }
  }
}

}  // namespace join_internal

/// Joins two arrangements with the same key type: `f(key, val1, val2) -> D`.
template <typename K, typename V1, typename V2, typename T, typename R, typename F>
auto JoinCore(const Arranged<K, V1, T, R>& first, const Arranged<K, V2, T, R>& second, F f) {
  using D = std::decay_t<std::invoke_result_t<F&, Borrowed<K>, Borrowed<V1>, Borrowed<V2>>>;
  using A1 = Arranged<K, V1, T, R>;
  using A2 = Arranged<K, V2, T, R>;
  struct State {
    State(typename A1::Handle h1, typename A2::Handle h2)
        : trace1(std::move(h1)), trace2(std::move(h2)) {}
    typename A1::Handle trace1;
    typename A2::Handle trace2;
    time::Antichain<T> acknowledged1{time::Minimum<T>()};
    time::Antichain<T> acknowledged2{time::Minimum<T>()};
  };
  auto state = std::make_shared<State>(first.NewHandle(), second.NewHandle());
  auto logic = [state, f = std::move(f)](auto& input1, auto& input2, auto& output,
                                         auto& op) mutable {
    input1.ForEach([&](const T& time, std::vector<Update<typename A1::BatchPtr, T, R>>& batches) {
      std::vector<Update<D, T, R>> out;
      for (const auto& b : batches) {
        std::optional<typename A2::Trace::CursorType> cursor =
            state->trace2.CursorThrough(state->acknowledged2);
        DELTAFLOW_CHECK(cursor.has_value(), "join: trace merged past its acknowledged frontier");
        join_internal::JoinBatchWithTrace(
            b.data->Cursor(), *cursor, [&](const auto& k, const auto& v1, const auto& v2, T t, R r) {
              out.push_back({f(k, v1, v2), std::move(t), r});
            });
        state->acknowledged1 = b.data->Upper();
      }
      output.Send(time, std::move(out));
    });
    input2.ForEach([&](const T& time, std::vector<Update<typename A2::BatchPtr, T, R>>& batches) {
      std::vector<Update<D, T, R>> out;
      for (const auto& b : batches) {
        std::optional<typename A1::Trace::CursorType> cursor =
            state->trace1.CursorThrough(state->acknowledged1);
        DELTAFLOW_CHECK(cursor.has_value(), "join: trace merged past its acknowledged frontier");
        join_internal::JoinBatchWithTrace(
            b.data->Cursor(), *cursor, [&](const auto& k, const auto& v2, const auto& v1, T t, R r) {
              out.push_back({f(k, v1, v2), std::move(t), r});
            });
        state->acknowledged2 = b.data->Upper();
      }
      output.Send(time, std::move(out));
    });
    // Batches below the acknowledged frontiers may be merged; times may advance to the other
    // side's input frontier.
    state->trace1.SetPhysicalCompaction(state->acknowledged1);
    state->trace2.SetPhysicalCompaction(state->acknowledged2);
    state->trace1.SetLogicalCompaction(op.InputFrontier(1));
    state->trace2.SetLogicalCompaction(op.InputFrontier(0));
  };
  using BatchPtr1 = typename A1::BatchPtr;
  using BatchPtr2 = typename A2::BatchPtr;
  Collection<BatchPtr1, T, R> stream1(&first.worker(), first.batches());
  Collection<BatchPtr2, T, R> stream2(&second.worker(), second.batches());
  return Binary<D>(stream1, stream2, "Join", std::move(logic));
}

/// Joins two collections of (key, val) pairs on their keys: (key, (val1, val2)).
template <typename K, typename V1, typename V2, typename T, typename R>
Collection<std::pair<K, std::pair<V1, V2>>, T, R> Join(const Collection<std::pair<K, V1>, T, R>& first,
                                                       const Collection<std::pair<K, V2>, T, R>& second) {
  return JoinCore(Arrange(first), Arrange(second), [](const auto& k, const auto& v1, const auto& v2) {
    return std::pair<K, std::pair<V1, V2>>(ToOwned<K>(k), {ToOwned<V1>(v1), ToOwned<V2>(v2)});
  });
}

/// The records of `collection` whose keys appear in `keys` (with multiplicities multiplied).
template <typename K, typename V, typename T, typename R>
Collection<std::pair<K, V>, T, R> Semijoin(const Collection<std::pair<K, V>, T, R>& collection,
                                           const Collection<K, T, R>& keys) {
  return JoinCore(Arrange(collection), ArrangeBySelf(keys), [](const auto& k, const auto& v, const auto&) {
    return std::pair<K, V>(ToOwned<K>(k), ToOwned<V>(v));
  });
}

}  // namespace deltaflow::dd
