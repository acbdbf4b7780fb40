"""Running pipelines: ``pw.run()``, and the captures the debug helpers use.

``run()`` lowers every output registered so far (``io.subscribe``, writers) into one engine
graph, runs it on ``DELTAFLOW_THREADS`` (or ``PATHWAY_THREADS``) workers with the GIL
released, and calls the outputs' callbacks on this thread, one completed time at a time.
Outputs registered before a run are consumed by it: the next ``run()`` starts afresh.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from deltaflow import _engine
from deltaflow.internals import parse_graph, run_context
from deltaflow.internals.table import Table, lower

# A process forked after a run (multiprocessing's "fork") must not inherit the engine's idle
# worker threads' scheduler: they are joined first, and the next run starts new ones.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_engine.release_worker_threads)


@dataclass
class Sink:
    table: Table
    on_time: Callable[[int, list[tuple[Any, tuple, int]]], None] | None
    on_end: Callable[[], None] | None = None
    name: str = "output"
    native: Callable[[], Any] | None = None  # makes an output handler implemented in C++
    keep_error_rows: bool = False  # a debugging view: rows holding Error are delivered too


_sinks: list[Sink] = []


def register_sink(sink: Sink) -> None:
    _sinks.append(sink)


def clear_sinks() -> None:
    _sinks.clear()


# Outputs that a node needs to run: whenever a run reaches the node, the output joins it (a
# fully asynchronous function's results source is fed by an output of the rows' arguments).
_companions: dict[int, tuple[Any, Sink]] = {}


def register_companion(node: Any, sink: Sink) -> None:
    _companions[id(node)] = (node, sink)


def _with_companions(sinks: list[Sink]) -> list[Sink]:
    if not _companions:
        return sinks
    out = list(sinks)
    seen: set[int] = set()
    stack = [s.table._node for s in out]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.inputs)
        companion = _companions.get(id(node))
        if companion is not None and companion[0] is node and all(companion[1] is not s for s in out):
            out.append(companion[1])
            stack.append(companion[1].table._node)
    return out


def _env_int(*names: str) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            try:
                n = int(value)
            except ValueError:
                raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
            if n < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            return n
    return None


def worker_count(threads: int | None = None) -> int:
    if threads is not None:
        if threads < 1:
            raise ValueError(f"the number of workers must be positive, got {threads}")
        return threads
    return _env_int("DELTAFLOW_THREADS", "PATHWAY_THREADS") or 1


def _terminate_on_error(value: bool | None) -> bool:
    if value is not None:
        return bool(value)
    env = os.environ.get("DELTAFLOW_TERMINATE_ON_ERROR", os.environ.get("PATHWAY_TERMINATE_ON_ERROR"))
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "off")
    return True


@dataclass
class RunResult:
    errors: list[tuple[str, str, Any]] = field(default_factory=list)


_last_errors: list[tuple[str, str, Any]] = []
# State sizes of the last run: (operation, worker, entries at the end, peak entries).
_last_state: list[tuple[str, int, int, int]] = []


def last_run_state() -> list[tuple[str, int, int, int]]:
    """How much state the last run's group-by and gate operators held: ``(operation, worker,
    entries at the end, peak entries)`` each (what forgetting keeps bounded)."""
    return list(_last_state)


def _persistence_options(config: Any) -> dict[str, Any]:
    """The engine's persistence arguments for ``pw.run(persistence_config=config)``."""
    from deltaflow.persistence import Config, PersistenceMode

    if config is None:
        return {}
    if not isinstance(config, Config):
        raise TypeError(f"persistence_config must be a pw.persistence.Config, got {type(config).__name__}")
    mode = config.persistence_mode
    if mode == PersistenceMode.OPERATOR_PERSISTING:
        raise NotImplementedError(
            "persistence_mode=OPERATOR_PERSISTING (snapshots of operator state) is not implemented yet in deltaflow; "
            "PERSISTING gives the same results by replaying the persisted input"
        )
    if mode == PersistenceMode.UDF_CACHING:
        return {}  # only pw.udfs.DiskCache uses the backend
    interval = config.snapshot_interval_ms / 1000.0 if config.snapshot_interval_ms > 0 else 0.2
    options: dict[str, Any] = {"persistence": config.backend._engine_store(), "commit_interval_s": interval}
    if mode in (PersistenceMode.SPEEDRUN_REPLAY, PersistenceMode.BATCH, PersistenceMode.REALTIME_REPLAY):
        options["replay_mode"] = "continue" if config.continue_after_replay else "stop"
    return options


def execute(
    sinks: list[Sink],
    *,
    terminate_on_error: bool | None = None,
    threads: int | None = None,
    timeout_s: float = 0.0,
    persistence_config: Any = None,
) -> RunResult:
    """Runs the graph behind ``sinks`` to completion."""
    persistence = _persistence_options(persistence_config)
    terminate = _terminate_on_error(terminate_on_error)
    workers = worker_count(threads)
    sinks = _with_companions(sinks)
    graph = _engine.TableGraph()
    memo = lower(graph, [s.table._node for s in sinks])
    handlers = []
    for s in sinks:
        graph.output(memo[id(s.table._node)], s.name, s.keep_error_rows)
        if s.native is not None:
            handlers.append(s.native())
        else:
            handlers.append((s.on_time, s.on_end if s.on_end is not None else (lambda: None)))
    run_context.begin(terminate)
    from deltaflow.engine import EngineError

    try:
        log, state = _engine.run_graph(
            graph, handlers, workers=workers, terminate_on_error=terminate, timeout_s=timeout_s, **persistence
        )
    except EngineError as error:
        # Data errors surface as the exception Python would raise for the same operation: a
        # user function's own exception, ZeroDivisionError, KeyError for duplicate ids.
        message = str(error)
        original = run_context.exception_for(message)
        if original is not None:
            raise original
        if "division by zero" in message:
            raise ZeroDivisionError(message) from None
        if "duplicate id" in message or "duplicated entries" in message or "no row for the pointer" in message:
            raise KeyError(message) from None
        raise
    errors = [tuple(e) for e in log] + [(op, msg, None) for op, msg in run_context.take_errors()]
    _last_errors[:] = errors
    _last_state[:] = [tuple(s) for s in state]
    return RunResult(errors)


def request_stop() -> None:
    """Stops the run in progress cleanly, as its ``timeout`` would: the sources close and what
    they already sent is computed and written. Callable from any thread (a callback, a
    connector subject)."""
    _engine.request_stop()


def run(
    *,
    debug: bool = False,
    monitoring_level: Any = None,
    with_http_server: bool = False,
    default_logging: bool = True,
    persistence_config: Any = None,
    runtime_typechecking: bool | None = None,
    terminate_on_error: bool | None = None,
    threads: int | None = None,
    timeout: float | None = None,
    **kwargs: Any,
) -> None:
    """Runs every output built so far; returns when all inputs are exhausted.

    Workers: ``threads``, else ``DELTAFLOW_THREADS``/``PATHWAY_THREADS``, else 1. Results do
    not depend on the count (except where documented: float summation order, ``any``).
    """
    from deltaflow.persistence import _from_environment

    # `deltaflow replay` (or `pathway replay`) names the recording to replay: it takes the place
    # of the program's own configuration.
    persistence_config = _from_environment() or persistence_config
    sinks = list(_sinks)
    clear_sinks()
    tables = parse_graph.take_tables()
    if kwargs.pop("_every_table", False):
        # run_all: every table built is computed, an output or not (errors surface).
        outputs = {id(s.table._node) for s in sinks}
        for t in tables:
            if id(t._node) not in outputs:
                outputs.add(id(t._node))
                sinks.append(Sink(t, None, None, "run_all", native=_engine.null_sink))
    if not sinks:
        return
    backend = getattr(persistence_config, "backend", None)
    stored_path = backend is not None and backend.kind == "filesystem" and "PATHWAY_PERSISTENT_STORAGE" not in os.environ
    if stored_path:
        backend.store_path_in_env_variable()  # pw.udfs.DiskCache keeps its results there
    try:
        _run_sinks(sinks, terminate_on_error, threads, timeout, persistence_config)
    finally:
        if stored_path:
            backend.remove_path_from_env_variable()


def _run_sinks(sinks: list[Sink], terminate_on_error: bool | None, threads: int | None, timeout: float | None,
               persistence_config: Any) -> None:
    with _stop_on_sigterm() as terminated:
        execute(
            sinks,
            terminate_on_error=terminate_on_error,
            threads=threads,
            timeout_s=timeout or 0.0,
            persistence_config=persistence_config,
        )
    if terminated:
        # As Pathway: the run stopped cleanly (outputs written), then the process exits with the
        # status a SIGTERM gives (128 + 15).
        raise SystemExit(128 + signal.SIGTERM)


@contextlib.contextmanager
def _stop_on_sigterm():
    """While a run goes on in the main thread, SIGTERM stops it cleanly (the sources close,
    what they sent is computed and written) instead of killing the process at once. Yields a
    list that is non-empty once SIGTERM arrived."""
    terminated: list = []
    if threading.current_thread() is not threading.main_thread():
        yield terminated
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        if not terminated:
            print("deltaflow: received SIGTERM: stopping the run cleanly", file=sys.stderr, flush=True)
        terminated.append(signum)
        _engine.request_stop()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_all(**kwargs: Any) -> None:
    """Runs every table built so far, whether or not it has an output (so that failures in
    tables nobody reads stop the run as they would in an output)."""
    run(_every_table=True, **kwargs)


class MonitoringLevel:
    AUTO = "auto"
    AUTO_ALL = "auto_all"
    NONE = "none"
    IN_OUT = "in_out"
    ALL = "all"
