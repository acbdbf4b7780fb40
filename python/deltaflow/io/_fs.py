"""Shared machinery of the file connectors (``csv``, ``jsonlines``, ``plaintext``, ``fs``):
sources and sinks implemented in C++ (deltaflow/connectors/fs), configured from here."""

from __future__ import annotations

import csv as _csv
import os
from typing import Any

from deltaflow import _engine
from deltaflow.internals import dtype as dt
from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.schema import schema_from_types
from deltaflow.internals.table import LogicalNode, Table, user_location
from deltaflow.internals.universe import Universe


class CsvParserSettings:
    """How CSV files are split into fields."""

    def __init__(
        self,
        delimiter: str = ",",
        quote: str = '"',
        escape: str | None = None,
        enable_double_quote_escapes: bool = True,
        enable_quoting: bool = True,
        comment_character: str | None = None,
    ) -> None:
        self.delimiter = delimiter
        self.quote = quote if enable_quoting else "\0"
        self.escape = escape or ""
        self.comment = comment_character or ""


def _type_name(t: dt.DType) -> str:
    base = t.strip_optional()
    if base == dt.INT:
        return "int"
    if base == dt.FLOAT:
        return "float"
    if base == dt.BOOL:
        return "bool"
    if base == dt.STR:
        return "str"
    if base == dt.BYTES:
        return "bytes"
    if base == dt.JSON:
        return "json"
    if isinstance(base, dt.Pointer):
        return "pointer"
    return "any"


def column_specs(schema: Any) -> list[tuple]:
    """The columns of ``schema`` as the engine's sources take them: (name, type name,
    optional, has default, default)."""
    dtypes = schema._dtypes()
    defaults = schema.default_values()
    return [(n, _type_name(t), t.is_optional() or t == dt.NONE, n in defaults, defaults.get(n)) for n, t in dtypes.items()]


def _header_schema(path: str, settings: CsvParserSettings, pattern: str) -> Any:
    files = [path]
    if os.path.isdir(path):
        import fnmatch

        files = sorted(os.path.join(path, f) for f in os.listdir(path) if fnmatch.fnmatch(f, pattern) and not f.startswith("."))
    for f in files:
        with open(f, newline="") as handle:
            header = next(_csv.reader(handle, delimiter=settings.delimiter), None)
        if header:
            return schema_from_types(**{h.strip(): str for h in header})
    raise ValueError(f"cannot read CSV columns from {path}: pass schema=")


_counter = 0


def read(
    path: str | os.PathLike,
    *,
    format: str,  # noqa: A002
    schema: Any = None,
    mode: str = "streaming",
    csv_settings: CsvParserSettings | None = None,
    object_pattern: str = "*",
    with_metadata: bool = False,
    autocommit_duration_ms: int | None = 1500,
    name: str | None = None,
    json_field_paths: dict[str, str] | None = None,
    max_backlog_size: int | None = None,
    **kwargs: Any,
) -> Table:
    global _counter
    if max_backlog_size is not None and max_backlog_size <= 0:
        raise ValueError(f"max_backlog_size must be positive, got {max_backlog_size}")
    path = os.fspath(path)
    if mode not in ("static", "streaming"):
        raise ValueError(f"mode must be 'static' or 'streaming', got {mode!r}")
    if format in ("json", "jsonlines"):
        format = "json"  # noqa: A001
    if format == "plaintext" or format == "plaintext_by_file":
        schema = schema_from_types(data=str)
    elif format == "binary":
        schema = schema_from_types(data=bytes)
    elif format == "only_metadata":
        schema = schema_from_types()
        with_metadata = True
    settings = csv_settings or CsvParserSettings()
    if schema is None:
        if format == "csv":
            schema = _header_schema(path, settings, object_pattern)
        else:
            raise ValueError(f"pw.io reading {format} needs a schema=")
    if format not in ("csv", "json", "plaintext", "plaintext_by_file", "binary", "only_metadata"):
        raise ValueError(f"unknown format {format!r}")
    if mode == "static" and not os.path.exists(path):
        import glob as _glob

        if not (any(c in path for c in "*?[") and _glob.glob(path)):
            raise FileNotFoundError(f"no such file or directory: {path}")
    dtypes = schema._dtypes()
    columns = column_specs(schema)
    pk = schema.primary_key_columns() or []
    primary_key = [list(dtypes).index(k) for k in pk]
    out_columns = dict(dtypes)
    if with_metadata:
        out_columns["_metadata"] = dt.JSON
    _counter += 1
    location = user_location()
    source_name = name or f"{format} source {path}"
    streaming = mode == "streaming"
    arity = len(out_columns)

    def build(g: Any, ins: list[int]) -> int:
        source = _engine.file_source(
            path, format, streaming, columns, primary_key, with_metadata, object_pattern,
            settings.delimiter, settings.quote, True, source_name,
            # Watched files are checked every 50 ms, or as often as commits are asked for.
            min(50, autocommit_duration_ms) if autocommit_duration_ms else 50,
            settings.escape, settings.comment, dict(json_field_paths or {}),
        )
        return g.native_source_input(
            source, arity, f"{source_name} at {location}", max_backlog_size or 0, persistent_name=name or ""
        )

    node = LogicalNode([], build, arity)
    if with_metadata:
        # `_metadata` comes first, as in Pathway.
        names = ["_metadata"] + list(dtypes)
        specs = [("column", arity - 1, "_metadata")] + [("column", i, n) for i, n in enumerate(dtypes)]
        reorder_name = f"{source_name} at {location}"
        node = LogicalNode([node], lambda g, ins: g.select(ins[0], specs, reorder_name), arity)
        out_columns = {n: out_columns[n] for n in names}
    return Table(out_columns, node, Universe())


def write(table: Table, filename: str | os.PathLike, *, format: str, name: str | None = None, **kwargs: Any) -> None:  # noqa: A002
    filename = os.fspath(filename)
    columns = list(table.column_names())

    def open_sink() -> Any:
        try:
            return _engine.file_sink(filename, format, columns)
        except ValueError as error:
            raise OSError(str(error)) from None

    register_sink(Sink(table, None, None, name or f"{format} output {filename}", native=open_sink))
