"""Debugging helpers: tables from markdown, pandas or rows, and computing tables to print or
inspect (``compute_and_print``, ``table_to_pandas`` ...). Each helper runs only the part of
the pipeline the given tables need."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

from deltaflow import _engine
from deltaflow.internals import dtype as dt
from deltaflow.internals.run import Sink, execute
from deltaflow.internals.table import Table, static_table, warn_odd_times
from deltaflow.internals.values import ErrorValue, Json

Pointer = _engine.Pointer


# --- computing -----------------------------------------------------------------------------


def _capture(tables: Iterable[Table], **kwargs: Any) -> list[list[tuple[Any, tuple, int, int]]]:
    """The update streams of ``tables``: (id, values, time, diff) per change, in time order."""
    streams: list[list[tuple[Any, tuple, int, int]]] = []
    sinks = []
    for t in tables:
        if not isinstance(t, Table):
            raise TypeError(f"expected a Table, got {type(t).__name__}")
        stream: list[tuple[Any, tuple, int, int]] = []
        streams.append(stream)

        def on_time(time: int, changes: list, stream: list = stream) -> None:
            for key, values, diff in changes:
                stream.append((key, values, time, diff))

        sinks.append(Sink(t, on_time, None, "debug output", keep_error_rows=True))
    run_kwargs = {k: v for k, v in kwargs.items() if k in ("terminate_on_error", "threads")}
    execute(sinks, **run_kwargs)
    return streams


def _squash(stream: list[tuple[Any, tuple, int, int]]) -> dict[Any, tuple]:
    state: dict[Any, tuple] = {}
    counts: dict[Any, int] = {}
    for key, values, _time, diff in stream:
        if diff > 0:
            if counts.get(key, 0) > 0:
                raise KeyError(f"duplicated entries for key {key}")
            state[key] = values
            counts[key] = counts.get(key, 0) + diff
        else:
            counts[key] = counts.get(key, 0) + diff
            if counts[key] == 0:
                state.pop(key, None)
                del counts[key]
    return state


def _compute_snapshots(tables: tuple[Table, ...], **kwargs: Any) -> list[dict[Any, tuple]]:
    return [_squash(s) for s in _capture(tables, **kwargs)]


# --- printing ------------------------------------------------------------------------------


def _cell_text(value: Any, short_pointers: bool) -> str:
    if isinstance(value, Pointer):
        text = str(value)
        return text[:8] + "..." if short_pointers and len(text) > 8 else text
    if isinstance(value, ErrorValue):
        return "Error"
    if isinstance(value, Json):
        return json.dumps(value.value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _sort_key(values: tuple) -> tuple:
    return tuple((0,) if v is None else (1, _comparable(v)) for v in values)


def _comparable(v: Any) -> Any:
    """Json values order by their text, so rows holding them sort."""
    from deltaflow.internals.values import Json

    if isinstance(v, Json):
        return str(v)  # as Pathway orders Json values: by their text
    return v


def _format(columns: list[str], rows: list[tuple], include_id: bool, short_pointers: bool) -> str:
    if not columns and not include_id:
        return ""
    header = ([("id" if not columns else "")] if include_id else []) + columns
    single = not include_id and len(columns) == 1
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if v is None:
                is_id_cell = include_id and i == 0
                cells.append("None" if single and not is_id_cell else "")
            else:
                cells.append(_cell_text(v, short_pointers))
        body.append(cells)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    widths[-1] = 0
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + body]
    return "\n".join(lines)


def _try_sort(rows: list[tuple], key: Any) -> list[tuple]:
    try:
        return sorted(rows, key=key)
    except Exception:  # noqa: BLE001 - values that do not compare (arrays, Error) stay unsorted
        return rows


def compute_and_print(*tables: Table, include_id: bool = True, short_pointers: bool = True, n_rows: int | None = None, **kwargs: Any) -> None:
    """Computes ``tables`` and prints each final table, rows sorted by value."""
    for table, state in zip(tables, _compute_snapshots(tables, **kwargs)):
        columns = list(table.column_names())
        rows = _try_sort([(*values, key) for key, values in state.items()], lambda r: _sort_key(r[:-1]) + (r[-1],))
        if n_rows is not None:
            rows = rows[:n_rows]
        printed = [((r[-1],) if include_id else ()) + tuple(r[:-1]) for r in rows]
        text = _format(columns, printed, include_id, short_pointers)
        if text:
            print(text)


def compute_and_print_update_stream(*tables: Table, include_id: bool = True, short_pointers: bool = True, n_rows: int | None = None, **kwargs: Any) -> None:
    """Computes ``tables`` and prints every change: values, ``__time__`` and ``__diff__``."""
    for table, stream in zip(tables, _capture(tables, **kwargs)):
        columns = list(table.column_names()) + ["__time__", "__diff__"]
        rows = [(*values, time, diff, key) for key, values, time, diff in stream]
        n = len(list(table.column_names()))
        rows = _try_sort(rows, lambda r: (r[n], r[n + 1]) + _sort_key(r[:n]) + (r[-1],))
        if n_rows is not None:
            rows = rows[:n_rows]
        printed = [((r[-1],) if include_id else ()) + tuple(r[:-1]) for r in rows]
        text = _format(columns, printed, include_id, short_pointers)
        if text:
            print(text)


def table_to_dicts(table: Table, **kwargs: Any) -> tuple[list[Any], dict[str, dict[Any, Any]]]:
    state = _compute_snapshots((table,), **kwargs)[0]
    keys = list(state)
    columns = {name: {k: state[k][i] for k in keys} for i, name in enumerate(list(table.column_names()))}
    return keys, columns


_PANDAS_DTYPES = {dt.INT: "int64", dt.FLOAT: "float64", dt.BOOL: "bool"}


def table_to_pandas(table: Table, *, include_id: bool = True, **kwargs: Any) -> Any:
    import pandas as pd

    state = _compute_snapshots((table,), **kwargs)[0]
    keys = sorted(state)
    data = {}
    for i, (name, t) in enumerate(table._columns.items()):
        values = [state[k][i] for k in keys]
        series = pd.Series(values, dtype="object")
        if t in _PANDAS_DTYPES:
            try:
                series = series.astype(_PANDAS_DTYPES[t])
            except (TypeError, ValueError):
                pass
        elif t == dt.Optional(dt.INT):
            try:
                series = series.astype("Int64")
            except (TypeError, ValueError):
                pass
        data[name] = series
    frame = pd.DataFrame(data, columns=list(table.column_names()))
    if include_id:
        frame.index = pd.Index(keys, dtype="object")
    return frame


# --- building tables -------------------------------------------------------------------------

_MISSING = {"", "None", "NaN", "nan", "NA", "NULL", "<NA>"}
_TRUE = {"true"}
_FALSE = {"false"}


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _infer_column(tokens: list[str]) -> tuple[list[Any], dt.DType]:
    if not tokens:
        return [], dt.ANY
    present = [t for t in tokens if t not in _MISSING]
    has_missing = len(present) < len(tokens)
    if not present:
        return [None] * len(tokens), dt.NONE

    def finish(values: list[Any], t: dt.DType) -> tuple[list[Any], dt.DType]:
        return values, dt.Optional(t) if has_missing else t

    if all(_parse_int(t) is not None for t in present):
        return finish([None if t in _MISSING else int(t) for t in tokens], dt.INT)
    floats = [_parse_float(t) for t in present]
    if all(f is not None for f in floats):
        if all(math.isfinite(f) and float(f).is_integer() for f in floats):  # type: ignore[arg-type]
            return finish([None if t in _MISSING else int(float(t)) for t in tokens], dt.INT)
        return finish([None if t in _MISSING else float(t) for t in tokens], dt.FLOAT)
    if all(t.lower() in _TRUE | _FALSE for t in present):
        return finish([None if t in _MISSING else t.lower() in _TRUE for t in tokens], dt.BOOL)
    return finish([None if t in _MISSING else t for t in tokens], dt.STR)


def _cast_value(value: Any, t: dt.DType) -> Any:
    if value is None:
        return None
    base = t.strip_optional()
    if base == dt.FLOAT and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base == dt.INT and isinstance(value, float) and value.is_integer():
        return int(value)
    if base == dt.STR and not isinstance(value, str):
        return str(value)
    if base == dt.BOOL and isinstance(value, str):
        return value.lower() in ("true", "1", "yes", "on")
    if base == dt.JSON and not isinstance(value, Json):
        return Json(json.loads(value) if isinstance(value, str) else value)
    if isinstance(base, dt.Pointer) and isinstance(value, str):
        return Pointer(value)
    return value


def _native(value: Any) -> Any:
    """numpy/pandas scalars as plain Python values."""
    try:
        import numpy as np
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    return value


def _build_static(
    columns: dict[str, dt.DType],
    rows: list[tuple],
    ids: list[Any],
    times: list[int] | None,
    diffs: list[int] | None,
    *,
    name: str,
    unsafe_trusted_ids: bool = False,
    id_dtype: dt.DType = dt.ANY_POINTER,
) -> Table:
    n = len(rows)
    if times is not None:
        if any(not isinstance(t, int) or isinstance(t, bool) for t in times):
            raise ValueError("Column __time__ has to contain integers only.")
        if any(t < 0 for t in times):
            raise ValueError("Column __time__ cannot contain negative times.")
        if any(t % 2 for t in times):
            warn_odd_times()
            times = [2 * t for t in times]
    else:
        times = [0] * n
    if diffs is not None:
        if any(d not in (1, -1) for d in diffs):
            raise ValueError("Column __diff__ can only have 1 and -1 values.")
    else:
        diffs = [1] * n
    entries = [(ids[i], rows[i], times[i], diffs[i]) for i in range(n)]
    universe_key = ("static", unsafe_trusted_ids, frozenset((str(i), t, d) for i, _, t, d in entries))
    return static_table(columns, entries, name=name, universe_key=universe_key, id_dtype=id_dtype)


def _ids_for(values_by_row: list[tuple], id_columns: list[int] | None, labels: list[Any] | None) -> list[Any]:
    if id_columns is not None:
        return [_engine.ref_scalar(*(row[i] for i in id_columns)) for row in values_by_row]
    if labels is not None:
        return [_engine.ref_scalar(label) for label in labels]
    return [_engine.ref_scalar(i) for i in range(len(values_by_row))]


def _apply_schema(names: list[str], columns_values: list[list[Any]], schema: Any) -> tuple[dict[str, dt.DType], list[list[Any]]]:
    schema_columns = schema._dtypes()
    if set(schema_columns) - set(names) - set(schema.default_values()):
        raise ValueError("schema does not match given dataframe")
    out_values = []
    dtypes = {}
    for name, t in schema_columns.items():
        if name in names:
            values = columns_values[names.index(name)]
        else:
            values = [schema.default_values()[name]] * (len(columns_values[0]) if columns_values else 0)
        out_values.append([_cast_value(v, t) for v in values])
        dtypes[name] = t
    return dtypes, out_values


def table_from_markdown(
    table_def: str,
    id_from: list[str] | None = None,
    unsafe_trusted_ids: bool = False,
    schema: Any = None,
    *,
    split_on_whitespace: bool = True,
    _stacklevel: int = 1,
) -> Table:
    """A static table from a markdown-like text: a header line, then one line per row.

    An unnamed (or ``id``) first column gives row labels (ids derived from them); ``__time__``
    and ``__diff__`` columns make an update stream."""
    if id_from is not None and schema is not None:
        raise ValueError("parameters `schema` and `id_from` are mutually exclusive")
    separator = re.compile(r"\s*\|\s*|\s+") if split_on_whitespace else re.compile(r"\s*\|\s*")
    lines = [line.strip() for line in table_def.strip("\n").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError("table_from_markdown: the table has no header")
    # A separator line of dashes (markdown style) is skipped.
    lines = [line for line in lines if not re.fullmatch(r"[\s|:]*-[\s|:\-]*", line)]
    header = separator.split(lines[0])
    if header and header[-1] == "" and lines[0].endswith("|"):
        header = header[:-1]
    label_index = None
    for i, h in enumerate(header):
        if h in ("", "id"):
            label_index = i
            break
    rows_cells = []
    for line_no, line in enumerate(lines[1:], start=2):
        cells = separator.split(line)
        if len(cells) > 1 and cells[-1] == "" and line.endswith("|") and len(cells) > len(header):
            cells = cells[:-1]
        rows_cells.append((line_no, line, cells))
    if label_index is None and rows_cells and all(len(c) == len(header) + 1 for _, _, c in rows_cells):
        # Rows with one more field than the header: the first field labels the row.
        header = [""] + header
        label_index = 0
    rows_tokens = []
    for line_no, line, cells in rows_cells:
        if len(cells) != len(header):
            raise ValueError(f"table_from_markdown, line {line_no}: Expected {len(header)} fields, saw {len(cells)}: {line!r}")
        rows_tokens.append(cells)
    names = [h for i, h in enumerate(header) if i != label_index and h not in ("__time__", "__diff__")]
    col_tokens = {h: [r[i] for r in rows_tokens] for i, h in enumerate(header) if i != label_index}
    times = [int(t) for t in col_tokens["__time__"]] if "__time__" in col_tokens else None
    diffs = [int(t) for t in col_tokens["__diff__"]] if "__diff__" in col_tokens else None
    columns_values = []
    dtypes: dict[str, dt.DType] = {}
    for name in names:
        values, t = _infer_column(col_tokens[name])
        columns_values.append(values)
        dtypes[name] = t
    if schema is not None:
        dtypes, columns_values = _apply_schema(names, columns_values, schema)
        names = list(dtypes)
    rows = [tuple(col[i] for col in columns_values) for i in range(len(rows_tokens))]
    labels = None
    if label_index is not None:
        label_values, _ = _infer_column([r[label_index] for r in rows_tokens])
        labels = label_values
    id_columns = None
    if id_from is not None:
        id_columns = [names.index(c) for c in id_from]
    elif schema is not None and schema.primary_key_columns():
        id_columns = [names.index(c) for c in schema.primary_key_columns()]
    ids = _ids_for(rows, id_columns, labels)
    return _build_static(dtypes, rows, ids, times, diffs, name="table_from_markdown", unsafe_trusted_ids=unsafe_trusted_ids)


def _dtype_of_series(series: Any) -> dt.DType:
    import pandas as pd

    kind = str(series.dtype)
    if kind.startswith("int") or kind.startswith("uint"):
        return dt.INT
    if kind.startswith("Int") or kind.startswith("UInt"):
        return dt.Optional(dt.INT) if series.isna().any() else dt.INT
    if kind.startswith("float") or kind.startswith("Float"):
        return dt.Optional(dt.FLOAT) if series.isna().any() else dt.FLOAT
    if kind in ("bool", "boolean"):
        return dt.BOOL
    if kind.startswith("datetime64"):
        return dt.DATE_TIME_UTC if getattr(series.dt, "tz", None) is not None else dt.DATE_TIME_NAIVE
    if kind.startswith("timedelta64"):
        return dt.DURATION
    values = [_native(v) for v in series.tolist()]
    types = [dt.of_value(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not types:
        return dt.NONE
    t = dt.lub_all(types)
    has_none = any(v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) for v in values)
    return dt.Optional(t) if has_none else t


def table_from_pandas(df: Any, id_from: list[str] | None = None, unsafe_trusted_ids: bool = False, schema: Any = None) -> Table:
    """A static table from a pandas DataFrame (ids from its index, or ``id_from`` columns)."""
    if id_from is not None and schema is not None:
        raise ValueError("parameters `schema` and `id_from` are mutually exclusive")
    names = [str(c) for c in df.columns if c not in ("__time__", "__diff__")]
    columns_values = []
    dtypes: dict[str, dt.DType] = {}
    for name in names:
        series = df[name]
        dtypes[name] = _dtype_of_series(series)
        values = [_native(v) for v in series.tolist()]
        values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        columns_values.append(values)
    if schema is not None:
        dtypes, columns_values = _apply_schema(names, columns_values, schema)
        names = list(dtypes)
    n = len(df)
    rows = [tuple(col[i] for col in columns_values) for i in range(n)]
    times = [int(t) for t in df["__time__"].tolist()] if "__time__" in df.columns else None
    diffs = [int(t) for t in df["__diff__"].tolist()] if "__diff__" in df.columns else None
    id_columns = None
    if id_from is not None:
        id_columns = [names.index(c) for c in id_from]
    elif schema is not None and schema.primary_key_columns():
        id_columns = [names.index(c) for c in schema.primary_key_columns()]
    labels = None if id_columns is not None else [_native(v) for v in df.index.tolist()]
    ids = _ids_for(rows, id_columns, labels)
    return _build_static(dtypes, rows, ids, times, diffs, name="table_from_pandas", unsafe_trusted_ids=unsafe_trusted_ids)


def table_from_rows(schema: Any, rows: list[tuple], unsafe_trusted_ids: bool = False, is_stream: bool = False) -> Table:
    """A static table from tuples in the schema's column order (plus time and diff when
    ``is_stream``)."""
    dtypes = schema._dtypes()
    names = list(dtypes)
    n_cols = len(names)
    values_rows = []
    times = [] if is_stream else None
    diffs = [] if is_stream else None
    for r in rows:
        r = tuple(r)
        if is_stream:
            if len(r) != n_cols + 2:
                raise ValueError(f"table_from_rows: a stream row needs {n_cols} values, a time and a diff; got {r!r}")
            times.append(r[n_cols])  # type: ignore[union-attr]
            diffs.append(r[n_cols + 1])  # type: ignore[union-attr]
            r = r[:n_cols]
        elif len(r) != n_cols:
            raise ValueError(f"table_from_rows: expected {n_cols} values per row, got {r!r}")
        values_rows.append(tuple(_cast_value(v, t) for v, t in zip(r, dtypes.values())))
    pk = schema.primary_key_columns()
    id_columns = [names.index(c) for c in pk] if pk else None
    ids = _ids_for(values_rows, id_columns, None)
    return _build_static(dtypes, values_rows, ids, times, diffs, name="table_from_rows", unsafe_trusted_ids=unsafe_trusted_ids)


def table_to_polars(table: Table, *, include_id: bool = False, **kwargs: Any) -> Any:
    """The table as a polars DataFrame (rows in id order; an ``id`` column of pointer strings
    when ``include_id``). Pathway has no polars support; deltaflow does."""
    import polars as pl

    state = _compute_snapshots((table,), **kwargs)[0]
    keys = sorted(state)
    data: dict[str, list[Any]] = {}
    if include_id:
        data["id"] = [str(k) for k in keys]
    for i, name in enumerate(list(table.column_names())):
        data[name] = [_polars_value(state[k][i]) for k in keys]
    return pl.DataFrame(data, strict=False)


def _polars_value(v: Any) -> Any:
    if isinstance(v, Pointer):
        return str(v)
    if isinstance(v, Json):
        return json.dumps(v.value, ensure_ascii=False)
    if isinstance(v, ErrorValue):
        return None
    return v


def table_from_polars(df: Any, id_from: list[str] | None = None, schema: Any = None) -> Table:
    """A static table from a polars DataFrame (ids from row positions, or ``id_from``)."""
    return table_from_pandas(df.to_pandas(), id_from=id_from, schema=schema)


def table_from_parquet(path: str, id_from: list[str] | None = None, unsafe_trusted_ids: bool = False, schema: Any = None) -> Table:
    """A static table from a parquet file (read with pyarrow)."""
    import pyarrow.parquet as pq

    return table_from_pandas(pq.read_table(path).to_pandas(), id_from=id_from, unsafe_trusted_ids=unsafe_trusted_ids, schema=schema)


def table_to_parquet(table: Table, filename: str, **kwargs: Any) -> None:
    """Writes the table's final rows to a parquet file (with pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = table_to_pandas(table, include_id=False, **kwargs)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), filename)


T = table_from_markdown

__all__ = [
    "compute_and_print",
    "compute_and_print_update_stream",
    "table_from_markdown",
    "table_from_pandas",
    "table_from_rows",
    "table_to_dicts",
    "table_to_pandas",
    "table_from_polars",
    "table_to_polars",
    "table_from_parquet",
    "table_to_parquet",
    "T",
]
