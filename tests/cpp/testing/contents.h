// What a stream of updates amounts to at a time: the reference side of the oracle tests.
#pragma once

#include <map>
#include <type_traits>
#include <vector>

#include "deltaflow/dd/stream.h"
#include "deltaflow/time/lattice.h"

namespace deltaflow::testing {

/// The contents at `t`: the sum of all updates at times <= t (in the lattice order), records
/// whose diffs cancel left out.
template <typename D, typename T, typename R>
std::map<D, R> ContentsAt(const std::vector<dd::Update<D, T, R>>& updates,
                          const std::type_identity_t<T>& t) {
  using deltaflow::time::LessEqual;
  std::map<D, R> out;
  for (const auto& u : updates) {
    if (LessEqual(u.time, t)) out[u.data] += u.diff;
  }
  std::erase_if(out, [](const auto& kv) { return kv.second == R{}; });
  return out;
}

}  // namespace deltaflow::testing
