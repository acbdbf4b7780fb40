"""Helpers for testing pipelines: build expected tables with ``T`` (markdown) and compare.

Each assertion computes both sides in one run and compares final tables (``assert_table_*``)
or whole update streams (``assert_stream_*``); the ``_wo_index`` variants ignore ids. Column
names and order must match, and so must column types, unless the
``_wo_types`` variant is used.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from deltaflow.debug import _capture, _squash, table_from_markdown, table_from_pandas
from deltaflow.internals import dtype as dt
from deltaflow.internals.table import Table


def T(*args: Any, format: str = "markdown", **kwargs: Any) -> Table:  # noqa: A002, N802
    """``table_from_markdown`` (or ``table_from_pandas`` with ``format="pandas"``)."""
    if format == "pandas":
        return table_from_pandas(*args, **kwargs)
    return table_from_markdown(*args, **kwargs)


def _as_tuple(tables: Any) -> tuple[Table, ...]:
    return tuple(tables) if isinstance(tables, (tuple, list)) else (tables,)


def _compatible(a: dt.DType, b: dt.DType) -> bool:
    if dt.is_subtype(a, b) and dt.is_subtype(b, a):
        return True
    return a == dt.ANY or b == dt.ANY


def _check_schemas(actual: tuple[Table, ...], expected: tuple[Table, ...], check_types: bool, wo_types: bool) -> None:
    if len(actual) != len(expected):
        raise AssertionError(f"comparing {len(actual)} tables with {len(expected)}")
    all_match = True
    for a, e in zip(actual, expected):
        if a.column_names() != e.column_names():
            raise RuntimeError(f"Mismatched column names, {a.column_names()} vs {e.column_names()}")
        for n in a.column_names():
            if not _compatible(a._columns[n], e._columns[n]):
                all_match = False
                if check_types:
                    raise RuntimeError(
                        f"Output schema validation error, table {dict(a._columns)} vs expected {dict(e._columns)}"
                    )
    if wo_types and all_match:
        raise AssertionError("wo_types is not needed")


def _comparable(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return ("ndarray", str(value.dtype), value.shape, str(value))
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, tuple):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, float) and value != value:
        return ("nan",)
    return value


def _run(actual: tuple[Table, ...], expected: tuple[Table, ...], kwargs: dict) -> tuple[list, list]:
    streams = _capture(actual + expected, **kwargs)
    return streams[: len(actual)], streams[len(actual) :]


def _assert_tables(table: Any, expected: Any, *, with_index: bool, check_types: bool, wo_types: bool, kwargs: dict) -> None:
    actual_t, expected_t = _as_tuple(table), _as_tuple(expected)
    _check_schemas(actual_t, expected_t, check_types, wo_types)
    actual_s, expected_s = _run(actual_t, expected_t, kwargs)
    for a, e in zip(actual_s, expected_s):
        sa, se = _squash(a), _squash(e)
        if with_index:
            da = {k: _comparable(v) for k, v in sa.items()}
            de = {k: _comparable(v) for k, v in se.items()}
            if da != de:
                missing = {k: v for k, v in de.items() if da.get(k) != v}
                extra = {k: v for k, v in da.items() if de.get(k) != v}
                raise AssertionError(f"tables differ:\n  expected but not found: {missing}\n  found but not expected: {extra}")
        else:
            ca = Counter(_comparable(v) for v in sa.values())
            ce = Counter(_comparable(v) for v in se.values())
            if ca != ce:
                raise AssertionError(f"tables differ (ignoring ids):\n  expected but not found: {ce - ca}\n  found but not expected: {ca - ce}")


def _assert_streams(table: Any, expected: Any, *, with_index: bool, check_types: bool, wo_types: bool, kwargs: dict) -> None:
    actual_t, expected_t = _as_tuple(table), _as_tuple(expected)
    _check_schemas(actual_t, expected_t, check_types, wo_types)
    actual_s, expected_s = _run(actual_t, expected_t, kwargs)
    for a, e in zip(actual_s, expected_s):
        def entries(stream: list) -> Counter:
            return Counter(((k,) if with_index else ()) + (_comparable(v), t, d) for k, v, t, d in stream)

        ca, ce = entries(a), entries(e)
        if ca != ce:
            raise AssertionError(f"update streams differ:\n  expected but not found: {ce - ca}\n  found but not expected: {ca - ce}")


def assert_table_equality(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_tables(table, expected, with_index=True, check_types=True, wo_types=False, kwargs=kwargs)


def assert_table_equality_wo_index(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_tables(table, expected, with_index=False, check_types=True, wo_types=False, kwargs=kwargs)


def assert_table_equality_wo_types(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_tables(table, expected, with_index=True, check_types=False, wo_types=True, kwargs=kwargs)


def assert_table_equality_wo_index_types(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_tables(table, expected, with_index=False, check_types=False, wo_types=True, kwargs=kwargs)


def assert_stream_equality(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_streams(table, expected, with_index=True, check_types=True, wo_types=False, kwargs=kwargs)


def assert_stream_equality_wo_index(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_streams(table, expected, with_index=False, check_types=True, wo_types=False, kwargs=kwargs)


def assert_stream_equality_wo_types(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_streams(table, expected, with_index=True, check_types=False, wo_types=True, kwargs=kwargs)


def assert_stream_equality_wo_index_types(table: Any, expected: Any, **kwargs: Any) -> None:
    _assert_streams(table, expected, with_index=False, check_types=False, wo_types=True, kwargs=kwargs)


def run(**kwargs: Any) -> None:
    from deltaflow.internals.run import run as _run_all

    _run_all(**kwargs)


def run_all(**kwargs: Any) -> None:
    run(**kwargs)


__all__ = [
    "T",
    "assert_table_equality",
    "assert_table_equality_wo_index",
    "assert_table_equality_wo_types",
    "assert_table_equality_wo_index_types",
    "assert_stream_equality",
    "assert_stream_equality_wo_index",
    "assert_stream_equality_wo_types",
    "assert_stream_equality_wo_index_types",
    "run",
    "run_all",
]
