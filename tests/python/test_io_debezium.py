"""pw.io.debezium: PostgreSQL change events produced by a real Debezium connector (Kafka Connect
with Debezium's PostgreSQL connector, scripts/debezium.sh) against the test server, over the
test broker; MongoDB envelopes from recorded events (no MongoDB server can be installed here);
malformed events."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

import deltaflow as pw
from live_run import run_in_background, stop, wait_for

confluent_kafka = pytest.importorskip("confluent_kafka")


class Item(pw.Schema):
    id: int = pw.column_definition(primary_key=True)
    name: str
    score: float | None



class Recorder:
    def __init__(self, table: pw.Table, columns: list[str]) -> None:
        self.rows: dict = {}
        self.columns = columns
        self.lock = threading.Lock()
        pw.io.subscribe(table, self.on_change)

    def on_change(self, key, row, time, is_addition):
        with self.lock:
            if is_addition:
                self.rows[key] = tuple(row[c] for c in self.columns)
            else:
                del self.rows[key]

    def state(self) -> list:
        with self.lock:
            return sorted(self.rows.values(), key=repr)




def produce(bootstrap: str, topic: str, messages: list) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for key, value in messages:
        producer.produce(
            topic,
            key=None if key is None else json.dumps(key).encode(),
            value=None if value is None else (value if isinstance(value, bytes) else json.dumps(value).encode()),
        )
    assert producer.flush(30) == 0


def test_postgres_changes_from_a_real_debezium_connector(postgres_server, kafka_broker, debezium_connect):
    table = postgres_server.unique_name("dbz")
    postgres_server.execute(
        f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION)",
        f"INSERT INTO {table} VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', 3)",
    )
    prefix = f"p{uuid.uuid4().hex[:10]}"
    settings = postgres_server.settings
    debezium_connect.register(prefix, {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": settings["host"], "database.port": str(settings["port"]),
        "database.user": settings["user"], "database.password": settings["password"],
        "database.dbname": settings["dbname"], "topic.prefix": prefix, "plugin.name": "pgoutput",
        "table.include.list": f"public.{table}", "slot.name": f"slot_{prefix}",
        "publication.name": f"pub_{prefix}", "publication.autocreate.mode": "filtered",
    })
    topic = f"{prefix}.public.{table}"
    try:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
        wait_for(lambda: topic in admin.list_topics(timeout=5).topics, timeout=60)
        rdkafka = {"bootstrap.servers": kafka_broker.bootstrap, "auto.offset.reset": "earliest", "group.id": prefix}
        t = pw.io.debezium.read(rdkafka, topic, schema=Item, autocommit_duration_ms=100)
        recorder = Recorder(t, ["id", "name", "score"])
        # A sum over the table, kept up to date as the rows change.
        totals = t.reduce(n=pw.reducers.count(), names=pw.reducers.sorted_tuple(pw.this.name))
        total = Recorder(totals, ["n", "names"])
        thread = run_in_background()

        def table_state():
            return sorted(postgres_server.query(f"SELECT id, name, score FROM {table}"), key=repr)

        wait_for(lambda: recorder.state() == table_state(), timeout=60)
        postgres_server.execute(
            f"UPDATE {table} SET name = 'A', score = 10 WHERE id = 1",
            f"DELETE FROM {table} WHERE id = 2",
            f"INSERT INTO {table} VALUES (4, 'd', NULL)",
            f"UPDATE {table} SET id = 30 WHERE id = 3",
        )
        wait_for(lambda: recorder.state() == table_state())
        assert sorted(recorder.state()) == [(1, "A", 10.0), (4, "d", None), (30, "c", 3.0)]
        wait_for(lambda: total.state() == [(3, ("A", "c", "d"))])
    finally:
        if "thread" in locals():
            stop(thread)
        debezium_connect.remove(prefix)
        wait_for(lambda: not postgres_server.query(
            f"SELECT 1 FROM pg_replication_slots WHERE slot_name = 'slot_{prefix}' AND active"
        ))
        postgres_server.execute(f"SELECT pg_drop_replication_slot('slot_{prefix}')")


def mongo_event(op: str, after: dict | None) -> dict:
    # As Debezium's MongoDB connector writes them: the document as a JSON string.
    return {
        "schema": {"type": "struct", "fields": [], "optional": False, "name": "dbserver1.inventory.customers.Envelope"},
        "payload": {
            "before": None,
            "after": None if after is None else json.dumps(after),
            "source": {"connector": "mongodb", "name": "dbserver1", "db": "inventory", "collection": "customers"},
            "op": op,
            "ts_ms": 1700000000000,
        },
    }


def test_mongodb_envelopes_recorded(kafka_broker):
    topic = kafka_broker.create_topic()
    key = lambda i: {"schema": {"type": "struct", "fields": [{"type": "string", "field": "id"}]}, "payload": {"id": str(i)}}  # noqa: E731
    produce(kafka_broker.bootstrap, topic, [
        (key(1001), mongo_event("r", {"_id": {"$numberLong": "1001"}, "first_name": "Sally", "value": 1})),
        (key(1002), mongo_event("c", {"_id": {"$numberLong": "1002"}, "first_name": "George", "value": 2})),
        (key(1003), mongo_event("c", {"_id": {"$numberLong": "1003"}, "first_name": "Edward", "value": 3})),
        (key(1001), mongo_event("u", {"_id": {"$numberLong": "1001"}, "first_name": "Sal", "value": 10})),
        (key(1002), mongo_event("d", None)),
        (key(1002), None),  # the tombstone after a deletion
        (key(1004), b"not json"),
        (key(1004), {"payload": {"op": "x", "after": "{}"}}),
        (key(1004), {"schema": {}}),
    ])

    class Customer(pw.Schema):
        first_name: str
        value: int

    rdkafka = {"bootstrap.servers": kafka_broker.bootstrap, "auto.offset.reset": "earliest"}
    t = pw.io.debezium.read(rdkafka, topic, db_type=pw.io.debezium.DebeziumDBType.MONGO_DB, schema=Customer, mode="static")
    streams = pw.debug._capture([t, pw.global_error_log()], terminate_on_error=False)
    live: dict = {}
    for key_, values, _, diff in streams[0]:
        live[values] = live.get(values, 0) + diff
    assert sorted(v for v, n in live.items() if n > 0) == [("Edward", 3), ("Sal", 10)]
    messages = sorted(v[1] for _, v, _, _ in streams[1])
    assert len(messages) == 3
    assert any("received message is not json" in m for m in messages)
    assert any('unknown debezium operation "x"' in m for m in messages)
    assert any("there is no payload at the top level of value json" in m for m in messages)


def test_postgres_envelopes_without_schemas_and_keys_in_the_schema(kafka_broker):
    # Debezium with schemas.enable=false: {"payload": ...} is then the whole message... or not
    # even that: the event itself. Deletions name their row by the key's fields.
    topic = kafka_broker.create_topic()

    def event(op, before, after):
        return {"payload": {"before": before, "after": after, "op": op}}

    produce(kafka_broker.bootstrap, topic, [
        ({"payload": {"id": 1}}, event("r", None, {"id": 1, "name": "a", "score": 1.0})),
        ({"payload": {"id": 2}}, event("c", None, {"id": 2, "name": "b", "score": None})),
        ({"payload": {"id": 1}}, event("u", {"id": 1, "name": None, "score": None}, {"id": 1, "name": "A", "score": 2.5})),
        ({"payload": {"id": 2}}, event("d", {"id": 2, "name": None, "score": None}, None)),
        (None, event("d", {"id": 1, "name": None, "score": None}, None)),  # no key: the before image names it
        ({"payload": {"id": 3}}, event("c", None, {"id": 3, "name": "c", "score": 3})),
    ])
    rdkafka = {"bootstrap.servers": kafka_broker.bootstrap, "auto.offset.reset": "earliest"}
    t = pw.io.debezium.read(rdkafka, topic, schema=Item, mode="static")
    rows = pw.debug.table_to_pandas(t).to_dict("records")
    assert [(r["id"], r["name"], r["score"]) for r in rows] == [(3, "c", 3.0)]
