"""Event time: windows (``windowby``), behaviours (delay, cutoff, forgetting), and the gates
they are built from (``buffer``, ``forget``, ``ignore_late``). The engine does the work:
window assignment is an expression, gates are engine operators keeping one watermark."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Callable

from deltaflow.internals import dtype as dt
from deltaflow.internals import universe as univ
from deltaflow.internals.expression import (
    CallExpression,
    ColumnExpression,
    ColumnReference,
    ConstExpression,
    PointerExpression,
    _wrap,
    make_tuple,
)
from deltaflow.internals.table import (
    GroupedTable,
    LogicalNode,
    Table,
    TableLayout,
    ThisPlaceholder,
    user_location,
)

# --- behaviours ----------------------------------------------------------------------------


class Behavior:
    """When a window's results appear, when they stop changing, and when they are forgotten."""


@dataclasses.dataclass(frozen=True)
class CommonBehavior(Behavior):
    """``delay``: a window's rows wait until the watermark (the largest event time seen) reaches
    the window's start plus ``delay``. ``cutoff``: rows arriving once the watermark has reached
    the window's end plus ``cutoff`` are ignored. ``keep_results=False``: past the cutoff, the
    window's results are retracted (its state forgotten)."""

    delay: Any = None
    cutoff: Any = None
    keep_results: bool = True


@dataclasses.dataclass(frozen=True)
class ExactlyOnceBehavior(Behavior):
    """Each window produces its result once, when the watermark reaches its end plus ``shift``;
    later rows for it are ignored."""

    shift: Any = None


def common_behavior(delay: Any = None, cutoff: Any = None, keep_results: bool = True) -> CommonBehavior:
    """A behaviour with the given ``delay``, ``cutoff`` and ``keep_results``."""
    return CommonBehavior(delay, cutoff, keep_results)


def exactly_once_behavior(shift: Any = None) -> ExactlyOnceBehavior:
    """A behaviour under which each window produces exactly one result."""
    return ExactlyOnceBehavior(shift)


# --- windows -------------------------------------------------------------------------------


class Window:
    """How rows are grouped by their event time."""


@dataclasses.dataclass(frozen=True)
class _SlidingWindow(Window):
    hop: Any
    duration: Any
    origin: Any = None
    tumbling: bool = False  # made by tumbling() (hop == duration)


@dataclasses.dataclass(frozen=True)
class _SessionWindow(Window):
    predicate: Callable[[Any, Any], bool] | None
    max_gap: Any


@dataclasses.dataclass(frozen=True)
class _IntervalsOverWindow(Window):
    at: ColumnReference
    lower_bound: Any
    upper_bound: Any
    is_outer: bool = True


def tumbling(duration: Any, origin: Any = None) -> Window:
    """Windows ``[origin + k*duration, origin + (k+1)*duration)``; each row is in one."""
    _check_positive(duration, "duration")
    return _SlidingWindow(duration, duration, origin, tumbling=True)


def sliding(hop: Any, duration: Any = None, ratio: int | None = None, origin: Any = None) -> Window:
    """Windows of length ``duration`` (or ``hop * ratio``) starting every ``hop``; a row is in
    every window that holds its time."""
    if (duration is None) == (ratio is None):
        raise ValueError("sliding() needs exactly one of duration and ratio")
    if ratio is not None:
        if not isinstance(ratio, int) or ratio <= 0:
            raise ValueError("sliding() ratio must be a positive int")
        duration = hop * ratio
    _check_positive(hop, "hop")
    _check_positive(duration, "duration")
    return _SlidingWindow(hop, duration, origin)


def session(*, predicate: Callable[[Any, Any], bool] | None = None, max_gap: Any = None) -> Window:
    """Sessions: neighbouring rows (in time order, per instance) are in one session while
    ``predicate(earlier, later)`` holds, or their times differ by less than ``max_gap``."""
    if (predicate is None) == (max_gap is None):
        raise ValueError("session() needs exactly one of predicate and max_gap")
    if max_gap is not None:
        _check_positive(max_gap, "max_gap")
    return _SessionWindow(predicate, max_gap)


def intervals_over(*, at: ColumnReference, lower_bound: Any, upper_bound: Any, is_outer: bool = True) -> Window:
    """One window ``[t + lower_bound, t + upper_bound]`` for each value ``t`` of ``at`` (a column
    of another table)."""
    return _IntervalsOverWindow(at, lower_bound, upper_bound, is_outer)


def _check_positive(value: Any, what: str) -> None:
    zero = datetime.timedelta(0) if isinstance(value, datetime.timedelta) else 0
    try:
        ok = value > zero
    except TypeError:
        raise TypeError(f"window {what} must be a number or a timedelta, got {value!r}") from None
    if not ok:
        raise ValueError(f"window {what} must be positive, got {value!r}")


# --- gates ---------------------------------------------------------------------------------


def gate(table: Table, kind: str, threshold: Any, time: Any, *, mark: bool = False, location: str | None = None) -> Table:
    """``table`` through an engine gate (``buffer``, ``forget`` or ``freeze``)."""
    location = location or user_location()
    layout = TableLayout(table, [threshold, time], location)
    threshold_spec, threshold_type = layout.compile(threshold)
    time_spec, time_type = layout.compile(time)
    _check_time_type(time_type, f"{kind} time column", location)
    name = f"{_GATE_NAMES[kind]} at {location}"
    source = layout.node
    arity = len(table._columns)
    node = LogicalNode([source], lambda g, ins: g.gate(ins[0], kind, threshold_spec, time_spec, mark, name), source.arity)
    if source.arity != arity:
        keep = [("column", i, n) for i, n in enumerate(table._columns)]
        node = LogicalNode([node], lambda g, ins: g.select(ins[0], keep, name), arity)
    universe = univ.Universe()
    univ.promise_subset(universe, table._universe)
    return Table(table._columns, node, universe, id_dtype=table._id_dtype)


_GATE_NAMES = {"buffer": "buffer", "forget": "forget", "freeze": "ignore_late"}


def _check_time_type(t: dt.DType, what: str, location: str) -> None:
    base = t.strip_optional()
    if base not in (dt.INT, dt.FLOAT, dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC, dt.ANY):
        raise TypeError(f"{what} must be an int, float or datetime, got {t!r} (at {location})")


def forget(table: Table, time_column: Any, threshold: Any, mark_forgetting_records: bool = False) -> Table:
    """Rows are retracted once ``time_column <= max(time_column) - threshold``."""
    time_column = _wrap(time_column)
    return gate(table, "forget", time_column + threshold, time_column, mark=mark_forgetting_records, location=user_location())


def buffer(table: Table, time_column: Any, threshold: Any) -> Table:
    """Rows wait until ``time_column <= max(time_column) - threshold``."""
    time_column = _wrap(time_column)
    return gate(table, "buffer", time_column + threshold, time_column, location=user_location())


def ignore_late(table: Table, time_column: Any, threshold: Any) -> Table:
    """Rows arriving when ``time_column <= max(time_column) - threshold`` are dropped."""
    time_column = _wrap(time_column)
    return gate(table, "freeze", time_column + threshold, time_column, location=user_location())


def filter_out_results_of_forgetting(table: Table, ensure_consistency: bool = False) -> Table:
    """``table`` without the retractions ``forget(..., mark_forgetting_records=True)`` caused
    (and what they caused downstream); each id keeps its last row."""
    location = user_location()
    name = f"filter_out_results_of_forgetting at {location}"
    source = table._node
    node = LogicalNode([source], lambda g, ins: g.filter_out_forgetting(ins[0], name), source.arity)
    return Table(table._columns, node, univ.Universe(), id_dtype=table._id_dtype)


# --- windowby ------------------------------------------------------------------------------


class _WindowedLayout(TableLayout):
    """The rows of a windowed table; references to the table that was windowed resolve to the
    same-named columns."""

    def __init__(self, windowed: Table, original: Table, location: str) -> None:
        super().__init__(windowed, [], location)
        self.original = original

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        owner = ref.table
        if owner is self.original or (isinstance(owner, Table) and owner._node is self.original._node):
            if ref.name == "id":
                raise ValueError(f"the id of a windowed row is not available in reduce() (at {self.location})")
            ref = ColumnReference(self.table, ref.name)
        elif isinstance(owner, ThisPlaceholder) and ref.name == "id":
            raise ValueError(f"the id of a windowed row is not available in reduce() (at {self.location})")
        return super().resolve(ref)


def _const(value: Any) -> ColumnExpression:
    return ConstExpression(value)


def _time_dtype(table: Table, time_expr: ColumnExpression, location: str) -> dt.DType:
    t = TableLayout(table, [time_expr], location).compile(time_expr)[1]
    _check_time_type(t, "window time", location)
    return t.strip_optional()


def windowby(table: Table, time_expr: Any, *, window: Window, behavior: Behavior | None = None, instance: Any = None, shard: Any = None) -> GroupedTable:
    """Groups ``table`` by windows over ``time_expr``: call ``reduce`` on the result.
    ``pw.this._pw_window``, ``_pw_window_start``, ``_pw_window_end`` and ``_pw_instance`` are
    available there, as are the table's columns inside reducers."""
    location = user_location()
    if instance is None:
        instance = shard
    time_expr = _wrap(time_expr)
    if not isinstance(window, Window):
        raise TypeError(f"windowby() window must be made by pw.temporal.tumbling/sliding/session/intervals_over, got {window!r}")
    if behavior is not None and not isinstance(behavior, Behavior):
        raise TypeError(f"windowby() behavior must be made by pw.temporal.common_behavior or exactly_once_behavior, got {behavior!r}")
    time_type = _time_dtype(table, time_expr, location)
    if isinstance(window, _SlidingWindow):
        windowed = _assign_sliding(table, time_expr, time_type, window, instance, location)
        windowed = _apply_behavior(windowed, behavior, location)
    elif isinstance(window, _SessionWindow):
        from deltaflow.internals.temporal_sessions import assign_sessions

        windowed = assign_sessions(table, time_expr, time_type, window, instance, location)
    else:
        from deltaflow.internals.temporal_joins import intervals_over_windowby

        return intervals_over_windowby(table, time_expr, window, behavior, instance, location)
    return _grouped(windowed, table, instance, location)


def _grouped(windowed: Table, original: Table, instance: Any, location: str) -> GroupedTable:
    w = windowed
    refs: list[Any] = [w["_pw_window"], w["_pw_window_start"], w["_pw_window_end"], w["_pw_instance"]]
    group_id = None
    if instance is not None:
        # As groupby(..., instance=): the result ids live on the instance's shard.
        group_id = PointerExpression(refs[:3], instance=w["_pw_instance"])
        if isinstance(instance, ColumnReference) and instance.name in w._columns:
            # The instance column may be named in reduce() by its own name.
            refs.append(ColumnReference(w, instance.name))
    return GroupedTable(
        w,
        refs,
        id=group_id,
        location=location,
        layout_factory=lambda needed: _WindowedLayout(w, original, location),
        original=original if instance is not None else None,
    )


def _assign_sliding(table: Table, time_expr: ColumnExpression, time_type: dt.DType, window: _SlidingWindow, instance: Any, location: str) -> Table:
    origin = window.origin
    if origin is not None and time_type in (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC):
        origin_type = dt.of_value(origin)
        if origin_type != time_type:
            raise TypeError(f"window origin {origin!r} is {origin_type!r} but the window time is {time_type!r} (at {location})")
    step_type = dt.DURATION if time_type in (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC) else time_type

    def starts_rule(types: list[dt.DType]) -> dt.DType:
        return dt.List(time_type)

    for what, v in (("hop", window.hop), ("duration", window.duration)):
        vt = dt.of_value(v)
        if step_type == dt.DURATION and vt != dt.DURATION:
            raise TypeError(f"window {what} must be a timedelta for a datetime window time, got {v!r} (at {location})")
        if step_type != dt.DURATION and vt == dt.DURATION:
            raise TypeError(f"window {what} must be a number for a {time_type!r} window time, got {v!r} (at {location})")
    starts = CallExpression(
        "window_starts",
        [time_expr, _const(window.hop), _const(window.duration), _const(origin)],
        starts_rule,
        f"windows of {time_expr._text()}",
    )
    inst = _wrap(instance) if instance is not None else _const(None)
    assigned = table.with_columns(_pw_time=time_expr, _pw_instance=inst, _pw_window_start=starts)
    flat = assigned.flatten(assigned["_pw_window_start"])
    end = flat["_pw_window_start"] + window.duration
    return flat.with_columns(
        _pw_window_end=end,
        _pw_window=make_tuple(flat["_pw_instance"], flat["_pw_window_start"], end),
    )


def _apply_behavior(w: Table, behavior: Behavior | None, location: str) -> Table:
    if behavior is None:
        return w
    if isinstance(behavior, ExactlyOnceBehavior):
        shift = behavior.shift if behavior.shift is not None else _zero_like(w)
        threshold = w["_pw_window_end"] + shift
        w = gate(w, "freeze", threshold, w["_pw_time"], location=location)
        return gate(w, "buffer", w["_pw_window_end"] + shift, w["_pw_time"], location=location)
    assert isinstance(behavior, CommonBehavior)
    if behavior.cutoff is not None:
        w = gate(w, "freeze", w["_pw_window_end"] + behavior.cutoff, w["_pw_time"], location=location)
    if behavior.delay is not None:
        w = gate(w, "buffer", w["_pw_window_start"] + behavior.delay, w["_pw_time"], location=location)
    if behavior.cutoff is not None and not behavior.keep_results:
        w = gate(w, "forget", w["_pw_window_end"] + behavior.cutoff, w["_pw_time"], location=location)
    return w


def _zero_like(w: Table) -> Any:
    t = w._columns["_pw_time"].strip_optional()
    if t in (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC):
        return datetime.timedelta(0)
    return 0.0 if t == dt.FLOAT else 0
