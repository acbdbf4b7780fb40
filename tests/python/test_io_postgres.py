"""PostgreSQL connectors against a real server (scripts/postgres.sh, started once per session):
streams of changes and snapshots equal to the pipeline's result after every time, on 1, 2 and
4 workers; every type written as Pathway writes it; init modes; rejected values; a server
restart while writing; TLS with certificate verification; passwords kept out of errors."""

from __future__ import annotations

import datetime
import math
import random
import threading
import time

import pytest

import deltaflow as pw
from live_run import run_in_background, stop, wait_for

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.usefixtures("postgres_server")


def markdown_stream(events: list[tuple[int, int, int, int]]) -> pw.Table:
    """A table of (k, v) rows from (k, v, time, diff) events."""
    lines = ["k | v | __time__ | __diff__"] + [f"{k} | {v} | {t} | {d}" for k, v, t, d in events]
    return pw.debug.table_from_markdown("\n".join(lines))


def random_events(rng: random.Random, times: int = 12) -> list[tuple[int, int, int, int]]:
    """Inserts, updates (a retraction and an insertion of one key in one time) and deletes of
    a few keys over `times` times."""
    live: dict[int, int] = {}
    events = []
    for step in range(times):
        t = 2 * (step + 1)
        for _ in range(rng.randint(1, 6)):
            k = rng.randrange(8)
            if k in live and rng.random() < 0.5:
                events.append((k, live.pop(k), t, -1))
            elif k not in live:
                live[k] = rng.randrange(100)
                events.append((k, live[k], t, 1))
    return events


def record_every_commit(server, table: str, columns: str) -> str:
    """A history table that receives, at the commit of every transaction that changes
    `table`, the rows `table` holds then (and a marker row, so that an empty state shows)."""
    history = f"{table}_history"
    server.execute(
        f"CREATE TABLE {history} (tx BIGINT, marker BOOLEAN, {columns})",
        f"""CREATE FUNCTION {history}_record() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM {history} WHERE tx = txid_current()) THEN
            INSERT INTO {history} (tx, marker) VALUES (txid_current(), true);
            INSERT INTO {history} SELECT txid_current(), false, * FROM {table};
          END IF;
          RETURN NULL;
        END $$""",
        f"""CREATE CONSTRAINT TRIGGER {history}_trigger AFTER INSERT OR UPDATE OR DELETE ON {table}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {history}_record()""",
    )
    return history


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_stream_of_changes_and_snapshot_equal_the_result_after_every_time(postgres_server, workers):
    rng = random.Random(workers)
    events = random_events(rng)
    rows = markdown_stream(events)
    # A stateful result: per parity class, the sum and count of the live values.
    result = rows.select(pw.this.v, parity=pw.this.k % 2).groupby(pw.this.parity).reduce(
        pw.this.parity, total=pw.reducers.sum(pw.this.v), n=pw.reducers.count()
    )
    changes_table = postgres_server.unique_name("changes")
    snapshot_table = postgres_server.unique_name("snapshot")
    postgres_server.execute(f"CREATE TABLE {snapshot_table} (parity BIGINT PRIMARY KEY, total BIGINT, n BIGINT)")
    history = record_every_commit(postgres_server, snapshot_table, "parity BIGINT, total BIGINT, n BIGINT")
    pw.io.postgres.write(result, postgres_server.settings, changes_table, init_mode="create_if_not_exists")
    pw.io.postgres.write(
        result, postgres_server.settings, snapshot_table, output_table_type="snapshot", primary_key=[result.parity]
    )
    # The result after every time, as an independent output sees it.
    state: dict = {}
    expected: list[tuple[int, list]] = []

    def on_change(key, row, time, is_addition):
        if is_addition:
            state[key] = (row["parity"], row["total"], row["n"])
        else:
            del state[key]

    pw.io.subscribe(result, on_change, on_time_end=lambda t: expected.append((t, sorted(state.values()))))
    pw.run(threads=workers)
    assert len(expected) >= 6

    # The snapshot table after each of its transactions: one per time, equal to the result.
    snapshots: dict[int, list] = {}
    for tx, marker, parity, total, n in postgres_server.query(f"SELECT * FROM {history} ORDER BY tx"):
        snapshots.setdefault(tx, [])
        if not marker:
            snapshots[tx].append((parity, total, n))
    assert [sorted(rows) for rows in snapshots.values()] == [rows for _, rows in expected]

    # The stream of changes folded up to each time equals the result at that time.
    stream = postgres_server.query(f"SELECT time, parity, total, n, diff FROM {changes_table}")
    assert sorted({row[0] for row in stream}) == [t for t, _ in expected]
    for t, rows_then in expected:
        folded: dict = {}
        for time_, parity, total, n, diff in stream:
            if time_ <= t:
                folded[(parity, total, n)] = folded.get((parity, total, n), 0) + diff
        assert sorted(row for row, count in folded.items() for _ in range(count)) == rows_then
    # Every time's rows came in one transaction, each time in its own.
    per_time = postgres_server.query(f"SELECT time, count(DISTINCT xmin::text) FROM {changes_table} GROUP BY time")
    assert all(n == 1 for _, n in per_time)
    assert len({tx for tx, in postgres_server.query(f"SELECT DISTINCT xmin::text FROM {changes_table}")}) == len(per_time)


def test_every_type_written_as_pathway_writes_it(postgres_server):
    name = postgres_server.unique_name("types")
    t = pw.debug.table_from_rows(
        pw.schema_from_types(i=int, f=float, b=bool, s=str),
        [(1, 1.5, True, "plain"), (2, math.inf, False, "tab\there\nnewline \\ backslash \"quote\" 'apostrophe' żółw")],
    )
    t = t.select(
        *pw.this,
        o=pw.if_else(pw.this.i == 1, None, pw.this.s),
        by=pw.apply_with_type(lambda s: s.encode(), bytes, pw.this.s),
        j=pw.apply_with_type(lambda i: {"i": i, "nested": [1, "two", None]}, pw.Json, pw.this.i),
        naive=pw.apply_with_type(lambda i: datetime.datetime(2024, 2, 29, 23, 59, 59, 123456 + i), pw.DateTimeNaive, pw.this.i),
        utc=pw.apply_with_type(
            lambda i: datetime.datetime(2024, 1, 1, 12, 0, i, tzinfo=datetime.timezone.utc), pw.DateTimeUtc, pw.this.i
        ),
        dur=pw.apply_with_type(lambda i: datetime.timedelta(seconds=i, microseconds=7), pw.Duration, pw.this.i),
        ints=pw.apply_with_type(lambda i: [i, i + 1, i + 2], list[int], pw.this.i),
        strs=pw.apply_with_type(lambda i: ("a,b", 'q"uote', "{x}"), tuple[str, str, str], pw.this.i),
        ptr=pw.this.id,
    )
    pw.io.postgres.write(t, postgres_server.settings, name, init_mode="create_if_not_exists")
    pw.run()
    types = dict(
        postgres_server.query(
            f"SELECT column_name, data_type || ' ' || is_nullable FROM information_schema.columns WHERE table_name = '{name}'"
        )
    )
    assert types == {
        "i": "bigint NO", "f": "double precision NO", "b": "boolean NO", "s": "text NO", "o": "text YES",
        "by": "bytea NO", "j": "jsonb NO", "naive": "timestamp without time zone NO",
        "utc": "timestamp with time zone NO", "dur": "bigint NO", "ints": "ARRAY NO", "strs": "ARRAY NO",
        "ptr": "text NO", "time": "bigint NO", "diff": "smallint NO",
    }
    with postgres_server.connect() as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        rows = conn.execute(f"SELECT i, f, b, s, o, by, j, naive, utc, dur, ints, strs, ptr, diff FROM {name} ORDER BY i").fetchall()
    ids = {r[0]: r[1] for r in pw.debug.table_to_pandas(t.select(pw.this.i, p=pw.this.id)).itertuples(index=False)}
    weird = "tab\there\nnewline \\ backslash \"quote\" 'apostrophe' żółw"
    assert rows[0][:5] == (1, 1.5, True, "plain", None)
    assert rows[1][:5] == (2, math.inf, False, weird, weird)
    assert rows[1][5] == weird.encode()
    assert rows[0][6] == {"i": 1, "nested": [1, "two", None]}
    assert rows[1][7] == datetime.datetime(2024, 2, 29, 23, 59, 59, 123458)
    assert rows[0][8] == datetime.datetime(2024, 1, 1, 12, 0, 1, tzinfo=datetime.timezone.utc)
    assert rows[1][9] == 2_000_007  # microseconds, as Pathway writes a duration into BIGINT
    assert rows[0][10] == [1, 2, 3]
    assert rows[0][11] == ["a,b", 'q"uote', "{x}"]
    assert rows[0][12] == str(ids[1])
    assert [r[13] for r in rows] == [1, 1]


def test_values_take_the_existing_columns_types(postgres_server):
    # A table made by hand: durations into INTERVAL and TIME, a date-time into DATE, a str
    # into UUID and an enum, a float array into a two-dimensional array.
    name = postgres_server.unique_name("existing")
    postgres_server.execute(
        f"DROP TYPE IF EXISTS mood_{name}",
        f"CREATE TYPE mood_{name} AS ENUM ('sad', 'happy')",
        f"CREATE TABLE {name} (span INTERVAL, tod TIME, day DATE, id UUID, mood mood_{name}, m DOUBLE PRECISION[], "
        "amount NUMERIC(10, 2), small REAL, time BIGINT, diff INTEGER)",
    )
    import numpy as np

    t = pw.debug.table_from_rows(pw.schema_from_types(n=int), [(1,)]).select(
        span=pw.apply_with_type(lambda n: datetime.timedelta(days=1, hours=2, microseconds=5), pw.Duration, pw.this.n),
        tod=pw.apply_with_type(lambda n: datetime.timedelta(hours=13, minutes=5, seconds=7), pw.Duration, pw.this.n),
        day=pw.apply_with_type(lambda n: datetime.datetime(2025, 7, 14, 23, 0), pw.DateTimeNaive, pw.this.n),
        id=pw.apply_with_type(lambda n: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", str, pw.this.n),
        mood=pw.apply_with_type(lambda n: "happy", str, pw.this.n),
        m=pw.apply_with_type(lambda n: np.array([[1.0, 2.5], [3.0, -4.0]]), np.ndarray, pw.this.n),
        amount=pw.apply_with_type(lambda n: 12.345, float, pw.this.n),
        small=pw.apply_with_type(lambda n: 7, int, pw.this.n),
    )
    pw.io.postgres.write(t, postgres_server.settings, name)
    pw.run()
    rows = postgres_server.query(f"SELECT span, tod, day, id::text, mood::text, m, amount::text, small, diff FROM {name}")
    assert rows == [(
        datetime.timedelta(days=1, hours=2, microseconds=5), datetime.time(13, 5, 7), datetime.date(2025, 7, 14),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "happy", [[1.0, 2.5], [3.0, -4.0]], "12.35", 7.0, 1,
    )]


def test_init_modes(postgres_server):
    name = postgres_server.unique_name("init")
    t = pw.debug.table_from_markdown(
        """
        k | v
        1 | a
        """
    )
    # "default" writes only to an existing table, and says so.
    pw.io.postgres.write(t, postgres_server.settings, name)
    with pytest.raises(Exception, match=rf"the table public.{name} does not exist .*create_if_not_exists"):
        pw.run()
    pw.io.postgres.write(t, postgres_server.settings, name, init_mode="create_if_not_exists")
    pw.run()
    pw.io.postgres.write(t, postgres_server.settings, name, init_mode="create_if_not_exists")
    pw.run()
    assert postgres_server.query(f"SELECT k, v, diff FROM {name}") == [(1, "a", 1), (1, "a", 1)]
    pw.io.postgres.write(t, postgres_server.settings, name, init_mode="replace")
    pw.run()
    assert postgres_server.query(f"SELECT k, v, diff FROM {name}") == [(1, "a", 1)]
    # A table lacking a column written, or the time and diff columns.
    other = postgres_server.unique_name("init")
    postgres_server.execute(f"CREATE TABLE {other} (k BIGINT, time BIGINT)")
    pw.io.postgres.write(t, postgres_server.settings, other)
    with pytest.raises(Exception, match=rf"the table public.{other} has no columns v, diff"):
        pw.run()
    # A table in another schema, with names that need quoting.
    postgres_server.execute('CREATE SCHEMA IF NOT EXISTS "Odd Schema"')
    odd = t.select(**{"Key Column": pw.this.k, "select": pw.this.v})
    pw.io.postgres.write(odd, postgres_server.settings, "Mixed-Case Table", schema_name="Odd Schema", init_mode="replace")
    pw.run()
    assert postgres_server.query('SELECT "Key Column", "select" FROM "Odd Schema"."Mixed-Case Table"') == [(1, "a")]


def test_arguments_are_checked_before_anything_is_written(postgres_server):
    t = pw.debug.table_from_markdown(
        """
        k | time | v
        1 | 2    | a
        """
    )
    s = postgres_server.settings
    with pytest.raises(ValueError, match=r"\['time'\] collide with the 'time' and 'diff' columns"):
        pw.io.postgres.write(t, s, "x")
    u = t.select(k=pw.this.k, v=pw.this.v, o=pw.if_else(pw.this.k == 1, None, pw.this.k))
    with pytest.raises(ValueError, match="primary key field names must be specified for a snapshot mode"):
        pw.io.postgres.write(u, s, "x", output_table_type="snapshot")
    with pytest.raises(ValueError, match="primary_key can only be specified for the snapshot table type"):
        pw.io.postgres.write(u, s, "x", primary_key=[u.k])
    with pytest.raises(ValueError, match="primary_key column 'o' is declared nullable"):
        pw.io.postgres.write(u, s, "x", output_table_type="snapshot", primary_key=[u.o])
    with pytest.raises(ValueError, match=r"primary_key contains duplicate column\(s\) \['k'\]"):
        pw.io.postgres.write(u, s, "x", output_table_type="snapshot", primary_key=[u.k, u.k])
    with pytest.raises(ValueError, match=r"primary_key references column\(s\) \['time'\] that are not present"):
        pw.io.postgres.write(u, s, "x", output_table_type="snapshot", primary_key=[t.time])
    # The target's key must be a primary key or unique constraint of the table.
    name = postgres_server.unique_name("nokey")
    postgres_server.execute(f"CREATE TABLE {name} (k BIGINT, v TEXT, o BIGINT)")
    pw.io.postgres.write(u, s, name, output_table_type="snapshot", primary_key=[u.k])
    with pytest.raises(Exception, match=r"has no primary key or unique constraint on \(k\)"):
        pw.run()
    # An optional column into a NOT NULL one.
    postgres_server.execute(f"DROP TABLE {name}", f"CREATE TABLE {name} (k BIGINT PRIMARY KEY, v TEXT, o BIGINT NOT NULL)")
    pw.io.postgres.write(u, s, name, output_table_type="snapshot", primary_key=[u.k])
    with pytest.raises(Exception, match=rf"the column o may hold None, but public.{name}.o is NOT NULL"):
        pw.run()


def test_a_rejected_value_stops_the_run_with_the_servers_message(postgres_server):
    name = postgres_server.unique_name("rejected")
    postgres_server.execute(f"CREATE TABLE {name} (k BIGINT, v VARCHAR(3), time BIGINT, diff SMALLINT)")
    t = markdown_stream([(1, 100, 2, 1), (2, 200, 4, 1)]).select(
        pw.this.k, v=pw.if_else(pw.this.k == 1, "ok", "too long")
    )
    pw.io.postgres.write(t, postgres_server.settings, name)
    with pytest.raises(Exception, match=rf"value too long for type character varying\(3\).*COPY {name}, line 1, column v"):
        pw.run()
    # The time before the bad one is there; nothing of the bad time is.
    assert postgres_server.query(f"SELECT k, v, time FROM {name}") == [(1, "ok", 2)]


def test_max_batch_size_splits_copies_inside_one_transaction(postgres_server):
    name = postgres_server.unique_name("batches")
    t = pw.debug.table_from_rows(pw.schema_from_types(k=int), [(i,) for i in range(2500)])
    pw.io.postgres.write(t, postgres_server.settings, name, init_mode="replace", max_batch_size=1000)
    pw.run()
    assert postgres_server.query(f"SELECT count(*), count(DISTINCT k), count(DISTINCT xmin::text) FROM {name}") == [(2500, 2500, 1)]


def test_sort_by_orders_the_rows_of_each_time(postgres_server):
    name = postgres_server.unique_name("sorted")
    postgres_server.execute(f"CREATE TABLE {name} (seq BIGSERIAL, k BIGINT, v TEXT, time BIGINT, diff SMALLINT)")
    t = pw.debug.table_from_rows(pw.schema_from_types(k=int, v=str), [(i, f"{(7 * i) % 10}") for i in range(10)])
    pw.io.postgres.write(t, postgres_server.settings, name, sort_by=[t.v])
    pw.run()
    assert [r[0] for r in postgres_server.query(f"SELECT v FROM {name} ORDER BY seq")] == [str(i) for i in range(10)]


class Counter(pw.io.python.ConnectorSubject):
    """Rows 0..n-1, one per commit, `pause` seconds apart; calls `midway` after row n // 2."""

    def __init__(self, n: int, pause: float, midway) -> None:
        super().__init__()
        self.n, self.pause, self.midway = n, pause, midway

    def run(self) -> None:
        for i in range(self.n):
            self.next(k=i)
            self.commit()
            if i == self.n // 2:
                self.midway()
            time.sleep(self.pause)


def test_a_server_restart_while_writing_loses_nothing_and_doubles_nothing(postgres_server):
    changes = postgres_server.unique_name("restart")
    snapshot = postgres_server.unique_name("restart_snap")
    restarted = threading.Event()

    def restart():
        threading.Thread(target=lambda: (postgres_server.restart(), restarted.set())).start()

    t = pw.io.python.read(Counter(60, 0.05, restart), schema=pw.schema_from_types(k=int))
    pw.io.postgres.write(t, postgres_server.settings, changes, init_mode="replace")
    pw.io.postgres.write(t, postgres_server.settings, snapshot, init_mode="replace", output_table_type="snapshot", primary_key=[t.k])
    pw.run()
    assert restarted.wait(30)
    assert postgres_server.query(f"SELECT count(*), count(DISTINCT k) FROM {changes}") == [(60, 60)]
    assert postgres_server.query(f"SELECT count(*), min(k), max(k) FROM {snapshot}") == [(60, 0, 59)]


def test_tls_with_certificate_verification(postgres_server):
    t = pw.debug.table_from_markdown(
        """
        k
        1
        """
    )
    name = postgres_server.unique_name("tls")
    secure = {**postgres_server.settings, "sslmode": "verify-full", "sslrootcert": postgres_server.ca}
    pw.io.postgres.write(t, secure, name, init_mode="replace")
    pw.run()
    assert postgres_server.query(f"SELECT k FROM {name}") == [(1,)]
    # A certificate signed by another CA is refused.
    wrong_ca = {**secure, "sslrootcert": postgres_server.other_ca}
    pw.io.postgres.write(t, wrong_ca, name)
    with pytest.raises(Exception, match="certificate verify failed"):
        pw.run()


def test_a_wrong_password_is_refused_and_never_printed(postgres_server, capfd):
    t = pw.debug.table_from_markdown(
        """
        k
        1
        """
    )
    secret = "not-the-password-xyzzy"
    pw.io.postgres.write(t, {**postgres_server.settings, "password": secret}, "whatever")
    with pytest.raises(Exception) as info:
        pw.run()
    assert "password authentication failed" in str(info.value)
    assert secret not in str(info.value)
    out, err = capfd.readouterr()
    assert secret not in out + err


# ---- Reading: a consistent snapshot, then change data capture ----


class Item(pw.Schema):
    id: int = pw.column_definition(primary_key=True)
    name: str
    score: float | None


def test_static_read_of_every_type(postgres_server):
    name = postgres_server.unique_name("read_types")
    postgres_server.execute(
        f"""CREATE TABLE {name} (id BIGINT PRIMARY KEY, small SMALLINT, f REAL, n NUMERIC, b BOOLEAN, s TEXT,
        u UUID, by BYTEA, j JSONB, ts TIMESTAMP, tz TIMESTAMPTZ, d DATE, iv INTERVAL, tm TIME, arr BIGINT[],
        words TEXT[], grid DOUBLE PRECISION[], maybe TEXT)""",
        f"""INSERT INTO {name} VALUES (1, 7, 1.5, 12.25, true, E'tab\\there\\nline', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '\\x00ff10', '{{"a": [1, null]}}', '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00+02', '2025-07-14',
        '1 day 02:00:00.000005', '13:05:07', '{{1,2,3}}', '{{"a b", c, NULL}}', '{{{{1.5,2}},{{3,-4}}}}', NULL)""",
        f"INSERT INTO {name} VALUES (2, -1, 'NaN', 'Infinity', false, '', NULL, '', 'null', '1970-01-01', "
        "'1970-01-01 00:00:00+00', '1969-12-31', '-1 mon', '00:00:00', '{}', '{}', '{}', 'here')",
    )

    class Types(pw.Schema):
        id: int = pw.column_definition(primary_key=True)
        small: int
        f: float
        n: float
        b: bool
        s: str
        u: str | None
        by: bytes
        j: pw.Json
        ts: pw.DateTimeNaive
        tz: pw.DateTimeUtc
        d: pw.DateTimeNaive
        iv: pw.Duration
        tm: pw.Duration
        arr: list[int]
        words: list[str | None]
        grid: list[list[float]]
        maybe: str | None

    t = pw.io.postgres.read(postgres_server.settings, name, Types, mode="static")
    rows = {r["id"]: r for r in pw.debug.table_to_pandas(t).to_dict("records")}
    one, two = rows[1], rows[2]
    assert (one["small"], one["f"], one["n"], one["b"], one["s"]) == (7, 1.5, 12.25, True, "tab\there\nline")
    assert one["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and two["u"] is None
    assert one["by"] == b"\x00\xff\x10" and two["by"] == b""
    assert one["j"].value == {"a": [1, None]}
    assert one["ts"] == datetime.datetime(2024, 2, 29, 23, 59, 59, 123456)
    assert one["tz"] == datetime.datetime(2024, 1, 1, 10, 0, tzinfo=datetime.timezone.utc)
    assert one["d"] == datetime.datetime(2025, 7, 14)
    assert one["iv"] == datetime.timedelta(days=1, hours=2, microseconds=5)
    assert one["tm"] == datetime.timedelta(hours=13, minutes=5, seconds=7)
    assert two["iv"] == -datetime.timedelta(days=30)  # a month is 30 days
    assert one["arr"] == (1, 2, 3) and one["words"] == ("a b", "c", None) and one["grid"] == ((1.5, 2.0), (3.0, -4.0))
    assert math.isnan(two["f"]) and two["n"] == math.inf and two["b"] is False
    assert two["d"] == datetime.datetime(1969, 12, 31) and two["arr"] == () and one["maybe"] is None



class Recorder:
    """An output that keeps the table's current rows and, per time, the changes."""

    def __init__(self, table: pw.Table) -> None:
        self.rows: dict = {}
        self.times: dict[int, list] = {}
        self.lock = threading.Lock()
        pw.io.subscribe(table, self.on_change)

    def on_change(self, key, row, time, is_addition):
        with self.lock:
            self.times.setdefault(time, []).append((is_addition, dict(row)))
            if is_addition:
                self.rows[key] = dict(row)
            else:
                del self.rows[key]

    def state(self) -> list[tuple]:
        with self.lock:
            return sorted((r["id"], r["name"], r["score"]) for r in self.rows.values())




def table_state(server, name: str) -> list[tuple]:
    return sorted(server.query(f"SELECT id, name, score FROM {name}"))


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_change_data_capture_of_random_transactions(postgres_server, workers):
    name = postgres_server.unique_name("cdc")
    postgres_server.execute(
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION)",
        f"INSERT INTO {name} SELECT i, 'n' || i, i * 0.5 FROM generate_series(1, 20) i",
    )
    t = pw.io.postgres.read(postgres_server.settings, name, Item, publication_name=f"pub_{name}")
    recorder = Recorder(t)
    thread = run_in_background(threads=workers)
    wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    rng = random.Random(workers)
    transactions = []
    with postgres_server.connect() as conn:
        for step in range(25):
            statements = []
            for _ in range(rng.randint(1, 4)):
                k = rng.randint(1, 30)
                op = rng.random()
                if op < 0.4:
                    statements.append(
                        f"INSERT INTO {name} VALUES ({k}, 'i{step}', {rng.random():.3f}) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name"
                    )
                elif op < 0.7:
                    statements.append(f"UPDATE {name} SET score = NULL, name = name || 'u' WHERE id = {k}")
                elif op < 0.9:
                    statements.append(f"DELETE FROM {name} WHERE id = {k}")
                else:
                    # The key itself changes: the old row leaves, the new one comes.
                    statements.append(f"UPDATE {name} SET id = id + 100 WHERE id = {k}")
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)
            transactions.append(statements)
            # The pipeline follows every transaction: its rows are the table's.
            if step % 5 == 4:
                wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    # A transaction with several changes arrives whole: no time holds part of one.
    with postgres_server.connect() as conn:
        with conn.transaction():
            conn.execute(f"INSERT INTO {name} VALUES (1000, 'x', 1), (1001, 'y', 2)")
            conn.execute(f"UPDATE {name} SET name = 'z' WHERE id = 1000")
    wait_for(lambda: any(r["id"] == 1001 for r in recorder.rows.values()))
    at = [t for t, changes in recorder.times.items() if any(row["id"] in (1000, 1001) for _, row in changes)]
    assert len(at) == 1
    assert sorted((added, row["id"], row["name"]) for added, row in recorder.times[at[0]]) == [(True, 1000, "z"), (True, 1001, "y")]
    # TRUNCATE retracts every row.
    postgres_server.execute(f"TRUNCATE {name}")
    wait_for(lambda: recorder.state() == [])
    stop(thread)


def test_a_restarted_pipeline_reads_a_fresh_snapshot_and_the_slot_advances(postgres_server):
    name = postgres_server.unique_name("restart_read")
    slot = f"slot_{name}"
    publication = f"pub_{name}"
    postgres_server.execute(
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION)",
        f"INSERT INTO {name} VALUES (1, 'a', 1), (2, 'b', 2)",
    )
    out = postgres_server.unique_name("restart_out")

    def pipeline():
        t = pw.io.postgres.read(
            postgres_server.settings, name, Item, publication_name=publication, replication_slot_name=slot
        )
        # Without persistence a run starts from nothing: its snapshot output is made anew.
        pw.io.postgres.write(t, postgres_server.settings, out, init_mode="replace",
                             output_table_type="snapshot", primary_key=[t.id])
        return Recorder(t)

    recorder = pipeline()
    thread = run_in_background()
    wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    before = postgres_server.query("SELECT pg_current_wal_insert_lsn()")[0][0]
    postgres_server.execute(f"UPDATE {name} SET name = 'A' WHERE id = 1", f"INSERT INTO {name} VALUES (3, 'c', NULL)")
    wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    # The slot's position moves past those changes once their results are durable (offsets
    # are committed every second).
    wait_for(lambda: postgres_server.query(
        f"SELECT confirmed_flush_lsn > '{before}' FROM pg_replication_slots WHERE slot_name = '{slot}'"
    )[0][0])
    stop(thread)
    assert postgres_server.query(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'") == [(False,)]
    # Changes while the pipeline is down; the next run starts from a fresh snapshot.
    postgres_server.execute(f"DELETE FROM {name} WHERE id = 2", f"INSERT INTO {name} VALUES (4, 'd', 4)")
    recorder = pipeline()
    thread = run_in_background()
    wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    postgres_server.execute(f"UPDATE {name} SET score = 9 WHERE id = 4")
    wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    stop(thread)
    assert sorted(postgres_server.query(f"SELECT id, name, score FROM {out}")) == table_state(postgres_server, name)
    postgres_server.execute(f"SELECT pg_drop_replication_slot('{slot}')")


def test_with_persistence_a_restarted_pipeline_resumes_its_slot_without_a_new_snapshot(postgres_server, tmp_path):
    name = postgres_server.unique_name("resume_read")
    slot = f"slot_{name}"
    postgres_server.execute(
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION)",
        f"INSERT INTO {name} VALUES (1, 'a', 1), (2, 'b', 2)",
    )
    config = pw.persistence.Config(pw.persistence.Backend.filesystem(tmp_path / "state"))

    def run_until(expected_changes: int) -> list:
        changes: list = []
        t = pw.io.postgres.read(postgres_server.settings, name, Item, publication_name=f"pub_{name}",
                                replication_slot_name=slot, name="items")
        pw.io.subscribe(t, lambda key, row, time, is_addition: changes.append((row["id"], row["name"], is_addition)))
        thread = run_in_background(persistence_config=config)
        wait_for(lambda: len(changes) >= expected_changes)
        time.sleep(0.5)  # nothing more comes
        stop(thread)
        return sorted(changes)

    assert run_until(2) == [(1, "a", True), (2, "b", True)]
    # While the pipeline is down: the restarted one hears exactly these, not a new snapshot.
    postgres_server.execute(f"DELETE FROM {name} WHERE id = 2", f"UPDATE {name} SET name = 'A' WHERE id = 1",
                            f"INSERT INTO {name} VALUES (3, 'c', 3)")
    assert run_until(4) == [(1, "A", True), (1, "a", False), (2, "b", False), (3, "c", True)]
    # The slot is dropped while the pipeline is down: the table is read again and compared with
    # the restored rows, so the restarted pipeline still hears only what changed.
    postgres_server.execute(f"SELECT pg_drop_replication_slot('{slot}')", f"DELETE FROM {name} WHERE id = 3",
                            f"INSERT INTO {name} VALUES (4, 'd', 4)")
    assert run_until(2) == [(3, "c", False), (4, "d", True)]
    postgres_server.execute(f"SELECT pg_drop_replication_slot('{slot}')")


def test_read_errors(postgres_server):
    name = postgres_server.unique_name("read_errors")
    postgres_server.execute(
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score TEXT)",
        f"INSERT INTO {name} VALUES (1, 'a', '1.5'), (2, 'b', 'not a number'), (3, 'c', NULL)",
    )
    s = postgres_server.settings
    with pytest.raises(ValueError, match="'publication_name' is required for the streaming mode"):
        pw.io.postgres.read(s, name, Item)
    with pytest.raises(ValueError, match="'publication_name' is not needed for the static mode"):
        pw.io.postgres.read(s, name, Item, mode="static", publication_name="p")

    class NoKey(pw.Schema):
        id: int
        name: str

    with pytest.raises(ValueError, match="the schema needs a primary key"):
        pw.io.postgres.read(s, name, NoKey, publication_name="p")
    # A value that does not read as its column's type goes to the error log; the rest is read.
    t = pw.io.postgres.read(s, name, Item, mode="static")
    streams = pw.debug._capture([t, pw.global_error_log()], terminate_on_error=False)
    assert sorted(v for _, v, _, _ in streams[0]) == [(1, "a", 1.5), (3, "c", None)]
    [message] = [v[1] for _, v, _, _ in streams[1]]
    assert f"table public.{name}, column score: cannot read 'not a number' as float" in message

    class Missing(pw.Schema):
        id: int = pw.column_definition(primary_key=True)
        nope: str

    t = pw.io.postgres.read(s, name, Missing, mode="static")
    with pytest.raises(Exception, match=f"the table public.{name} has no column nope"):
        pw.debug.table_to_pandas(t)
    t = pw.io.postgres.read(s, "no_such_table", Missing, mode="static")
    with pytest.raises(Exception, match="the table public.no_such_table does not exist"):
        pw.debug.table_to_pandas(t)


def test_types_round_trip_through_a_table(postgres_server):
    # Written by pw.io.postgres.write into the table it creates, read back by pw.io.postgres.read:
    # every value as it was (date-times to the microsecond, as PostgreSQL keeps them).
    name = postgres_server.unique_name("round_trip")

    class Everything(pw.Schema):
        k: int = pw.column_definition(primary_key=True)
        f: float
        b: bool
        s: str
        o: str | None
        by: bytes
        j: pw.Json
        naive: pw.DateTimeNaive
        utc: pw.DateTimeUtc
        dur: pw.Duration
        ints: list[int]
        words: list[str]

    rows = [
        (1, 1.5, True, "a\tb\nc\\d'e\"f", None, b"\x00\x01'\\", {"x": [1, None, "y"]},
         datetime.datetime(2024, 2, 29, 23, 59, 59, 123456), datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone.utc),
         datetime.timedelta(days=-1, microseconds=5), [1, -2, 3], ["p q", "{r}", 's"t']),
        (2, -0.0, False, "", "ok", b"", [], datetime.datetime(1969, 12, 31, 23, 59, 59),
         datetime.datetime(2000, 6, 1, tzinfo=datetime.timezone.utc), datetime.timedelta(0), [], []),
    ]
    t = pw.debug.table_from_rows(
        pw.schema_from_types(k=int, f=float, b=bool, s=str, o=str | None, by=bytes, j=pw.Json,
                             naive=pw.DateTimeNaive, utc=pw.DateTimeUtc, dur=pw.Duration, ints=list[int], words=list[str]),
        [tuple(pw.Json(v) if i == 6 else v for i, v in enumerate(r)) for r in rows],
    )
    # One row per time, and a batch larger than the one-query form: both text paths.
    pw.io.postgres.write(t, postgres_server.settings, name, init_mode="replace", output_table_type="snapshot", primary_key=[t.k])
    pw.run()
    back = pw.debug.table_to_pandas(pw.io.postgres.read(postgres_server.settings, name, Everything, mode="static"))
    got = sorted(back.to_dict("records"), key=lambda r: r["k"])
    for row, expected in zip(got, rows):
        values = [row[c] for c in ["k", "f", "b", "s", "o", "by", "j", "naive", "utc", "dur", "ints", "words"]]
        values[6] = values[6].value
        values[7] = values[7].to_pydatetime()
        values[8] = values[8].to_pydatetime()
        values[9] = values[9].to_pytimedelta()
        values[10], values[11] = list(values[10]), list(values[11])
        assert values == list(expected)


def test_a_server_restart_while_reading_resumes_a_named_slot(postgres_server):
    name = postgres_server.unique_name("read_restart")
    slot = f"slot_{name}"
    postgres_server.execute(
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION)",
        f"INSERT INTO {name} VALUES (1, 'a', 1), (2, 'b', 2)",
    )
    t = pw.io.postgres.read(postgres_server.settings, name, Item, publication_name=f"pub_{name}", replication_slot_name=slot)
    recorder = Recorder(t)
    thread = run_in_background()
    try:
        wait_for(lambda: recorder.state() == table_state(postgres_server, name))
        postgres_server.execute(f"INSERT INTO {name} VALUES (3, 'c', 3)")
        wait_for(lambda: recorder.state() == table_state(postgres_server, name))
        postgres_server.restart()
        # Changes after the restart arrive once, through the same slot, and nothing before twice.
        postgres_server.execute(f"UPDATE {name} SET name = 'B' WHERE id = 2", f"INSERT INTO {name} VALUES (4, 'd', NULL)")
        wait_for(lambda: recorder.state() == table_state(postgres_server, name), timeout=60)
        postgres_server.execute(f"DELETE FROM {name} WHERE id = 1")
        wait_for(lambda: recorder.state() == table_state(postgres_server, name))
    finally:
        stop(thread)
    postgres_server.execute(f"SELECT pg_drop_replication_slot('{slot}')")
