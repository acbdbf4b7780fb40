"""User functions in full: executors (sync, async with capacity/timeout/retries), caches
(in memory, on disk), apply_async, propagate_none, max_batch_size. Concurrency is shown by
counting calls in flight, never by timing."""

from __future__ import annotations

import asyncio
import threading

import pytest

import deltaflow as pw
from deltaflow.debug import _capture


def numbers(n):
    return pw.debug.table_from_markdown("\n".join(["   | a"] + [f"{i + 1} | {i}" for i in range(n)]))


def values(table, **kwargs):
    (stream,) = _capture([table], **kwargs)
    return sorted(v[0] for _, v, _, d in stream if d > 0)


class InFlight:
    """Counts calls running at once; each call waits until ``target`` are in flight (or a
    generous timeout, so a failure cannot hang the suite)."""

    def __init__(self, target):
        self.target = target
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()
        self.events = {}

    async def __call__(self, a):
        loop = asyncio.get_running_loop()
        event = self.events.setdefault(id(loop), asyncio.Event())
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            if self.now >= self.target:
                event.set()
        try:
            await asyncio.wait_for(event.wait(), 10)
        except asyncio.TimeoutError:
            pass
        with self.lock:
            self.now -= 1
        return a * 2


def test_async_executor_runs_a_batch_concurrently():
    counter = InFlight(100)
    f = pw.udf(counter, executor=pw.udfs.async_executor(capacity=100))
    t = numbers(100)
    assert values(t.select(r=f(t.a))) == [2 * i for i in range(100)]
    assert counter.most == 100


def test_capacity_bounds_calls_in_flight():
    counter = InFlight(10)
    f = pw.udf(counter, executor=pw.udfs.async_executor(capacity=10))
    t = numbers(50)
    assert values(t.select(r=f(t.a))) == [2 * i for i in range(50)]
    assert counter.most == 10


def test_async_functions_default_to_the_async_executor_and_apply_async():
    counter = InFlight(20)
    t = numbers(20)

    @pw.udf
    async def double(a: int) -> int:
        return await counter(a)

    assert values(t.select(r=double(t.a))) == [2 * i for i in range(20)]
    assert counter.most == 20
    counter2 = InFlight(20)
    assert values(t.select(r=pw.apply_async(counter2, t.a))) == [2 * i for i in range(20)]
    assert counter2.most == 20


def test_retries_and_timeouts():
    attempts = {}

    async def flaky(a):
        attempts[a] = attempts.get(a, 0) + 1
        if attempts[a] < 3:
            raise ConnectionError("try again")
        return a

    t = numbers(5)
    f = pw.udf(flaky, executor=pw.udfs.async_executor(retry_strategy=pw.udfs.FixedDelayRetryStrategy(max_retries=3, delay_ms=1)))
    assert values(t.select(r=f(t.a))) == [0, 1, 2, 3, 4]
    assert set(attempts.values()) == {3}

    async def slow(a):
        if a == 2:
            await asyncio.sleep(30)
        return a

    g = pw.udf(slow, executor=pw.udfs.async_executor(timeout=0.2))
    t = numbers(4)
    streams = _capture([t.select(r=g(t.a)), pw.global_error_log()], terminate_on_error=False)
    assert sorted(repr(v[0]) for _, v, _, d in streams[0] if d > 0) == ["0", "1", "3", "Error"]
    assert any("TimeoutError" in v[1] for _, v, _, _ in streams[1])


def test_retries_give_up_with_the_last_error():
    async def broken(a):
        raise ValueError(f"bad {a}")

    t = numbers(2)
    f = pw.udf(broken, executor=pw.udfs.async_executor(retry_strategy=pw.udfs.ExponentialBackoffRetryStrategy(max_retries=2, initial_delay=1, jitter_ms=0)))
    with pytest.raises(Exception, match="bad"):
        values(t.select(r=f(t.a)))


def test_caches(tmp_path, monkeypatch):
    calls = []

    def square(a: int) -> int:
        calls.append(a)
        return a * a

    t = numbers(5)
    cached = pw.udf(square, cache_strategy=pw.udfs.InMemoryCache())
    assert values(t.select(r=cached(t.a))) == [0, 1, 4, 9, 16]
    assert values(t.select(r=cached(t.a))) == [0, 1, 4, 9, 16]
    assert sorted(calls) == [0, 1, 2, 3, 4]  # the second run hit the cache

    monkeypatch.setenv("DELTAFLOW_CACHE_DIR", str(tmp_path))
    calls.clear()
    on_disk = pw.udf(square, cache_strategy=pw.udfs.DiskCache(name="squares"))
    assert values(t.select(r=on_disk(t.a))) == [0, 1, 4, 9, 16]
    again = pw.udf(square, cache_strategy=pw.udfs.DiskCache(name="squares"))  # as after a restart
    assert values(t.select(r=again(t.a))) == [0, 1, 4, 9, 16]
    assert sorted(calls) == [0, 1, 2, 3, 4]
    assert len(list(tmp_path.rglob("*"))) >= 5


def test_propagate_none_and_max_batch_size():
    sizes = []

    class Sized(pw.UDF):
        def __wrapped__(self, a: int | None) -> int:
            return a + 100

    t = pw.debug.table_from_markdown(
        """
           | a
         1 | 1
         2 |
         3 | 3
        """
    )
    f = Sized(propagate_none=True, max_batch_size=1)
    got = [v for v in (row[0] for _, row, _, d in _capture([t.select(r=f(t.a))])[0] if d > 0)]
    assert sorted(got, key=lambda x: (x is None, x)) == [101, 103, None]

    executor = pw.udfs.async_executor()
    original = executor.run_batch

    def recording(fun, calls, cache):
        sizes.append(len(calls))
        return original(fun, calls, cache)

    executor.run_batch = recording
    g = pw.udf(lambda a: a, executor=executor, max_batch_size=2)
    assert values(numbers(5).select(r=g(pw.this.a))) == [0, 1, 2, 3, 4]
    assert max(sizes) <= 2 and sum(sizes) == 5


# --- fully asynchronous functions ------------------------------------------------------


def _update_stream(table, **kwargs):
    """(row without id, time, diff) in time order, as compute_and_print_update_stream lists it."""
    (changes,) = _capture([table], **kwargs)
    return [(tuple(row), time, diff) for _key, row, time, diff in changes]


def test_fully_async_documented_example():
    """Pending first, each result as a later update; await_futures keeps the results."""
    t = pw.debug.table_from_markdown(
        """
        a | b | __time__
        1 | 2 |     2
        3 | 4 |     4
        5 | 6 |     4
        """
    )

    @pw.udf(executor=pw.udfs.fully_async_executor())
    async def long_running_async_function(a: int, b: int) -> int:
        c = a * b
        await asyncio.sleep(0.02 * c)
        return c

    result = t.with_columns(res=long_running_async_function(pw.this.a, pw.this.b))
    assert repr(result.schema._dtypes()["res"]) == "Future(INT)"
    stream = _update_stream(result)
    assert [(row, diff) for row, time, diff in stream if time in (2, 4)] == [
        ((1, 2, pw.internals.values.PENDING), 1),
        ((3, 4, pw.internals.values.PENDING), 1),
        ((5, 6, pw.internals.values.PENDING), 1),
    ]
    later = [(row, diff) for row, time, diff in stream if time > 4]
    assert sorted(later, key=repr) == sorted(
        [((a, b, pw.internals.values.PENDING), -1) for a, b in ((1, 2), (3, 4), (5, 6))] + [((a, b, a * b), 1) for a, b in ((1, 2), (3, 4), (5, 6))],
        key=repr,
    )
    # Each result comes at its own time, after the rows' own times.
    assert len({time for _, time, _ in stream if time > 4}) == 3
    awaited = result.await_futures()
    assert repr(awaited.schema._dtypes()["res"]) == "INT"
    assert sorted(values(awaited.select(pw.this.res))) == [2, 12, 30]
    assert "Pending" in repr(pw.internals.values.PENDING)


def test_fully_async_does_not_hold_up_later_rows():
    """A slow call leaves its row Pending while rows of later times pass through with their
    results (processing time moves on)."""
    release = threading.Event()
    seen_fast = threading.Event()

    @pw.udf(executor=pw.udfs.fully_async_executor())
    async def f(a: int) -> int:
        if a == 1:
            while not release.is_set():
                await asyncio.sleep(0.01)
        return a * 10

    class Src(pw.io.python.ConnectorSubject):
        def run(self):
            self.next(a=1)
            self.commit()
            self.next(a=2)
            self.commit()
            seen_fast.wait(10)
            release.set()

    class S(pw.Schema):
        a: int

    t = pw.io.python.read(Src(), schema=S, autocommit_duration_ms=None)
    out = t.select(pw.this.a, r=f(pw.this.a)).await_futures()
    got = []

    def on_change(key, row, time, is_addition):
        got.append((row["a"], row["r"], is_addition))
        if row["a"] == 2:
            assert not release.is_set()  # the slow call was still in flight
            seen_fast.set()

    pw.io.subscribe(out, on_change=on_change)
    pw.run(timeout=20)
    assert got == [(2, 20, True), (1, 10, True)]


def test_fully_async_changed_and_deleted_rows():
    """A row whose arguments change is Pending again until its new call returns (never paired
    with the old result); a deleted row's result goes with it."""
    t = pw.debug.table_from_markdown(
        """
        id | a | __time__ | __diff__
        1  | 1 | 2        | 1
        2  | 5 | 2        | 1
        1  | 1 | 4        | -1
        1  | 2 | 4        | 1
        2  | 5 | 6        | -1
        """
    )

    @pw.udf(executor=pw.udfs.fully_async_executor())
    async def f(a: int) -> int:
        await asyncio.sleep(0.05)
        return a * 100

    result = t.select(pw.this.a, r=f(pw.this.a))
    stream = _update_stream(result)
    live = {}
    for row, time, diff in stream:
        live[row] = live.get(row, 0) + diff
        a, r = row
        assert r is pw.internals.values.PENDING or r == a * 100  # never a stale result
    assert {row for row, n in live.items() if n} == {(2, 200)}
    assert all(n in (0, 1) for n in live.values())


def test_fully_async_concurrency_capacity_errors_and_workers():
    """Calls run concurrently up to capacity (counted); a failing call gives Error; the same
    results on 1 and 2 workers."""
    for threads in (1, 2):
        in_flight = [0, 0]
        lock = threading.Lock()

        @pw.udf(executor=pw.udfs.fully_async_executor(capacity=7))
        async def f(a: int) -> int:
            with lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight[1], in_flight[0])
            await asyncio.sleep(0.05)
            with lock:
                in_flight[0] -= 1
            if a == 13:
                raise ValueError("unlucky")
            return a + 1

        result = numbers(40).select(pw.this.a, r=f(pw.this.a)).await_futures()
        (stream,) = _capture([result], threads=threads, terminate_on_error=False)
        got = {row[0]: row[1] for _, row, _, diff in stream if diff > 0}
        assert in_flight[1] == 7
        assert got[13] is pw.ERROR
        assert {a: r for a, r in got.items() if a != 13} == {a: a + 1 for a in range(40) if a != 13}


def test_fully_async_failure_stops_the_run_with_the_exception():
    @pw.udf(executor=pw.udfs.fully_async_executor())
    async def f(a: int) -> int:
        if a == 1:
            raise ValueError("no ones here")
        return a

    with pytest.raises(ValueError, match="no ones here"):
        values(numbers(3).select(r=f(pw.this.a)).await_futures())


def test_fully_async_result_used_in_an_expression_is_a_clear_error():
    @pw.udf(executor=pw.udfs.fully_async_executor())
    async def f(a: int) -> int:
        return a

    with pytest.raises(TypeError, match="Future column"):
        values(numbers(2).select(r=f(pw.this.a) + 1))
    with pytest.raises(ValueError, match="capacity"):
        pw.udfs.fully_async_executor(capacity=0)


def test_non_deterministic_function_after_a_join_on_several_workers():
    """Rows of one id may be produced by different workers at different times (a left join's
    unmatched row, then its match): each retraction still meets the result stored at its
    insertion (regression: 'retraction of a row never inserted' on 2 workers)."""
    left = pw.debug.table_from_markdown("\n".join(["id | v | __time__"] + [f"{i} | {i} | 2" for i in range(1, 41)]))
    right = pw.debug.table_from_markdown("\n".join(["k | f | __time__"] + [f"{i} | {10 * i} | {4 + 2 * (i % 3)}" for i in range(1, 41, 2)]))
    joined = left.join_left(right, left.v == right.k, id=left.id).select(left.v, f=right.f)
    calls = []

    def unmatched(f):
        calls.append(f)
        return f is None

    result = joined.select(joined.v, none=pw.apply_with_type(unmatched, bool, joined.f))
    for threads in (1, 2, 4):
        (stream,) = _capture([result], threads=threads)
        final = {}
        for key, row, _time, diff in stream:
            final[row] = final.get(row, 0) + diff
        assert {row for row, n in final.items() if n} == {(v, v % 2 == 0) for v in range(1, 41)}
        assert all(n in (0, 1) for n in final.values())
