"""Reducers: ``pw.reducers.count()``, ``sum``, ``min`` ... used inside ``reduce``.

A reducer is an expression that only ``groupby().reduce()`` (and ``Table.reduce``) can
compile: its arguments are evaluated on the input rows, and the engine keeps per-group state
(sums and counts as numbers, ordered reducers as ordered multisets) so that an insertion or
a retraction updates the result without rescanning the group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deltaflow.internals import dtype as dt
from deltaflow.internals.expression import ColumnExpression, ColumnReference, _wrap, this

if TYPE_CHECKING:  # pragma: no cover
    from deltaflow.internals.table import Layout


class ReducerExpression(ColumnExpression):
    def __init__(self, kind: str, args: list[ColumnExpression], *, skip_nones: bool = False, strict: bool = False) -> None:
        self._kind = kind
        self._args = args
        self._skip_nones = skip_nones
        self._strict = strict

    def _children(self) -> list[ColumnExpression]:
        return list(self._args)

    def _text(self) -> str:
        return f"pw.reducers.{self._kind}({', '.join(a._text() for a in self._args)})"

    # Inside reduce(), a reducer reads the cell holding its result; anywhere else it is an
    # error.
    def _dtype(self, layout: Layout) -> dt.DType:
        return self._result_cell(layout)[1]

    def _compile(self, layout: Layout) -> tuple:
        return ("column", self._result_cell(layout)[0], self._text())

    def _result_cell(self, layout: Any) -> tuple[int, dt.DType]:
        lookup = getattr(layout, "reducer_result", None)
        if lookup is None:
            raise ValueError(f"reducers can only be used inside reduce() ({self._text()})")
        return lookup(self)

    def _result_dtype(self, source: Layout) -> dt.DType:
        kind = self._kind
        types = [a._dtype(source) for a in self._args]
        if kind in ("count", "count_distinct"):
            return dt.INT
        t = types[0]
        if kind in ("sum", "avg"):
            if t.is_optional() or t == dt.NONE:
                raise TypeError(f"deltaflow does not support using reducer {kind} on column of type {t!r}.")
            base = t
            if base not in (dt.INT, dt.FLOAT, dt.DURATION, dt.ANY) and not isinstance(base, dt.Array):
                raise TypeError(f"deltaflow does not support using reducer {kind} on column of type {t!r}.")
            if kind == "avg":
                return dt.DURATION if base == dt.DURATION else (base if isinstance(base, dt.Array) else dt.FLOAT)
            return dt.INT if base == dt.BOOL else base
        if kind in ("min", "max", "any", "unique", "earliest", "latest"):
            return t
        if kind in ("argmin", "argmax"):
            return types[1] if len(types) > 1 else dt.ANY_POINTER
        if kind in ("tuple", "sorted_tuple"):
            return dt.List(t.strip_optional() if self._skip_nones else t)
        if kind == "ndarray":
            return dt.ANY_ARRAY
        raise NotImplementedError(f"reducer {kind}")

    def _engine_args(self) -> list[ColumnExpression]:
        return self._args


def count(*args: Any) -> ColumnExpression:
    return ReducerExpression("count", [])


def sum(arg: Any, *, strict: bool = False) -> ColumnExpression:  # noqa: A001 - Pathway's name
    return ReducerExpression("sum", [_wrap(arg)], strict=strict)


def avg(arg: Any) -> ColumnExpression:
    return ReducerExpression("avg", [_wrap(arg)])


def min(arg: Any) -> ColumnExpression:  # noqa: A001
    return ReducerExpression("min", [_wrap(arg)])


def max(arg: Any) -> ColumnExpression:  # noqa: A001
    return ReducerExpression("max", [_wrap(arg)])


def argmin(arg: Any, id: Any = None) -> ColumnExpression:  # noqa: A002
    return _arg_reducer("argmin", arg, id)


def argmax(arg: Any, id: Any = None) -> ColumnExpression:  # noqa: A002
    return _arg_reducer("argmax", arg, id)


def _arg_reducer(kind: str, arg: Any, id: Any) -> ColumnExpression:  # noqa: A002
    if id is None:
        return ReducerExpression(kind, [_wrap(arg)])
    # argmax(value, other): the value of `other` at the winning row, ordered by (value, id).
    return ReducerExpression(kind, [_wrap(arg), _wrap(id)])


def any(arg: Any) -> ColumnExpression:  # noqa: A001
    return ReducerExpression("any", [_wrap(arg)])


def unique(arg: Any) -> ColumnExpression:
    return ReducerExpression("unique", [_wrap(arg)])


def tuple(arg: Any, *, skip_nones: bool = False) -> ColumnExpression:  # noqa: A001
    return ReducerExpression("tuple", [_wrap(arg)], skip_nones=skip_nones)


def sorted_tuple(arg: Any, *, skip_nones: bool = False) -> ColumnExpression:
    return ReducerExpression("sorted_tuple", [_wrap(arg)], skip_nones=skip_nones)


def ndarray(arg: Any, *, skip_nones: bool = False) -> ColumnExpression:
    return ReducerExpression("ndarray", [_wrap(arg)], skip_nones=skip_nones)


def count_distinct(*args: Any) -> ColumnExpression:
    from deltaflow.internals.expression import make_tuple

    value = _wrap(args[0]) if len(args) == 1 else make_tuple(*args)
    return ReducerExpression("count_distinct", [value])


def earliest(arg: Any) -> ColumnExpression:
    return ReducerExpression("earliest", [_wrap(arg)])


def latest(arg: Any) -> ColumnExpression:
    return ReducerExpression("latest", [_wrap(arg)])


class BaseCustomAccumulator:
    """Base of custom reducers (``pw.reducers.udf_reducer``). Implement ``from_row(row)``
    (a classmethod building an accumulator from one row's values), ``update(other)`` and
    ``compute_result()``; ``retract(other)`` is optional. The engine keeps each group's rows
    (ordered by row id) and folds them with ``from_row``/``update`` whenever the group
    changes, so results are exact under retractions; a group's update costs O(group size)."""

    @classmethod
    def from_row(cls, row: list[Any]) -> BaseCustomAccumulator:
        raise NotImplementedError

    def update(self, other: BaseCustomAccumulator) -> None:
        raise NotImplementedError

    def compute_result(self) -> Any:
        raise NotImplementedError

    def retract(self, other: BaseCustomAccumulator) -> None:
        raise NotImplementedError


def udf_reducer(reducer_cls: type) -> Any:
    """A reducer from a ``BaseCustomAccumulator`` subclass: ``my_reducer(t.a, t.b)``."""
    from deltaflow.internals.expression import ApplyExpression, make_tuple

    return_type = getattr(reducer_cls.compute_result, "__annotations__", {}).get("return")

    def fold(rows: tuple) -> Any:
        accumulator = None
        for row in rows:
            one = reducer_cls.from_row(list(row))
            if accumulator is None:
                accumulator = one
            else:
                accumulator.update(one)
        return accumulator.compute_result() if accumulator is not None else None

    def reducer(*args: Any) -> ColumnExpression:
        rows = ReducerExpression("tuple", [make_tuple(*args)])
        return ApplyExpression(fold, return_type, (rows,), {}, deterministic=True)

    reducer.__name__ = getattr(reducer_cls, "__name__", "udf_reducer")
    return reducer


def count_distinct_approximate(*args: Any, precision: int = 12) -> ColumnExpression:
    """``count_distinct``, computed exactly."""
    return count_distinct(*args)


def stateful_single(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("stateful reducers are not implemented yet in deltaflow")


def stateful_many(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("stateful reducers are not implemented yet in deltaflow")


__all__ = [
    "ColumnReference",
    "this",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "argmin",
    "argmax",
    "any",
    "unique",
    "tuple",
    "sorted_tuple",
    "ndarray",
    "count_distinct",
    "earliest",
    "latest",
    "udf_reducer",
    "BaseCustomAccumulator",
    "count_distinct_approximate",
    "stateful_single",
    "stateful_many",
]
