"""Session windows: the engine orders each instance's rows by time and splits them where
neighbours are too far apart (``max_gap``) or the user's ``predicate`` says so."""

from __future__ import annotations

from typing import Any

from deltaflow.internals import dtype as dt
from deltaflow.internals.expression import ColumnExpression, _wrap
from deltaflow.internals.table import LogicalNode, Table, univ
from deltaflow.internals.udf import pair_function_batch


def assign_sessions(table: Table, time_expr: ColumnExpression, time_type: dt.DType, window: Any, instance: Any, location: str) -> Table:
    inst = _wrap(instance) if instance is not None else _wrap(None)
    prepared = table.with_columns(_pw_time=time_expr, _pw_instance=inst)
    columns = list(prepared._columns)
    time_column = columns.index("_pw_time")
    instance_column = columns.index("_pw_instance")
    max_gap = window.max_gap
    if max_gap is not None:
        gap_type = dt.of_value(max_gap)
        if time_type in (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC):
            if gap_type != dt.DURATION:
                raise TypeError(f"session max_gap must be a timedelta for a datetime window time, got {max_gap!r} (at {location})")
            import pandas as pd

            max_gap = pd.Timedelta(max_gap)
        elif gap_type not in (dt.INT, dt.FLOAT):
            raise TypeError(f"session max_gap must be a number for a {time_type!r} window time, got {max_gap!r} (at {location})")
    what = f"the session predicate {getattr(window.predicate, '__name__', 'predicate')}"
    predicate = pair_function_batch(window.predicate, what) if window.predicate else None
    name = f"session windowby at {location}"
    source = prepared._node
    node = LogicalNode(
        [source],
        lambda g, ins: g.sessions(ins[0], time_column, instance_column, max_gap, predicate, name),
        source.arity + 3,
    )
    out = dict(prepared._columns)
    out["_pw_window"] = dt.ANY_POINTER
    out["_pw_window_start"] = time_type
    out["_pw_window_end"] = time_type
    universe = univ.Universe()
    univ.promise_subset(universe, table._universe)
    return Table(out, node, universe)
