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
