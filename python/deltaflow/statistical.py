"""``pw.statistical``: statistics over rows."""

from __future__ import annotations

import enum
from typing import Any

from deltaflow.internals.expression import ColumnReference
from deltaflow.internals.table import Table


class InterpolateMode(enum.Enum):
    LINEAR = 0


def interpolate(self: Table, timestamp: Any, *values: Any, mode: InterpolateMode = InterpolateMode.LINEAR) -> Table:
    """Fills missing (None) values of ``values`` linearly between the previous and next rows
    (in ``timestamp`` order) that have a value; before the first or after the last known
    value, the nearest known value. The filled columns are floats."""
    import deltaflow as pw

    if mode != InterpolateMode.LINEAR:
        raise ValueError(f"interpolate supports InterpolateMode.LINEAR only, got {mode!r}")
    for v in (timestamp, *values):
        if not isinstance(v, ColumnReference):
            raise ValueError("interpolate() takes column references")
    result = self
    t = self[timestamp.name]
    for v in values:
        name = v.name
        known = self.select(_pw_t=self[timestamp.name], _pw_v=self[name])
        known = known.filter(known["_pw_v"].is_not_none())
        known = known.select(_pw_t=known["_pw_t"], _pw_v=pw.unwrap(known["_pw_v"]))
        before = self.asof_join(known, t, known["_pw_t"], how=pw.JoinMode.LEFT, direction=pw.temporal.Direction.BACKWARD).select(
            _pw_id=pw.left.id, _pw_t0=known["_pw_t"], _pw_v0=known["_pw_v"]
        )
        before = before.with_id(before["_pw_id"]).with_universe_of(self)
        after = self.asof_join(known, t, known["_pw_t"], how=pw.JoinMode.LEFT, direction=pw.temporal.Direction.FORWARD).select(
            _pw_id=pw.left.id, _pw_t1=known["_pw_t"], _pw_v1=known["_pw_v"]
        )
        after = after.with_id(after["_pw_id"]).with_universe_of(self)
        t0, v0, t1, v1 = before["_pw_t0"], before["_pw_v0"], after["_pw_t1"], after["_pw_v1"]
        f0, f1 = pw.cast(float, pw.unwrap(v0)), pw.cast(float, pw.unwrap(v1))
        u0, u1 = pw.unwrap(t0), pw.unwrap(t1)
        filled = pw.if_else(
            self[name].is_not_none(),
            pw.cast(float, self[name]),
            pw.if_else(
                t0.is_none() | t1.is_none(),
                # Before the first or after the last known value: the nearest known value.
                pw.coalesce(pw.cast(float, v0), pw.cast(float, v1)),
                pw.if_else(u1 == u0, f0, f0 + (f1 - f0) * pw.cast(float, t - u0) / pw.cast(float, u1 - u0)),
            ),
        )
        result = result.with_columns(**{name: filled})
    return result


__all__ = ["InterpolateMode", "interpolate"]
