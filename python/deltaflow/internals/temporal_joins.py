"""Temporal joins: ``interval_join`` (rows whose times are within an interval of each other) and
``window_join`` (rows in the same window), inner/left/right/outer.

Both are equi-joins in the engine: each row is put in buckets of its time (an interval join's
left row in the one or two buckets its interval overlaps, a window join's rows in their
windows), rows meet by (join keys, bucket), and a filter keeps exact matches. Unmatched rows of
outer variants are the side's rows whose id has no match. The result is a ``JoinResult``: call
``select`` with ``pw.left``/``pw.right`` or the joined tables' columns."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import numbers
from typing import Any

from deltaflow.internals import dtype as dt
from deltaflow.internals.expression import ColumnReference, ThisPlaceholder, _wrap
from deltaflow.internals.table import (
    JoinMode,
    JoinResult,
    LogicalNode,
    Table,
    _JoinLayout,
    _SideLayout,
    compile_join_condition,
    user_location,
)
from deltaflow.internals.temporal import Window, _SlidingWindow, _SessionWindow

_TIME_TYPES = (dt.INT, dt.FLOAT, dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC)


@dataclasses.dataclass(frozen=True)
class Interval:
    lower_bound: Any
    upper_bound: Any


def interval(lower_bound: Any, upper_bound: Any) -> Interval:
    """Rows join when ``self_time + lower_bound <= other_time <= self_time + upper_bound``."""
    return Interval(lower_bound, upper_bound)


def _value_type(v: Any) -> dt.DType:
    """The type of a join argument given as a Python value."""
    if isinstance(v, bool):
        return dt.BOOL
    if isinstance(v, numbers.Integral):
        return dt.INT
    if isinstance(v, numbers.Real):
        return dt.FLOAT
    if isinstance(v, datetime.timedelta):
        return dt.DURATION
    if isinstance(v, datetime.datetime):
        return dt.DATE_TIME_NAIVE if v.tzinfo is None else dt.DATE_TIME_UTC
    return dt.ANY


def _check_argument_types(names: list[str], types: list[dt.DType]) -> None:
    """A temporal join's time expressions (the first two) and its arguments must be all
    numbers, or datetimes of one kind with durations (and a datetime origin), as in Pathway;
    otherwise a TypeError lists what is allowed and what was given."""
    extra = names[2:]

    def shape(time: dt.DType, span: dt.DType) -> tuple:
        return (time, time) + tuple(time if name == "window.origin" else span for name in extra)

    allowed = [shape(dt.INT, dt.INT), shape(dt.FLOAT, dt.FLOAT), shape(dt.DATE_TIME_NAIVE, dt.DURATION), shape(dt.DATE_TIME_UTC, dt.DURATION)]
    actual = tuple(types)
    numeric = all(t in (dt.INT, dt.FLOAT) for t in actual)
    if numeric or actual in allowed:
        return
    text = " or ".join("(" + ", ".join(repr(t) for t in a) + ")" for a in allowed)
    raise TypeError(
        f"Arguments ({', '.join(names)}) have to be of types {text} but are of types "
        f"({', '.join(repr(t) for t in actual)})."
    )


def _const(v: Any) -> tuple:
    return ("const", v, repr(v))


def _col(i: int) -> tuple:
    return ("column", i, str(i))


class _Sides:
    """Compiled join keys and times of both sides."""

    def __init__(
        self,
        left: Table,
        right: Table,
        left_time: Any,
        right_time: Any,
        on: tuple,
        instances: tuple,
        location: str,
        arguments: tuple[list[str], list[Any]] | None = None,
    ) -> None:
        if left is right:
            raise ValueError("Cannot join table with itself. Use <table>.copy() as one of the arguments of the join.")
        self.left, self.right, self.location = left, right, location
        ll = _SideLayout(left, "left", location)
        rl = _SideLayout(right, "right", location)
        self.left_time, lt = ll.compile(_wrap(left_time))
        self.right_time, rt = rl.compile(_wrap(right_time))
        lt, rt = lt.strip_optional(), rt.strip_optional()
        if arguments is not None:
            # The times with the join's own arguments (bounds, window sizes), checked together.
            _check_argument_types(arguments[0], [lt, rt] + [_value_type(v) for v in arguments[1]])
        if lt not in _TIME_TYPES or rt not in _TIME_TYPES:
            raise TypeError(f"join times must be int, float or datetime, got {lt!r} and {rt!r} (at {location})")
        numeric = {lt, rt} <= {dt.INT, dt.FLOAT}
        if lt != rt and not numeric:
            raise TypeError(f"join times have different types: {lt!r} and {rt!r} (at {location})")
        self.time_type = dt.FLOAT if lt != rt else lt
        if self.time_type == dt.INT and arguments is not None and any(isinstance(v, float) for v in arguments[1]):
            # Integer times with a fractional bound or window size: compared as floats.
            self.left_time = ("cast_float", [self.left_time], "time")
            self.right_time = ("cast_float", [self.right_time], "time")
            self.time_type = dt.FLOAT
        self.left_keys, self.right_keys, self.same_name_keys, self.left_key_types = _join_keys(ll, rl, on, instances)



def _key_spec(keys: list[tuple]) -> tuple:
    """One value standing for a row's join keys: None, the key, or a tuple of them."""
    if not keys:
        return _const(None)
    return keys[0] if len(keys) == 1 else ("make_tuple", keys, "key")


def _join_keys(ll: _SideLayout, rl: _SideLayout, on: tuple, instances: tuple) -> tuple[list[tuple], list[tuple], set[str], list[dt.DType]]:
    """The compiled key expressions of both sides from ``on`` (``left.x == right.y`` each)
    and the instances, the names of keys with the same name on both sides, and the left
    keys' dtypes."""
    conditions = list(on)
    if instances[0] is not None and instances[1] is not None:
        conditions.append(_wrap(instances[0]) == _wrap(instances[1]))
    left_keys: list[tuple] = []
    right_keys: list[tuple] = []
    left_types: list[dt.DType] = []
    same_name_keys: set[str] = set()
    for cond in conditions:
        left_spec, right_spec, dtype = compile_join_condition(cond, ll.table, rl.table, ll, rl)
        left_keys.append(left_spec)
        left_types.append(dtype)
        right_keys.append(right_spec)
        name = getattr(cond._left, "name", None)
        if name is not None and name == getattr(cond._right, "name", 0):
            same_name_keys.add(name)
    return left_keys, right_keys, same_name_keys, left_types


def _bucketed(side_node: LogicalNode, arity: int, time_spec: tuple, keys: list[tuple], bucket_spec: tuple, name: str) -> tuple[LogicalNode, int]:
    """The side's rows as [cells..., id, time, key cells..., bucket], one row per bucket."""
    specs = [_col(i) for i in range(arity)] + [("id", "id"), time_spec] + list(keys) + [bucket_spec]
    selected = LogicalNode([side_node], lambda g, ins: g.select(ins[0], specs, name), len(specs))
    bucket = len(specs) - 1
    flat = LogicalNode([selected], lambda g, ins: g.flatten(ins[0], bucket, name), len(specs))
    return flat, len(specs)


def _join_buckets(
    sides: _Sides,
    left_bucket: tuple,
    right_bucket: tuple,
    match: Any,
    how: JoinMode,
    name: str,
    nodes: tuple[LogicalNode, LogicalNode] | None = None,
) -> LogicalNode:
    """The node of a temporal join's result, laid out as a ``JoinResult`` expects: left
    cells, right cells, left id, right id. ``nodes``: the sides' rows when they went through
    a behaviour's gates first."""
    left, right = sides.left, sides.right
    left_node, right_node = nodes if nodes is not None else (left._node, right._node)
    la, ra = len(left._columns), len(right._columns)
    nk = len(sides.left_keys)
    L, lw = _bucketed(left_node, la, sides.left_time, sides.left_keys, left_bucket, name)
    R, rw = _bucketed(right_node, ra, sides.right_time, sides.right_keys, right_bucket, name)
    lkeys = [_col(la + 2 + k) for k in range(nk)] + [_col(lw - 1)]
    rkeys = [_col(ra + 2 + k) for k in range(nk)] + [_col(rw - 1)]
    joined = LogicalNode([L, R], lambda g, ins: g.join(ins[0], ins[1], lkeys, rkeys, "inner", "pair", name), lw + rw + 2)
    # Cells of the joined row: left side at 0, right side at lw.
    condition = match(_col(la + 1), _col(lw + ra + 1), _col(lw - 1))
    kept = LogicalNode([joined], lambda g, ins: g.filter(ins[0], condition, name), joined.arity)
    layout = [_col(i) for i in range(la)] + [_col(lw + i) for i in range(ra)] + [_col(la), _col(lw + ra)]
    pair_id = ("pointer_from", [_col(la), _col(lw + ra), _col(lw - 1)], "pair id")
    matched = LogicalNode([kept], lambda g, ins: g.reindex(ins[0], pair_id, name), kept.arity)
    result = LogicalNode([matched], lambda g, ins: g.select(ins[0], layout, name), la + ra + 2)
    parts = [result]
    if how in (JoinMode.LEFT, JoinMode.OUTER):
        parts.append(_unmatched(result, left_node, la, ra, la + ra, "left", name))
    if how in (JoinMode.RIGHT, JoinMode.OUTER):
        parts.append(_unmatched(result, right_node, ra, la, la + ra + 1, "right", name))
    if len(parts) == 1:
        return result
    return LogicalNode(parts, lambda g, ins: g.concat(ins, name), la + ra + 2)


def _unmatched(matched: LogicalNode, side: LogicalNode, arity: int, other_arity: int, id_cell: int, which: str, name: str) -> LogicalNode:
    """The side's rows with no match, padded with None for the other side."""
    ids = LogicalNode(
        [matched],
        lambda g, ins: g.groupby_reduce(ins[0], [_col(id_cell)], [], _col(id_cell), name),
        1,
    )
    missing = LogicalNode([side, ids], lambda g, ins: g.difference(ins[0], ins[1], name), arity)
    nones = [_const(None)] * other_arity
    own = [_col(i) for i in range(arity)]
    if which == "left":
        layout = own + nones + [("id", "id"), _const(None)]
    else:
        layout = nones + own + [_const(None), ("id", "id")]
    padded = LogicalNode([missing], lambda g, ins: g.select(ins[0], layout, name), len(layout))
    # Both sides may use the same ids: an unmatched row's id says which side it is from.
    own_id = _col(len(layout) - (2 if which == "left" else 1))
    pair = [own_id, _const(None)] if which == "left" else [_const(None), own_id]
    new_id = ("pointer_from", pair, "unmatched id")
    return LogicalNode([padded], lambda g, ins: g.reindex(ins[0], new_id, name), len(layout))


def _result(
    left: Table,
    right: Table,
    node: LogicalNode,
    how: JoinMode,
    location: str,
    same_name_keys: set[str],
    id_mode: str = "pair",
    cls: type = JoinResult,
) -> Any:
    """A join result over ``node`` (left cells, right cells, left id, right id, ...)."""
    result = cls(left, right, (), id=None, how=how, location=location, node=node)
    result.same_name_keys = same_name_keys
    result.id_mode = id_mode
    return result


def _zero(t: dt.DType) -> Any:
    return datetime.timedelta(0) if t in (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC) else (0.0 if t == dt.FLOAT else 0)


def interval_join(
    self: Table,
    other: Table,
    self_time: Any,
    other_time: Any,
    interval: Interval,
    *on: Any,
    behavior: Any = None,
    how: JoinMode = JoinMode.INNER,
    left_instance: Any = None,
    right_instance: Any = None,
) -> JoinResult:
    """Joins rows with ``self_time + lower_bound <= other_time <= self_time + upper_bound``
    and equal ``on`` keys."""
    from deltaflow.internals.temporal import CommonBehavior

    location = user_location()
    if behavior is not None and not isinstance(behavior, CommonBehavior):
        raise TypeError("interval_join's behavior must be made by pw.temporal.common_behavior")
    if not isinstance(interval, Interval):
        raise TypeError(f"interval_join needs pw.temporal.interval(lower_bound, upper_bound), got {interval!r}")
    lb, ub = interval.lower_bound, interval.upper_bound
    names = ["self_time_expression", "other_time_expression", "lower_bound", "upper_bound"]
    sides = _Sides(self, other, self_time, other_time, on, (left_instance, right_instance), location, (names, [lb, ub]))
    if lb > ub:
        raise ValueError(
            f"lower_bound has to be less than or equal to the upper_bound in the Table.interval_join(). Got {lb!r} > {ub!r}."
        )
    time_like = sides.time_type in (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC)
    width = ub - lb
    if width == _zero(sides.time_type) or (sides.time_type == dt.INT and isinstance(width, float)):
        width = datetime.timedelta(seconds=1) if time_like else 1
    if sides.time_type == dt.FLOAT:
        width, lb, ub = float(width), float(lb), float(ub)
    # A left row's matches lie in [t + lb, t + ub]: the buckets (multiples of `width`)
    # overlapping it. A right row is in the one bucket holding its time.
    left_bucket = ("window_starts", [("add", [sides.left_time, _const(ub)], "t+ub"), _const(width), _const(ub - lb + width), _const(None)], "buckets")
    right_bucket = ("window_starts", [sides.right_time, _const(width), _const(width), _const(None)], "bucket")

    def match(lt: tuple, rt: tuple, bucket: tuple) -> tuple:
        low = ("ge", [rt, ("add", [lt, _const(lb)], "t+lb")], "time >= lower bound")
        high = ("le", [rt, ("add", [lt, _const(ub)], "t+ub")], "time <= upper bound")
        return ("and", [low, high], "within the interval")

    nodes = None
    if behavior is not None:
        # Each side's rows pass the behaviour's gates (late rows ignored, rows held back,
        # old rows forgotten), each side keeping its own watermark.
        nodes = (_behave(self, self_time, behavior, location), _behave(other, other_time, behavior, location))
    node = _join_buckets(sides, left_bucket, right_bucket, match, how, f"interval_join at {location}", nodes)
    return _result(sides.left, sides.right, node, how, location, sides.same_name_keys)


def window_join(
    self: Table,
    other: Table,
    self_time: Any,
    other_time: Any,
    window: Window,
    *on: Any,
    how: JoinMode = JoinMode.INNER,
    left_instance: Any = None,
    right_instance: Any = None,
) -> JoinResult:
    """Joins rows that are in the same window and have equal ``on`` keys (a pair in several
    sliding windows is in the result once per window)."""
    location = user_location()
    if not isinstance(window, (_SlidingWindow, _SessionWindow)):
        raise TypeError(f"window_join needs a tumbling, sliding or session window, got {window!r}")
    names = ["left_time_expression", "right_time_expression"]
    values: list[Any] = []
    if isinstance(window, _SlidingWindow):
        names.append("window.hop")
        values.append(window.hop)
        if not window.tumbling:
            names.append("window.duration")
            values.append(window.duration)
        if window.origin is not None:
            names.append("window.origin")
            values.append(window.origin)
    elif window.max_gap is not None:
        names.append("window.max_gap")
        values.append(window.max_gap)
    sides = _Sides(self, other, self_time, other_time, on, (left_instance, right_instance), location, (names, values))
    if isinstance(window, _SessionWindow):
        return _session_window_join(sides, window, how, location)

    def starts(time_spec: tuple) -> tuple:
        return ("window_starts", [time_spec, _const(window.hop), _const(window.duration), _const(window.origin)], "windows")

    def match(lt: tuple, rt: tuple, bucket: tuple) -> tuple:
        return _const(True)

    node = _join_buckets(sides, starts(sides.left_time), starts(sides.right_time), match, how, f"window_join at {location}")
    return _result(sides.left, sides.right, node, how, location, sides.same_name_keys)


def _session_window_join(sides: _Sides, window: Any, how: JoinMode, location: str) -> JoinResult:
    """A window join over sessions made from the rows of both sides together (per join key):
    rows of the two sides in one session join."""
    from deltaflow.internals.udf import pair_function_batch

    name = f"window_join at {location}"
    left, right = sides.left, sides.right
    la, ra = len(left._columns), len(right._columns)

    def tagged(node: LogicalNode, time_spec: tuple, keys: list[tuple], side: bool) -> LogicalNode:
        # [time, key, side, id], on ids that cannot collide between the sides.
        specs = [time_spec, _key_spec(keys), _const(side), ("id", "id")]
        sel = LogicalNode([node], lambda g, ins: g.select(ins[0], specs, name), 4)
        new_id = ("pointer_from", [_const(side), _col(3)], "side id")
        return LogicalNode([sel], lambda g, ins: g.reindex(ins[0], new_id, name), 4)

    both = LogicalNode(
        [tagged(left._node, sides.left_time, sides.left_keys, False), tagged(right._node, sides.right_time, sides.right_keys, True)],
        lambda g, ins: g.concat(ins, name),
        4,
    )
    max_gap = window.max_gap
    predicate = pair_function_batch(window.predicate, f"the session predicate of {name}") if window.predicate else None
    sessions = LogicalNode([both], lambda g, ins: g.sessions(ins[0], 0, 1, max_gap, predicate, name), 7)

    def with_session(table: Table, side: bool, arity: int) -> LogicalNode:
        # The side's rows with their session's id as one more (last) cell.
        mine = LogicalNode([sessions], lambda g, ins: g.filter(ins[0], ("eq", [_col(2), _const(side)], "side"), name), 7)
        keyed = LogicalNode([mine], lambda g, ins: g.reindex(ins[0], _col(3), name), 7)
        session = LogicalNode([keyed], lambda g, ins: g.select(ins[0], [_col(4)], name), 1)
        return LogicalNode([table._node, session], lambda g, ins: g.zip(ins, name), arity + 1)

    nodes = (with_session(left, False, la), with_session(right, True, ra))
    left_bucket = ("make_tuple", [_col(la)], "session")
    right_bucket = ("make_tuple", [_col(ra)], "session")

    def match(lt: tuple, rt: tuple, bucket: tuple) -> tuple:
        return _const(True)

    node = _join_buckets(sides, left_bucket, right_bucket, match, how, name, nodes)
    return _result(sides.left, sides.right, node, how, location, sides.same_name_keys)


def _variant(fn: Any, how: JoinMode) -> Any:
    def join(self: Table, other: Table, *args: Any, **kwargs: Any) -> JoinResult:
        kwargs.pop("how", None)
        return fn(self, other, *args, how=how, **kwargs)

    join.__name__ = f"{fn.__name__}_{how.name.lower()}"
    return join


interval_join_inner = _variant(interval_join, JoinMode.INNER)
interval_join_left = _variant(interval_join, JoinMode.LEFT)
interval_join_right = _variant(interval_join, JoinMode.RIGHT)
interval_join_outer = _variant(interval_join, JoinMode.OUTER)
window_join_inner = _variant(window_join, JoinMode.INNER)
window_join_left = _variant(window_join, JoinMode.LEFT)
window_join_right = _variant(window_join, JoinMode.RIGHT)
window_join_outer = _variant(window_join, JoinMode.OUTER)


class Direction(enum.Enum):
    """Which row of the other side an as-of join picks."""

    BACKWARD = 0
    FORWARD = 1
    NEAREST = 2


class _AsofLayout(_JoinLayout):
    """An as-of join's rows: the two sides, then ``instance`` (the join key) and ``t`` (the
    time of the row the result was made for), as ``pw.this.instance`` and ``pw.this.t``."""

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        r = self.result
        if isinstance(ref.table, ThisPlaceholder) and ref.table.side == "this" and ref.name in ("instance", "t"):
            la, ra = len(r.left._columns), len(r.right._columns)
            if ref.name == "instance":
                return la + ra + 2, r.instance_dtype
            return la + ra + 3, r.time_dtype
        return super().resolve(ref)


class AsofJoinResult(JoinResult):
    def _layout(self, location: str) -> _JoinLayout:
        return _AsofLayout(self, self.node, location)


def asof_join(
    self: Table,
    other: Table,
    self_time: Any,
    other_time: Any,
    *on: Any,
    how: JoinMode = JoinMode.INNER,
    behavior: Any = None,
    defaults: dict | None = None,
    direction: Direction = Direction.BACKWARD,
    left_instance: Any = None,
    right_instance: Any = None,
) -> JoinResult:
    """Joins each row (of the left side, the right side or both, by ``how``) with the row of
    the other side with an equal key whose time is the latest at or before its own
    (``BACKWARD``), the earliest at or after (``FORWARD``) or the closest (``NEAREST``).
    ``defaults`` fill the other side's columns where it has no row."""
    from deltaflow.internals.temporal import CommonBehavior

    location = user_location()
    how = JoinMode(how)
    sides = _Sides(self, other, self_time, other_time, on, (left_instance, right_instance), location)
    left_node, right_node = self._node, other._node
    if behavior is not None:
        if not isinstance(behavior, CommonBehavior):
            raise NotImplementedError("asof_join supports common_behavior only")
        left_node = _behave(self, self_time, behavior, location)
        right_node = _behave(other, other_time, behavior, location)

    left_key, right_key = _key_spec(sides.left_keys), _key_spec(sides.right_keys)
    kind = {JoinMode.INNER: "inner", JoinMode.LEFT: "left", JoinMode.RIGHT: "right", JoinMode.OUTER: "outer"}[how]
    dir_name = Direction(direction).name.lower() if isinstance(direction, Direction) else str(direction).split(".")[-1].lower()
    name = f"asof_join at {location}"
    la, ra = len(self._columns), len(other._columns)
    lt, rt = sides.left_time, sides.right_time
    node = LogicalNode(
        [left_node, right_node],
        lambda g, ins: g.asof_join(ins[0], ins[1], left_key, lt, right_key, rt, kind, dir_name, name),
        la + ra + 4,
    )
    if defaults:
        cells = [_col(i) for i in range(la + ra + 4)]
        for ref, value in defaults.items():
            if not isinstance(ref, ColumnReference):
                raise TypeError(f"asof_join defaults are keyed by column references, got {ref!r}")
            if ref.table is self or (isinstance(ref.table, ThisPlaceholder) and ref.table.side == "left"):
                index, id_cell = list(self._columns).index(ref.name), la + ra
            elif ref.table is other or (isinstance(ref.table, ThisPlaceholder) and ref.table.side == "right"):
                index, id_cell = la + list(other._columns).index(ref.name), la + ra + 1
            else:
                raise ValueError(f"asof_join default for {ref._text()}, which is on neither side")
            cells[index] = ("if_else", [("is_none", [_col(id_cell)], "missing"), _const(value), cells[index]], "default")
        source = node
        node = LogicalNode([source], lambda g, ins: g.select(ins[0], cells, name), source.arity)
    result = _result(self, other, node, how, location, sides.same_name_keys, cls=AsofJoinResult)
    result.time_dtype = sides.time_type
    key_types = sides.left_key_types
    result.instance_dtype = key_types[0] if len(key_types) == 1 else (dt.Tuple(*key_types) if key_types else dt.NONE)
    return result


def asof_now_join(
    self: Table,
    other: Table,
    *on: Any,
    how: JoinMode = JoinMode.INNER,
    id: Any = None,  # noqa: A002 - Pathway's name
    left_instance: Any = None,
    right_instance: Any = None,
) -> JoinResult:
    """Joins each row added to ``self`` with the rows of ``other`` present at that moment; a
    result is never updated afterwards (``self`` should be append-only: its rows are not
    stored, so their deletions are ignored)."""
    location = user_location()
    how = JoinMode(how)
    if how not in (JoinMode.INNER, JoinMode.LEFT):
        raise ValueError("asof_now_join supports how=JoinMode.INNER and JoinMode.LEFT only")
    if self is other:
        raise ValueError("Cannot join table with itself. Use <table>.copy() as one of the arguments of the join.")
    ll = _SideLayout(self, "left", location)
    rl = _SideLayout(other, "right", location)
    left_keys, right_keys, same_name_keys, _ = _join_keys(ll, rl, on, (left_instance, right_instance))

    id_from_left = False
    if id is not None:
        owner = getattr(id, "table", None)
        if not isinstance(id, ColumnReference) or id.name != "id" or not (owner is self or (isinstance(owner, ThisPlaceholder) and owner.side == "left")):
            raise ValueError("asof_now_join id= must be the left side's id (pw.left.id)")
        id_from_left = True
    lk, rk = _key_spec(left_keys), _key_spec(right_keys)
    kind = "left" if how == JoinMode.LEFT else "inner"
    name = f"asof_now_join at {location}"
    la, ra = len(self._columns), len(other._columns)
    node = LogicalNode(
        [self._node, other._node],
        lambda g, ins: g.asof_now_join(ins[0], ins[1], lk, rk, kind, id_from_left, name),
        la + ra + 2,
    )
    return _result(self, other, node, how, location, same_name_keys, "left" if id_from_left else "pair")


def _behave(table: Table, time: Any, behavior: Any, location: str) -> LogicalNode:
    """The side's rows through the gates of a behaviour: late rows ignored (cutoff), rows
    held back (delay), old rows forgotten (keep_results=False)."""
    from deltaflow.internals.temporal import gate

    time = _side_expr(table, time)
    t = table
    if behavior.cutoff is not None:
        t = gate(t, "freeze", time + behavior.cutoff, time, location=location)
        time = _side_expr(t, time)
    if behavior.delay is not None:
        t = gate(t, "buffer", time + behavior.delay, time, location=location)
        time = _side_expr(t, time)
    if behavior.cutoff is not None and not behavior.keep_results:
        t = gate(t, "forget", time + behavior.cutoff, time, location=location)
    return t._node


def _side_expr(table: Table, expr: Any) -> Any:
    """``expr`` (over a join side, maybe written with ``pw.left``/``pw.right``) over ``table``."""
    expr = _wrap(expr)
    if isinstance(expr, ColumnReference):
        return ColumnReference(table, expr.name)
    raise NotImplementedError("asof_join with a behavior needs the time given as a column reference")


asof_join_left = None  # replaced below
asof_join_right = None
asof_join_outer = None


def intervals_over_windowby(table: Table, time_expr: Any, window: Any, behavior: Any, instance: Any, location: str) -> Any:
    """``windowby`` with ``intervals_over``: one window ``[at + lower_bound, at + upper_bound]``
    per distinct value of ``at``, holding the rows whose time is in it (an interval join);
    with ``is_outer``, a window without rows still has one row of None."""
    from deltaflow.internals.table import GroupedTable
    from deltaflow.internals.temporal import _WindowedLayout

    if behavior is not None:
        raise NotImplementedError("windowby with intervals_over and a behavior is not implemented yet in deltaflow")
    if instance is not None:
        raise NotImplementedError("windowby with intervals_over and an instance is not implemented yet in deltaflow")
    at = window.at
    if not isinstance(at, ColumnReference) or not isinstance(at.table, Table):
        raise TypeError("intervals_over(at=...) must be a column of a table")
    locations = at.table.groupby(at).reduce(_pw_window_location=at)
    lb, ub = window.lower_bound, window.upper_bound
    how = JoinMode.LEFT if window.is_outer else JoinMode.INNER
    joined = interval_join(locations, table, locations["_pw_window_location"], time_expr, interval(lb, ub), how=how)
    loc = locations["_pw_window_location"]
    columns = {name: ColumnReference(table, name) for name in table._columns}
    windowed = joined.select(
        _pw_window_location=loc,
        _pw_window_start=loc + lb,
        _pw_window_end=loc + ub,
        **columns,
    )
    w = windowed
    refs = [w["_pw_window_location"], w["_pw_window_start"], w["_pw_window_end"]]
    return GroupedTable(w, refs, location=location, layout_factory=lambda needed: _WindowedLayout(w, table, location))


asof_join_left = _variant(asof_join, JoinMode.LEFT)  # noqa: F811
asof_join_right = _variant(asof_join, JoinMode.RIGHT)  # noqa: F811
asof_join_outer = _variant(asof_join, JoinMode.OUTER)  # noqa: F811
asof_now_join_inner = _variant(asof_now_join, JoinMode.INNER)
asof_now_join_left = _variant(asof_now_join, JoinMode.LEFT)
