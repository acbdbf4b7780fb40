"""``pw.io.null.write``: computes a table and discards it."""

from __future__ import annotations

from deltaflow import _engine
from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.table import Table


def write(table: Table, **kwargs: object) -> None:
    register_sink(Sink(table, None, None, "null", native=_engine.null_sink))
