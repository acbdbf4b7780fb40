"""Event-time windows and behaviours as Pathway documents them: tumbling/sliding windows
(ints, floats, datetimes, origins, instances), delay/cutoff/keep_results, exactly-once, and
the gates they are built from (buffer, forget, ignore_late); a property compares windowed
aggregates with plain Python over random input, and incremental with recomputed output."""

from __future__ import annotations

import datetime
import textwrap
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaflow as pw
from deltaflow.testing import T


def printed(capsys, *tables, **kwargs):
    pw.debug.compute_and_print(*tables, **kwargs)
    return capsys.readouterr().out


def stream(capsys, table, **kwargs):
    pw.debug.compute_and_print_update_stream(table, include_id=False, **kwargs)
    return capsys.readouterr().out


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def shards():
    return T(
        """
           | shard | t  | v
         1 | 0     | 12 | 1
         2 | 0     | 13 | 2
         3 | 0     | 14 | 3
         4 | 0     | 15 | 4
         5 | 0     | 16 | 5
         6 | 0     | 17 | 6
         7 | 1     | 12 | 7
         8 | 1     | 13 | 8
        """
    )


def test_tumbling_with_instance_ids_and_columns(capsys):
    t = shards()
    r = t.windowby(t.t, window=pw.temporal.tumbling(duration=5), instance=t.shard).reduce(
        pw.this._pw_window,
        pw.this._pw_window_start,
        pw.this._pw_window_end,
        pw.this._pw_instance,
        min_t=pw.reducers.min(pw.this.t),
        s=pw.reducers.sum(pw.this.v),
    )
    assert printed(capsys, r) == dedent(
        """
                    | _pw_window  | _pw_window_start | _pw_window_end | _pw_instance | min_t | s
        ^X1MP431... | (0, 10, 15) | 10               | 15             | 0            | 12    | 6
        ^X1MT715... | (0, 15, 20) | 15               | 20             | 0            | 15    | 15
        ^YYY5QPV... | (1, 10, 15) | 10               | 15             | 1            | 12    | 15
        """
    )


def test_sliding_windows(capsys):
    t = shards()
    r = t.windowby(t.t, window=pw.temporal.sliding(duration=10, hop=3)).reduce(
        pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count(), s=pw.reducers.sum(pw.this.v)
    )
    assert printed(capsys, r) == dedent(
        """
                    | _pw_window_start | _pw_window_end | c | s
        ^Q66TCD4... | 3                | 13             | 2 | 8
        ^7CYCKAA... | 6                | 16             | 6 | 25
        ^93Q9EH3... | 9                | 19             | 8 | 36
        ^5A4CZST... | 12               | 22             | 8 | 36
        ^0W5KWKF... | 15               | 25             | 3 | 15
        """
    )
    # ratio instead of duration; no window starts before the origin.
    r = t.windowby(t.t, window=pw.temporal.sliding(hop=3, ratio=2, origin=11)).reduce(
        pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count()
    )
    assert printed(capsys, r, include_id=False) == dedent(
        """
        _pw_window_start | _pw_window_end | c
        11               | 17             | 7
        14               | 20             | 4
        17               | 23             | 1
        """
    )


def test_origins_gaps_negative_and_float_times(capsys):
    t = T(
        """
           | t
         1 | -7
         2 | 0
         3 | 3
         4 | 12
        """
    )

    def windows(window):
        r = t.windowby(t.t, window=window).reduce(
            pw.this._pw_window, c=pw.reducers.count(), ts=pw.reducers.sorted_tuple(pw.this.t)
        )
        return printed(capsys, r, include_id=False)

    # Rows before the origin are in no window.
    assert windows(pw.temporal.tumbling(duration=5, origin=1)) == dedent(
        """
        _pw_window     | c | ts
        (None, 1, 6)   | 1 | (3,)
        (None, 11, 16) | 1 | (12,)
        """
    )
    # A hop longer than the duration leaves gaps.
    assert windows(pw.temporal.sliding(hop=5, duration=3)) == dedent(
        """
        _pw_window     | c | ts
        (None, 0, 3)   | 1 | (0,)
        (None, 10, 13) | 1 | (12,)
        """
    )
    assert windows(pw.temporal.tumbling(duration=4)) == dedent(
        """
        _pw_window     | c | ts
        (None, -8, -4) | 1 | (-7,)
        (None, 0, 4)   | 2 | (0, 3)
        (None, 12, 16) | 1 | (12,)
        """
    )
    f = T(
        """
           | t
         1 | -7.5
         2 | 0.25
         3 | 3.0
        """
    )
    r = f.windowby(f.t, window=pw.temporal.sliding(hop=1.5, duration=3.0)).reduce(
        pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count()
    )
    assert printed(capsys, r, include_id=False) == dedent(
        """
        _pw_window_start | _pw_window_end | c
        -9.0             | -6.0           | 1
        -7.5             | -4.5           | 1
        -1.5             | 1.5            | 1
        0.0              | 3.0            | 1
        1.5              | 4.5            | 1
        3.0              | 6.0            | 1
        """
    )


def test_datetime_windows(capsys):
    t = T(
        """
           | t
         1 | 2023-06-22T09:12:34
         2 | 2023-06-22T09:23:56
         3 | 2023-06-22T10:45:20
        """
    ).select(t=pw.this.t.dt.strptime("%Y-%m-%dT%H:%M:%S"))
    r = t.windowby(t.t, window=pw.temporal.tumbling(duration=datetime.timedelta(minutes=30))).reduce(
        pw.this._pw_window, pw.this._pw_window_start, c=pw.reducers.count()
    )
    assert printed(capsys, r, include_id=False) == dedent(
        """
        _pw_window                                                                 | _pw_window_start    | c
        (None, Timestamp('2023-06-22 09:00:00'), Timestamp('2023-06-22 09:30:00')) | 2023-06-22 09:00:00 | 2
        (None, Timestamp('2023-06-22 10:30:00'), Timestamp('2023-06-22 11:00:00')) | 2023-06-22 10:30:00 | 1
        """
    )
    r = t.windowby(
        t.t,
        window=pw.temporal.sliding(
            hop=datetime.timedelta(minutes=30), duration=datetime.timedelta(hours=1), origin=datetime.datetime(2023, 6, 22, 9, 5)
        ),
    ).reduce(pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count())
    assert printed(capsys, r, include_id=False) == dedent(
        """
        _pw_window_start    | _pw_window_end      | c
        2023-06-22 09:05:00 | 2023-06-22 10:05:00 | 2
        2023-06-22 10:05:00 | 2023-06-22 11:05:00 | 1
        2023-06-22 10:35:00 | 2023-06-22 11:35:00 | 1
        """
    )


def test_window_argument_errors():
    t = shards()
    with pytest.raises(ValueError, match="exactly one of duration and ratio"):
        pw.temporal.sliding(hop=2)
    with pytest.raises(ValueError, match="positive"):
        pw.temporal.tumbling(duration=0)
    with pytest.raises(TypeError, match="timedelta"):
        t.windowby(t.t, window=pw.temporal.tumbling(duration=datetime.timedelta(seconds=5)))
    with pytest.raises(TypeError, match="window time"):
        t.select(s=pw.this.t.to_string()).windowby(pw.this.s, window=pw.temporal.tumbling(duration=5))


# --- behaviours ------------------------------------------------------------------------


def late_events():
    return T(
        """
           | t  | v | __time__
         1 | 1  | 1 | 2
         2 | 4  | 2 | 4
         3 | 12 | 3 | 6
         4 | 3  | 4 | 8
         5 | 17 | 5 | 10
         6 | 2  | 6 | 12
         7 | 25 | 7 | 14
         8 | 8  | 8 | 16
        """
    )


def windowed(behavior):
    t = late_events()
    return t.windowby(t.t, window=pw.temporal.tumbling(duration=5), behavior=behavior).reduce(
        pw.this._pw_window_start, c=pw.reducers.count(), s=pw.reducers.sum(pw.this.v)
    )


END = "18446744073709551614"  # buffered results leave when the input ends


def test_no_behavior_updates_every_window(capsys):
    assert stream(capsys, windowed(None)) == dedent(
        """
        _pw_window_start | c | s  | __time__ | __diff__
        0                | 1 | 1  | 2        | 1
        0                | 1 | 1  | 4        | -1
        0                | 2 | 3  | 4        | 1
        10               | 1 | 3  | 6        | 1
        0                | 2 | 3  | 8        | -1
        0                | 3 | 7  | 8        | 1
        15               | 1 | 5  | 10       | 1
        0                | 3 | 7  | 12       | -1
        0                | 4 | 13 | 12       | 1
        25               | 1 | 7  | 14       | 1
        5                | 1 | 8  | 16       | 1
        """
    )


def test_delay_holds_windows_until_the_watermark_passes_start_plus_delay(capsys):
    assert stream(capsys, windowed(pw.temporal.common_behavior(delay=4))) == dedent(
        f"""
        _pw_window_start | c | s  | __time__             | __diff__
        0                | 2 | 3  | 4                    | 1
        0                | 2 | 3  | 8                    | -1
        0                | 3 | 7  | 8                    | 1
        10               | 1 | 3  | 10                   | 1
        0                | 3 | 7  | 12                   | -1
        0                | 4 | 13 | 12                   | 1
        15               | 1 | 5  | 14                   | 1
        5                | 1 | 8  | 16                   | 1
        25               | 1 | 7  | {END} | 1
        """
    )


def test_cutoff_ignores_late_rows_and_keep_results_false_forgets(capsys):
    assert stream(capsys, windowed(pw.temporal.common_behavior(cutoff=2))) == dedent(
        """
        _pw_window_start | c | s | __time__ | __diff__
        0                | 1 | 1 | 2        | 1
        0                | 1 | 1 | 4        | -1
        0                | 2 | 3 | 4        | 1
        10               | 1 | 3 | 6        | 1
        15               | 1 | 5 | 10       | 1
        25               | 1 | 7 | 14       | 1
        """
    )
    assert stream(capsys, windowed(pw.temporal.common_behavior(cutoff=2, keep_results=False))) == dedent(
        """
        _pw_window_start | c | s | __time__ | __diff__
        0                | 1 | 1 | 2        | 1
        0                | 1 | 1 | 4        | -1
        0                | 2 | 3 | 4        | 1
        10               | 1 | 3 | 6        | 1
        0                | 2 | 3 | 10       | -1
        15               | 1 | 5 | 10       | 1
        10               | 1 | 3 | 14       | -1
        25               | 1 | 7 | 14       | 1
        """
    )


def test_exactly_once_emits_each_window_once(capsys):
    expected = dedent(
        f"""
        _pw_window_start | c | s | __time__             | __diff__
        0                | 2 | 3 | 6                    | 1
        10               | 1 | 3 | 10                   | 1
        15               | 1 | 5 | 14                   | 1
        25               | 1 | 7 | {END} | 1
        """
    )
    assert stream(capsys, windowed(pw.temporal.exactly_once_behavior())) == expected
    assert stream(capsys, windowed(pw.temporal.exactly_once_behavior(shift=2))) == expected
    assert stream(capsys, windowed(pw.temporal.common_behavior(delay=3, cutoff=5))) == expected.replace(
        "0                | 2 | 3 | 6  ", "0                | 2 | 3 | 4  "
    )


def test_cutoff_watermark_is_global_across_instances(capsys):
    t = T(
        """
           | k | t   | v | __time__
         1 | a | 1   | 1 | 2
         2 | b | 100 | 2 | 4
         3 | a | 2   | 3 | 6
         4 | a | 7   | 4 | 8
        """
    )
    r = t.windowby(t.t, window=pw.temporal.tumbling(duration=5), behavior=pw.temporal.common_behavior(cutoff=2), instance=t.k).reduce(
        pw.this._pw_instance, pw.this._pw_window_start, c=pw.reducers.count()
    )
    assert stream(capsys, r) == dedent(
        """
        _pw_instance | _pw_window_start | c | __time__ | __diff__
        a            | 0                | 1 | 2        | 1
        b            | 100              | 1 | 4        | 1
        """
    )


# --- gates -----------------------------------------------------------------------------


def gated():
    return T(
        """
           | t  | v | __time__
         1 | 1  | 1 | 2
         2 | 7  | 2 | 4
         3 | 3  | 3 | 6
         4 | 8  | 4 | 8
         5 | 4  | 5 | 10
         6 | 30 | 6 | 12
        """
    )


def test_forget_and_filter_out_results_of_forgetting(capsys):
    t = gated()
    assert stream(capsys, t.forget(t.t, 3)) == dedent(
        """
        t  | v | __time__ | __diff__
        1  | 1 | 2        | 1
        7  | 2 | 4        | 1
        1  | 1 | 6        | -1
        8  | 4 | 8        | 1
        30 | 6 | 12       | 1
        """
    )
    t = gated()
    marked = t.forget(t.t, 3, mark_forgetting_records=True)
    assert stream(capsys, marked) == dedent(
        """
        t  | v | __time__ | __diff__
        1  | 1 | 2        | 1
        7  | 2 | 4        | 1
        3  | 3 | 6        | 1
        1  | 1 | 7        | -1
        3  | 3 | 7        | -1
        8  | 4 | 8        | 1
        4  | 5 | 10       | 1
        4  | 5 | 11       | -1
        30 | 6 | 12       | 1
        """
    )
    assert stream(capsys, marked.filter_out_results_of_forgetting()) == dedent(
        """
        t  | v | __time__ | __diff__
        1  | 1 | 2        | 1
        7  | 2 | 4        | 1
        3  | 3 | 6        | 1
        8  | 4 | 8        | 1
        4  | 5 | 10       | 1
        30 | 6 | 12       | 1
        """
    )


def test_buffer_and_ignore_late(capsys):
    t = gated()
    assert stream(capsys, t.buffer(t.t, 3)) == dedent(
        f"""
        t  | v | __time__             | __diff__
        1  | 1 | 4                    | 1
        3  | 3 | 6                    | 1
        4  | 5 | 10                   | 1
        7  | 2 | 12                   | 1
        8  | 4 | 12                   | 1
        30 | 6 | {END} | 1
        """
    )
    t = gated()
    assert stream(capsys, t.ignore_late(t.t, 3)) == dedent(
        """
        t  | v | __time__ | __diff__
        1  | 1 | 2        | 1
        7  | 2 | 4        | 1
        8  | 4 | 8        | 1
        30 | 6 | 12       | 1
        """
    )


def _window_state(events: int) -> dict:
    """Peak state of a forgetting windowed pipeline over a stream of ``events`` events, as the
    engine reports it per operator."""
    from deltaflow.internals.run import last_run_state

    class Events(pw.Schema):
        t: int
        key: int

    class Stream(pw.io.python.ConnectorSubject):
        _deletions_enabled = False

        def run(self):
            for i in range(events):
                self.next(t=i, key=i % 10)
                if i % 500 == 499:
                    self.commit()
            self.commit()

    t = pw.io.python.read(Stream(), schema=Events, autocommit_duration_ms=None)
    w = t.windowby(
        t.t,
        window=pw.temporal.sliding(hop=100, duration=300),
        instance=t.key,
        behavior=pw.temporal.common_behavior(cutoff=100, keep_results=False),
    ).reduce(key=pw.this._pw_instance, n=pw.reducers.count())
    pw.io.null.write(w)
    pw.run()
    peaks: dict = {}
    for operation, _worker, _last, peak in last_run_state():
        kind = operation.split(" at ")[0]
        peaks[kind] = max(peaks.get(kind, 0), peak)
    return peaks


def test_forgetting_keeps_state_bounded():
    """A windowed stream with forgetting: the state the engine reports (groups of the
    group-by, rows held by the gates) does not grow with the length of the stream."""
    short, long = _window_state(5_000), _window_state(40_000)
    assert set(short) == set(long) and {"groupby/reduce", "forget", "ignore_late"} <= set(long)
    for kind in long:
        assert long[kind] <= short[kind] + 1_000, (kind, short, long)  # 8x the events, not 8x the state
    assert long["groupby/reduce"] < 1_000


# --- property: windowed aggregates against plain Python --------------------------------


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def python_windows(times, values, hop, duration, origin):
    result = defaultdict(list)
    for t, v in zip(times, values):
        k = (t - (origin or 0)) // hop
        while True:
            start = (origin or 0) + k * hop
            if start + duration <= t:
                break
            if start <= t and (origin is None or start >= origin):
                result[start].append(v)
            k -= 1
            if start < t - duration - hop:
                break
    return {s: (len(vs), sum(vs), min(vs)) for s, vs in result.items()}


@SETTINGS
@given(
    rows=st.lists(st.tuples(st.integers(-30, 30), st.integers(0, 9)), max_size=25),
    hop=st.integers(1, 6),
    extra=st.integers(0, 8),
    origin=st.one_of(st.none(), st.integers(-10, 10)),
)
def test_windowed_aggregates_match_python(rows, hop, extra, origin):
    duration = hop + extra - 3 if hop + extra > 3 else hop
    lines = ["   | t | v"] + [f"{i + 1} | {t} | {v}" for i, (t, v) in enumerate(rows)]
    table = T("\n".join(lines), schema=pw.schema_from_types(t=int, v=int))
    r = table.windowby(table.t, window=pw.temporal.sliding(hop=hop, duration=duration, origin=origin)).reduce(
        start=pw.this._pw_window_start, c=pw.reducers.count(), s=pw.reducers.sum(pw.this.v), m=pw.reducers.min(pw.this.v)
    )
    got = {row.start: (row.c, row.s, row.m) for row in pw.debug.table_to_pandas(r).itertuples()}
    assert got == python_windows([t for t, _ in rows], [v for _, v in rows], hop, duration, origin)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_windows_incremental_equals_recomputed(workers):
    from test_incremental_properties import check_incremental

    rows = [
        (1, (3, 1), 2, 1), (2, (4, 2), 2, 1), (3, (9, 3), 4, 1), (1, (3, 1), 4, -1),
        (1, (11, 5), 6, 1), (4, (0, 2), 6, 1), (2, (4, 2), 8, -1), (5, (7, 7), 8, 1),
    ]

    def build(t):
        return t.windowby(t.k, window=pw.temporal.sliding(hop=2, duration=5)).reduce(
            pw.this._pw_window_start, c=pw.reducers.count(), s=pw.reducers.sum(pw.this.v)
        )

    check_incremental(build, [rows], workers)


# --- sessions --------------------------------------------------------------------------


def test_session_windows_with_predicate_and_instance(capsys):
    t = T(
        """
            | instance |  t |  v
        1   | 0        |  1 |  10
        2   | 0        |  2 |  1
        3   | 0        |  4 |  3
        4   | 0        |  8 |  2
        5   | 0        |  9 |  4
        6   | 0        |  10|  8
        7   | 1        |  1 |  9
        8   | 1        |  2 |  16
        """
    )
    result = t.windowby(t.t, window=pw.temporal.session(predicate=lambda a, b: abs(a - b) <= 1), instance=t.instance).reduce(
        pw.this.instance, min_t=pw.reducers.min(pw.this.t), max_v=pw.reducers.max(pw.this.v), count=pw.reducers.count()
    )
    assert printed(capsys, result) == dedent(
        """
                    | instance | min_t | max_v | count
        ^X1MN4VZ... | 0        | 1     | 10    | 2
        ^X1MYC4C... | 0        | 4     | 3     | 1
        ^X1MJFEG... | 0        | 8     | 8     | 3
        ^YYY5FEJ... | 1        | 1     | 16    | 2
        """
    )


def test_session_window_ids_and_merging_stream(capsys):
    t = T(
        """
           | t  | v | __time__
         1 | 1  | 1 | 2
         2 | 2  | 2 | 4
         3 | 12 | 3 | 6
         4 | 3  | 4 | 8
         5 | 30 | 5 | 10
        """
    )
    r = t.windowby(t.t, window=pw.temporal.session(max_gap=3)).reduce(
        pw.this._pw_window, pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count()
    )
    pw.debug.compute_and_print_update_stream(r)
    assert capsys.readouterr().out == dedent(
        """
                    | _pw_window  | _pw_window_start | _pw_window_end | c | __time__ | __diff__
        ^3MBJ9FX... | ^YYY4HAB... | 1                | 1              | 1 | 2        | 1
        ^3MBJ9FX... | ^YYY4HAB... | 1                | 1              | 1 | 4        | -1
        ^293V0RC... | ^Z3QWT29... | 1                | 2              | 2 | 4        | 1
        ^DABHZ1D... | ^3CZ78B4... | 12               | 12             | 1 | 6        | 1
        ^293V0RC... | ^Z3QWT29... | 1                | 2              | 2 | 8        | -1
        ^PWEY1RN... | ^3HN31E1... | 1                | 3              | 3 | 8        | 1
        ^5YBAHZ4... | ^3S2X6B2... | 30               | 30             | 1 | 10       | 1
        """
    )


def test_session_datetimes_stream(capsys):
    u = T(
        """
           | t                   | __time__
         1 | 2023-06-22T09:12:34 | 2
         2 | 2023-06-22T09:23:56 | 4
         3 | 2023-06-22T09:15:20 | 6
         4 | 2023-06-22T10:15:20 | 6
        """
    ).select(t=pw.this.t.dt.strptime("%Y-%m-%dT%H:%M:%S"))
    r = u.windowby(u.t, window=pw.temporal.session(max_gap=datetime.timedelta(minutes=10))).reduce(
        pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count()
    )
    pw.debug.compute_and_print_update_stream(r)
    assert capsys.readouterr().out == dedent(
        """
                    | _pw_window_start    | _pw_window_end      | c | __time__ | __diff__
        ^ZVFMNZ0... | 2023-06-22 09:12:34 | 2023-06-22 09:12:34 | 1 | 2        | 1
        ^4A80H5K... | 2023-06-22 09:23:56 | 2023-06-22 09:23:56 | 1 | 4        | 1
        ^ZVFMNZ0... | 2023-06-22 09:12:34 | 2023-06-22 09:12:34 | 1 | 6        | -1
        ^4A80H5K... | 2023-06-22 09:23:56 | 2023-06-22 09:23:56 | 1 | 6        | -1
        ^PQ01FH2... | 2023-06-22 09:12:34 | 2023-06-22 09:23:56 | 3 | 6        | 1
        ^X9NAGEK... | 2023-06-22 10:15:20 | 2023-06-22 10:15:20 | 1 | 6        | 1
        """
    )


def python_sessions(rows, gap):
    """(instance, start) -> count, by sorting each instance's times."""
    by_instance = defaultdict(list)
    for k, t in rows:
        by_instance[k].append(t)
    result = {}
    for k, times in by_instance.items():
        times.sort()
        start, count = times[0], 1
        for prev, cur in zip(times, times[1:]):
            if cur - prev < gap:
                count += 1
            else:
                result[(k, start)] = count
                start, count = cur, 1
        result[(k, start)] = count
    return result


@SETTINGS
@given(rows=st.lists(st.tuples(st.integers(0, 2), st.integers(-20, 20)), max_size=25), gap=st.integers(1, 5))
def test_sessions_match_python(rows, gap):
    lines = ["   | k | t"] + [f"{i + 1} | {k} | {t}" for i, (k, t) in enumerate(rows)]
    table = T("\n".join(lines), schema=pw.schema_from_types(k=int, t=int))
    r = table.windowby(table.t, window=pw.temporal.session(max_gap=gap), instance=table.k).reduce(
        k=pw.this._pw_instance, start=pw.this._pw_window_start, c=pw.reducers.count()
    )
    got = {(row.k, row.start): row.c for row in pw.debug.table_to_pandas(r).itertuples()}
    assert got == python_sessions(rows, gap)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_sessions_incremental_equals_recomputed(workers):
    from test_incremental_properties import check_incremental

    rows = [
        (1, (3, 1), 2, 1), (2, (4, 2), 2, 1), (3, (9, 3), 4, 1), (1, (3, 1), 4, -1),
        (1, (6, 5), 6, 1), (4, (0, 2), 6, 1), (2, (4, 2), 8, -1), (5, (7, 7), 8, 1), (6, (5, 1), 8, 1),
    ]

    def build(t):
        return t.windowby(t.k, window=pw.temporal.session(max_gap=2), instance=t.v % 2).reduce(
            pw.this._pw_window_start, pw.this._pw_window_end, c=pw.reducers.count(), s=pw.reducers.sum(pw.this.v)
        )

    check_incremental(build, [rows], workers)


# --- temporal joins --------------------------------------------------------------------


def join_sides():
    t1 = T(
        """
            | a | t
          0 | 1 | 3
          1 | 1 | 4
          2 | 1 | 5
          3 | 1 | 11
          4 | 2 | 2
        """
    )
    t2 = T(
        """
            | b | t
          0 | 1 | 0
          1 | 1 | 1
          2 | 1 | 4
          3 | 1 | 7
          4 | 3 | 2
        """
    )
    return t1, t2


def test_interval_joins(capsys):
    t1, t2 = join_sides()
    r = t1.interval_join(t2, t1.t, t2.t, pw.temporal.interval(-2, 1)).select(
        t1.a, left_t=t1.t, right_t=t2.t, lid=pw.left.id, rid=pw.right.id
    )
    assert printed(capsys, r, include_id=False) == dedent(
        """
        a | left_t | right_t | lid         | rid
        1 | 3      | 1       | ^X1MXHYY... | ^YYY4HAB...
        1 | 3      | 2       | ^X1MXHYY... | ^3HN31E1...
        1 | 3      | 4       | ^X1MXHYY... | ^Z3QWT29...
        1 | 4      | 2       | ^YYY4HAB... | ^3HN31E1...
        1 | 4      | 4       | ^YYY4HAB... | ^Z3QWT29...
        1 | 5      | 4       | ^Z3QWT29... | ^Z3QWT29...
        2 | 2      | 0       | ^3HN31E1... | ^X1MXHYY...
        2 | 2      | 1       | ^3HN31E1... | ^YYY4HAB...
        2 | 2      | 2       | ^3HN31E1... | ^3HN31E1...
        """
    )
    r = t1.interval_join_left(t2, t1.t, t2.t, pw.temporal.interval(-2, 1), t1.a == t2.b).select(t1.a, left_t=t1.t, right_t=t2.t)
    assert printed(capsys, r, include_id=False) == dedent(
        """
        a | left_t | right_t
        1 | 3      | 1
        1 | 3      | 4
        1 | 4      | 4
        1 | 5      | 4
        1 | 11     |
        2 | 2      |
        """
    )
    r = t1.interval_join_outer(t2, t1.t, t2.t, pw.temporal.interval(-2, 1), t1.a == t2.b).select(t1.a, t2.b, left_t=t1.t, right_t=t2.t)
    assert printed(capsys, r, include_id=False) == dedent(
        """
        a | b | left_t | right_t
          | 1 |        | 0
          | 1 |        | 7
          | 3 |        | 2
        1 |   | 11     |
        1 | 1 | 3      | 1
        1 | 1 | 3      | 4
        1 | 1 | 4      | 4
        1 | 1 | 5      | 4
        2 |   | 2      |
        """
    )
    r = t1.interval_join_right(t2, t1.t, t2.t, pw.temporal.interval(0, 0)).select(left_t=t1.t, right_t=t2.t)
    assert printed(capsys, r, include_id=False) == dedent(
        """
        left_t | right_t
               | 0
               | 1
               | 7
        2      | 2
        4      | 4
        """
    )


def test_window_joins(capsys):
    t1, t2 = join_sides()
    r = t1.window_join(t2, t1.t, t2.t, pw.temporal.tumbling(2)).select(left_t=t1.t, right_t=t2.t)
    assert printed(capsys, r, include_id=False) == dedent(
        """
        left_t | right_t
        2      | 2
        3      | 2
        4      | 4
        5      | 4
        """
    )
    r = t1.window_join_outer(t2, t1.t, t2.t, pw.temporal.tumbling(3), t1.a == t2.b).select(left_t=t1.t, right_t=t2.t)
    assert printed(capsys, r, include_id=False) == dedent(
        """
        left_t | right_t
               | 0
               | 1
               | 2
               | 7
        2      |
        3      | 4
        4      | 4
        5      | 4
        11     |
        """
    )


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_interval_join_incremental_equals_recomputed(workers):
    from test_incremental_properties import check_incremental

    left = [(1, (3, 1), 2, 1), (2, (5, 0), 2, 1), (3, (9, 1), 4, 1), (1, (3, 1), 6, -1), (4, (6, 1), 6, 1)]
    right = [(1, (4, 1), 2, 1), (2, (8, 1), 4, 1), (3, (5, 0), 4, 1), (2, (8, 1), 6, -1), (5, (10, 1), 8, 1)]

    def build(a, b):
        return a.interval_join_outer(b, a.k, b.k, pw.temporal.interval(-1, 2), a.v == b.v).select(
            lk=pw.left.k, rk=pw.right.k, v=pw.left.v
        )

    check_incremental(build, [left, right], workers, with_index=False)


# --- as-of joins -----------------------------------------------------------------------


def asof_sides():
    t1 = T(
        """
            | K | val |  t
        1   | 0 | 1   |  1
        2   | 0 | 2   |  4
        3   | 0 | 3   |  5
        4   | 0 | 4   |  6
        5   | 0 | 5   |  7
        6   | 0 | 6   |  11
        7   | 0 | 7   |  12
        8   | 1 | 8   |  5
        9   | 1 | 9   |  7
        """
    )
    t2 = T(
        """
             | K | val | t
        21   | 1 | 7  | 2
        22   | 1 | 3  | 8
        23   | 0 | 0  | 2
        24   | 0 | 6  | 3
        25   | 0 | 2  | 7
        26   | 0 | 3  | 8
        27   | 0 | 9  | 9
        28   | 0 | 7  | 13
        29   | 0 | 4  | 14
        """
    )
    return t1, t2


ASOF_CASES = [
    (pw.JoinMode.LEFT, pw.temporal.Direction.BACKWARD, """
        instance | t  | lt | rt | val_left | val_right
        0        | 1  | 1  |    | 1        | -1
        0        | 4  | 4  | 3  | 2        | 6
        0        | 5  | 5  | 3  | 3        | 6
        0        | 6  | 6  | 3  | 4        | 6
        0        | 7  | 7  | 7  | 5        | 2
        0        | 11 | 11 | 9  | 6        | 9
        0        | 12 | 12 | 9  | 7        | 9
        1        | 5  | 5  | 2  | 8        | 7
        1        | 7  | 7  | 2  | 9        | 7
        """),
    (pw.JoinMode.RIGHT, pw.temporal.Direction.FORWARD, """
        instance | t  | lt | rt | val_left | val_right
        0        | 2  | 4  | 2  | 2        | 0
        0        | 3  | 4  | 3  | 2        | 6
        0        | 7  | 7  | 7  | 5        | 2
        0        | 8  | 11 | 8  | 6        | 3
        0        | 9  | 11 | 9  | 6        | 9
        0        | 13 |    | 13 |          | 7
        0        | 14 |    | 14 |          | 4
        1        | 2  | 5  | 2  | 8        | 7
        1        | 8  |    | 8  |          | 3
        """),
    (pw.JoinMode.OUTER, pw.temporal.Direction.BACKWARD, """
        instance | t  | lt | rt | val_left | val_right
        0        | 1  | 1  |    | 1        | -1
        0        | 2  | 1  | 2  | 1        | 0
        0        | 3  | 1  | 3  | 1        | 6
        0        | 4  | 4  | 3  | 2        | 6
        0        | 5  | 5  | 3  | 3        | 6
        0        | 6  | 6  | 3  | 4        | 6
        0        | 7  | 7  | 3  | 5        | 6
        0        | 7  | 7  | 7  | 5        | 2
        0        | 8  | 7  | 8  | 5        | 3
        0        | 9  | 7  | 9  | 5        | 9
        0        | 11 | 11 | 9  | 6        | 9
        0        | 12 | 12 | 9  | 7        | 9
        0        | 13 | 12 | 13 | 7        | 7
        0        | 14 | 12 | 14 | 7        | 4
        1        | 2  |    | 2  |          | 7
        1        | 5  | 5  | 2  | 8        | 7
        1        | 7  | 7  | 2  | 9        | 7
        1        | 8  | 7  | 8  | 9        | 3
        """),
    (pw.JoinMode.OUTER, pw.temporal.Direction.NEAREST, """
        instance | t  | lt | rt | val_left | val_right
        0        | 1  | 1  | 2  | 1        | 0
        0        | 2  | 1  | 2  | 1        | 0
        0        | 3  | 4  | 3  | 2        | 6
        0        | 4  | 4  | 3  | 2        | 6
        0        | 5  | 5  | 7  | 3        | 2
        0        | 6  | 6  | 7  | 4        | 2
        0        | 7  | 7  | 7  | 5        | 2
        0        | 7  | 7  | 7  | 5        | 2
        0        | 8  | 7  | 8  | 5        | 3
        0        | 9  | 11 | 9  | 6        | 9
        0        | 11 | 11 | 13 | 6        | 7
        0        | 12 | 12 | 13 | 7        | 7
        0        | 13 | 12 | 13 | 7        | 7
        0        | 14 | 12 | 14 | 7        | 4
        1        | 2  | 5  | 2  | 8        | 7
        1        | 5  | 5  | 8  | 8        | 3
        1        | 7  | 7  | 8  | 9        | 3
        1        | 8  | 7  | 8  | 9        | 3
        """),
]


@pytest.mark.parametrize("how,direction,expected", ASOF_CASES)
def test_asof_join_modes_and_directions(capsys, how, direction, expected):
    t1, t2 = asof_sides()
    res = t1.asof_join(t2, t1.t, t2.t, t1.K == t2.K, how=how, direction=direction, defaults={t2.val: -1}).select(
        pw.this.instance, pw.this.t, lt=t1.t, rt=t2.t, val_left=t1.val, val_right=t2.val
    )
    assert printed(capsys, res, include_id=False) == dedent(expected)


def test_asof_join_behaviors(capsys):
    def sides():
        t1 = T(
            """
            value | event_time | __time__
              2   |      2     |     4
              3   |      5     |     6
              4   |      1     |     8
              5   |      7     |    14
            """
        )
        t2 = T(
            """
            value | event_time | __time__
              42  |      1     |     2
               8  |      4     |    10
            """
        )
        return t1, t2

    outputs = []
    for behavior in (
        pw.temporal.common_behavior(cutoff=2),
        pw.temporal.common_behavior(cutoff=2, keep_results=False),
        pw.temporal.common_behavior(delay=2),
    ):
        t1, t2 = sides()
        r = t1.asof_join(t2, t1.event_time, t2.event_time, how=pw.JoinMode.LEFT, behavior=behavior).select(
            left_value=t1.value, right_value=t2.value, left_time=t1.event_time, right_time=t2.event_time
        )
        outputs.append("== " + repr(behavior) + "\n" + stream(capsys, r))
    assert "".join(outputs) == dedent(
        """
        == CommonBehavior(delay=None, cutoff=2, keep_results=True)
        left_value | right_value | left_time | right_time | __time__ | __diff__
        2          | 42          | 2         | 1          | 4        | 1
        3          | 42          | 5         | 1          | 6        | 1
        3          | 42          | 5         | 1          | 10       | -1
        3          | 8           | 5         | 4          | 10       | 1
        5          | 8           | 7         | 4          | 14       | 1
        == CommonBehavior(delay=None, cutoff=2, keep_results=False)
        left_value | right_value | left_time | right_time | __time__ | __diff__
        2          | 42          | 2         | 1          | 4        | 1
        3          | 42          | 5         | 1          | 6        | 1
        3          | 42          | 5         | 1          | 10       | -1
        3          | 8           | 5         | 4          | 10       | 1
        2          | 42          | 2         | 1          | 14       | -1
        5          | 8           | 7         | 4          | 14       | 1
        == CommonBehavior(delay=2, cutoff=None, keep_results=True)
        left_value | right_value | left_time | right_time | __time__             | __diff__
        2          |             | 2         |            | 6                    | 1
        4          |             | 1         |            | 8                    | 1
        2          |             | 2         |            | 10                   | -1
        4          |             | 1         |            | 10                   | -1
        2          | 42          | 2         | 1          | 10                   | 1
        4          | 42          | 1         | 1          | 10                   | 1
        3          | 42          | 5         | 1          | 14                   | 1
        3          | 42          | 5         | 1          | 18446744073709551614 | -1
        3          | 8           | 5         | 4          | 18446744073709551614 | 1
        5          | 8           | 7         | 4          | 18446744073709551614 | 1
        """
    )


def test_asof_now_join(capsys):
    data = T(
        """
        id | value | instance | __time__ | __diff__
         2 |   4   |    1     |     4    |     1
         2 |   4   |    1     |    10    |    -1
         5 |   5   |    1     |    10    |     1
         7 |   2   |    2     |    14    |     1
         7 |   2   |    2     |    22    |    -1
        11 |   3   |    2     |    26    |     1
         5 |   5   |    1     |    30    |    -1
        14 |   9   |    1     |    32    |     1
        """
    )
    queries = T(
        """
        value | instance | __time__
          1   |    1     |     2
          2   |    1     |     6
          4   |    1     |    12
          5   |    2     |    16
         10   |    1     |    26
         11   |    2     |    26
        """
    )
    left = queries.asof_now_join(data, pw.left.instance == pw.right.instance, how=pw.JoinMode.LEFT).select(
        query=pw.left.value, ans=pw.right.value
    )
    inner = queries.asof_now_join(data, pw.left.instance == pw.right.instance, id=pw.left.id).select(
        query=pw.left.value, ans=pw.right.value
    )
    assert stream(capsys, left) + stream(capsys, inner) == dedent(
        """
        query | ans | __time__ | __diff__
        1     |     | 2        | 1
        2     | 4   | 6        | 1
        4     | 5   | 12       | 1
        5     | 2   | 16       | 1
        10    | 5   | 26       | 1
        11    | 3   | 26       | 1
        query | ans | __time__ | __diff__
        2     | 4   | 6        | 1
        4     | 5   | 12       | 1
        5     | 2   | 16       | 1
        10    | 5   | 26       | 1
        11    | 3   | 26       | 1
        """
    )


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("how", [pw.JoinMode.LEFT, pw.JoinMode.OUTER])
@pytest.mark.parametrize("direction", [pw.temporal.Direction.BACKWARD, pw.temporal.Direction.NEAREST])
def test_asof_join_incremental_equals_recomputed(workers, how, direction):
    from test_incremental_properties import check_incremental

    left = [(1, (3, 1), 2, 1), (2, (5, 0), 2, 1), (3, (9, 1), 4, 1), (1, (3, 1), 6, -1), (4, (6, 1), 6, 1), (5, (2, 0), 8, 1)]
    right = [(1, (4, 1), 2, 1), (2, (8, 1), 4, 1), (3, (5, 0), 4, 1), (2, (8, 1), 6, -1), (5, (10, 1), 8, 1), (6, (1, 0), 8, 1)]

    def build(a, b):
        return a.asof_join(b, a.k, b.k, a.v == b.v, how=how, direction=direction).select(
            lk=pw.left.k, rk=pw.right.k, v=pw.this.instance, t=pw.this.t
        )

    check_incremental(build, [left, right], workers, with_index=False)


def test_intervals_over(capsys):
    t = T(
        """
            | t |  v
        1   | 1 |  10
        2   | 2 |  1
        3   | 4 |  3
        4   | 8 |  2
        5   | 9 |  4
        6   | 10|  8
        7   | 1 |  9
        8   | 2 |  16
        """
    )
    probes = T(
        """
           | t
         1 | 2
         2 | 4
         3 | 6
         4 | 8
         5 | 40
         6 | 4
        """
    )
    outputs = []
    for outer in (True, False):
        result = t.windowby(
            t.t, window=pw.temporal.intervals_over(at=probes.t, lower_bound=-2, upper_bound=1, is_outer=outer)
        ).reduce(
            pw.this._pw_window_location, pw.this._pw_window_start, pw.this._pw_window_end,
            v=pw.reducers.sorted_tuple(pw.this.v), c=pw.reducers.count(), m=pw.reducers.max(pw.this.v),
        )
        outputs.append(printed(capsys, result.select(*pw.this.without(pw.this.v), vs=pw.this.v.to_string()), include_id=False))
    # An empty window of an outer windowby holds one row of None.
    assert outputs == [
        dedent(
            """
            _pw_window_location | _pw_window_start | _pw_window_end | c | m  | vs
            2                   | 0                | 3              | 4 | 16 | (1, 9, 10, 16)
            4                   | 2                | 5              | 3 | 16 | (1, 3, 16)
            6                   | 4                | 7              | 1 | 3  | (3)
            8                   | 6                | 9              | 2 | 4  | (2, 4)
            40                  | 38               | 41             | 1 |    | (None)
            """
        ),
        dedent(
            """
            _pw_window_location | _pw_window_start | _pw_window_end | c | m  | vs
            2                   | 0                | 3              | 4 | 16 | (1, 9, 10, 16)
            4                   | 2                | 5              | 3 | 16 | (1, 3, 16)
            6                   | 4                | 7              | 1 | 3  | (3)
            8                   | 6                | 9              | 2 | 4  | (2, 4)
            """
        ),
    ]


# --- property: gates against a model of their documented semantics --------------------


def model_gate(kind, batches, threshold):
    """The changes a gate emits for append-only ``batches`` (time -> event times), as a
    Counter of (event time, time, diff)."""
    from collections import Counter

    out = Counter()
    watermark = None
    held = []  # buffer: waiting rows; forget: live rows
    end = 18446744073709551614
    for time in sorted(batches):
        rows = batches[time]
        if not rows:
            continue
        before = watermark
        if kind == "freeze":
            for t in rows:
                if before is None or t + threshold > before:
                    out[(t, time, 1)] += 1
        elif kind == "buffer":
            now = max([t for t in rows] + ([before] if before is not None else []))
            for t in held + rows:
                if t + threshold <= now:
                    out[(t, time, 1)] += 1
            held = [t for t in held + rows if t + threshold > now]
        else:  # forget
            for t in rows:
                out[(t, time, 1)] += 1
            live = held + rows
            if before is not None:
                for t in live:
                    if t + threshold <= before:
                        out[(t, time, -1)] += 1
                live = [t for t in live if t + threshold > before]
            held = live
        watermark = max([t for t in rows] + ([before] if before is not None else []))
    if kind == "buffer":
        for t in held:
            out[(t, end, 1)] += 1
    # Changes at one time cancel.
    for (t, time, diff) in list(out):
        if diff == 1 and (t, time, -1) in out:
            n = min(out[(t, time, 1)], out[(t, time, -1)])
            out[(t, time, 1)] -= n
            out[(t, time, -1)] -= n
    return +out


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("kind", ["freeze", "buffer", "forget"])
@SETTINGS
@given(
    batches=st.lists(st.lists(st.integers(0, 30), min_size=0, max_size=4), min_size=1, max_size=6),
    threshold=st.integers(0, 6),
)
def test_gates_match_model(workers, kind, batches, threshold):
    from collections import Counter

    from deltaflow.debug import _capture

    lines = ["   | t | __time__"]
    label = 0
    times = {}
    for i, batch in enumerate(batches):
        times[2 * (i + 1)] = batch
        for t in batch:
            label += 1
            lines.append(f"{label} | {t} | {2 * (i + 1)}")
    table = T("\n".join(lines), schema=pw.schema_from_types(t=int))
    gated = {"freeze": table.ignore_late, "buffer": table.buffer, "forget": table.forget}[kind](table.t, threshold)
    (captured,) = _capture([gated], threads=workers)
    got = Counter()
    for _key, values, time, diff in captured:
        got[(values[0], time, diff)] += 1
    assert +got == model_gate(kind, times, threshold)


def test_interval_join_behaviors(capsys):
    def mk():
        t1 = pw.debug.table_from_markdown('''
        value | event_time | __time__
          2   |      2     |     4
          3   |      5     |     6
          4   |      1     |     8
          5   |      7     |    14
    ''')
        t2 = pw.debug.table_from_markdown('''
        value | event_time | __time__
          42  |      1     |     2
           8  |      4     |    10
           9  |      6     |    12
    ''')
        return t1, t2
    for beh in [pw.temporal.common_behavior(cutoff=2), pw.temporal.common_behavior(cutoff=2, keep_results=False), pw.temporal.common_behavior(delay=2)]:
        t1, t2 = mk()
        r = t1.interval_join(t2, t1.event_time, t2.event_time, pw.temporal.interval(-2, 2), behavior=beh).select(
            left_value=t1.value, right_value=t2.value)
        print("==", beh)
        pw.debug.compute_and_print_update_stream(r, include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        == CommonBehavior(delay=None, cutoff=2, keep_results=True)
        left_value | right_value | __time__ | __diff__
        2          | 42          | 4        | 1
        2          | 8           | 10       | 1
        3          | 8           | 10       | 1
        3          | 9           | 12       | 1
        5          | 9           | 14       | 1
        == CommonBehavior(delay=None, cutoff=2, keep_results=False)
        left_value | right_value | __time__ | __diff__
        2          | 42          | 4        | 1
        2          | 8           | 10       | 1
        3          | 8           | 10       | 1
        2          | 42          | 12       | -1
        3          | 9           | 12       | 1
        2          | 8           | 14       | -1
        5          | 9           | 14       | 1
        == CommonBehavior(delay=2, cutoff=None, keep_results=True)
        left_value | right_value | __time__             | __diff__
        2          | 42          | 10                   | 1
        4          | 42          | 10                   | 1
        2          | 8           | 12                   | 1
        3          | 8           | 14                   | 1
        3          | 9           | 18446744073709551614 | 1
        5          | 9           | 18446744073709551614 | 1
        """
    )


def test_utc_now_is_a_live_clock():
    now = pw.temporal.utc_now(refresh_rate=datetime.timedelta(milliseconds=50))
    seen = []
    pw.io.subscribe(now, on_change=lambda key, row, time, is_addition: seen.append((row["timestamp_utc"], is_addition)))
    start = datetime.datetime.now(datetime.timezone.utc)
    pw.run(timeout=0.6)
    end = datetime.datetime.now(datetime.timezone.utc)
    added = [t for t, a in seen if a]
    assert len(added) >= 2  # refreshed while the run lasted
    assert added == sorted(added) and all(start <= t <= end for t in added)
    # One row at a time: each refresh replaces the previous time.
    assert sum(1 if a else -1 for _, a in seen) == 1


def test_window_join_sessions_and_sliding(capsys):
    t1 = pw.debug.table_from_markdown('''
          | t
        0 | 0
        1 | 5
        2 | 10
        3 | 15
        4 | 17
    ''')
    t2 = pw.debug.table_from_markdown('''
          | t
        0 | -3
        1 | 2
        2 | 3
        3 | 6
        4 | 16
    ''')
    t3 = t1.window_join(t2, t1.t, t2.t, pw.temporal.session(predicate=lambda a, b: abs(a - b) <= 2)).select(left_t=t1.t, right_t=t2.t)
    pw.debug.compute_and_print(t3, include_id=False)
    t1 = pw.debug.table_from_markdown('''
        | a | t
      1 | 1 | 1
      2 | 1 | 4
      3 | 1 | 7
      4 | 2 | 0
      5 | 2 | 3
      6 | 2 | 4
      7 | 2 | 7
      8 | 3 | 4
    ''')
    t2 = pw.debug.table_from_markdown('''
        | b | t
      1 | 1 | -1
      2 | 1 | 6
      3 | 2 | 2
      4 | 2 | 10
      5 | 4 | 3
    ''')
    t3 = t1.window_join(t2, t1.t, t2.t, pw.temporal.session(predicate=lambda a, b: abs(a - b) <= 2), t1.a == t2.b).select(key=t1.a, left_t=t1.t, right_t=t2.t)
    pw.debug.compute_and_print(t3, include_id=False)
    t3 = t1.window_join_outer(t2, t1.t, t2.t, pw.temporal.session(max_gap=2), t1.a == t2.b).select(key=t1.a, b=t2.b, left_t=t1.t, right_t=t2.t)
    pw.debug.compute_and_print(t3, include_id=False)
    t1 = pw.debug.table_from_markdown('''
        | t
      1 | 1
      2 | 2
      3 | 3
      4 | 7
      5 | 13
    ''')
    t2 = pw.debug.table_from_markdown('''
        | t
      1 | 2
      2 | 5
      3 | 6
      4 | 7
    ''')
    pw.debug.compute_and_print(t1.window_join(t2, t1.t, t2.t, pw.temporal.sliding(1, 2)).select(left_t=t1.t, right_t=t2.t), include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        left_t | right_t
        0      | 2
        0      | 3
        0      | 6
        5      | 2
        5      | 3
        5      | 6
        15     | 16
        17     | 16
        key | left_t | right_t
        1   | 1      | -1
        1   | 4      | 6
        1   | 7      | 6
        2   | 0      | 2
        2   | 3      | 2
        2   | 4      | 2
        key | b | left_t | right_t
            | 1 |        | -1
            | 2 |        | 10
            | 4 |        | 3
        1   |   | 1      |
        1   |   | 4      |
        1   | 1 | 7      | 6
        2   |   | 0      |
        2   |   | 7      |
        2   | 2 | 3      | 2
        2   | 2 | 4      | 2
        3   |   | 4      |
        left_t | right_t
        1      | 2
        2      | 2
        2      | 2
        3      | 2
        7      | 6
        7      | 7
        7      | 7
        """
    )


def _inactivity_periods(subject, schema, run_for):
    """The rows of inactivity_detection (allowed 0.3 s, checked every 50 ms) without and with
    ``instance=k`` over the subject's stream, as they are at the end of a run of ``run_for``
    seconds: two dicts by id."""
    t = pw.io.python.read(subject, schema=schema, autocommit_duration_ms=None)
    allowed, rate = datetime.timedelta(milliseconds=300), datetime.timedelta(milliseconds=50)
    plain = pw.temporal.inactivity_detection(t, allowed, refresh_rate=rate)
    per_key = pw.temporal.inactivity_detection(t, allowed, refresh_rate=rate, instance=t.k)
    states = [{}, {}]

    def keep(state):
        def on_change(key, row, time, is_addition):
            if is_addition:
                state[key] = row
            elif state.get(key) == row:
                del state[key]

        return on_change

    pw.io.subscribe(plain, on_change=keep(states[0]))
    pw.io.subscribe(per_key, on_change=keep(states[1]))
    pw.run(timeout=run_for)
    return states


def test_inactivity_detection():
    import time

    class S(pw.Schema):
        k: str
        v: int

    class Src(pw.io.python.ConnectorSubject):
        _deletions_enabled = False

        def run(self):
            time.sleep(0.2)
            self.next(k="a", v=1)
            self.next(k="b", v=1)
            self.commit()
            time.sleep(1.0)  # far beyond the allowed 0.3 s
            self.next(k="a", v=2)
            self.commit()

    states = _inactivity_periods(Src(), S, run_for=3.0)
    periods = sorted(states[0].values(), key=lambda r: r["inactivity_timestamp_utc"])
    assert len(periods) == 2
    first, last = periods
    assert first["resumed_activity_timestamp_utc"] - first["inactivity_timestamp_utc"] >= datetime.timedelta(milliseconds=900)
    assert last["inactivity_timestamp_utc"] == first["resumed_activity_timestamp_utc"]
    assert last["resumed_activity_timestamp_utc"] is None
    by_key = sorted((r["instance"], r["resumed_activity_timestamp_utc"] is None) for r in states[1].values())
    assert by_key == [("a", False), ("a", True), ("b", True)]


def test_inactivity_detection_since_start():
    """A stream silent for longer than allowed from its start reports that period, with
    None as instance, resumed by its first row."""
    import time

    class S(pw.Schema):
        k: str

    class Src(pw.io.python.ConnectorSubject):
        _deletions_enabled = False

        def run(self):
            time.sleep(0.8)  # beyond the allowed 0.3 s from the start
            self.next(k="a")
            self.commit()

    states = _inactivity_periods(Src(), S, run_for=2.0)
    periods = sorted(states[0].values(), key=lambda r: r["inactivity_timestamp_utc"])
    assert [p["resumed_activity_timestamp_utc"] is None for p in periods] == [False, True]
    start, after = periods
    assert start["resumed_activity_timestamp_utc"] - start["inactivity_timestamp_utc"] >= datetime.timedelta(milliseconds=600)
    assert after["inactivity_timestamp_utc"] == start["resumed_activity_timestamp_utc"]
    by_key = sorted(((r["instance"] or ""), r["resumed_activity_timestamp_utc"] is None) for r in states[1].values())
    assert by_key == [("", False), ("a", True)]
    (since_start,) = [r for r in states[1].values() if r["instance"] is None]
    assert since_start["resumed_activity_timestamp_utc"] - since_start["inactivity_timestamp_utc"] >= datetime.timedelta(milliseconds=600)


def test_join_argument_types_are_checked_when_the_join_is_built():
    # Keys of incomparable types, and times whose bounds or window sizes are of another kind
    # (a timedelta bound for integer times), are errors at the join, naming what is allowed.
    left = T(
        """
        a | t
        1 | 1
        """
    )
    right = T(
        """
        b | t
        x | 2
        """
    )
    incompatible = "Incompatible types in a join condition.\nThe types are: INT and STR."
    with pytest.raises(TypeError, match=incompatible):
        left.join(right, left.a == right.b)
    with pytest.raises(TypeError, match=incompatible):
        left.interval_join(right, left.t, right.t, pw.temporal.interval(-1, 1), left.a == right.b)
    with pytest.raises(TypeError, match=incompatible):
        left.asof_join(right, left.t, right.t, left.a == right.b)
    day = datetime.timedelta(days=1)
    with pytest.raises(
        TypeError,
        match=r"Arguments \(self_time_expression, other_time_expression, lower_bound, upper_bound\) have to be of types "
        r"\(INT, INT, INT, INT\) or \(FLOAT, FLOAT, FLOAT, FLOAT\) or \(DATE_TIME_NAIVE, DATE_TIME_NAIVE, DURATION, DURATION\) "
        r"or \(DATE_TIME_UTC, DATE_TIME_UTC, DURATION, DURATION\) but are of types \(INT, INT, DURATION, DURATION\)",
    ):
        left.interval_join(right, left.t, right.t, pw.temporal.interval(-day, day))
    with pytest.raises(ValueError, match=r"lower_bound has to be less than or equal to the upper_bound"):
        left.interval_join(right, left.t, right.t, pw.temporal.interval(2, 1))
    with pytest.raises(TypeError, match=r"\(left_time_expression, right_time_expression, window.hop\).*\(INT, INT, DURATION\)"):
        left.window_join(right, left.t, right.t, pw.temporal.tumbling(day))
    with pytest.raises(TypeError, match=r"window.hop, window.duration\).*\(INT, INT, INT, DURATION\)"):
        left.window_join(right, left.t, right.t, pw.temporal.sliding(hop=2, duration=day))
    with pytest.raises(TypeError, match=r"window.max_gap\).*\(INT, INT, DURATION\)"):
        left.window_join(right, left.t, right.t, pw.temporal.session(max_gap=day))
    # Integer times with a float bound are numbers on both sides: accepted, as in Pathway.
    joined = left.interval_join(right, left.t, right.t, pw.temporal.interval(-1, 1.5)).select(left.a, right.b)
    assert pw.debug.table_to_pandas(joined).to_dict("records") == [{"a": 1, "b": "x"}]


def test_integer_times_with_fractional_windows_and_bounds():
    left = T(
        """
        a | t
        1 | 1
        2 | 3
        """
    )
    right = T(
        """
        b | t
        x | 2
        y | 3
        """
    )

    def pairs(joined):
        return sorted(tuple(r) for r in pw.debug.table_to_pandas(joined.select(left.a, right.b)).itertuples(index=False))

    # Windows starting at multiples of 0.5, 1.5 long: t=3 and t=3 share three of them.
    assert pairs(left.window_join(right, left.t, right.t, pw.temporal.sliding(hop=0.5, duration=1.5))) == [
        (1, "x"), (2, "x"), (2, "y"), (2, "y"), (2, "y")
    ]
    assert pairs(left.window_join(right, left.t, right.t, pw.temporal.tumbling(2.5))) == [(1, "x"), (2, "y")]
    assert pairs(left.interval_join(right, left.t, right.t, pw.temporal.interval(-0.5, 1.5))) == [(1, "x"), (2, "y")]


def test_session_windows_by_shard_name_the_shard_column_of_the_input_in_reduce():
    # As Pathway's persistence tutorial writes it: `table.user_id` (the input's column) in the
    # reduce of a windowby sharded by that column.
    table = pw.debug.table_from_markdown(
        """
        user_id | access_time
        alice   | 100
        bob     | 110
        alice   | 300
        alice   | 900
        """
    )
    sessions = table.windowby(
        pw.this.access_time, window=pw.temporal.session(max_gap=300), shard=pw.this.user_id
    ).reduce(user_id=table.user_id, count=pw.reducers.count(), start=pw.reducers.min(table.access_time))
    rows = sorted(pw.debug.table_to_pandas(sessions)[["user_id", "count", "start"]].itertuples(index=False, name=None))
    assert rows == [("alice", 1, 900), ("alice", 2, 100), ("bob", 1, 110)]
