"""``pw.ordered``: operations over rows in a given order."""

from __future__ import annotations

from typing import Any

from deltaflow.internals.expression import ColumnReference
from deltaflow.internals.table import Table


def diff(self: Table, timestamp: Any, *values: Any, instance: Any = None) -> Table:
    """For each of ``values``, a column ``diff_<name>``: the value minus the value of the
    previous row in ``timestamp`` order (within ``instance``); None for the first row."""
    import deltaflow as pw

    for v in (timestamp, *values):
        if not isinstance(v, ColumnReference):
            raise ValueError("diff() takes column references")
    ordered = self.sort(key=timestamp, instance=instance)
    prev = self.ix(ordered.prev, optional=True)
    return self.select(
        **{
            f"diff_{v.name}": pw.if_else(ordered.prev.is_not_none(), self[v.name] - pw.unwrap(prev[v.name]), None)
            for v in values
        }
    )


__all__ = ["diff"]
