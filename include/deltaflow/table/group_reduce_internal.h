// Private to the table layer: the group-by/reduce operator and the types the lowering shares.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "deltaflow/dd/collection.h"
#include "deltaflow/table/graph.h"

namespace deltaflow::table::group_reduce_internal {

using Data = std::pair<value::Key, value::Row>;
using Coll = dd::Collection<Data, Time>;
using Upd = dd::Update<Data, Time>;
using Worker = runtime::Worker<Time>;

/// Rows in value order (for ordered maps of rows).
struct RowLess {
  bool operator()(const value::Row& a, const value::Row& b) const {
    return value::CompareRows(a.view(), b.view()) < 0;
  }
};

/// Reports a failure on one row: (operation, message, row id).
using ReportFn = std::function<void(const std::string&, std::string, const value::Key&)>;

/// Records how many entries an operator's state holds on one worker: (operation, worker,
/// entries), after each of its runs.
using StateFn = std::function<void(const std::string&, uint32_t, size_t)>;

/// Lowers a `kGroupByReduce` node: rows are keyed by their group values, exchanged by that
/// key, and each worker keeps per-group reducer state (sums and counts as numbers, ordered
/// reducers as ordered multisets), so a change costs O(log group size), never a rescan.
/// Totally ordered (outer) times only.
Coll LowerGroupByReduce(const Coll& input, const TableGraph::Node& node, ReportFn report, StateFn state = nullptr);

/// The same reduction for any (partially ordered) time, inside `iterate`: built on dd's
/// reduce, each changed group recomputed from its rows. Instantiated for
/// `Product<Time, uint32_t>`.
template <typename T>
dd::Collection<Data, T> LowerGroupByReduceNested(const dd::Collection<Data, T>& input, const TableGraph::Node& node,
                                                 ReportFn report);

}  // namespace deltaflow::table::group_reduce_internal
