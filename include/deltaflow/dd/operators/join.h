// Join: matches two arrangements on their keys (differential dataflow's `join_core`).
//
// Each batch that arrives on one side is joined with the other side's trace as of the
// batches of that side already processed (its *acknowledged* frontier), so every pair of
// updates meets exactly once: when the later of the two batches is processed. A pair
// `(k, v1, t1, r1)`, `(k, v2, t2, r2)` produces `f(k, v1, v2)` at time `Join(t1, t2)` with
// diff `r1 * r2`. The cost of a batch is proportional to the keys it holds and their matches,
// never to the whole state, and one run of the operator does a bounded amount of it
// (`kJoinFuel` joined updates): a batch not finished keeps a capability for its time and the
// operator runs again.
//
// Compaction: future batches of side 1 have times at or after side 1's input frontier, and a
// joined time is the join of both times, so side 2's trace may advance its times to side 1's
// frontier (and vice versa) without changing any result; the operator advances its handles
// accordingly, and releases a side's trace entirely once the other side is complete.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"

namespace deltaflow::dd {

namespace join_internal {

// Joins the updates of `batch` from its current key on with the matching keys of `trace` (a
// cursor), calling `emit(key, val_batch, val_trace, time, diff)`, until the batch is done or
// `fuel` (counted in emitted updates) runs out; a key is always finished once started.
// Returns whether the batch is done; otherwise `batch` stays at the next key to join.
template <typename BatchCursor, typename TraceCursor, typename Emit>
bool JoinBatchWithTrace(BatchCursor& batch, TraceCursor& trace, int64_t& fuel, Emit&& emit) {
  using deltaflow::time::Join;
  for (; batch.KeyValid(); batch.StepKey()) {
    if (fuel <= 0) return false;
    trace.SeekKey(batch.Key());
    if (!trace.KeyValid() || !(trace.Key() == batch.Key())) continue;
    for (batch.RewindVals(); batch.ValValid(); batch.StepVal()) {
      for (trace.RewindVals(); trace.ValValid(); trace.StepVal()) {
        batch.MapTimes([&](const auto& t1, const auto& r1) {
          trace.MapTimes([&](const auto& t2, const auto& r2) {
            emit(batch.Key(), batch.Val(), trace.Val(), Join(t1, t2), r1 * r2);
            --fuel;
          });
        });
      }
    }
  }
  return true;
}

// A batch waiting to be joined: where in it the join has got to, the other side's trace as
// it was when the batch arrived, and the capability to send the results at the batch's time.
template <typename BatchPtr, typename TraceCursor, typename T>
struct PendingJoin {
  BatchPtr batch;
  decltype(std::declval<BatchPtr>()->Cursor()) position;
  TraceCursor trace;
  Capability<T> capability;
};

}  // namespace join_internal

/// How many joined updates one run of a join produces at most (a key once started is always
/// finished), so that one large batch cannot monopolise its worker.
inline constexpr int64_t kJoinFuel = 1 << 20;

/// Joins two arrangements with the same key type: `f(key, val1, val2) -> D`. `fuel` bounds
/// the joined updates one run produces (tests lower it to exercise resumption).
template <typename K, typename V1, typename V2, typename T, typename R, typename F>
auto JoinCore(const Arranged<K, V1, T, R>& first, const Arranged<K, V2, T, R>& second, F f,
              int64_t fuel_per_run = kJoinFuel) {
  using D = std::decay_t<std::invoke_result_t<F&, Borrowed<K>, Borrowed<V1>, Borrowed<V2>>>;
  using A1 = Arranged<K, V1, T, R>;
  using A2 = Arranged<K, V2, T, R>;
  using Pending1 = join_internal::PendingJoin<typename A1::BatchPtr, typename A2::Trace::CursorType, T>;
  using Pending2 = join_internal::PendingJoin<typename A2::BatchPtr, typename A1::Trace::CursorType, T>;
  struct State {
    State(typename A1::Handle h1, typename A2::Handle h2)
        : trace1(std::move(h1)), trace2(std::move(h2)) {}
    typename A1::Handle trace1;
    typename A2::Handle trace2;
    time::Antichain<T> acknowledged1{time::Minimum<T>()};
    time::Antichain<T> acknowledged2{time::Minimum<T>()};
    std::deque<Pending1> pending1;  // batches of side 1, each against trace 2
    std::deque<Pending2> pending2;  // batches of side 2, each against trace 1
  };
  auto state = std::make_shared<State>(first.NewHandle(), second.NewHandle());
  auto logic = [state, f = std::move(f), fuel_per_run](auto& input1, auto& input2, auto& output,
                                                       auto& op) mutable {
    // Take new batches, each with a snapshot of the other side's trace through the batches
    // already acknowledged: every pair of updates then meets exactly once.
    input1.ForEach([&](const T& time, std::vector<Update<typename A1::BatchPtr, T, R>>& batches) {
      for (const auto& b : batches) {
        auto cursor = state->trace2.CursorThrough(state->acknowledged2);
        DELTAFLOW_CHECK(cursor.has_value(), "join: trace merged past its acknowledged frontier");
        state->pending1.push_back(Pending1{b.data, b.data->Cursor(), std::move(*cursor),
                                           Capability<T>(&op.owner(), output.source(), time)});
        state->acknowledged1 = b.data->Upper();
      }
    });
    input2.ForEach([&](const T& time, std::vector<Update<typename A2::BatchPtr, T, R>>& batches) {
      for (const auto& b : batches) {
        auto cursor = state->trace1.CursorThrough(state->acknowledged1);
        DELTAFLOW_CHECK(cursor.has_value(), "join: trace merged past its acknowledged frontier");
        state->pending2.push_back(Pending2{b.data, b.data->Cursor(), std::move(*cursor),
                                           Capability<T>(&op.owner(), output.source(), time)});
        state->acknowledged2 = b.data->Upper();
      }
    });
    // Join with bounded effort per run; what is left waits for the next run.
    int64_t fuel = fuel_per_run;
    while (fuel > 0 && !state->pending1.empty()) {
      Pending1& work = state->pending1.front();
      std::vector<Update<D, T, R>> out;
      bool done = join_internal::JoinBatchWithTrace(
          work.position, work.trace, fuel, [&](const auto& k, const auto& v1, const auto& v2, T t, R r) {
            out.push_back({f(k, v1, v2), std::move(t), r});
          });
      output.Send(work.capability.time(), std::move(out));
      if (done) state->pending1.pop_front();
    }
    while (fuel > 0 && !state->pending2.empty()) {
      Pending2& work = state->pending2.front();
      std::vector<Update<D, T, R>> out;
      bool done = join_internal::JoinBatchWithTrace(
          work.position, work.trace, fuel, [&](const auto& k, const auto& v2, const auto& v1, T t, R r) {
            out.push_back({f(k, v1, v2), std::move(t), r});
          });
      output.Send(work.capability.time(), std::move(out));
      if (done) state->pending2.pop_front();
    }
    if (!state->pending1.empty() || !state->pending2.empty()) op.owner().Activate(op.index());
    // Batches below the acknowledged frontiers may be merged; times may advance to the other
    // side's input frontier (pending batches keep their own snapshots).
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
