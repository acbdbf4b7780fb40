// Private to the table layer: event-time operators (src/table/temporal.cc).
#pragma once

#include "deltaflow/table/group_reduce_internal.h"

namespace deltaflow::table::temporal_internal {

using group_reduce_internal::Coll;
using group_reduce_internal::Data;
using group_reduce_internal::ReportFn;
using group_reduce_internal::RowLess;
using group_reduce_internal::StateFn;
using group_reduce_internal::Upd;
using group_reduce_internal::Worker;
using value::Row;

/// Lowers a `kGate` node: rows meet on worker 0, which keeps the watermark and the held rows.
Coll LowerGate(const Coll& input, const TableGraph::Node& node, ReportFn report, StateFn state = nullptr);
/// Lowers a `kSessions` node: rows are exchanged by instance; each worker keeps its instances'
/// rows in time order and reassigns the sessions of the instances a time changed.
Coll LowerSessions(const Coll& input, const TableGraph::Node& node, ReportFn report);
/// Lowers a `kAsofJoin` node: both sides' rows are tagged, exchanged by key, and each worker
/// keeps its keys' rows of both sides in time order, recomputing the matches of changed keys.
Coll LowerAsofJoin(const Coll& left, const Coll& right, const TableGraph::Node& node, ReportFn report);
/// Lowers a `kAsofNowJoin` node: both sides exchanged by key; each worker keeps the right
/// rows of its keys and joins left insertions with them as they arrive.
Coll LowerAsofNowJoin(const Coll& left, const Coll& right, const TableGraph::Node& node, ReportFn report);
/// Lowers a `kSort` node: rows exchanged by instance; each worker keeps its instances' keys in
/// order and updates the neighbours of changed rows.
Coll LowerSort(const Coll& input, const TableGraph::Node& node, ReportFn report);
/// Lowers a `kDeduplicate` node: rows exchanged by instance; the acceptor is called in
/// batches, one candidate per instance per call.
Coll LowerDeduplicate(const Coll& input, const TableGraph::Node& node, ReportFn report);
/// Lowers a `kForgetFilter` node.
Coll LowerForgetFilter(const Coll& input, const TableGraph::Node& node);

}  // namespace deltaflow::table::temporal_internal
