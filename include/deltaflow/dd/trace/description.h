// Description: the span of times a batch covers and how far its times were advanced.
//
// A batch holds every update of a collection with a time `t` that is beyond `lower`
// (`lower.LessEqual(t)`) and not beyond `upper` (`!upper.LessEqual(t)`): the half-open
// interval `[lower, upper)` in frontier terms. Batches of one trace tile time: each batch's
// `lower` is the previous one's `upper`. `since` is the compaction frontier the batch's times
// were advanced by: the batch is only accurate for accumulations at times beyond `since`.
// (differential-dataflow `trace::Description`.)
#pragma once

#include <ostream>
#include <utility>

#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::dd {

/// The time interval `[lower, upper)` of a batch and the frontier `since` its times were
/// advanced by.
template <time::PartialOrder T>
struct Description {
  time::Antichain<T> lower;
  time::Antichain<T> upper;
  time::Antichain<T> since;

  /// An empty interval starting and ending at the minimum, not compacted.
  Description()
      : lower(time::Minimum<T>()), upper(time::Minimum<T>()), since(time::Minimum<T>()) {}

  Description(time::Antichain<T> lower_frontier, time::Antichain<T> upper_frontier,
              time::Antichain<T> since_frontier)
      : lower(std::move(lower_frontier)),
        upper(std::move(upper_frontier)),
        since(std::move(since_frontier)) {}

  bool operator==(const Description&) const = default;
};

/// Prints `[lower, upper) since S`, for logs and test failures.
template <time::PartialOrder T>
std::ostream& operator<<(std::ostream& out, const Description<T>& description) {
  return out << '[' << description.lower << ", " << description.upper << ") since "
             << description.since;
}

}  // namespace deltaflow::dd
