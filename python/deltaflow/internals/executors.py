"""How user functions run: synchronously, or concurrently within a batch (async executor),
with timeouts, retries and caches. The engine hands a user function a batch of rows (all rows
of one operator run); an async executor starts every call of the batch at once (at most
``capacity`` in flight) and the batch ends when all have finished."""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import inspect
import os
import pickle
import random
from typing import Any, Awaitable, Callable


# --- retry strategies ------------------------------------------------------------------


class AsyncRetryStrategy:
    """How a failed call is retried."""

    async def invoke(self, call: Callable[[], Awaitable[Any]]) -> Any:
        return await call()


class NoRetryStrategy(AsyncRetryStrategy):
    """No retries: the first failure is the result."""


class FixedDelayRetryStrategy(AsyncRetryStrategy):
    """Up to ``max_retries`` retries, ``delay_ms`` apart."""

    def __init__(self, max_retries: int = 3, delay_ms: int = 1000) -> None:
        self.max_retries = max_retries
        self.delay_ms = delay_ms

    def _delay(self, attempt: int) -> float:
        return self.delay_ms / 1000

    async def invoke(self, call: Callable[[], Awaitable[Any]]) -> Any:
        attempt = 0
        while True:
            try:
                return await call()
            except Exception:
                if attempt >= self.max_retries:
                    raise
                await asyncio.sleep(self._delay(attempt))
                attempt += 1


class ExponentialBackoffRetryStrategy(FixedDelayRetryStrategy):
    """Up to ``max_retries`` retries; the delay starts at ``initial_delay`` ms and grows by
    ``backoff_factor``, plus up to ``jitter_ms`` of random jitter."""

    def __init__(self, max_retries: int = 3, initial_delay: int = 1000, backoff_factor: float = 2, jitter_ms: int = 300) -> None:
        super().__init__(max_retries, initial_delay)
        self.backoff_factor = backoff_factor
        self.jitter_ms = jitter_ms

    def _delay(self, attempt: int) -> float:
        return (self.delay_ms * self.backoff_factor**attempt + random.uniform(0, self.jitter_ms)) / 1000


# --- caches ----------------------------------------------------------------------------


class CacheStrategy:
    """Where results of a user function are kept, by its arguments."""

    def get(self, key: bytes) -> tuple[bool, Any]:
        raise NotImplementedError

    def put(self, key: bytes, value: Any) -> None:
        raise NotImplementedError


class InMemoryCache(CacheStrategy):
    """Results kept in memory for the life of the process (the ``max_size`` most recently
    used, when given)."""

    def __init__(self, max_size: int | None = None) -> None:
        self.max_size = max_size
        self._entries: collections.OrderedDict[bytes, Any] = collections.OrderedDict()

    def get(self, key: bytes) -> tuple[bool, Any]:
        if key not in self._entries:
            return False, None
        self._entries.move_to_end(key)
        return True, self._entries[key]

    def put(self, key: bytes, value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if self.max_size is not None:
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)


class DiskCache(CacheStrategy):
    """Results kept on disk, surviving restarts: one file per call, in a directory per ``name``
    (default: the function's qualified name). While a run persists its state
    (``pw.run(persistence_config=...)`` with a filesystem backend), the directory is under the
    backend's ``runtime_calls/``, so cached results travel with the rest of the state; else
    under ``$DELTAFLOW_CACHE_DIR`` (default ``./.deltaflow-cache``). Oldest files are removed
    past ``size_limit`` bytes."""

    def __init__(self, name: str | None = None, size_limit: int = 1 << 30) -> None:
        self.name = name
        self.size_limit = size_limit
        self._key: str | None = None
        self._dir: str | None = None
        self._total = 0  # bytes in the directory, counted once per directory and kept up to date

    def bind(self, fun: Callable[..., Any]) -> None:
        if self._key is None:
            name = self.name or f"{getattr(fun, '__module__', '')}.{getattr(fun, '__qualname__', 'udf')}"
            self._key = hashlib.sha256(name.encode()).hexdigest()[:16]

    def _directory(self) -> str:
        assert self._key is not None
        persisted = os.environ.get("DELTAFLOW_PERSISTENT_STORAGE") or os.environ.get("PATHWAY_PERSISTENT_STORAGE")
        root = os.path.join(persisted, "runtime_calls") if persisted else os.environ.get("DELTAFLOW_CACHE_DIR", ".deltaflow-cache")
        directory = os.path.join(root, self._key)
        if directory != self._dir:
            os.makedirs(directory, exist_ok=True)
            self._dir = directory
            self._total = sum(e.stat().st_size for e in os.scandir(directory) if not e.name.endswith(".tmp"))
        return directory

    def _path(self, key: bytes) -> str:
        return os.path.join(self._directory(), hashlib.sha256(key).hexdigest())

    def get(self, key: bytes) -> tuple[bool, Any]:
        try:
            with open(self._path(key), "rb") as f:
                return True, pickle.load(f)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return False, None

    def put(self, key: bytes, value: Any) -> None:
        path = self._path(key)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(value, f)
        old = os.path.getsize(path) if os.path.exists(path) else 0
        os.replace(tmp, path)
        self._total += os.path.getsize(path) - old
        if self._total > self.size_limit:
            self._trim()

    def _trim(self) -> None:
        """Removes the oldest files until the directory is within ``size_limit``."""
        assert self._dir is not None
        files = [e for e in os.scandir(self._dir) if not e.name.endswith(".tmp")]
        self._total = sum(e.stat().st_size for e in files)
        for e in sorted(files, key=lambda e: e.stat().st_mtime):
            if self._total <= self.size_limit:
                break
            self._total -= e.stat().st_size
            os.remove(e.path)


DefaultCache = DiskCache


def _cache_key(args: tuple, kwargs: dict) -> bytes:
    return pickle.dumps((args, sorted(kwargs.items())), protocol=4)


# --- executors -------------------------------------------------------------------------


class Executor:
    """How a user function's calls of one batch run."""

    def run_batch(self, fun: Callable[..., Any], calls: list[tuple[tuple, dict]], cache: CacheStrategy | None) -> list[tuple[bool, Any]]:
        """(ok, result or exception) per call."""
        raise NotImplementedError


class SyncExecutor(Executor):
    def run_batch(self, fun, calls, cache):  # noqa: ANN001, ANN201
        out = []
        for args, kwargs in calls:
            key = _cache_key(args, kwargs) if cache is not None else None
            if key is not None:
                found, value = cache.get(key)
                if found:
                    out.append((True, value))
                    continue
            try:
                value = fun(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = asyncio.run(_awaited(value))
            except Exception as e:  # noqa: BLE001 - the user's function, reported per row
                out.append((False, e))
                continue
            if key is not None:
                cache.put(key, value)
            out.append((True, value))
        return out


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value


def _is_async(fun: Callable[..., Any]) -> bool:
    """Whether calling ``fun`` gives a coroutine (``async def``, or an object whose
    ``__call__`` is one)."""
    return inspect.iscoroutinefunction(fun) or inspect.iscoroutinefunction(getattr(fun, "__call__", None))


class AsyncExecutor(Executor):
    def __init__(self, capacity: int | None = None, timeout: float | None = None, retry_strategy: AsyncRetryStrategy | None = None) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError("async_executor capacity must be at least 1")
        self.capacity = capacity
        self.timeout = timeout
        self.retry_strategy = retry_strategy or NoRetryStrategy()

    def run_batch(self, fun, calls, cache):  # noqa: ANN001, ANN201
        return asyncio.run(self._run(fun, calls, cache))

    async def _run(self, fun, calls, cache):  # noqa: ANN001, ANN202
        one = self.one_call(fun, cache, asyncio.Semaphore(self.capacity) if self.capacity else None)
        return list(await asyncio.gather(*(one(a, k) for a, k in calls)))

    def one_call(self, fun: Callable[..., Any], cache: CacheStrategy | None, semaphore: asyncio.Semaphore | None) -> Callable[[tuple, dict], Awaitable[tuple[bool, Any]]]:
        """An ``async`` function making one call of ``fun`` as this executor makes it (cache,
        capacity, timeout, retries): (ok, result or exception)."""
        is_async = _is_async(fun)

        async def call(args: tuple, kwargs: dict) -> Any:
            if is_async:
                return await fun(*args, **kwargs)
            loop = asyncio.get_running_loop()
            value = await loop.run_in_executor(None, functools.partial(fun, *args, **kwargs))
            return await value if inspect.isawaitable(value) else value

        async def attempt(args: tuple, kwargs: dict) -> Any:
            if self.timeout is not None:
                return await asyncio.wait_for(call(args, kwargs), self.timeout)
            return await call(args, kwargs)

        async def one(args: tuple, kwargs: dict) -> tuple[bool, Any]:
            key = _cache_key(args, kwargs) if cache is not None else None
            if key is not None:
                found, value = cache.get(key)
                if found:
                    return True, value
            try:
                if semaphore is not None:
                    async with semaphore:
                        value = await self.retry_strategy.invoke(lambda: attempt(args, kwargs))
                else:
                    value = await self.retry_strategy.invoke(lambda: attempt(args, kwargs))
            except Exception as e:  # noqa: BLE001 - the user's function, reported per row
                if isinstance(e, asyncio.TimeoutError):
                    e = TimeoutError(f"the call took longer than {self.timeout} s")
                return False, e
            if key is not None:
                cache.put(key, value)
            return True, value

        return one


def sync_executor() -> Executor:
    """Calls one at a time."""
    return SyncExecutor()


def async_executor(*, capacity: int | None = None, timeout: float | None = None, retry_strategy: AsyncRetryStrategy | None = None) -> Executor:
    """Starts every call of a batch at once (at most ``capacity`` in flight); a plain
    function runs in a thread pool. ``timeout`` (seconds) applies to each attempt."""
    return AsyncExecutor(capacity, timeout, retry_strategy)


def auto_executor() -> Executor:
    """``async_executor()`` for ``async def`` functions, ``sync_executor()`` otherwise."""
    return _AutoExecutor()


class _AutoExecutor(Executor):
    def run_batch(self, fun, calls, cache):  # noqa: ANN001, ANN201
        executor = AsyncExecutor() if _is_async(fun) else SyncExecutor()
        return executor.run_batch(fun, calls, cache)


def fully_async_executor(*, capacity: int | None = None, timeout: float | None = None, retry_strategy: AsyncRetryStrategy | None = None, autocommit_duration_ms: int | None = 1500) -> Executor:
    """Calls that do not hold up their batch: the column is ``Pending`` at once and each
    result arrives later, as an update (results are committed every
    ``autocommit_duration_ms``). The column's type is ``Future[...]``: use
    ``Table.await_futures()`` to wait for the results. ``capacity``, ``timeout`` and
    ``retry_strategy`` as for ``async_executor``."""
    from deltaflow.internals.fully_async import FullyAsyncExecutor

    if capacity is not None and capacity < 1:
        raise ValueError("fully_async_executor capacity must be at least 1")
    return FullyAsyncExecutor(capacity, timeout, retry_strategy, autocommit_duration_ms)


# --- function wrappers -----------------------------------------------------------------


def coerce_async(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """``func`` as an ``async`` function (a plain one runs in a thread pool)."""
    if _is_async(func):
        return func

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))

    return wrapper


def with_capacity(func: Callable[..., Any], capacity: int) -> Callable[..., Awaitable[Any]]:
    """``func`` (made async) with at most ``capacity`` calls in flight."""
    func = coerce_async(func)
    semaphores: dict[int, asyncio.Semaphore] = {}

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        loop = id(asyncio.get_running_loop())
        semaphore = semaphores.setdefault(loop, asyncio.Semaphore(capacity))
        async with semaphore:
            return await func(*args, **kwargs)

    return wrapper


def with_timeout(func: Callable[..., Any], timeout: float) -> Callable[..., Awaitable[Any]]:
    """``func`` (made async) failing after ``timeout`` seconds."""
    func = coerce_async(func)

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(func(*args, **kwargs), timeout)

    return wrapper


def with_retry_strategy(func: Callable[..., Any], retry_strategy: AsyncRetryStrategy) -> Callable[..., Awaitable[Any]]:
    """``func`` (made async) retried by ``retry_strategy``."""
    func = coerce_async(func)

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await retry_strategy.invoke(lambda: func(*args, **kwargs))

    return wrapper


def with_cache_strategy(func: Callable[..., Any], cache_strategy: CacheStrategy) -> Callable[..., Any]:
    """``func`` with its results cached by arguments."""
    if isinstance(cache_strategy, DiskCache):
        cache_strategy.bind(func)
    if _is_async(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _cache_key(args, kwargs)
            found, value = cache_strategy.get(key)
            if found:
                return value
            value = await func(*args, **kwargs)
            cache_strategy.put(key, value)
            return value

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = _cache_key(args, kwargs)
        found, value = cache_strategy.get(key)
        if found:
            return value
        value = func(*args, **kwargs)
        cache_strategy.put(key, value)
        return value

    return wrapper


def async_options(capacity: int | None = None, timeout: float | None = None, retry_strategy: AsyncRetryStrategy | None = None, cache_strategy: CacheStrategy | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator applying ``with_capacity``/``with_timeout``/``with_retry_strategy``/
    ``with_cache_strategy`` as given."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if timeout is not None:
            func = with_timeout(func, timeout)
        if retry_strategy is not None:
            func = with_retry_strategy(func, retry_strategy)
        if capacity is not None:
            func = with_capacity(func, capacity)
        if cache_strategy is not None:
            func = with_cache_strategy(func, cache_strategy)
        return func

    return decorator
