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


def test_fully_async_executor_is_named_as_not_implemented():
    with pytest.raises(NotImplementedError, match="fully_async_executor"):
        pw.udfs.fully_async_executor()
