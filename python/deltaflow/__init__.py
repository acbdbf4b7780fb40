"""deltaflow: incremental dataflow with a Pathway-style Table API.

Pipelines are built from Python and run in deltaflow's C++ engine (``deltaflow._engine``),
which keeps every result up to date by propagating changes.
"""

from __future__ import annotations

try:
    from deltaflow import _engine
except ImportError as error:  # pragma: no cover - exercised by test_import_message
    raise ImportError(
        "deltaflow's compiled engine (deltaflow._engine) could not be loaded: "
        f"{error}.\n"
        "Install the package with `pip install .` from a deltaflow checkout (or `make demo`, "
        "which also installs the system libraries it links against). If you are running from "
        "the source tree, make sure the installed package, not the `python/` folder, is first "
        "on sys.path."
    ) from error

from deltaflow.internals.values import (
    ERROR,
    ErrorValue,
    Json,
    PyObjectWrapper,
    wrap_py_object,
)

Pointer = _engine.Pointer

from deltaflow import debug, demo, engine, io, reducers, stateful, temporal, testing  # noqa: E402
from deltaflow.internals import dtype as _dtype  # noqa: E402
from deltaflow.internals.datetime_types import DateTimeNaive, DateTimeUtc, Duration  # noqa: E402
from deltaflow.internals.expression import (  # noqa: E402
    ColumnExpression,
    ColumnReference,
    apply,
    apply_async,
    apply_with_type,
    cast,
    coalesce,
    declare_type,
    fill_error,
    if_else,
    left,
    make_tuple,
    numba_apply,
    require,
    right,
    this,
    unwrap,
)
from deltaflow.internals.run import MonitoringLevel, run, run_all  # noqa: E402
from deltaflow.internals.schema import (  # noqa: E402
    ColumnDefinition,
    Schema,
    column_definition,
    schema_builder,
    schema_from_csv,
    schema_from_dict,
    schema_from_types,
)
from deltaflow.internals.table import (  # noqa: E402
    GroupedTable,
    JoinMode,
    JoinResult,
    Table,
)
from deltaflow.internals.udf import UDF, udf  # noqa: E402
from deltaflow.internals import parse_graph, universes  # noqa: E402, F401
from deltaflow.internals.reducers import BaseCustomAccumulator  # noqa: E402

dt = _dtype
Type = _dtype


def join(left: Table, right: Table, *on, **kwargs) -> JoinResult:
    """``left.join(right, *on, ...)``."""
    return left.join(right, *on, **kwargs)


def join_inner(left: Table, right: Table, *on, **kwargs) -> JoinResult:
    return left.join_inner(right, *on, **kwargs)


def join_left(left: Table, right: Table, *on, **kwargs) -> JoinResult:
    return left.join_left(right, *on, **kwargs)


def join_right(left: Table, right: Table, *on, **kwargs) -> JoinResult:
    return left.join_right(right, *on, **kwargs)


def join_outer(left: Table, right: Table, *on, **kwargs) -> JoinResult:
    return left.join_outer(right, *on, **kwargs)


def groupby(table: Table, *args, **kwargs) -> GroupedTable:
    """``table.groupby(*args, ...)``."""
    return table.groupby(*args, **kwargs)


def assert_table_has_schema(table: Table, schema, *, allow_superset: bool = True, ignore_primary_keys: bool = True) -> None:
    """Raises AssertionError unless ``table``'s columns have ``schema``'s types."""
    from deltaflow.internals import dtype as _dt

    expected = schema._dtypes()
    actual = table._dtypes()
    for name, t in expected.items():
        if name not in actual:
            raise AssertionError(f"table has no column {name!r}")
        if not (_dt.is_subtype(actual[name], t) and _dt.is_subtype(t, actual[name])):
            raise AssertionError(f"column {name!r} has type {actual[name]!r}, expected {t!r}")
    if not allow_superset and set(actual) != set(expected):
        raise AssertionError(f"table has columns {sorted(set(actual) - set(expected))} not in the schema")


from deltaflow.internals.iterate import iterate, iterate_universe  # noqa: E402


def global_error_log() -> Table:
    """A table with one row per cell that failed to compute in this run (columns
    ``operator_id``, ``message``, ``trace``); filled when the run does not stop on errors
    (``terminate_on_error=False``)."""
    from deltaflow.internals.table import error_log_table

    return error_log_table()


def local_error_log():
    raise NotImplementedError("pw.local_error_log is not implemented yet in deltaflow")


from deltaflow.internals.sql import sql  # noqa: E402


__version__ = "0.1.0"

__all__ = [
    "BaseCustomAccumulator",
    "ERROR",
    "ColumnDefinition",
    "ColumnExpression",
    "ColumnReference",
    "DateTimeNaive",
    "DateTimeUtc",
    "Duration",
    "ErrorValue",
    "GroupedTable",
    "JoinMode",
    "JoinResult",
    "Json",
    "MonitoringLevel",
    "Pointer",
    "PyObjectWrapper",
    "Schema",
    "Table",
    "UDF",
    "apply",
    "apply_async",
    "apply_with_type",
    "cast",
    "coalesce",
    "column_definition",
    "debug",
    "demo",
    "declare_type",
    "fill_error",
    "if_else",
    "io",
    "assert_table_has_schema",
    "groupby",
    "iterate",
    "iterate_universe",
    "join",
    "join_inner",
    "join_left",
    "join_outer",
    "join_right",
    "left",
    "make_tuple",
    "reducers",
    "require",
    "right",
    "run",
    "run_all",
    "schema_builder",
    "schema_from_csv",
    "schema_from_dict",
    "schema_from_types",
    "stateful",
    "graphs",
    "udfs",
    "ordered",
    "statistical",
    "utils",
    "temporal",
    "testing",
    "this",
    "udf",
    "universes",
    "unwrap",
    "wrap_py_object",
]

from deltaflow import graphs, ordered, statistical, udfs, utils  # noqa: E402  (they build on the names above)
from deltaflow import persistence, stdlib  # noqa: E402
from deltaflow.persistence import PersistenceMode  # noqa: E402


def set_license_key(key: str | None) -> None:
    """Accepted for Pathway programs; deltaflow is Apache-2.0 and gates no feature."""


__all__ += ["PersistenceMode", "persistence", "set_license_key", "stdlib"]
