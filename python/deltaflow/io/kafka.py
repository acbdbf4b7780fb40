"""``pw.io.kafka``: read a Kafka topic into a table and write a table's changes to a topic,
through librdkafka (deltaflow/connectors/kafka).

Reading: messages are fetched and parsed in C++ by parallel readers (partition p of n readers
goes to reader p % n, assigned deterministically, never by a consumer-group rebalance), and
each poll of the engine becomes one commit. A malformed message goes to the error log with its
topic, partition and offset; the run goes on. Offsets are committed to ``group.id`` (auto-commit
is off) only once the results of those messages are written by every output, so a restarted
pipeline resumes after what was durably processed (at-least-once).

Writing: one message per change, JSON (the columns, ``"diff"`` and ``"time"``), DSV,
plaintext or raw, with headers ``pathway_time`` and ``pathway_diff``; the producer is
idempotent by default and a delivery failure stops the run with the broker's error.
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any, Iterable

from deltaflow import _engine
from deltaflow.internals import dtype as dt
from deltaflow.internals.expression import ColumnReference
from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.schema import schema_from_types
from deltaflow.internals.table import LogicalNode, Table, user_location
from deltaflow.internals.universe import Universe
from deltaflow.io._fs import column_specs

_READ_FORMATS = {
    "raw": _engine.KafkaSourceFormat.RAW,
    "plaintext": _engine.KafkaSourceFormat.PLAINTEXT,
    "json": _engine.KafkaSourceFormat.JSON,
    "csv": _engine.KafkaSourceFormat.DSV,
    "dsv": _engine.KafkaSourceFormat.DSV,
    # pw.io.debezium's change events
    "debezium_postgres": _engine.KafkaSourceFormat.DEBEZIUM_POSTGRES,
    "debezium_mongodb": _engine.KafkaSourceFormat.DEBEZIUM_MONGODB,
}
_WRITE_FORMATS = {
    "json": _engine.KafkaSinkFormat.JSON,
    "dsv": _engine.KafkaSinkFormat.DSV,
    "plaintext": _engine.KafkaSinkFormat.PLAINTEXT,
    "raw": _engine.KafkaSinkFormat.RAW,
}


def _settings(rdkafka_settings: dict, role: str) -> list[tuple[str, str]]:
    if not isinstance(rdkafka_settings, dict):
        raise TypeError(f"rdkafka_settings must be a dict, got {type(rdkafka_settings).__name__}")
    if not rdkafka_settings.get("bootstrap.servers"):
        raise ValueError(
            f"rdkafka_settings must contain a non-empty 'bootstrap.servers' entry so the {role} can find a broker"
        )
    out = []
    for key, value in rdkafka_settings.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((str(key), str(value)))
    return out


def _positive(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name!r} must be positive, got {value}")


def read(
    rdkafka_settings: dict,
    topic: str | list[str] | None = None,
    *,
    schema: Any = None,
    mode: str = "streaming",
    format: str = "raw",  # noqa: A002
    schema_registry_settings: Any = None,
    debug_data: Any = None,
    autocommit_duration_ms: int | None = 1500,
    json_field_paths: dict[str, str] | None = None,
    autogenerate_key: bool = False,
    with_metadata: bool = False,
    start_from_timestamp_ms: int | None = None,
    parallel_readers: int | None = None,
    name: str | None = None,
    max_backlog_size: int | None = None,
    **kwargs: Any,
) -> Table:
    """The messages of ``topic`` as a table.

    ``format="raw"`` gives columns ``key`` (bytes, None without a key) and ``data`` (bytes);
    ``"plaintext"`` the same as UTF-8 strings; ``"json"`` (and ``"csv"``) the columns of
    ``schema`` parsed from each message (``json_field_paths`` maps a column to a JSON Pointer).
    A message key (raw, plaintext; unless ``autogenerate_key``) or the schema's primary key
    gives the row id, and a later message with the same id replaces the row. With
    ``with_metadata``, a ``_metadata`` Json column holds topic, partition, offset, timestamp
    and headers. ``mode="static"`` reads what the topic holds at the start, then finishes.
    """
    settings = _settings(rdkafka_settings, "consumer")
    if topic is None:
        if "topic_name" in kwargs:
            raise TypeError("pw.io.kafka.read takes 'topic', not 'topic_name' (that is pw.io.kafka.write's)")
        topic = kwargs.pop("topic_names", None)
        if not topic:
            raise ValueError("the topic to read is missing: pass topic=")
        warnings.warn("'topic_names' is deprecated; use 'topic'", DeprecationWarning, stacklevel=2)
    if isinstance(topic, (list, tuple)):
        if not topic:
            raise ValueError("'topic' must be a non-empty string, got an empty list")
        warnings.warn("'topic' should be a str, not a list: the first element is used", DeprecationWarning, stacklevel=2)
        topic = topic[0]
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"'topic' must be a non-empty string, got {topic!r}")
    if format not in _READ_FORMATS:
        raise ValueError(f"unknown format {format!r}: pw.io.kafka.read reads 'raw', 'plaintext', 'json' or 'csv'")
    if mode not in ("streaming", "static"):
        raise ValueError(f"mode must be 'streaming' or 'static', got {mode!r}")
    if schema_registry_settings is not None:
        raise NotImplementedError("the Confluent Schema Registry (schema_registry_settings) is not implemented yet in deltaflow")
    _positive("max_backlog_size", max_backlog_size)
    _positive("parallel_readers", parallel_readers)
    _positive("autocommit_duration_ms", autocommit_duration_ms)
    if start_from_timestamp_ms is not None and start_from_timestamp_ms < 0:
        raise ValueError(f"'start_from_timestamp_ms' must be non-negative, got {start_from_timestamp_ms}")
    raw_like = format in ("raw", "plaintext")
    if raw_like:
        for argument, given in (("schema", schema), ("json_field_paths", json_field_paths)):
            if given is not None:
                raise ValueError(f"unexpected argument for {format!r} format: {argument}")
        base = dt.BYTES if format == "raw" else dt.STR
        schema = schema_from_types(key=dt.Optional(base), data=base)
    else:
        if autogenerate_key:
            raise ValueError(f"'autogenerate_key' is only meaningful for the 'raw' and 'plaintext' formats, not {format!r}")
        if schema is None:
            raise ValueError(f"pw.io.kafka.read with format={format!r} needs a schema=")
        if format != "json" and json_field_paths is not None:
            raise ValueError(f"unexpected argument for {format!r} format: json_field_paths")
    dtypes = schema._dtypes()
    if "_metadata" in dtypes:
        raise ValueError("'_metadata' is a reserved column name (the connector fills it with with_metadata=True)")
    for field in json_field_paths or {}:
        if field not in dtypes:
            raise ValueError(f"'json_field_paths' names {field!r}, which is not a column of the schema ({list(dtypes)})")
    columns = column_specs(schema)
    primary_key = [list(dtypes).index(k) for k in (schema.primary_key_columns() or [])] if not raw_like else []
    out_columns = dict(dtypes)
    if with_metadata:
        out_columns["_metadata"] = dt.JSON
    arity = len(out_columns)
    source_name = name or f"kafka source {topic}"
    location = user_location()
    streaming = mode == "streaming"

    def build(g: Any, ins: list[int]) -> int:
        source = _engine.kafka_source(
            settings, topic, _READ_FORMATS[format], columns, primary_key, dict(json_field_paths or {}), ",",
            with_metadata, autogenerate_key, start_from_timestamp_ms, parallel_readers or 0, streaming,
            # Rows a reader buffers before it pauses its partitions: room for a few polls.
            max(1000, 2 * max_backlog_size) if max_backlog_size else 0, source_name,
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


def simple_read(
    server: str,
    topic: str,
    *,
    read_only_new: bool = False,
    schema: Any = None,
    format: str = "raw",  # noqa: A002
    debug_data: Any = None,
    autocommit_duration_ms: int | None = 1500,
    json_field_paths: dict[str, str] | None = None,
    parallel_readers: int | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> Table:
    """Reads ``topic`` from the broker at ``server`` (no authentication), from the beginning of
    the topic, or only messages that arrive after the start with ``read_only_new=True``."""
    for forbidden in ("rdkafka_settings",):
        if forbidden in kwargs:
            raise TypeError(f"'simple_read' does not accept {forbidden!r}: use pw.io.kafka.read for custom settings")
    if read_only_new and kwargs.get("mode") == "static":
        raise ValueError("read_only_new=True and mode='static' contradict each other: a static read of only new messages reads nothing")
    if read_only_new and kwargs.get("start_from_timestamp_ms") is not None:
        raise ValueError("read_only_new=True and start_from_timestamp_ms both set where reading starts: pass one")
    settings = {
        "bootstrap.servers": server,
        "group.id": str(uuid.uuid4()),
        "auto.offset.reset": "end" if read_only_new else "beginning",
    }
    return read(
        settings, topic, schema=schema, format=format, debug_data=debug_data,
        autocommit_duration_ms=autocommit_duration_ms, json_field_paths=json_field_paths,
        parallel_readers=parallel_readers, name=name, **kwargs,
    )


def _column_index(table: Table, ref: Any, what: str) -> int:
    if isinstance(ref, str):
        ref_name = ref
    elif isinstance(ref, ColumnReference):
        ref_name = ref.name
    else:
        raise TypeError(f"{what} must be a column reference of the table, got {ref!r}")
    names = list(table._columns)
    if ref_name not in names:
        raise ValueError(f"{what} {ref_name!r} is not a column of the table written ({names})")
    return names.index(ref_name)


def write(
    table: Table,
    rdkafka_settings: dict,
    topic_name: str | ColumnReference,
    *,
    format: str = "json",  # noqa: A002
    schema_registry_settings: Any = None,
    subject: str | None = None,
    delimiter: str = ",",
    key: ColumnReference | None = None,
    value: ColumnReference | None = None,
    headers: Iterable[ColumnReference] | None = None,
    name: str | None = None,
    sort_by: Iterable[ColumnReference] | None = None,
) -> None:
    """Writes every change of ``table`` to Kafka: one message per change, headers
    ``pathway_time`` and ``pathway_diff`` plus ``headers``; the key is ``key`` (a str or bytes
    column) or the row's id. ``format`` is "json" (the columns, "diff" and "time"), "dsv"
    (``delimiter``-separated, the header first), "plaintext" (a str ``value`` column) or "raw"
    (a bytes ``value`` column). ``topic_name`` may be a str column naming each row's topic."""
    settings = _settings(rdkafka_settings, "producer")
    if format not in _WRITE_FORMATS:
        raise ValueError(f"unknown format {format!r}: pw.io.kafka.write writes 'json', 'dsv', 'plaintext' or 'raw'")
    if schema_registry_settings is not None or subject is not None:
        raise NotImplementedError("the Confluent Schema Registry (schema_registry_settings, subject) is not implemented yet in deltaflow")
    if format not in ("raw", "plaintext") and value is not None:
        raise ValueError(f"unsupported argument for {format!r} format: 'value'")
    if len(delimiter) != 1:
        raise ValueError(f"the delimiter must be one character, got {delimiter!r}")
    names = list(table._columns)
    topic = ""
    topic_column = -1
    if isinstance(topic_name, ColumnReference):
        topic_column = _column_index(table, topic_name, "topic_name")
        if table._columns[names[topic_column]].strip_optional() != dt.STR:
            raise TypeError(f"the topic_name column {names[topic_column]!r} must hold str")
    elif isinstance(topic_name, str) and topic_name:
        topic = topic_name
    else:
        raise ValueError(f"'topic_name' must be a non-empty string or a column, got {topic_name!r}")
    key_column = -1
    if key is not None:
        key_column = _column_index(table, key, "key")
        if table._columns[names[key_column]].strip_optional() not in (dt.STR, dt.BYTES):
            raise TypeError(f"the key column {names[key_column]!r} must hold str or bytes")
    value_column = -1
    if format in ("raw", "plaintext"):
        if key is not None and value is None:
            raise ValueError("'value' must be specified if 'key' is not None")
        if value is None:
            if len(names) != 1:
                raise ValueError(f"the {format!r} format writes one column: pass value= (the table has {names})")
            value_column = 0
        else:
            value_column = _column_index(table, value, "value")
        expected = dt.STR if format == "plaintext" else dt.BYTES
        if table._columns[names[value_column]].strip_optional() != expected:
            raise TypeError(f"the {format!r} format writes a {expected!r} column; {names[value_column]!r} is {table._columns[names[value_column]]!r}")
    header_columns = [(names[i], i) for i in (_column_index(table, h, "header") for h in (headers or []))]
    sort_columns = [_column_index(table, c, "sort_by") for c in (sort_by or [])]
    sink_name = name or f"kafka output {topic or names[topic_column]}"

    def open_sink() -> Any:
        return _engine.kafka_sink(
            settings, topic, topic_column, _WRITE_FORMATS[format], names, key_column, value_column,
            header_columns, sort_columns, delimiter, sink_name,
        )

    register_sink(Sink(table, None, None, sink_name, native=open_sink))


__all__ = ["read", "simple_read", "write"]
