"""SQLite connectors: a table written as a stream of changes and as a snapshot (as Pathway writes
them), and a table followed live as other connections change it."""

from __future__ import annotations

import datetime
import random
import sqlite3
import threading

import pytest

import deltaflow as pw
from live_run import wait_for


def stream(events: list[tuple[int, str, int, int]]) -> pw.Table:
    lines = ["k | v | __time__ | __diff__"] + [f"{k} | {v} | {t} | {d}" for k, v, t, d in events]
    return pw.debug.table_from_markdown("\n".join(lines))


def test_stream_of_changes_and_snapshot(tmp_path):
    db = tmp_path / "out.db"
    t = stream([(1, "a", 2, 1), (2, "b", 2, 1), (3, "c", 2, 1), (1, "a", 4, -1), (1, "a2", 4, 1), (3, "c", 4, -1)])
    pw.io.sqlite.write(t, db, "log", init_mode="create_if_not_exists")
    pw.io.sqlite.write(t, db, "snap", init_mode="create_if_not_exists", output_table_type="snapshot", primary_key=[t.k])
    pw.run()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT k, v, time, diff FROM log ORDER BY time, diff, k").fetchall() == [
        (1, "a", 2, 1), (2, "b", 2, 1), (3, "c", 2, 1), (1, "a", 4, -1), (3, "c", 4, -1), (1, "a2", 4, 1),
    ]
    assert conn.execute("SELECT k, v FROM snap ORDER BY k").fetchall() == [(1, "a2"), (2, "b")]
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'log'").fetchone()[0]
    assert '"k" INTEGER NOT NULL' in ddl and "time BIGINT NOT NULL" in ddl and "diff SMALLINT NOT NULL" in ddl
    # "replace" starts over; "default" needs the table.
    pw.io.sqlite.write(t, db, "snap", init_mode="replace", output_table_type="snapshot", primary_key=[t.k])
    pw.run()
    assert conn.execute("SELECT count(*) FROM snap").fetchone() == (2,)
    pw.io.sqlite.write(t, db, "missing")
    with pytest.raises(Exception, match="destination table \"missing\" does not exist in the SQLite database"):
        pw.run()


def test_values_written_as_pathway_writes_them(tmp_path):
    db = tmp_path / "types.db"
    t = pw.debug.table_from_rows(pw.schema_from_types(i=int), [(42,)]).select(
        pw.this.i,
        f=3.25,
        s="hello",
        b=pw.apply_with_type(lambda i: b"\x00\xff", bytes, pw.this.i),
        flag=True,
        opt=pw.if_else(pw.this.i == 42, None, 1),
        dtn=pw.apply_with_type(lambda i: datetime.datetime(2026, 1, 15, 10, 30, 45, 123456), pw.DateTimeNaive, pw.this.i),
        dtu=pw.apply_with_type(lambda i: datetime.datetime(2026, 1, 15, 10, 30, 45, tzinfo=datetime.timezone.utc), pw.DateTimeUtc, pw.this.i),
        dur=pw.apply_with_type(lambda i: datetime.timedelta(days=1, microseconds=5), pw.Duration, pw.this.i),
        js=pw.apply_with_type(lambda i: {"a": 1}, pw.Json, pw.this.i),
        tup=pw.apply_with_type(lambda i: ("x", 7), tuple[str, int], pw.this.i),
        lst=pw.apply_with_type(lambda i: [1, 2, 3], list[int], pw.this.i),
    )
    pw.io.sqlite.write(t, db, "all_types", init_mode="replace")
    pw.run()
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT i, f, s, b, flag, opt, dtn, dtu, dur, js, tup, lst, diff FROM all_types").fetchone()
    assert row == (
        42, 3.25, "hello", b"\x00\xff", 1, None, "2026-01-15T10:30:45.123456000", "2026-01-15T10:30:45.000000000+0000",
        86400000005000, '{"a":1}', '["x",7]', "[1,2,3]", 1,
    )
    types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(all_types)")}
    assert types["f"] == "REAL" and types["b"] == "BLOB" and types["flag"] == "INTEGER" and types["dtn"] == "TEXT"


def test_write_arguments_are_checked():
    t = pw.debug.table_from_markdown("k | time\n1 | 2")
    with pytest.raises(ValueError, match=r"Column\(s\) \['time'\] collide"):
        pw.io.sqlite.write(t, "x.db", "t")
    u = t.select(k=pw.this.k, o=pw.if_else(pw.this.k == 1, None, 2))
    with pytest.raises(ValueError, match="primary_key must be specified for the snapshot table type"):
        pw.io.sqlite.write(u, "x.db", "t", output_table_type="snapshot")
    with pytest.raises(ValueError, match="primary_key can only be specified for the snapshot table type"):
        pw.io.sqlite.write(u, "x.db", "t", primary_key=[u.k])
    with pytest.raises(ValueError, match="primary_key column 'o' is declared nullable"):
        pw.io.sqlite.write(u, "x.db", "t", output_table_type="snapshot", primary_key=[u.o])


class Person(pw.Schema):
    name: str
    score: float
    born: pw.DateTimeNaive | None



def test_a_table_followed_live_by_rowid_and_by_primary_key(tmp_path):
    db = tmp_path / "live.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE people (name TEXT, score REAL, born TEXT)")
    conn.execute("CREATE TABLE keyed (code TEXT PRIMARY KEY, n INTEGER)")
    conn.execute("INSERT INTO people VALUES ('Alice', 1.5, '2024-01-02 03:04:05'), ('Bob', 2, NULL)")
    conn.execute("INSERT INTO keyed VALUES ('a', 1)")

    class Keyed(pw.Schema):
        code: str = pw.column_definition(primary_key=True)
        n: int

    people = pw.io.sqlite.read(db, "people", Person)
    keyed = pw.io.sqlite.read(db, "keyed", Keyed)
    state: dict = {}
    keyed_state: dict = {}
    events: list = []
    lock = threading.Lock()

    def on_people(key, row, time, is_addition):
        with lock:
            events.append((is_addition, row["name"]))
            if is_addition:
                state[key] = (row["name"], row["score"], row["born"])
            else:
                del state[key]

    def on_keyed(key, row, time, is_addition):
        with lock:
            if is_addition:
                keyed_state[key] = (row["code"], row["n"])
            else:
                del keyed_state[key]

    pw.io.subscribe(people, on_people)
    pw.io.subscribe(keyed, on_keyed)
    runner = threading.Thread(target=pw.run)
    runner.start()
    try:
        wait_for(lambda: len(state) == 2 and len(keyed_state) == 1)
        assert sorted(state.values()) == [("Alice", 1.5, datetime.datetime(2024, 1, 2, 3, 4, 5)), ("Bob", 2.0, None)]
        conn.execute("INSERT INTO people VALUES ('Charlie', 3, NULL)")
        conn.execute("UPDATE people SET name = 'Bob Smith' WHERE name = 'Bob'")
        conn.execute("DELETE FROM people WHERE name = 'Alice'")
        conn.execute("UPDATE keyed SET n = 2")
        conn.execute("INSERT INTO keyed VALUES ('b', 5)")
        wait_for(lambda: sorted(v[0] for v in state.values()) == ["Bob Smith", "Charlie"] and len(keyed_state) == 2)
        assert sorted(keyed_state.values()) == [("a", 2), ("b", 5)]
        # A rowid keeps its row: the update retracted Bob and inserted Bob Smith.
        assert (False, "Bob") in events and (True, "Bob Smith") in events
        # Random changes, followed exactly.
        rng = random.Random(7)
        for step in range(40):
            op = rng.random()
            if op < 0.5:
                conn.execute("INSERT INTO people VALUES (?, ?, NULL)", (f"p{step}", rng.random()))
            elif op < 0.8:
                conn.execute("UPDATE people SET score = score + 1 WHERE rowid = (SELECT rowid FROM people ORDER BY random() LIMIT 1)")
            else:
                conn.execute("DELETE FROM people WHERE rowid = (SELECT rowid FROM people ORDER BY random() LIMIT 1)")
            if step % 10 == 9:
                expected = sorted(conn.execute("SELECT name, score, NULL FROM people WHERE born IS NULL").fetchall())
                alive = lambda: sorted((n, s, None) for n, s, b in state.values() if b is None) == expected  # noqa: E731
                wait_for(alive)
    finally:
        pw.internals.run.request_stop()
        runner.join(30)


def test_values_that_do_not_read_go_to_the_error_log(tmp_path):
    db = tmp_path / "bad.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (name TEXT, score REAL, born TEXT)")
    conn.execute("INSERT INTO t VALUES ('ok', 1, NULL), ('bad', 'x', NULL), ('bad date', 2, 'yesterday')")
    conn.commit()
    t = pw.io.sqlite.read(db, "t", Person)
    rows: list = []
    errors: list = []
    pw.io.subscribe(t, lambda key, row, time, is_addition: rows.append(row["name"]))
    pw.io.subscribe(pw.global_error_log(), lambda key, row, time, is_addition: errors.append(row["message"]))
    runner = threading.Thread(target=lambda: pw.run(terminate_on_error=False))
    runner.start()
    try:
        wait_for(lambda: rows == ["ok"] and len(errors) == 2)
    finally:
        pw.internals.run.request_stop()
        runner.join(30)
    assert any("table t: column score cannot hold the TEXT value x" in e for e in errors)
    assert any("column born cannot hold the TEXT value yesterday" in e for e in errors)

    class Missing(pw.Schema):
        nope: int

    pw.io.sqlite.read(db, "t", Missing)
    pw.io.null.write(pw.io.sqlite.read(db, "t", Missing))
    with pytest.raises(Exception, match=r"pw.Schema references column\(s\) \[\"nope\"\] that do not exist in SQLite table \"t\""):
        pw.run()


def test_destinations_and_sources_that_cannot_work_are_refused_with_the_reason(tmp_path):
    db = tmp_path / "checks.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        CREATE TABLE nopk (k INTEGER, v TEXT);
        CREATE VIEW vw AS SELECT * FROM nopk;
        CREATE TABLE audited (k INTEGER, v TEXT, audit_user TEXT NOT NULL, time BIGINT, diff SMALLINT);
        CREATE TABLE strict_v (k INTEGER PRIMARY KEY, v TEXT NOT NULL);
        CREATE TABLE shadow (rowid TEXT, v TEXT);
        CREATE TABLE wor (k INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
        """
    )
    conn.commit()
    t = pw.debug.table_from_markdown("k | v\n1 | a")
    optional = t.select(pw.this.k, v=pw.if_else(pw.this.k == 1, None, pw.this.v))

    def refused(pattern: str) -> None:
        with pytest.raises(Exception, match=pattern):
            pw.run()

    pw.io.sqlite.write(t, db, "vw")
    refused('destination "vw" is a SQLite view, which SQLite treats as read-only')
    pw.io.sqlite.write(t, db, "nopk", output_table_type="snapshot", primary_key=[t.k])
    refused(r'primary_key columns \["k"\] do not correspond to any UNIQUE or PRIMARY KEY constraint on SQLite table "nopk"')
    pw.io.sqlite.write(t, db, "audited")
    refused(r'destination table "audited" has NOT NULL column\(s\) \["audit_user"\] without a DEFAULT value')
    pw.io.sqlite.write(optional, db, "strict_v", output_table_type="snapshot", primary_key=[optional.k])
    refused(r'pw.Schema declares column\(s\) \["v"\] as Optional but the destination table "strict_v" marks them NOT NULL')
    with pytest.raises(ValueError, match="is an existing directory, not a SQLite database file"):
        pw.io.sqlite.write(t, tmp_path, "x")
    not_sqlite = tmp_path / "plain.txt"
    not_sqlite.write_text("hello, this is not a database" * 100)
    pw.io.sqlite.write(t, not_sqlite, "x")
    refused("not a valid SQLite 3 database")

    class V(pw.Schema):
        v: str

    pw.io.null.write(pw.io.sqlite.read(db, "shadow", V))
    refused("has a user column \"rowid\" that shadows SQLite's implicit rowid alias")
    pw.io.null.write(pw.io.sqlite.read(db, "wor", V))
    refused("does not expose an implicit `_rowid_` column")
    with pytest.raises(ValueError, match="is an existing directory, not a SQLite database file"):
        pw.io.sqlite.read(tmp_path, "x", V)
