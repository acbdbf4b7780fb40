// The per-key step of `reduce`: which output corrections a key needs once its new input is
// known, for any lattice of times.
//
// A reduction's output for key k at time t is `logic(input of k accumulated at t)`. When new
// input updates arrive for k, the output may have to change at the times of those updates,
// and — for partially ordered times — also at joins of those times with each other and with
// the times already in k's input and output history (two updates at (0, 1) and (1, 0) both
// affect (1, 1)). These are the *interesting times*. For each one that is complete (not at or
// after the `upper` frontier) the step compares the desired output with the output already
// produced at that time and emits the difference there; interesting times that are not yet
// complete are returned as pending, to be evaluated when the frontier passes them.
//
// Times are visited in a linear extension of the lattice order (`operator<`), so every
// correction at an earlier time is accounted for when a later time is evaluated. Work per key
// is proportional to (interesting times) x (history of the key), never to other keys.
#pragma once

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "deltaflow/dd/stream.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd::reduce_internal {

/// A value with a time and a diff, for one key.
template <typename V, typename T, typename R>
struct TimedValue {
  V value;
  T time;
  R diff;
};

/// Accumulates `updates` at times `<= t` into `out` as (value, diff) sorted by value, with
/// zero sums dropped.
template <typename V, typename T, typename R>
void AccumulateAt(std::span<const TimedValue<V, T, R>> updates, const T& t,
                  std::vector<std::pair<V, R>>& out) {
  using deltaflow::time::LessEqual;
  out.clear();
  for (const auto& u : updates) {
    if (LessEqual(u.time, t)) out.emplace_back(u.value, u.diff);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t w = 0;
  for (size_t i = 0; i < out.size();) {
    size_t j = i;
    R sum{};
    while (j < out.size() && out[j].first == out[i].first) sum += out[j++].second;
    if (sum != R{}) {
      out[w] = std::move(out[i]);
      out[w].second = sum;
      ++w;
    }
    i = j;
  }
  out.resize(w);
}

/// Reusable buffers for `ReduceKey`, so that reducing many keys allocates nothing per key
/// once warm.
template <typename V, typename V2, typename T, typename R>
struct ReduceScratch {
  std::vector<T> candidates;
  std::vector<std::pair<V, R>> input_at;
  std::vector<std::pair<V2, R>> desired;
  std::vector<std::pair<V2, R>> current;
  std::vector<TimedValue<V2, T, R>> output_so_far;
};

/// Computes the corrections for one key.
///
/// `input`: every input update of the key (history and new); `output`: every output update
/// produced so far; `seeds`: the times whose updates are new, plus pending times from earlier
/// calls; `upper`: times at or after it are not complete. `logic(input_at, output)` fills
/// `output` (sorted by value, no duplicates) from the accumulated input (sorted by value,
/// non-zero diffs). Appends corrections to `corrections` and not-yet-complete interesting
/// times to `pending`.
template <typename V, typename V2, typename T, typename R, typename Logic>
void ReduceKey(std::span<const TimedValue<V, T, R>> input,
               std::span<const TimedValue<V2, T, R>> output, std::span<const T> seeds,
               const time::Antichain<T>& upper, Logic& logic,
               ReduceScratch<V, V2, T, R>& scratch,
               std::vector<TimedValue<V2, T, R>>& corrections, std::vector<T>& pending) {
  using deltaflow::time::Join;
  using deltaflow::time::LessEqual;
  // Interesting times: the seeds closed under join with each other and with the key's
  // history, keeping only times at or after some seed (earlier times cannot change).
  std::vector<T>& candidates = scratch.candidates;
  candidates.assign(seeds.begin(), seeds.end());
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  if constexpr (!time::TotalOrder<T>) {
    std::vector<T> history;
    for (const auto& u : input) history.push_back(u.time);
    for (const auto& u : output) history.push_back(u.time);
    std::sort(history.begin(), history.end());
    history.erase(std::unique(history.begin(), history.end()), history.end());
    for (size_t i = 0; i < candidates.size(); ++i) {
      T c = candidates[i];
      auto consider = [&](const T& other) {
        T j = Join(c, other);
        if (std::find(candidates.begin(), candidates.end(), j) == candidates.end()) {
          candidates.push_back(j);
        }
      };
      for (const T& h : history) consider(h);
      for (size_t k = 0; k < i; ++k) consider(candidates[k]);
    }
    std::sort(candidates.begin(), candidates.end());
  }

  scratch.output_so_far.assign(output.begin(), output.end());
  for (const T& t : candidates) {
    if (upper.LessEqual(t)) {
      pending.push_back(t);
      continue;
    }
    AccumulateAt<V, T, R>(input, t, scratch.input_at);
    scratch.desired.clear();
    if (!scratch.input_at.empty()) logic(scratch.input_at, scratch.desired);
    AccumulateAt<V2, T, R>(scratch.output_so_far, t, scratch.current);
    // Emit desired - current, both sorted by value.
    auto& desired = scratch.desired;
    auto& current = scratch.current;
    size_t a = 0;
    size_t b = 0;
    auto emit = [&](const V2& v, R diff) {
      corrections.push_back({v, t, diff});
      scratch.output_so_far.push_back({v, t, diff});
    };
    while (a < desired.size() || b < current.size()) {
      if (b == current.size() || (a < desired.size() && desired[a].first < current[b].first)) {
        emit(desired[a].first, desired[a].second);
        ++a;
      } else if (a == desired.size() || current[b].first < desired[a].first) {
        emit(current[b].first, -current[b].second);
        ++b;
      } else {
        R diff = desired[a].second - current[b].second;
        if (diff != R{}) emit(desired[a].first, diff);
        ++a;
        ++b;
      }
    }
  }
}

}  // namespace deltaflow::dd::reduce_internal
