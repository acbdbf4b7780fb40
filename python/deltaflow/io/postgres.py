"""``pw.io.postgres``: write a table to PostgreSQL as a stream of changes or as a snapshot,
through libpqxx (deltaflow/connectors/postgres).

Every closed time of the table is one transaction. Rows travel by ``COPY`` (``max_batch_size``
bounds the rows of one COPY inside that transaction). A stream of changes appends one row per
change with ``time`` (BIGINT) and ``diff`` (SMALLINT, 1 or -1); a snapshot keeps the target
equal to the table's current rows, by primary key. A lost connection (a server restart) is
retried, and the time written again: nothing lost, nothing written twice. A value the server
rejects stops the run with the server's message, naming the table and the column.

The connection is described by ``postgres_settings``, libpq's connection parameters (``host``,
``port``, ``dbname``, ``user``, ``password``, ``sslmode``, ``sslrootcert``, ...). For TLS,
``sslmode="verify-full"`` with ``sslrootcert`` set checks the server's certificate and name.
Passwords are never logged nor put in error messages.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal

from deltaflow import _engine
from deltaflow.internals import dtype as dt
from deltaflow.internals.expression import ColumnReference
from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.table import Table

_INIT_MODES = {
    "default": _engine.PostgresInitMode.DEFAULT,
    "create_if_not_exists": _engine.PostgresInitMode.CREATE_IF_NOT_EXISTS,
    "replace": _engine.PostgresInitMode.REPLACE,
}

# TCP keepalives, so that a server or network gone silent is noticed in minutes (overridable).
_KEEPALIVES = {"keepalives": "1", "keepalives_idle": "300", "keepalives_interval": "30", "keepalives_count": "3"}


def _quote_value(value: Any) -> str:
    """A libpq connection parameter value, quoted when it needs to be."""
    text = "true" if value is True else "false" if value is False else str(value)
    if text and all(c not in text for c in " '\\\t\n"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def connection_string(postgres_settings: dict, name: str | None = None) -> str:
    """libpq's ``key=value`` connection string of ``postgres_settings``, with keepalives and
    an ``application_name`` naming the connector unless the settings say otherwise."""
    if not isinstance(postgres_settings, dict):
        raise TypeError(f"postgres_settings must be a dict, got {type(postgres_settings).__name__}")
    settings = dict(_KEEPALIVES)
    settings["application_name"] = f"deltaflow:{name}" if name else "deltaflow"
    for key, value in postgres_settings.items():
        if not isinstance(key, str):
            raise TypeError(f"postgres_settings keys must be strings, got {key!r}")
        settings[key] = value
    return " ".join(f"{key}={_quote_value(value)}" for key, value in settings.items())


def sql_type(dtype: dt.DType, nested: bool = False) -> str:
    """The PostgreSQL type a column of ``dtype`` gets when the output creates its table, as
    Pathway maps them (``NOT NULL`` unless optional)."""
    suffix = "" if nested else " NOT NULL"
    if dtype.is_optional():
        inner = dtype.strip_optional()
        if inner == dt.ANY:
            raise TypeError("a column of type Any cannot be written to PostgreSQL: cast it to a concrete type")
        return sql_type(inner, nested=True)
    simple = {
        dt.BOOL: "BOOLEAN",
        dt.INT: "BIGINT",
        dt.DURATION: "BIGINT",
        dt.FLOAT: "DOUBLE PRECISION",
        dt.STR: "TEXT",
        dt.BYTES: "BYTEA",
        dt.JSON: "JSONB",
        dt.DATE_TIME_NAIVE: "TIMESTAMP",
        dt.DATE_TIME_UTC: "TIMESTAMPTZ",
    }
    if dtype in simple:
        return simple[dtype] + suffix
    if isinstance(dtype, dt.Pointer):
        return "TEXT" + suffix
    if isinstance(dtype, dt.List):
        inner = dtype.arg
        while isinstance(inner, dt.List):
            inner = inner.arg
        inner = inner.strip_optional()
        if isinstance(inner, (dt.Tuple, dt.Array)) or inner == dt.ANY:
            raise TypeError(f"a column of type {dtype!r} cannot be written to PostgreSQL")
        return sql_type(inner, nested=True) + "[]" + suffix
    if isinstance(dtype, dt.Tuple):
        if dtype.args and all(a == dtype.args[0] for a in dtype.args):
            return sql_type(dtype.args[0], nested=True) + "[]" + suffix
        raise TypeError(f"a column of type {dtype!r} cannot be written to PostgreSQL: its elements differ in type")
    if isinstance(dtype, dt.Array):
        wrapped = dtype.wrapped
        if wrapped == dt.INT:
            return "BIGINT[]" + suffix
        if wrapped in (dt.FLOAT, None, dt.ANY):
            return "DOUBLE PRECISION[]" + suffix
        raise TypeError("an Array column written to PostgreSQL must hold int or float elements")
    raise TypeError(f"a column of type {dtype!r} cannot be written to PostgreSQL")


def _column_name(table: Table, ref: Any, what: str) -> str:
    if isinstance(ref, ColumnReference):
        name = ref.name
    elif isinstance(ref, str):
        name = ref
    else:
        raise TypeError(f"{what} must be column references of the table written, got {ref!r}")
    if name not in table._columns:
        raise ValueError(
            f"{what} references column(s) [{name!r}] that are not present in the written table; "
            f"pass ColumnReferences from the table being written, e.g. {what}=[table.{name}]."
        )
    return name


def write(
    table: Table,
    postgres_settings: dict,
    table_name: str,
    *,
    schema_name: str | None = "public",
    max_batch_size: int | None = None,
    init_mode: Literal["default", "create_if_not_exists", "replace"] = "default",
    output_table_type: Literal["stream_of_changes", "snapshot"] = "stream_of_changes",
    primary_key: list[ColumnReference] | None = None,
    name: str | None = None,
    sort_by: Iterable[ColumnReference] | None = None,
    _external_diff_column: Any = None,
) -> None:
    """Writes ``table`` to the PostgreSQL table ``table_name`` (in ``schema_name``).

    ``output_table_type="stream_of_changes"``: one database row per change, the table's
    columns followed by ``time`` (BIGINT) and ``diff`` (SMALLINT). ``"snapshot"``: the
    database table holds the current rows, keyed by ``primary_key`` (upserts and deletes).
    ``init_mode``: "default" writes to an existing table, "create_if_not_exists" creates it
    when missing, "replace" drops and creates it. ``max_batch_size`` bounds the rows of one
    COPY (a time is still one transaction). ``sort_by`` orders the rows of each time."""
    if output_table_type not in ("stream_of_changes", "snapshot"):
        raise ValueError(f"output_table_type must be 'stream_of_changes' or 'snapshot', got {output_table_type!r}")
    if init_mode not in _INIT_MODES:
        raise ValueError(f"init_mode must be 'default', 'create_if_not_exists' or 'replace', got {init_mode!r}")
    if not isinstance(table_name, str) or not table_name:
        raise ValueError("table_name must be a non-empty string")
    if max_batch_size is not None and (not isinstance(max_batch_size, int) or max_batch_size <= 0):
        raise ValueError(f"max_batch_size must be a positive integer, got {max_batch_size!r}")
    if _external_diff_column is not None:
        raise NotImplementedError("_external_diff_column is not implemented yet in deltaflow")
    snapshot = output_table_type == "snapshot"
    names = list(table._columns)
    if not snapshot:
        offending = sorted(n for n in names if n.lower() in ("time", "diff"))
        if offending:
            raise ValueError(
                f"column(s) {offending} collide with the 'time' and 'diff' columns a stream_of_changes output "
                "appends; rename them or write with output_table_type='snapshot'"
            )
        if primary_key is not None:
            raise ValueError("primary_key can only be specified for the snapshot table type")
    elif not primary_key:
        raise ValueError("primary key field names must be specified for a snapshot mode")
    key_names = [_column_name(table, k, "primary_key") for k in (primary_key or [])]
    duplicates = sorted({k for k in key_names if key_names.count(k) > 1})
    if duplicates:
        raise ValueError(f"primary_key contains duplicate column(s) {duplicates}")
    for k in key_names:
        if snapshot and table._columns[k].is_optional():
            raise ValueError(
                f"primary_key column '{k}' is declared nullable; primary_key columns must be non-nullable in "
                "snapshot mode. Filter out the Nones upstream, e.g. with .filter(t.pkey.is_not_none())."
            )
    columns = []
    for column in names:
        dtype = table._columns[column]
        sql = ""
        if init_mode != "default":  # the type matters only to a table the output creates
            try:
                sql = sql_type(dtype)
            except TypeError as e:
                raise TypeError(f"column {column!r}: {e}") from None
        columns.append((column, sql, dtype.is_optional()))
    sort_columns = [names.index(_column_name(table, c, "sort_by")) for c in (sort_by or [])]
    conninfo = connection_string(postgres_settings, name)
    schema = schema_name or ""
    sink_name = name or f"postgres output {schema + '.' if schema else ''}{table_name}"
    table_type = _engine.PostgresTableType.SNAPSHOT if snapshot else _engine.PostgresTableType.STREAM_OF_CHANGES

    def open_sink() -> Any:
        return _engine.postgres_sink(
            conninfo, schema, table_name, columns, table_type, [names.index(k) for k in key_names],
            _INIT_MODES[init_mode], max_batch_size or 0, sort_columns, 60.0, sink_name,
        )

    register_sink(Sink(table, None, None, sink_name, native=open_sink))


def write_snapshot(
    table: Table,
    postgres_settings: dict,
    table_name: str,
    primary_key: list[str],
    *,
    max_batch_size: int | None = None,
    init_mode: Literal["default", "create_if_not_exists", "replace"] = "default",
    name: str | None = None,
    sort_by: Iterable[ColumnReference] | None = None,
    _external_diff_column: Any = None,
) -> None:
    """Deprecated form of ``write(..., output_table_type="snapshot")`` (as in Pathway)."""
    import warnings

    warnings.warn(
        'pw.io.postgres.write_snapshot is deprecated. Please use `pw.io.postgres.write` with output_table_type="snapshot" instead.',
        DeprecationWarning,
        stacklevel=2,
    )
    write(
        table, postgres_settings, table_name, max_batch_size=max_batch_size, init_mode=init_mode,
        output_table_type="snapshot", primary_key=[table[k] if isinstance(k, str) else k for k in primary_key],
        name=name, sort_by=sort_by, _external_diff_column=_external_diff_column,
    )


def _read_type(dtype: dt.DType) -> tuple[str, str]:
    """How the source reads a column of ``dtype``: its type, and a list's element type."""
    dtype = dtype.strip_optional()
    simple = {
        dt.INT: "int", dt.FLOAT: "float", dt.BOOL: "bool", dt.STR: "str", dt.BYTES: "bytes", dt.JSON: "json",
        dt.DATE_TIME_NAIVE: "datetime_naive", dt.DATE_TIME_UTC: "datetime_utc", dt.DURATION: "duration", dt.ANY: "any",
    }
    if dtype in simple:
        return simple[dtype], "any"
    if isinstance(dtype, dt.Pointer):
        return "pointer", "any"
    if isinstance(dtype, dt.List):
        inner = dtype.arg
        while isinstance(inner, dt.List):
            inner = inner.arg
        return "list", _read_type(inner)[0]
    if isinstance(dtype, dt.Tuple):
        inner = dtype.args[0] if dtype.args and all(a == dtype.args[0] for a in dtype.args) else dt.ANY
        return "list", _read_type(inner)[0]
    raise TypeError(f"a column of type {dtype!r} cannot be read from PostgreSQL")


def read(
    postgres_settings: dict,
    table_name: str,
    schema: Any,
    *,
    mode: Literal["streaming", "static"] = "streaming",
    is_append_only: bool = False,
    publication_name: str | None = None,
    schema_name: str | None = "public",
    autocommit_duration_ms: int | None = 1500,
    name: str | None = None,
    max_backlog_size: int | None = None,
    debug_data: Any = None,
    replication_slot_name: str | None = None,
) -> Table:
    """The PostgreSQL table ``table_name`` (in ``schema_name``) as a table of ``schema``.

    ``mode="static"``: the table as it is, read in one snapshot. ``mode="streaming"``: that
    snapshot, then every change by logical replication (the ``pgoutput`` plugin): each source
    transaction becomes one time. ``publication_name`` is required; it is created ``FOR TABLE``
    when missing. ``replication_slot_name`` names a persistent slot that only advances once
    results are durable (the server keeps the WAL from there on, also while the pipeline is
    down); without it the slot is temporary. The schema's primary key identifies rows: updates
    replace the row of their key, deletions retract it (``is_append_only=True`` reads a table
    that is only inserted into, without a key)."""
    from deltaflow.internals.table import LogicalNode, user_location
    from deltaflow.internals.universe import Universe

    if mode not in ("streaming", "static"):
        raise ValueError(f"mode must be 'streaming' or 'static', got {mode!r}")
    streaming = mode == "streaming"
    if not streaming:
        if publication_name is not None:
            raise ValueError("'publication_name' is not needed for the static mode")
        if replication_slot_name is not None:
            raise ValueError("'replication_slot_name' is not needed for the static mode")
    elif not publication_name:
        raise ValueError("'publication_name' is required for the streaming mode")
    if not isinstance(table_name, str) or not table_name:
        raise ValueError("table_name must be a non-empty string")
    if max_backlog_size is not None and max_backlog_size <= 0:
        raise ValueError(f"'max_backlog_size' must be positive, got {max_backlog_size}")
    dtypes = schema._dtypes()
    key_columns = list(schema.primary_key_columns() or [])
    if streaming and not is_append_only and not key_columns:
        raise ValueError(
            "the schema needs a primary key (pw.column_definition(primary_key=True)) so that updates and deletions "
            "name their row; a table that is only inserted into can be read with is_append_only=True"
        )
    columns = []
    for column, dtype in dtypes.items():
        try:
            kind, element = _read_type(dtype)
        except TypeError as e:
            raise TypeError(f"column {column!r}: {e}") from None
        columns.append((column, kind, element, dtype.is_optional()))
    primary_key = [list(dtypes).index(k) for k in key_columns]
    conninfo = connection_string(postgres_settings, name)
    schema_text = schema_name or ""
    source_name = name or f"postgres source {schema_text + '.' if schema_text else ''}{table_name}"
    location = user_location()
    arity = len(dtypes)

    def build(g: Any, ins: list[int]) -> int:
        source = _engine.postgres_source(
            conninfo, schema_text, table_name, columns, primary_key, streaming, is_append_only,
            publication_name or "", replication_slot_name or "", source_name,
        )
        return g.native_source_input(
            source, arity, f"{source_name} at {location}", max_backlog_size or 0, persistent_name=name or ""
        )

    return Table(dict(dtypes), LogicalNode([], build, arity), Universe())


__all__ = ["read", "write", "write_snapshot"]
