// Reduce: per-key computation over an arrangement, maintained incrementally.
//
// `ReduceCore(arranged, logic)` produces, for every key, `logic(key, input, output)` of the
// key's accumulated input at every time, as a new arrangement. When a batch arrives, only its
// keys are revisited, and only at their *interesting times* (see interesting_times.h):
// the times of the new updates, closed under join with the key's history for partially
// ordered times. Interesting times that are not yet complete are kept per key and evaluated
// when the input frontier passes them; the operator holds capabilities for them meanwhile.
//
// `Count`, `Distinct` and `Threshold` are reductions over a collection arranged by itself.
//
// Compaction: the operator reads its input and output traces only at times at or after its
// input frontier, so it advances both handles to that frontier; history collapses as time
// moves on.
#pragma once

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/interesting_times.h"
#include "deltaflow/dd/operators/threshold_total.h"

namespace deltaflow::dd {

/// Reduces an arrangement per key: `logic(const K& key, const std::vector<std::pair<V, R>>&
/// input, std::vector<std::pair<V2, R>>& output)`, where `input` holds the key's records with
/// non-zero accumulated diffs sorted by value, and `output` must be filled sorted by value
/// without duplicates. `logic` is called only for keys with input.
template <typename V2, typename K, typename V, typename T, typename R, typename Logic>
Arranged<K, V2, T, R> ReduceCore(const Arranged<K, V, T, R>& input, Logic logic) {
  using In = Arranged<K, V, T, R>;
  using Out = Arranged<K, V2, T, R>;
  using OutTrace = typename Out::Trace;
  struct State {
    explicit State(typename In::Handle handle) : input_trace(std::move(handle)) {}
    typename In::Handle input_trace;
    std::shared_ptr<OutTrace> output_trace = std::make_shared<OutTrace>();
    std::optional<typename Out::Handle> output_reader;
    MergeBatcher<K, V2, T, R> output_batcher;
    std::vector<std::tuple<K, V2, T, R>> output_chunk;
    std::vector<Capability<T>> capabilities;
    time::Antichain<T> acknowledged{time::Minimum<T>()};
    std::map<K, std::vector<T>> todo;     // keys with new updates, and their times
    std::map<K, std::vector<T>> pending;  // keys with interesting times not yet complete
    reduce_internal::ReduceScratch<V, V2, T, R> scratch;
    std::vector<reduce_internal::TimedValue<V, T, R>> key_input;
    std::vector<reduce_internal::TimedValue<V2, T, R>> key_output;
    std::vector<reduce_internal::TimedValue<V2, T, R>> corrections;
    std::vector<T> seeds;
    std::vector<T> still_pending;
  };
  auto state = std::make_shared<State>(input.NewHandle());
  state->output_reader.emplace(state->output_trace);

  auto run = [state, logic = std::move(logic)](auto& in, auto& output, auto& op) mutable {
    using deltaflow::time::LessEqual;
    in.ForEach([&](const T& time, std::vector<Update<typename In::BatchPtr, T, R>>& batches) {
      HoldCapability(state->capabilities, op.owner(), output.source(), time);
      for (const auto& b : batches) {
        for (auto cursor = b.data->Cursor(); cursor.KeyValid(); cursor.StepKey()) {
          std::vector<T>& times = state->todo[ToOwned<K>(cursor.Key())];
          for (; cursor.ValValid(); cursor.StepVal()) {
            cursor.MapTimes([&](const T& t, const R&) { times.push_back(t); });
          }
        }
        state->acknowledged = b.data->Upper();
      }
    });
    const time::Antichain<T>& upper = op.InputFrontier(0);

    // Keys to revisit: those with new input, and those with pending times now complete.
    for (auto& [key, times] : state->pending) {
      bool ready = std::any_of(times.begin(), times.end(),
                               [&](const T& t) { return !upper.LessEqual(t); });
      if (ready) {
        auto& seeds = state->todo[key];
        seeds.insert(seeds.end(), times.begin(), times.end());
        times.clear();
      }
    }
    std::erase_if(state->pending, [](const auto& kv) { return kv.second.empty(); });

    if (!state->todo.empty()) {
      auto input_cursor = state->input_trace.CursorThrough(state->acknowledged);
      DELTAFLOW_CHECK(input_cursor.has_value(), "reduce: input merged past its acknowledged frontier");
      auto output_cursor = state->output_reader->Cursor();
      for (auto& [key, seeds] : state->todo) {
        state->key_input.clear();
        state->key_output.clear();
        input_cursor->SeekKey(key);
        if (input_cursor->KeyValid() && input_cursor->Key() == key) {
          for (; input_cursor->ValValid(); input_cursor->StepVal()) {
            V val = ToOwned<V>(input_cursor->Val());
            input_cursor->MapTimes([&](const T& t, const R& r) {
              state->key_input.push_back({val, t, r});
            });
          }
        }
        output_cursor.SeekKey(key);
        if (output_cursor.KeyValid() && output_cursor.Key() == key) {
          for (; output_cursor.ValValid(); output_cursor.StepVal()) {
            V2 val = ToOwned<V2>(output_cursor.Val());
            output_cursor.MapTimes([&](const T& t, const R& r) {
              state->key_output.push_back({val, t, r});
            });
          }
        }
        state->corrections.clear();
        state->still_pending.clear();
        auto key_logic = [&](const std::vector<std::pair<V, R>>& in_values,
                             std::vector<std::pair<V2, R>>& out_values) {
          logic(key, in_values, out_values);
        };
        reduce_internal::ReduceKey<V, V2, T, R>(state->key_input, state->key_output, seeds, upper,
                                                key_logic, state->scratch, state->corrections,
                                                state->still_pending);
        for (auto& c : state->corrections) {
          state->output_chunk.emplace_back(key, std::move(c.value), std::move(c.time), c.diff);
        }
        if (!state->still_pending.empty()) {
          auto& held = state->pending[key];
          held.insert(held.end(), state->still_pending.begin(), state->still_pending.end());
          std::sort(held.begin(), held.end());
          held.erase(std::unique(held.begin(), held.end()), held.end());
        }
      }
      state->todo.clear();
      state->output_batcher.Push(state->output_chunk);
    }

    // Send the corrections as a batch; keep capabilities for the pending times.
    std::vector<T> hold;
    for (const auto& [key, times] : state->pending) hold.insert(hold.end(), times.begin(), times.end());
    SealAndSend(state->output_batcher, *state->output_trace, output, state->capabilities, upper, hold);

    state->input_trace.SetPhysicalCompaction(state->acknowledged);
    state->input_trace.SetLogicalCompaction(upper);
    state->output_reader->SetPhysicalCompaction(state->output_trace->Upper());
    state->output_reader->SetLogicalCompaction(upper);
  };
  Collection<typename In::BatchPtr, T, R> stream(&input.worker(), input.batches());
  auto out_stream = stream.template Unary<typename Out::BatchPtr>("Reduce", std::move(run));
  return Out(&input.worker(), out_stream.port(), state->output_trace);
}

/// Reduces a collection of (key, val) pairs per key (see `ReduceCore`); the result is a
/// collection of (key, output val) pairs.
template <typename V2, typename K, typename V, typename T, typename R, typename Logic>
Collection<std::pair<K, V2>, T, R> Reduce(const Collection<std::pair<K, V>, T, R>& collection,
                                          Logic logic) {
  return ReduceCore<V2>(Arrange(collection), std::move(logic))
      .AsCollection([](const auto& k, const auto& v) {
        return std::pair<K, V2>(ToOwned<K>(k), ToOwned<V2>(v));
      });
}

/// `Count` through the general reduce, for any lattice of times.
template <typename D, typename T, typename R>
Collection<std::pair<D, R>, T, R> CountByReduce(const Collection<D, T, R>& collection) {
  auto counted = ReduceCore<R>(ArrangeBySelf(collection),
                               [](const D&, const std::vector<std::pair<Unit, R>>& in,
                                  std::vector<std::pair<R, R>>& out) {
                                 R count{};
                                 for (const auto& [unit, r] : in) count += r;
                                 if (count != R{}) out.emplace_back(count, R{1});
                               });
  return counted.AsCollection(
      [](const auto& d, const R& count) { return std::pair<D, R>(ToOwned<D>(d), count); });
}

/// `Threshold` through the general reduce, for any lattice of times.
template <typename D, typename T, typename R, typename F>
Collection<D, T, R> ThresholdByReduce(const Collection<D, T, R>& collection, F f) {
  auto thresholded = ReduceCore<Unit>(ArrangeBySelf(collection),
                                      [f = std::move(f)](const D&,
                                                         const std::vector<std::pair<Unit, R>>& in,
                                                         std::vector<std::pair<Unit, R>>& out) {
                                        R count{};
                                        for (const auto& [unit, r] : in) count += r;
                                        R result = f(count);
                                        if (result != R{}) out.emplace_back(Unit{}, result);
                                      });
  return thresholded.AsCollection([](const auto& d, const auto&) { return ToOwned<D>(d); });
}

/// The number of occurrences of each record: (record, count) for non-zero counts. Uses the
/// totally ordered fast path (`CountTotal`) when it applies.
template <typename D, typename T, typename R>
Collection<std::pair<D, R>, T, R> Count(const Collection<D, T, R>& collection) {
  if constexpr (time::TotalOrder<T>) {
    return CountTotal(collection);
  } else {
    return CountByReduce(collection);
  }
}

/// Each record with multiplicity `f(count)`, where count is its (non-zero) multiplicity in
/// `collection`. Uses the totally ordered fast path (`ThresholdTotal`) when it applies.
template <typename D, typename T, typename R, typename F>
Collection<D, T, R> Threshold(const Collection<D, T, R>& collection, F f) {
  if constexpr (time::TotalOrder<T>) {
    return ThresholdTotal(collection, std::move(f));
  } else {
    return ThresholdByReduce(collection, std::move(f));
  }
}

/// Each record with a positive multiplicity, once.
template <typename D, typename T, typename R>
Collection<D, T, R> Distinct(const Collection<D, T, R>& collection) {
  return Threshold(collection, [](const R& count) { return count > R{} ? R{1} : R{}; });
}

}  // namespace deltaflow::dd
