"""``pw.io.redpanda``: Redpanda speaks the Kafka protocol, so these are ``pw.io.kafka``'s reader
and writer (see there)."""

from __future__ import annotations

from typing import Any

from deltaflow.internals.table import Table
from deltaflow.io import kafka


def read(rdkafka_settings: dict, topic: str | list[str] | None = None, *, schema: Any = None, format: str = "raw", **kwargs: Any) -> Table:  # noqa: A002
    """Reads a Redpanda topic (``pw.io.kafka.read``)."""
    return kafka.read(rdkafka_settings, topic, schema=schema, format=format, **kwargs)


def write(table: Table, rdkafka_settings: dict, topic_name: str, *, format: str = "json", **kwargs: Any) -> None:  # noqa: A002
    """Writes a table's changes to a Redpanda topic (``pw.io.kafka.write``)."""
    kafka.write(table, rdkafka_settings, topic_name, format=format, **kwargs)


__all__ = ["read", "write"]
