"""``pw.io.sqlite``: follow a SQLite table as a live table, and write a table to SQLite as a
stream of changes or a snapshot (deltaflow/connectors/sqlite).

Reading polls the database every half second for commits of other connections and emits the
difference with what it read before; rows are keyed by the schema's primary key, else by
SQLite's rowid. Writing is one transaction per time.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from deltaflow import _engine
from deltaflow.internals import dtype as dt
from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.table import LogicalNode, Table, user_location
from deltaflow.internals.universe import Universe
from deltaflow.io.postgres import _column_name, _read_type

_INIT_MODES = {"default": 0, "create_if_not_exists": 1, "replace": 2}


def read(
    path: str | os.PathLike,
    table_name: str,
    schema: Any,
    *,
    autocommit_duration_ms: int | None = 1500,
    name: str | None = None,
    max_backlog_size: int | None = None,
    debug_data: Any = None,
) -> Table:
    """The SQLite table ``table_name`` of the database file ``path``, kept up to date: the
    whole table first, then every change other connections commit."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is an existing directory, not a SQLite database file")
    if max_backlog_size is not None and max_backlog_size <= 0:
        raise ValueError(f"'max_backlog_size' must be positive, got {max_backlog_size}")
    dtypes = schema._dtypes()
    columns = []
    for column, dtype in dtypes.items():
        try:
            kind, _ = _read_type(dtype)
        except TypeError as e:
            raise TypeError(f"column {column!r}: {str(e).replace('PostgreSQL', 'SQLite')}") from None
        columns.append((column, kind, dtype.is_optional()))
    primary_key = [list(dtypes).index(k) for k in (schema.primary_key_columns() or [])]
    source_name = name or f"sqlite source {table_name}"
    location = user_location()
    arity = len(dtypes)

    def build(g: Any, ins: list[int]) -> int:
        source = _engine.sqlite_source(path, table_name, columns, primary_key, 500, source_name)
        return g.native_source_input(
            source, arity, f"{source_name} at {location}", max_backlog_size or 0, persistent_name=name or ""
        )

    return Table(dict(dtypes), LogicalNode([], build, arity), Universe())


def _sql_type(dtype: dt.DType) -> str:
    """The SQLite type of a column of ``dtype`` in a table the output creates."""
    suffix = "" if dtype.is_optional() else " NOT NULL"
    inner = dtype.strip_optional()
    if inner == dt.ANY:
        raise TypeError("a column of type Any cannot be written to SQLite: cast it to a concrete type")
    if inner in (dt.BOOL, dt.INT, dt.DURATION):
        return "INTEGER" + suffix
    if inner == dt.FLOAT:
        return "REAL" + suffix
    if inner == dt.BYTES:
        return "BLOB" + suffix
    return "TEXT" + suffix


def write(
    table: Table,
    path: str | os.PathLike,
    table_name: str,
    *,
    max_batch_size: int | None = None,
    init_mode: Literal["default", "create_if_not_exists", "replace"] = "default",
    output_table_type: Literal["stream_of_changes", "snapshot"] = "stream_of_changes",
    primary_key: list[Any] | None = None,
    name: str | None = None,
) -> None:
    """Writes ``table`` to the SQLite table ``table_name`` of ``path`` (created when missing):
    a stream of changes (the columns, ``time`` and ``diff``) or a snapshot keyed by
    ``primary_key``; one transaction per time (``max_batch_size`` is accepted for
    compatibility)."""
    if output_table_type not in ("stream_of_changes", "snapshot"):
        raise ValueError(f"output_table_type must be 'stream_of_changes' or 'snapshot', got {output_table_type!r}")
    if init_mode not in _INIT_MODES:
        raise ValueError(f"init_mode must be 'default', 'create_if_not_exists' or 'replace', got {init_mode!r}")
    snapshot = output_table_type == "snapshot"
    names = list(table._columns)
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        raise ValueError(f"column names that differ only in case cannot be written to SQLite: {names}")
    if not snapshot:
        offending = sorted(n for n in names if n.lower() in ("time", "diff"))
        if offending:
            raise ValueError(
                f"Column(s) {offending} collide with the 'time' and 'diff' metadata columns appended in "
                "stream_of_changes mode; rename them or write with output_table_type='snapshot'"
            )
        if primary_key is not None:
            raise ValueError("primary_key can only be specified for the snapshot table type")
    elif not primary_key:
        raise ValueError("primary_key must be specified for the snapshot table type")
    key_names = [_column_name(table, k, "primary_key") for k in (primary_key or [])]
    duplicates = sorted({k for k in key_names if key_names.count(k) > 1})
    if duplicates:
        raise ValueError(f"primary_key contains duplicate column(s) {duplicates}")
    for k in key_names:
        if table._columns[k].is_optional():
            raise ValueError(
                f"primary_key column '{k}' is declared nullable; primary-key columns must be non-nullable in snapshot mode."
            )
    columns = []
    for column in names:
        try:
            columns.append((column, _sql_type(table._columns[column]), table._columns[column].is_optional()))
        except TypeError as e:
            raise TypeError(f"column {column!r}: {e}") from None
    file = os.fspath(path)
    if os.path.isdir(file):
        raise ValueError(f"{file!r} is an existing directory, not a SQLite database file")
    sink_name = name or f"sqlite output {table_name}"

    def open_sink() -> Any:
        return _engine.sqlite_sink(
            file, table_name, columns, snapshot, [names.index(k) for k in key_names], _INIT_MODES[init_mode], sink_name
        )

    register_sink(Sink(table, None, None, sink_name, native=open_sink))


__all__ = ["read", "write"]
