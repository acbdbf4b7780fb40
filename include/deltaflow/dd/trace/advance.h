// Advancing times by a compaction frontier.
//
// Once every reader of a trace has promised to look only at accumulations at times beyond a
// frontier F, two times t1 and t2 are indistinguishable to them when, for every t beyond F,
// t1 <= t iff t2 <= t. Compaction replaces each time t by the least such representative,
// `AdvanceBy(t, F)` = the meet over f in F of Join(t, f). Updates that become equal in
// (key, val, time) are then summed, so an insert and its later retraction cancel once F has
// passed both. (differential-dataflow `Lattice::advance_by`.)
//
// For a totally ordered time and a frontier {f} this is simply max(t, f).
#pragma once

#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd {

/// Replaces `time` by its representative under the frontier: the meet over f in `frontier`
/// of Join(time, f). Leaves `time` unchanged if `frontier` is empty (a closed frontier
/// admits no reader, so no representative is needed). Returns whether `time` changed.
///
/// For every t with `frontier.LessEqual(t)`: `LessEqual(old, t) == LessEqual(new, t)`.
template <time::Lattice T>
bool AdvanceBy(T& time, const time::Antichain<T>& frontier) {
  using deltaflow::time::Join;
  using deltaflow::time::Meet;
  auto it = frontier.begin();
  if (it == frontier.end()) return false;
  T result = Join(time, *it);
  for (++it; it != frontier.end(); ++it) result = Meet(result, Join(time, *it));
  if (result == time) return false;
  time = result;
  return true;
}

/// `AdvanceBy` on a copy.
template <time::Lattice T>
T AdvancedBy(T time, const time::Antichain<T>& frontier) {
  AdvanceBy(time, frontier);
  return time;
}

}  // namespace deltaflow::dd
