"""Property tests: for random update streams, what a pipeline computes incrementally equals
what it computes from scratch on the input as it stands.

Each example builds one or more input streams (labelled rows with ``__time__``/``__diff__``;
inserts, retractions and in-place updates of a label), runs the pipeline on them, and checks:

* the final result equals the pipeline recomputed on the final input, given as plain
  (static) tables with the same labels, so ids match (``assert_table_equality``);
* the output update stream is consistent: after every time each id is present at most
  once, with multiplicity one, never negative, and only at times the input has;
* after every input time, the accumulated output equals the pipeline recomputed on the
  input as it stood at that time (all snapshots are computed in the same run).

Covered: select, filter, groupby-reduce (count, sum, min, max, avg, count_distinct,
sorted_tuple), reduce without groupby, inner and left join, update_rows, and a chain of
join, groupby and filter; each with 1 and 2 workers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaflow as pw
from deltaflow.debug import _capture, _squash
from deltaflow.testing import assert_table_equality, assert_table_equality_wo_index

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WORKERS = pytest.mark.parametrize("workers", [1, 2])

COLUMNS = ("k", "v")
MAX_LABELS = 6  # labels 1..6
MAX_ROWS = 12  # stream rows per input
KEY_VALUES = st.integers(0, 2)  # small ranges so groups and join keys collide
VALUE_VALUES = st.integers(0, 3)


def _schema():
    return pw.schema_from_types(**{c: int for c in COLUMNS})


# --- generating update streams -----------------------------------------------------------

Row = tuple  # (label, values, time, diff)


@st.composite
def update_streams(draw: Any) -> list[Row]:
    """A valid update stream: a retraction repeats the live row of its label exactly, a
    label is live at most once, times are even and increasing."""
    times = sorted(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True)))
    times = [2 * t for t in times]
    values = st.tuples(KEY_VALUES, VALUE_VALUES)
    live: dict[int, tuple] = {}
    rows: list[Row] = []
    for time in times:
        for _ in range(draw(st.integers(0, 5))):
            if len(rows) >= MAX_ROWS:
                break
            label = draw(st.integers(1, MAX_LABELS))
            if label in live:
                old = live.pop(label)
                rows.append((label, old, time, -1))
                if draw(st.booleans()) and len(rows) < MAX_ROWS:  # an update in place
                    new = draw(values)
                    rows.append((label, new, time, 1))
                    live[label] = new
            else:
                new = draw(values)
                rows.append((label, new, time, 1))
                live[label] = new
                if draw(st.integers(0, 7)) == 0 and len(rows) < MAX_ROWS:  # gone at once
                    rows.append((label, live.pop(label), time, -1))
    return rows


def live_rows(rows: list[Row], up_to: int | None = None) -> dict[int, tuple]:
    live: dict[int, tuple] = {}
    for label, values, time, diff in rows:
        if up_to is not None and time > up_to:
            break
        if diff > 0:
            assert label not in live
            live[label] = values
        else:
            assert live.pop(label) == values
    return live


def stream_table(rows: list[Row]) -> pw.Table:
    lines = ["  | " + " | ".join(COLUMNS) + " | __time__ | __diff__"]
    for label, values, time, diff in rows:
        lines.append(f"{label} | " + " | ".join(str(v) for v in values) + f" | {time} | {diff}")
    return pw.debug.table_from_markdown("\n".join(lines), schema=_schema())


def static_table(live: dict[int, tuple]) -> pw.Table:
    # With no rows the markdown has no types to infer: the schema gives them.
    lines = ["  | " + " | ".join(COLUMNS)]
    for label in sorted(live):
        lines.append(f"{label} | " + " | ".join(str(v) for v in live[label]))
    return pw.debug.table_from_markdown("\n".join(lines), schema=_schema())


def markdown(rows: list[Row]) -> str:
    """For failure messages: the stream as markdown."""
    lines = ["  | " + " | ".join(COLUMNS) + " | __time__ | __diff__"]
    lines += [f"{lb} | " + " | ".join(map(str, vs)) + f" | {t} | {d}" for lb, vs, t, d in rows]
    return "\n".join(lines)


# --- checking -----------------------------------------------------------------------------


def check_consistent(stream: list, input_times: set[int]) -> dict[int, dict]:
    """Checks the update stream and returns the accumulated state (id -> values) after
    each time it has."""
    times = [t for _, _, t, _ in stream]
    assert times == sorted(times), f"update stream not in time order: {times}"
    by_time: dict[int, list] = defaultdict(list)
    for key, values, time, diff in stream:
        assert diff != 0, f"zero diff in {stream}"
        assert time in input_times, f"output at time {time}, input times are {sorted(input_times)}"
        by_time[time].append((key, values, diff))
    counts: Counter = Counter()
    states: dict[int, dict] = {}
    for time in sorted(by_time):
        for key, values, diff in by_time[time]:
            counts[(key, values)] += diff
        counts = Counter({kv: c for kv, c in counts.items() if c != 0})
        assert all(c == 1 for c in counts.values()), f"multiplicities after time {time}: {counts}"
        ids = Counter(key for key, _ in counts)
        assert all(n == 1 for n in ids.values()), f"an id twice after time {time}: {counts}"
        states[time] = {key: values for key, values in counts}
    return states


def _approx(state: dict) -> dict:
    """Floats rounded, so that avg compares with a tolerance."""

    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, tuple):
            return tuple(norm(x) for x in v)
        return v

    return {k: norm(v) for k, v in state.items()}


def check_incremental(
    build: Callable[..., pw.Table],
    streams: list[list[Row]],
    workers: int,
    *,
    with_index: bool = True,
) -> None:
    """``build`` on the streams, compared to ``build`` on the input as it stands after the
    last time and after every time."""
    context = "\n\n".join(markdown(rows) for rows in streams)
    input_times = sorted({t for rows in streams for _, _, t, _ in rows})

    incremental = build(*[stream_table(rows) for rows in streams])
    recomputed = build(*[static_table(live_rows(rows)) for rows in streams])
    compare = assert_table_equality if with_index else assert_table_equality_wo_index
    try:
        compare(incremental, recomputed, threads=workers)
    except AssertionError as e:
        raise AssertionError(f"{e}\ninputs:\n{context}") from None

    incremental = build(*[stream_table(rows) for rows in streams])
    snapshots = [build(*[static_table(live_rows(rows, t)) for rows in streams]) for t in input_times]
    captured = _capture([incremental, *snapshots], threads=workers)
    try:
        states = check_consistent(captured[0], set(input_times))
    except AssertionError as e:
        raise AssertionError(f"{e}\ninputs:\n{context}") from None
    state: dict = {}
    for time, snapshot_stream in zip(input_times, captured[1:]):
        state = states.get(time, state)
        expected = _squash(snapshot_stream)
        if with_index:
            actual, wanted = _approx(state), _approx(expected)
        else:
            actual, wanted = Counter(_approx(state).values()), Counter(_approx(expected).values())
        assert actual == wanted, (
            f"after time {time}: incremental {actual}\n  recomputed {wanted}\ninputs:\n{context}"
        )


# --- the properties -----------------------------------------------------------------------


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_select(workers, rows):
    def build(t):
        return t.select(t.k, w=t.v * 10 + t.k, b=t.v > t.k, d=t.v - t.k)

    check_incremental(build, [rows], workers)


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_filter(workers, rows):
    def build(t):
        return t.filter(t.v >= 2).select(pw.this.k, pw.this.v)

    check_incremental(build, [rows], workers)


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_filter_then_select(workers, rows):
    def build(t):
        return t.filter(t.v != t.k).select(s=pw.this.k + pw.this.v)

    check_incremental(build, [rows], workers)


def _reducers(t):
    return dict(
        c=pw.reducers.count(),
        s=pw.reducers.sum(t.v),
        mn=pw.reducers.min(t.v),
        mx=pw.reducers.max(t.v),
        a=pw.reducers.avg(t.v),
        cd=pw.reducers.count_distinct(t.v),
        st=pw.reducers.sorted_tuple(t.v),
    )


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_groupby_reduce(workers, rows):
    def build(t):
        return t.groupby(t.k).reduce(t.k, **_reducers(t))

    check_incremental(build, [rows], workers)


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_groupby_reduce_avg_is_sum_over_count(workers, rows):
    def build(t):
        r = t.groupby(t.k).reduce(t.k, s=pw.reducers.sum(t.v), c=pw.reducers.count(), a=pw.reducers.avg(t.v))
        return r.select(r.k, ok=(r.a * r.c - r.s) * (r.a * r.c - r.s) < 1e-12)

    incremental = build(stream_table(rows))
    (stream,) = _capture([incremental], threads=workers)
    assert all(values[1] for _, values, _, diff in stream if diff > 0), markdown(rows)
    check_incremental(build, [rows], workers)


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_reduce_without_groupby(workers, rows):
    def build(t):
        return t.reduce(**_reducers(t))

    check_incremental(build, [rows], workers)


@WORKERS
@SETTINGS
@given(rows=update_streams())
def test_groupby_two_columns(workers, rows):
    def build(t):
        return t.groupby(t.k, t.v).reduce(t.k, t.v, c=pw.reducers.count())

    check_incremental(build, [rows], workers)


@WORKERS
@SETTINGS
@given(left=update_streams(), right=update_streams())
def test_inner_join(workers, left, right):
    def build(l, r):
        return l.join(r, l.k == r.k).select(lv=l.v, rv=r.v, k=l.k)

    check_incremental(build, [left, right], workers)
    check_incremental(build, [left, right], workers, with_index=False)


@WORKERS
@SETTINGS
@given(left=update_streams(), right=update_streams())
def test_left_join(workers, left, right):
    def build(l, r):
        return l.join_left(r, l.k == r.k).select(lv=l.v, rv=r.v, k=l.k)

    check_incremental(build, [left, right], workers)
    check_incremental(build, [left, right], workers, with_index=False)


@WORKERS
@SETTINGS
@given(left=update_streams(), right=update_streams())
def test_join_on_two_columns(workers, left, right):
    def build(l, r):
        return l.join(r, l.k == r.k, l.v == r.v).select(k=l.k, v=r.v, one=l.v - r.v + 1)

    check_incremental(build, [left, right], workers)


@WORKERS
@SETTINGS
@given(a=update_streams(), b=update_streams())
def test_update_rows(workers, a, b):
    def build(x, y):
        return x.update_rows(y)

    check_incremental(build, [a, b], workers)


@WORKERS
@SETTINGS
@given(left=update_streams(), right=update_streams())
def test_join_groupby_filter_chain(workers, left, right):
    def build(l, r):
        joined = l.join(r, l.k == r.k).select(k=l.k, lv=l.v, rv=r.v)
        totals = joined.groupby(joined.k).reduce(
            joined.k, c=pw.reducers.count(), s=pw.reducers.sum(joined.lv * joined.rv)
        )
        return totals.filter(totals.c > 1)

    check_incremental(build, [left, right], workers)
