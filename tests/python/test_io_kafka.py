"""Kafka connectors against a real broker (scripts/kafka.sh, started once per session): every
format written and read back, messages as other Kafka clients see them, partitions over
workers, malformed messages, offsets committed only for durable results, a broker restart in
the middle of a stream, delivery failures, TLS and SASL settings, and secrets kept out of
errors."""

from __future__ import annotations

import json
import threading
import time

import pytest

import deltaflow as pw
from deltaflow.internals.run import request_stop

confluent_kafka = pytest.importorskip("confluent_kafka")

pytestmark = pytest.mark.usefixtures("kafka_broker")


def produce(bootstrap: str, topic: str, messages: list, partition: int | None = None) -> None:
    """Sends (key, value[, headers]) messages with an independent client (confluent-kafka)."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for message in messages:
        key, value = message[0], message[1]
        headers = message[2] if len(message) > 2 else None
        kwargs = {"key": key, "value": value, "headers": headers}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, **kwargs)
    assert producer.flush(30) == 0


def consume(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list:
    """The first `count` messages of `topic`, as another client reads them."""
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"check-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out = []
    deadline = time.time() + timeout
    while len(out) < count and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        out.append(message)
    consumer.close()
    return out


def settings(broker, **extra) -> dict:
    return {"bootstrap.servers": broker.bootstrap, "auto.offset.reset": "earliest", **extra}


class WordSchema(pw.Schema):
    word: str
    n: int


def rows_of(table) -> list:
    _, columns = pw.debug.table_to_dicts(table)
    names = list(columns)
    keys = list(columns[names[0]]) if names else []
    return sorted((tuple(columns[name][k] for name in names) for k in keys), key=repr)


def test_json_messages_become_rows_and_bad_messages_go_to_the_error_log(kafka_broker):
    topic = kafka_broker.create_topic(partitions=3)
    good = [(None, json.dumps({"word": f"w{i}", "n": i}).encode()) for i in range(30)]
    bad = [(None, b"not json"), (None, b'{"word": 5, "n": 1}'), (None, b'{"word": "no n"}')]
    produce(kafka_broker.bootstrap, topic, good + bad)
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=WordSchema, mode="static")
    streams = pw.debug._capture([t, pw.global_error_log()], terminate_on_error=False)
    assert sorted(v for _, v, _, _ in streams[0]) == sorted((f"w{i}", i) for i in range(30))
    messages = sorted(v[1] for _, v, _, _ in streams[1])
    assert len(messages) == 3
    assert all(f"topic {topic} partition" in m and "offset" in m for m in messages)
    assert any("invalid JSON" in m for m in messages)
    assert any("column word expects a string, got 5" in m for m in messages)
    assert any("missing field n" in m for m in messages)


def test_raw_and_plaintext_messages_with_keys_metadata_and_headers(kafka_broker):
    topic = kafka_broker.create_topic()
    produce(
        kafka_broker.bootstrap,
        topic,
        [(b"k1", b"v1", [("h", b"x")]), (None, b"no key"), (b"k2", "zażółć".encode()), (b"k3", b"\xff")],
    )
    raw = pw.io.kafka.read(settings(kafka_broker), topic, format="raw", mode="static", with_metadata=True)
    assert list(raw.column_names()) == ["_metadata", "key", "data"]
    rows = rows_of(raw.select(pw.this.key, pw.this.data))
    assert rows == sorted(
        [(b"k1", b"v1"), (None, b"no key"), (b"k2", "zażółć".encode()), (b"k3", b"\xff")], key=repr
    )
    meta = rows_of(raw.select(m=pw.this._metadata))
    first = [m for (m,) in meta if m["offset"].as_int() == 0][0]
    assert first["topic"].as_str() == topic
    assert first["partition"].as_int() == 0
    assert first["headers"].value == [["h", "eA=="]]  # base64, as Pathway writes them
    assert first["timestamp_millis"].as_int() > 0
    # Keyed messages take their id from the key, as Pathway derives it (`pointer_from`).
    keyed = raw.filter(pw.this.key.is_not_none())
    check = keyed.select(same=keyed.id == keyed.pointer_from(pw.this.key))
    assert [same for (same,) in rows_of(check)] == [True, True, True]
    # Plaintext: text that is not UTF-8 is an error of that message only.
    text = pw.io.kafka.read(settings(kafka_broker), topic, format="plaintext", mode="static")
    streams = pw.debug._capture([text, pw.global_error_log()], terminate_on_error=False)
    assert sorted((v for _, v, _, _ in streams[0]), key=repr) == sorted(
        [("k1", "v1"), (None, "no key"), ("k2", "zażółć")], key=repr
    )
    assert [v[1] for _, v, _, _ in streams[1]] == [f"topic {topic} partition 0 offset 3: the text is not valid UTF-8"]


def test_a_message_with_a_known_key_replaces_the_row(kafka_broker):
    topic = kafka_broker.create_topic()
    produce(kafka_broker.bootstrap, topic, [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")])
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="plaintext", mode="static")
    assert rows_of(t) == [("a", "3"), ("b", "2")]


class Pk(pw.Schema):
    user: str = pw.column_definition(primary_key=True)
    score: int


def test_json_primary_key_upserts(kafka_broker):
    topic = kafka_broker.create_topic()
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"user": u, "score": s}).encode()) for u, s in [("x", 1), ("y", 2), ("x", 5)]])
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=Pk, mode="static")
    assert rows_of(t) == [("x", 5), ("y", 2)]


class Mixed(pw.Schema):
    word: str
    n: int
    f: float
    ok: bool
    maybe: int | None


def mixed_table():
    return pw.debug.table_from_markdown(
        """
        word  | n  | f    | ok    | maybe
        alpha | 1  | 0.5  | True  | 3
        beta  | -2 | 1e20 | False |
        gamma | 3  | 2.0  | True  | 7
        """
    )


@pytest.mark.parametrize("fmt,read_format", [("json", "json"), ("dsv", "csv")])
def test_json_and_dsv_round_trip(kafka_broker, fmt, read_format):
    topic = kafka_broker.create_topic()
    pw.io.kafka.write(mixed_table(), settings(kafka_broker), topic, format=fmt)
    pw.run()
    back = pw.io.kafka.read(settings(kafka_broker), topic, format=read_format, schema=Mixed, mode="static")
    assert rows_of(back) == rows_of(mixed_table())


def test_written_messages_carry_key_time_diff_and_headers(kafka_broker):
    topic = kafka_broker.create_topic()
    t = pw.debug.table_from_markdown(
        """
          | name | value | __time__ | __diff__
        1 | a    | 1     | 2        | 1
        2 | b    | 2     | 2        | 1
        1 | a    | 1     | 4        | -1
        1 | a    | 5     | 4        | 1
        """
    )
    pw.io.kafka.write(t, settings(kafka_broker), topic, format="json")
    pw.run()
    messages = consume(kafka_broker.bootstrap, topic, 4)
    payloads = [json.loads(m.value()) for m in messages]
    assert sorted((p["name"], p["value"], p["diff"]) for p in payloads[:2]) == [("a", 1, 1), ("b", 2, 1)]
    # The update of row 1 comes later, its retraction first.
    assert [(p["name"], p["value"], p["diff"]) for p in payloads[2:]] == [("a", 1, -1), ("a", 5, 1)]
    assert payloads[0]["time"] == payloads[1]["time"] < payloads[2]["time"] == payloads[3]["time"]
    for m, p in zip(messages, payloads):
        headers = dict(m.headers())
        assert headers["pathway_time"] == str(p["time"]).encode()
        assert headers["pathway_diff"] == str(p["diff"]).encode()
        assert len(m.key()) == 16  # the row's id, little-endian
    first_a = [m for m, p in zip(messages, payloads) if p["name"] == "a"][0]
    assert messages[2].key() == messages[3].key() == first_a.key()  # one row, one key


def test_plaintext_and_raw_with_key_value_and_header_columns(kafka_broker):
    topic = kafka_broker.create_topic()
    t = pw.debug.table_from_markdown(
        """
        k  | v     | h
        k1 | one   | 10
        k2 | two   | 20
        """
    )
    pw.io.kafka.write(t, settings(kafka_broker), topic, format="plaintext", key=t.k, value=t.v, headers=[t.h])
    pw.run()
    messages = sorted(consume(kafka_broker.bootstrap, topic, 2), key=lambda m: m.key())
    assert [(m.key(), m.value(), dict(m.headers())["h"]) for m in messages] == [(b"k1", b"one", b"10"), (b"k2", b"two", b"20")]
    back = pw.io.kafka.read(settings(kafka_broker), topic, format="plaintext", mode="static")
    assert rows_of(back) == [("k1", "one"), ("k2", "two")]
    raw_topic = kafka_broker.create_topic()
    b = t.select(data=pw.apply_with_type(lambda s: s.encode(), bytes, pw.this.v))
    pw.io.kafka.write(b, settings(kafka_broker), raw_topic, format="raw")
    pw.run()
    back = pw.io.kafka.read(settings(kafka_broker), raw_topic, format="raw", mode="static")
    assert sorted(d for _, d in rows_of(back)) == [b"one", b"two"]


def test_write_argument_errors(kafka_broker):
    t = pw.debug.table_from_markdown("a | b\n1 | x")
    with pytest.raises(ValueError, match="'value' must be specified if 'key' is not None"):
        pw.io.kafka.write(t, settings(kafka_broker), "t", format="plaintext", key=t.b)
    with pytest.raises(ValueError, match="unsupported argument for 'json' format: 'value'"):
        pw.io.kafka.write(t, settings(kafka_broker), "t", format="json", value=t.b)
    with pytest.raises(TypeError, match="writes a"):
        pw.io.kafka.write(t, settings(kafka_broker), "t", format="plaintext", value=t.a)
    with pytest.raises(ValueError, match="bootstrap.servers"):
        pw.io.kafka.write(t, {}, "t")
    with pytest.raises(ValueError, match="unknown format"):
        pw.io.kafka.write(t, settings(kafka_broker), "t", format="avro")
    with pytest.raises(ValueError, match="needs a schema"):
        pw.io.kafka.read(settings(kafka_broker), "t", format="json")


def test_topic_from_a_column(kafka_broker):
    first, second = kafka_broker.create_topic(), kafka_broker.create_topic()
    t = pw.debug.table_from_markdown(f"topic | n\n{first} | 1\n{second} | 2\n{first} | 3")
    pw.io.kafka.write(t, settings(kafka_broker), t.topic, format="json")
    pw.run()
    assert sorted(json.loads(m.value())["n"] for m in consume(kafka_broker.bootstrap, first, 2)) == [1, 3]
    assert [json.loads(m.value())["n"] for m in consume(kafka_broker.bootstrap, second, 1)] == [2]


def word_totals(broker, topic: str, threads: int) -> list:
    words = pw.io.kafka.read(settings(broker), topic, format="json", schema=WordSchema, mode="static")
    totals = words.groupby(pw.this.word).reduce(pw.this.word, total=pw.reducers.sum(pw.this.n), count=pw.reducers.count())
    captured = pw.debug._capture([totals], threads=threads)[0]
    state: dict = {}
    for _, values, _, diff in captured:
        state[values] = state.get(values, 0) + diff
    return sorted(v for v, d in state.items() if d)


def test_sixteen_partitions_over_one_two_and_four_workers(kafka_broker):
    topic = kafka_broker.create_topic(partitions=16)
    messages = [(f"k{i}".encode(), json.dumps({"word": f"w{i % 37}", "n": i}).encode()) for i in range(4000)]
    produce(kafka_broker.bootstrap, topic, messages)
    one = word_totals(kafka_broker, topic, 1)
    assert len(one) == 37 and sum(c for _, _, c in one) == 4000
    assert word_totals(kafka_broker, topic, 2) == one
    assert word_totals(kafka_broker, topic, 4) == one


def run_streaming(table, seconds: float, until=None, threads: int = 1) -> dict:
    """Runs a streaming pipeline until the table's state (row -> count) equals `until`, or for
    at most `seconds`; returns the final state."""
    state: dict = {}
    lock = threading.Lock()

    def on_change(key, row, time, is_addition):
        with lock:
            values = tuple(row.values())
            state[values] = state.get(values, 0) + (1 if is_addition else -1)
            if state[values] == 0:
                del state[values]

    def on_time_end(time):
        with lock:
            if until is not None and state == until:
                request_stop()

    pw.io.subscribe(table, on_change, on_time_end=on_time_end)
    pw.run(timeout=seconds, threads=threads)
    return state


def test_offsets_are_committed_for_what_was_processed_and_a_restart_resumes(kafka_broker):
    topic = kafka_broker.create_topic(partitions=2)
    group = f"group-{topic}"
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "a", "n": i}).encode()) for i in range(100)])
    first = pw.io.kafka.read(settings(kafka_broker, **{"group.id": group}), topic, format="json", schema=WordSchema)
    state = run_streaming(first.reduce(total=pw.reducers.sum(pw.this.n), count=pw.reducers.count()), 20.0, until={(4950, 100): 1})
    assert state == {(4950, 100): 1}
    # The group's committed offsets cover every message: nothing is read twice.
    consumer = confluent_kafka.Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": group})
    committed = consumer.committed([confluent_kafka.TopicPartition(topic, p) for p in (0, 1)], timeout=10)
    consumer.close()
    assert sum(tp.offset for tp in committed) == 100
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "a", "n": 1000}).encode())])
    second = pw.io.kafka.read(settings(kafka_broker, **{"group.id": group}), topic, format="json", schema=WordSchema)
    # Any row read twice would show in the sum before the run stops.
    state = run_streaming(second.reduce(total=pw.reducers.sum(pw.this.n), count=pw.reducers.count()), 3.0)
    assert state == {(1000, 1): 1}


def test_a_broker_restart_in_the_middle_of_a_stream_loses_nothing(kafka_broker):
    topic = kafka_broker.create_topic(partitions=4)
    total = 3000
    done = threading.Event()

    def feed():
        producer = confluent_kafka.Producer({"bootstrap.servers": kafka_broker.bootstrap, "enable.idempotence": True})
        for i in range(total):
            producer.produce(topic, value=json.dumps({"word": "x", "n": i}).encode())
            if i == total // 2:
                producer.flush(30)
                kafka_broker.restart()
            if i % 100 == 0:
                producer.poll(0)
                time.sleep(0.01)
        assert producer.flush(60) == 0
        done.set()

    feeder = threading.Thread(target=feed)
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=WordSchema)
    counts = t.reduce(total=pw.reducers.sum(pw.this.n), count=pw.reducers.count())
    feeder.start()
    expected = {(total * (total - 1) // 2, total): 1}
    state = run_streaming(counts, 60.0, until=expected)
    feeder.join()
    assert done.is_set()
    # Within one run each message is read once: exactly the sum of every message.
    assert state == expected


def test_a_delivery_failure_stops_the_run_with_the_brokers_error(kafka_broker):
    topic = kafka_broker.create_topic(**{"max.message.bytes": "1000"})
    t = pw.debug.table_from_markdown("n\n1").select(big=pw.apply(lambda n: "x" * 5000, pw.this.n))
    pw.io.kafka.write(t, settings(kafka_broker), topic, format="json")
    with pytest.raises(Exception, match="delivery to topic .* failed: Broker: Message size too large"):
        pw.run()


def test_an_invalid_setting_is_named_and_a_secret_never_shown(kafka_broker):
    t = pw.debug.table_from_markdown("n\n1")
    pw.io.kafka.write(t, settings(kafka_broker, **{"no.such.setting": "1"}), "x")
    with pytest.raises(Exception, match="no.such.setting"):
        pw.run()
    pw.io.kafka.write(t, settings(kafka_broker, **{"security.protocol": "sasl_plaintext", "sasl.mechanism": "NOPE", "sasl.password": "hunter2-secret"}), "x")
    with pytest.raises(Exception) as error:
        pw.run()
    assert "SASL mechanism" in str(error.value) and "kafka output x" in str(error.value)
    assert "hunter2-secret" not in str(error.value)


def test_tls_with_certificate_verification(kafka_broker):
    topic = kafka_broker.create_topic()
    tls = {"bootstrap.servers": kafka_broker.ssl_bootstrap, "security.protocol": "ssl", "ssl.ca.location": kafka_broker.ca}
    pw.io.kafka.write(pw.debug.table_from_markdown("word | n\nsecure | 1"), tls, topic, format="json")
    pw.run()
    back = pw.io.kafka.read({**tls, "auto.offset.reset": "earliest"}, topic, format="json", schema=WordSchema, mode="static")
    assert rows_of(back) == [("secure", 1)]
    # A certificate the configured CA did not sign is refused: the run stops, it does not hang.
    wrong = {**tls, "ssl.ca.location": kafka_broker.other_ca, "auto.offset.reset": "earliest"}
    with pytest.raises(Exception, match="(?i)ssl|certificate"):
        pw.debug.table_to_dicts(pw.io.kafka.read(wrong, topic, format="json", schema=WordSchema, mode="static"))
    missing = {**tls, "ssl.ca.location": "/nonexistent/ca.pem"}
    pw.io.kafka.write(pw.debug.table_from_markdown("n\n1"), missing, topic)
    with pytest.raises(Exception, match="ssl.ca.location"):
        pw.run()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_sasl_authentication(kafka_broker, mechanism, capfd):
    topic = kafka_broker.create_topic()
    sasl = {
        "bootstrap.servers": kafka_broker.sasl_bootstrap,
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": mechanism,
        "sasl.username": "alice",
        "sasl.password": "alice-secret",
    }
    pw.io.kafka.write(pw.debug.table_from_markdown("word | n\nauth | 7"), sasl, topic, format="json")
    pw.run()
    back = pw.io.kafka.read({**sasl, "auto.offset.reset": "earliest"}, topic, format="json", schema=WordSchema, mode="static")
    assert rows_of(back) == [("auth", 7)]
    wrong = {**sasl, "sasl.password": "not-the-password-9471", "auto.offset.reset": "earliest"}
    with pytest.raises(Exception) as error:
        pw.debug.table_to_dicts(pw.io.kafka.read(wrong, topic, format="json", schema=WordSchema, mode="static"))
    assert "uthenticat" in str(error.value)
    assert "not-the-password-9471" not in str(error.value)
    logged = capfd.readouterr()
    assert "uthenticat" in logged.err  # the failure is logged ...
    assert "not-the-password-9471" not in logged.out + logged.err  # ... without the password


def test_simple_read_and_redpanda(kafka_broker):
    topic = kafka_broker.create_topic()
    produce(kafka_broker.bootstrap, topic, [(None, b"hello"), (None, b"world")])
    t = pw.io.kafka.simple_read(kafka_broker.bootstrap, topic, format="plaintext", mode="static")
    assert sorted(d for _, d in rows_of(t)) == ["hello", "world"]
    r = pw.io.redpanda.read(settings(kafka_broker), topic, format="plaintext", mode="static")
    assert sorted(d for _, d in rows_of(r)) == ["hello", "world"]


def test_a_small_backlog_bounds_the_rows_in_processing_and_loses_nothing(kafka_broker):
    topic = kafka_broker.create_topic(partitions=2)
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "b", "n": i}).encode()) for i in range(3000)])
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=WordSchema, max_backlog_size=50, parallel_readers=2)
    per_time: dict = {}
    seen = set()

    def on_change(key, row, time, is_addition):
        per_time[time] = per_time.get(time, 0) + 1
        seen.add(row["n"])
        if len(seen) == 3000:
            request_stop()

    pw.io.subscribe(t, on_change)
    pw.run(timeout=30.0)
    assert seen == set(range(3000))
    # Each commit brings at most the backlog's room: 50 rows while nothing else is in processing.
    assert max(per_time.values()) <= 50
    assert len(per_time) >= 60


def test_partitions_added_while_running_are_read(kafka_broker):
    from confluent_kafka.admin import AdminClient, NewPartitions

    topic = kafka_broker.create_topic(partitions=1)
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "p", "n": 1}).encode())])

    def grow():
        time.sleep(1.0)
        admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
        admin.create_partitions([NewPartitions(topic, 3)])[topic].result(30)
        produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "p", "n": 10}).encode())], partition=2)

    grower = threading.Thread(target=grow)
    grower.start()
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=WordSchema)
    expected = {(11, 2): 1}
    state = run_streaming(t.reduce(total=pw.reducers.sum(pw.this.n), count=pw.reducers.count()), 30.0, until=expected)
    grower.join()
    assert state == expected


def test_start_from_timestamp_reads_only_later_messages(kafka_broker):
    topic = kafka_broker.create_topic(partitions=2)
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "old", "n": i}).encode()) for i in range(20)])
    time.sleep(0.5)
    since = int(time.time() * 1000)
    time.sleep(0.5)
    produce(kafka_broker.bootstrap, topic, [(None, json.dumps({"word": "new", "n": i}).encode()) for i in range(5)])
    t = pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=WordSchema, mode="static", start_from_timestamp_ms=since)
    assert rows_of(t) == [("new", i) for i in range(5)]
    with pytest.raises(ValueError, match="non-negative"):
        pw.io.kafka.read(settings(kafka_broker), topic, format="json", schema=WordSchema, start_from_timestamp_ms=-1)


def test_dsv_with_a_delimiter_and_sort_by_within_a_time(kafka_broker):
    topic = kafka_broker.create_topic()
    t = pw.debug.table_from_markdown(
        """
        word | n
        c    | 3
        a    | 1
        b    | 2
        """
    )
    pw.io.kafka.write(t, settings(kafka_broker), topic, format="dsv", delimiter=";", sort_by=[t.word])
    pw.run()
    messages = [m.value().decode() for m in consume(kafka_broker.bootstrap, topic, 4)]
    assert messages[0] == '"word";"n";"time";"diff"'
    assert [m.split(";")[0] for m in messages[1:]] == ['"a"', '"b"', '"c"']
    assert all(m.endswith(';"1"') for m in messages[1:])
