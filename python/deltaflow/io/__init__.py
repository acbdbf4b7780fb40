"""Outputs (and, later, connectors): ``subscribe`` and ``null``."""

from __future__ import annotations

from typing import Any, Callable

from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.table import Table
from deltaflow.io import csv, debezium, fs, jsonlines, kafka, null, plaintext, postgres, python, redpanda, sqlite  # noqa: F401
from deltaflow.io._fs import CsvParserSettings  # noqa: F401
from deltaflow.io._planned import planned_connector

# Connectors of later issues: present so that Pathway programs fail with a clear message.
http = planned_connector("http")
s3 = planned_connector("s3")
minio = planned_connector("minio")
deltalake = planned_connector("deltalake")
elasticsearch = planned_connector("elasticsearch")
mongodb = planned_connector("mongodb")
nats = planned_connector("nats")
gdrive = planned_connector("gdrive")
airbyte = planned_connector("airbyte")
bigquery = planned_connector("bigquery")
logstash = planned_connector("logstash")


def subscribe(
    table: Table,
    on_change: Callable[..., Any],
    on_end: Callable[[], Any] = lambda: None,
    on_time_end: Callable[[int], Any] = lambda time: None,
    *,
    name: str | None = None,
    sort_by: list[Any] | None = None,
) -> None:
    """Calls ``on_change(key=, row=, time=, is_addition=)`` for every change of ``table``
    (retractions of an id before its insertions), ``on_time_end(time)`` after each completed
    time, and ``on_end()`` once the table is complete. Runs on ``pw.run()``."""
    names = list(table.column_names())
    sort_positions = None
    if sort_by:
        sort_positions = [names.index(getattr(c, "name", c)) for c in sort_by]

    def on_time(time: int, changes: list) -> None:
        if sort_positions is not None:
            changes = sorted(changes, key=lambda c: tuple(c[1][i] for i in sort_positions))
        for key, values, diff in changes:
            row = dict(zip(names, values))
            for _ in range(abs(diff)):
                on_change(key=key, row=row, time=time, is_addition=diff > 0)
        on_time_end(time)

    register_sink(Sink(table, on_time, on_end, name or "subscribe"))


__all__ = ["subscribe", "csv", "debezium", "fs", "jsonlines", "kafka", "null", "plaintext", "postgres", "python", "redpanda", "sqlite", "CsvParserSettings"]
