"""``pw.io.debezium``: a table kept equal to a database table from the change events a Debezium
connector publishes to Kafka (deltaflow/connectors/kafka, Debezium formats).

Events are parsed in C++ by the Kafka readers: ``op`` c (create), r (snapshot read) and u
(update) insert or replace the row of ``payload.after``; d (delete) retracts the row the
message key names. Rows are identified by the schema's primary key, else by the message key,
so updates and deletions are applied whether or not Debezium sends the full ``before`` image
(REPLICA IDENTITY FULL is not needed). MongoDB's connector sends documents as JSON strings; they are read the same way.
Malformed events go to the error log with topic, partition and offset.
"""

from __future__ import annotations

import enum
from typing import Any

from deltaflow.internals.table import Table
from deltaflow.io import kafka


class DebeziumDBType(enum.Enum):
    """The database a Debezium topic comes from."""

    POSTGRES = "postgres"
    MONGO_DB = "mongodb"


def read(
    rdkafka_settings: dict,
    topic_name: str,
    *,
    db_type: DebeziumDBType = DebeziumDBType.POSTGRES,
    schema: Any,
    debug_data: Any = None,
    autocommit_duration_ms: int | None = 1500,
    name: str | None = None,
    max_backlog_size: int | None = None,
    **kwargs: Any,
) -> Table:
    """The table whose changes Debezium streams to ``topic_name``, with the columns of
    ``schema``. Rows are identified by the schema's primary key, else by the message key
    (Debezium's key holds the database row's key)."""
    if not isinstance(db_type, DebeziumDBType):
        raise TypeError(f"db_type must be a pw.io.debezium.DebeziumDBType, got {db_type!r}")
    fmt = "debezium_postgres" if db_type == DebeziumDBType.POSTGRES else "debezium_mongodb"
    return kafka.read(
        rdkafka_settings, topic_name, schema=schema, format=fmt, debug_data=debug_data,
        autocommit_duration_ms=autocommit_duration_ms, name=name or f"debezium source {topic_name}",
        max_backlog_size=max_backlog_size, **kwargs,
    )


__all__ = ["DebeziumDBType", "read"]
