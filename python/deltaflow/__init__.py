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

from deltaflow import debug, demo, io, reducers, testing  # noqa: E402
from deltaflow.internals import dtype as _dtype  # noqa: E402
from deltaflow.internals.datetime_types import DateTimeNaive, DateTimeUtc, Duration  # noqa: E402
from deltaflow.internals.expression import (  # noqa: E402
    ColumnExpression,
    ColumnReference,
    apply,
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
from deltaflow.internals import universes  # noqa: E402

dt = _dtype
Type = _dtype


def iterate(*args, **kwargs):
    raise NotImplementedError("pw.iterate is not implemented yet in deltaflow")


def global_error_log() -> Table:
    """A table with one row per cell that failed to compute in this run (columns
    ``operator_id``, ``message``, ``trace``); filled when the run does not stop on errors
    (``terminate_on_error=False``)."""
    from deltaflow.internals.table import error_log_table

    return error_log_table()


def local_error_log():
    raise NotImplementedError("pw.local_error_log is not implemented yet in deltaflow")


def sql(*args, **kwargs):
    raise NotImplementedError("pw.sql is not implemented yet in deltaflow")


__version__ = "0.1.0"

__all__ = [
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
    "iterate",
    "left",
    "make_tuple",
    "reducers",
    "require",
    "right",
    "run",
    "run_all",
    "schema_builder",
    "schema_from_dict",
    "schema_from_types",
    "testing",
    "this",
    "udf",
    "universes",
    "unwrap",
    "wrap_py_object",
]
