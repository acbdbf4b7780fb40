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

__version__ = "0.1.0"

__all__ = [
    "ERROR",
    "ErrorValue",
    "Json",
    "Pointer",
    "PyObjectWrapper",
    "wrap_py_object",
]
