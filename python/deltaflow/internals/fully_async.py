"""Fully asynchronous user functions: a call does not hold up its batch. Each row's column
is ``Pending`` at once; when the call returns, its result replaces ``Pending`` at a later
time, so processing time moves on while calls are in flight.

The machinery is made of the public pieces: the rows' arguments go to an output whose handler
starts the calls on an asyncio loop in the thread of a Python source; finished calls come back
through that source (keyed by row id, carrying the arguments they were computed from) and are
joined to the rows by id and arguments, so a row whose arguments changed shows ``Pending``
again until its new call returns, never a result of its old arguments. The source stays open
until the rows' table is complete and no call is in flight."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from deltaflow.internals import dtype as dt
from deltaflow.internals import run_context
from deltaflow.internals.executors import AsyncExecutor, Executor
from deltaflow.internals.values import ERROR, PENDING
from deltaflow.io.python import ConnectorSubject, _SubjectSource


class FullyAsyncExecutor(Executor):
    """Runs a function's calls without holding up their batch (see the module docstring)."""

    def __init__(self, capacity: int | None, timeout: float | None, retry_strategy: Any, autocommit_duration_ms: int | None) -> None:
        self.calls = AsyncExecutor(capacity, timeout, retry_strategy)
        self.autocommit_duration_ms = autocommit_duration_ms

    def run_batch(self, fun, calls, cache):  # noqa: ANN001, ANN201
        raise TypeError(
            "a fully asynchronous function gives a Future column: use its call as a whole column of "
            "select()/with_columns() (not inside another expression), then Table.await_futures() to wait for results"
        )


def select_with_futures(table: Any, exprs: dict[str, Any], futures: dict[str, Any], location: str) -> Any:
    """``table.select(**exprs)`` where the columns in ``futures`` are calls of fully
    asynchronous functions: those columns are ``Future`` columns."""
    import deltaflow as pw

    arg_columns = {f"_pw_future_args_{k}": pw.make_tuple(*e._args, *e._kwargs) for k, e in enumerate(futures.values())}
    base_exprs = {n: e for n, e in exprs.items() if n not in futures}
    base = table._select_exprs({**base_exprs, **arg_columns}, location)
    result = base
    value_columns: dict[str, Any] = {}
    dtypes: dict[str, dt.DType] = {}
    for k, (name, e) in enumerate(futures.items()):
        args_column = f"_pw_future_args_{k}"
        results = _results(e, base.select(args=base[args_column]), f"fully async {_name_of(e)} at {location}")
        joined = result.join_left(
            results, result.id == results.key, result[args_column] == results.args, id=result.id
        ).select(*pw.left, **{f"_pw_future_value_{k}": pw.if_else(results.key.is_none(), PENDING, results.value)})
        result = joined.with_universe_of(table)
        value_columns[name] = result[f"_pw_future_value_{k}"]
        dtypes[name] = dt.Future(_future_dtype(e))
    out = result.select(**{n: (value_columns[n] if n in futures else result[n]) for n in exprs})
    for n, t in dtypes.items():
        out._columns[n] = t
    return out


def await_futures(table: Any) -> Any:
    """The rows of ``table`` whose ``Future`` columns all hold results, those columns typed
    as their results."""
    import deltaflow as pw

    futures = [n for n, t in table._columns.items() if isinstance(t, dt.Future)]
    if not futures:
        return table
    ready = None
    for n in futures:
        cond = pw.fill_error(table[n] != PENDING, True)  # a failed call (Error) is a result too
        ready = cond if ready is None else ready & cond
    out = table.filter(ready)
    out = out.select(*pw.this)
    for n in futures:
        out._columns[n] = table._columns[n].wrapped
    return out


def _name_of(e: Any) -> str:
    return getattr(e._fun, "__qualname__", getattr(e._fun, "__name__", "function"))


def _results(e: Any, args: Any, name: str) -> Any:
    """The results table of one fully asynchronous column, fed by the changes of ``args``
    (each run gets fresh calls: the subject is made when the run builds its graph)."""
    from deltaflow.internals.run import Sink, register_companion
    from deltaflow.internals.table import LogicalNode, Table
    from deltaflow.internals.universe import Universe

    schema = _result_schema()
    columns = schema._dtypes()
    current: list[Any] = [None]

    def build(g: Any, ins: list[int]) -> int:
        current[0] = _Calls(e)
        source = _SubjectSource(current[0], columns, schema.primary_key_columns(), {}, e._executor.autocommit_duration_ms, name)
        return g.source_input(source, len(columns), name)

    def on_time(time: int, changes: list) -> None:
        current[0].on_time(time, changes)

    def on_end() -> None:
        current[0].on_end()

    results = Table(columns, LogicalNode([], build, len(columns)), Universe())
    register_companion(results._node, Sink(args, on_time, on_end, name))
    return results


def _result_schema() -> Any:
    import deltaflow as pw

    class Results(pw.Schema):
        key: pw.Pointer = pw.column_definition(primary_key=True)
        args: Any
        value: Any

    return Results


def _future_dtype(e: Any) -> dt.DType:
    result = dt.wrap(e._return_type) if e._return_type is not None else dt.ANY
    return dt.Optional(result) if e._propagate_none else result


class _Calls(ConnectorSubject):
    """The calls of one fully asynchronous column in one run: started from the rows' changes
    (told by an output handler), their results returned through this Python source."""

    def __init__(self, e: Any) -> None:
        super().__init__(datasource_name=f"fully async {_name_of(e)}")
        self._fun = e._fun
        self._runner: AsyncExecutor = e._executor.calls
        self._cache = e._cache
        self._propagate_none = e._propagate_none
        self._n_args = len(e._args)
        self._kwarg_names = e._kwarg_names
        self._fa_lock = threading.Lock()
        self._fa_inbox: list[Any] = []
        self._fa_loop: asyncio.AbstractEventLoop | None = None
        self._fa_wake: asyncio.Event | None = None
        self._fa_failure: BaseException | None = None

    # --- from the engine's output (the rows' argument changes) ---------------------------
    def on_time(self, time: int, changes: list) -> None:
        self._post(("changes", [(key, values[0], diff) for key, values, diff in changes]))

    def on_end(self) -> None:
        self._post(("end", None))

    def _post(self, message: Any) -> None:
        with self._fa_lock:
            self._fa_inbox.append(message)
            loop, wake = self._fa_loop, self._fa_wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop has ended (the source is closing)
                pass

    # --- the source's thread --------------------------------------------------------------
    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        finally:
            with self._fa_lock:
                self._fa_loop = self._fa_wake = None

    def on_stop(self) -> None:
        self._post(("stop", None))

    async def _serve(self) -> None:
        wake = asyncio.Event()
        with self._fa_lock:
            self._fa_loop, self._fa_wake = asyncio.get_running_loop(), wake
        semaphore = asyncio.Semaphore(self._runner.capacity) if self._runner.capacity else None
        running: dict[Any, tuple[Any, asyncio.Task]] = {}  # row id -> (args, call)
        emitted: dict[Any, tuple[Any, Any]] = {}  # row id -> (args, value) in the results
        ended = False
        while True:
            with self._fa_lock:
                inbox, self._fa_inbox = self._fa_inbox, []
                if not inbox:
                    wake.clear()
            for kind, payload in inbox:
                if kind == "stop":
                    for _, task in running.values():
                        task.cancel()
                    return
                if kind == "end":
                    ended = True
                    continue
                inserted = {key for key, _, diff in payload if diff > 0}
                for key, args, diff in payload:
                    if diff > 0:
                        continue
                    call = running.pop(key, None)
                    if call is not None and call[0] == args:
                        call[1].cancel()
                    elif call is not None:
                        running[key] = call
                    if key not in inserted and key in emitted and emitted[key][0] == args:
                        old_args, old_value = emitted.pop(key)
                        self._remove(key=key, args=old_args, value=old_value)
                        self.commit()
                for key, args, diff in payload:
                    if diff <= 0:
                        continue
                    if key in running:
                        running.pop(key)[1].cancel()
                    task = asyncio.ensure_future(self._call(args, semaphore))
                    running[key] = (args, task)
                    task.add_done_callback(lambda t, key=key, args=args: self._finished(key, args, t, running, emitted))
            if self._fa_failure is not None:
                for _, task in running.values():
                    task.cancel()
                raise self._fa_failure
            if ended and not running:
                return
            if not inbox:
                await wake.wait()

    async def _call(self, args: tuple, semaphore: asyncio.Semaphore | None) -> Any:
        positional = list(args[: self._n_args])
        keywords = dict(zip(self._kwarg_names, args[self._n_args :]))
        if self._propagate_none and any(a is None for a in args):
            return True, None
        one = self._runner.one_call(self._fun, self._cache, semaphore)
        return await one(tuple(positional), keywords)

    def _finished(self, key: Any, args: Any, task: asyncio.Task, running: dict, emitted: dict) -> None:
        if task.cancelled():
            return
        current = running.get(key)
        if current is None or current[1] is not task:
            return
        del running[key]
        ok, value = task.result()
        if not ok:
            if run_context.terminate_on_error():
                # The run stops with the function's own exception (raised by run()).
                self._fa_failure = value
                if self._fa_wake is not None:
                    self._fa_wake.set()
                return
            run_context.log_error(self._datasource_name, f"{type(value).__name__}: {value}")
            value = ERROR
        emitted[key] = (args, value)
        self.next(key=key, args=args, value=value)
        self.commit()
        if self._fa_wake is not None:
            self._fa_wake.set()

