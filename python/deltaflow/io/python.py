"""Python connectors: ``read`` a stream produced by your own code (a ``ConnectorSubject``
running in its own thread) and ``write`` a table to a ``ConnectorObserver``.

A subject pushes rows with ``next(**values)`` (or ``next_json``/``next_str``/``next_bytes``)
and closes a batch with ``commit()``; rows not committed explicitly are committed every
``autocommit_duration_ms``. Each commit becomes one engine time. With a primary key in the
schema, a row for an existing key replaces it (the old row is retracted); ``_remove`` deletes a
row. Rows are handed to the engine in batches, and the subject is bounded: ``next`` waits when
the engine falls behind by more than ``max_backlog`` rows.
"""

from __future__ import annotations

import json
import numbers
import threading
import time as _time
from collections import deque
from typing import Any

from deltaflow import _engine
from deltaflow.internals import dtype as dt
from deltaflow.internals.run import Sink, register_sink
from deltaflow.internals.schema import schema_from_types
from deltaflow.internals.table import LogicalNode, Table, user_location
from deltaflow.internals.universe import Universe
from deltaflow.internals.values import Json

def _convert(v: Any, t: dt.DType, column: str) -> Any:
    """``v`` as a value of column type ``t`` (ints widen to floats, bools to numbers), or
    ValueError."""
    if v is None:
        if t.is_optional() or t in (dt.ANY, dt.NONE) or t.strip_optional() == dt.JSON:
            return Json(None) if t == dt.JSON else None
        raise ValueError(f"column {column!r} is not optional but the value is None")
    base = t.strip_optional()
    if base == dt.ANY:
        return v
    if base == dt.INT:
        if isinstance(v, numbers.Integral):
            return int(v)
    elif base == dt.FLOAT:
        if isinstance(v, numbers.Real):
            return float(v)
    elif base == dt.BOOL:
        if isinstance(v, bool):
            return v
    elif base == dt.STR:
        if isinstance(v, str):
            return v
    elif base == dt.BYTES:
        if isinstance(v, bytes):
            return v
    elif base == dt.JSON:
        return v if isinstance(v, Json) else Json(v)
    else:
        return v
    raise ValueError(f"column {column!r} expects {base!r}, got {type(v).__name__} {v!r}")


_COMMIT = object()
_CLOSE = object()


class ConnectorSubject:
    """Subclass and implement ``run()``; call ``next``/``commit`` from it."""

    def __init__(self, datasource_name: str = "python", **kwargs: Any) -> None:
        self._datasource_name = datasource_name
        session_type = kwargs.get("session_type", "native")
        if session_type not in ("native", "upsert"):
            raise ValueError(f"unknown session_type {session_type!r}")
        self._upsert = session_type == "upsert"
        self._queue: deque[Any] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._backlog = 0
        self._max_backlog = 100_000
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stopped = False
        self._wakeup: Any = None

    @property
    def _deletions_enabled(self) -> bool:
        """Whether this subject may delete rows without a primary key (``_remove``/``delete``).
        A subject that only appends can return False: its rows are then not remembered by the
        connector, so a long stream costs no memory there."""
        return True

    # --- called by the user's run() --------------------------------------------------------
    def run(self) -> None:
        raise NotImplementedError("ConnectorSubject.run() must be implemented")

    def on_stop(self) -> None:
        """Called when the run ends (normally, on an error, or on Ctrl-C)."""

    def next(self, **kwargs: Any) -> None:
        self._push(("insert", kwargs))

    def next_json(self, message: dict) -> None:
        self._push(("insert", dict(message)))

    def next_str(self, message: str) -> None:
        self._push(("insert", {"data": message}))

    def next_bytes(self, message: bytes) -> None:
        self._push(("insert", {"data": message}))

    def _remove(self, **kwargs: Any) -> None:
        self._push(("remove", kwargs))

    def delete(self, **kwargs: Any) -> None:
        """Removes one row with these values (by primary key when the schema has one)."""
        self._remove(**kwargs)

    def _remove_inner(self, key: Any, values: dict) -> None:
        self._remove(**values)

    def commit(self) -> None:
        self._push(_COMMIT)
        self._wake()

    # --- persistence --------------------------------------------------------------------------
    def _report_offset(self, offset: bytes) -> None:
        """Records where the subject stands after the rows sent so far (bytes of its own
        making); with persistence, a restarted run hands the offset of its last checkpoint to
        ``_seek`` before ``run()`` starts."""
        if not isinstance(offset, (bytes, bytearray)):
            raise TypeError(f"_report_offset expects bytes, got {type(offset).__name__}")
        self._push(("offset", bytes(offset)))

    def seek(self, state: bytes) -> None:
        """Called on a restart, before ``run()``, with the last checkpoint's offset."""
        self._seek(state)

    def _seek(self, state: bytes) -> None:
        """Resumes after ``state`` (an offset given to ``_report_offset``); a subject that
        reports offsets overrides it."""

    def on_persisted_run(self) -> None:
        """Called before ``run()`` when the run persists its inputs."""

    def close(self) -> None:
        with self._cond:
            if not self._closed:
                self._queue.append(_CLOSE)
                self._closed = True
                self._cond.notify_all()
        self._wake()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup()

    @property
    def _session_type(self) -> str:
        return "native"

    # --- plumbing ---------------------------------------------------------------------------
    def _push(self, item: Any) -> None:
        with self._cond:
            if self._closed:
                return  # after close(): ignored, as Pathway does
            while self._backlog >= self._max_backlog and not self._stopped:
                self._cond.wait(0.1)
            self._queue.append(item)
            if item is not _COMMIT:
                self._backlog += 1

    def _start(self) -> None:
        # A subject can feed several runs (a table computed twice): each run starts it afresh.
        with self._cond:
            self._queue.clear()
            self._closed = False
            self._backlog = 0
            self._error = None
            self._stopped = False

        def body() -> None:
            try:
                self.run()
            except BaseException as error:  # noqa: BLE001 - handed to the engine thread
                self._error = error
            finally:
                self.close()

        self._thread = threading.Thread(target=body, name=f"deltaflow-source-{self._datasource_name}", daemon=True)
        self._thread.start()

    def _take(self, autocommit_s: float | None, pending: list, since: list) -> tuple[list | None, bool]:
        """The next batch to commit (None if none is ready) and whether the subject is open."""
        with self._cond:
            while self._queue:
                item = self._queue.popleft()
                if item is _CLOSE:
                    batch = pending[:]
                    pending.clear()
                    self._cond.notify_all()
                    return batch, False
                if item is _COMMIT:
                    batch = pending[:]
                    pending.clear()
                    since[0] = None
                    self._cond.notify_all()
                    return batch, True
                pending.append(item)
                self._backlog -= 1
                if since[0] is None:
                    since[0] = _time.monotonic()
            self._cond.notify_all()
        if pending and autocommit_s is not None and since[0] is not None and _time.monotonic() - since[0] >= autocommit_s:
            batch = pending[:]
            pending.clear()
            since[0] = None
            return batch, True
        return None, True


class _SubjectSource:
    """What the engine polls: converts a subject's batches into id-keyed changes."""

    def __init__(self, subject: ConnectorSubject, columns: dict[str, dt.DType], primary_key: list[str] | None, defaults: dict[str, Any], autocommit_ms: int | None, name: str) -> None:
        self.subject = subject
        self.columns = columns
        self.names = list(columns)
        self.primary_key = primary_key
        self.defaults = defaults
        self.autocommit_s = None if autocommit_ms is None else autocommit_ms / 1000.0
        self.name = name
        self.pending: list = []
        self.since: list = [None]
        self.started = False
        self.counter = 0
        self.live: dict[Any, tuple] = {}
        # Rows are remembered only where a later change may need them.
        self.remember = bool(primary_key) or bool(getattr(subject, "_deletions_enabled", True))
        self.open = True
        self.errors: list[str] = []
        self.reported_offset: bytes | None = None

    # Persistence (see PySource in register_table.cc).
    def offsets(self) -> tuple[int, bytes | None]:
        return self.counter, self.reported_offset

    def on_persisted(self) -> None:
        self.subject.on_persisted_run()

    def seek(self, counter: int, state: bytes | None) -> None:
        self.counter = max(self.counter, counter)
        if state is not None:
            self.reported_offset = state
            self.subject.seek(state)

    def restore(self, changes: list) -> None:
        if not self.remember:
            return
        for key, row, diff in changes:
            if diff > 0:
                self.live[key] = tuple(row)
            elif diff < 0:
                self.live.pop(key, None)

    def _row(self, values: dict[str, Any]) -> tuple:
        """The row for ``values``; raises ValueError naming the column that does not fit."""
        out = []
        for n in self.names:
            if n in values:
                v = values[n]
            elif n in self.defaults:
                v = self.defaults[n]
            else:
                raise ValueError(f"no value for column {n!r} (and the column has no default)")
            out.append(_convert(v, self.columns[n], n))
        return tuple(out)

    def drain_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors

    def set_wakeup(self, wakeup: Any) -> None:
        self.subject._wakeup = wakeup

    def poll(self) -> tuple[list, bool]:
        if not self.started:
            self.started = True
            self.subject._start()
        batch, still_open = self.subject._take(self.autocommit_s, self.pending, self.since)
        changes = []
        if batch:
            for kind, values in batch:
                if kind == "offset":
                    self.reported_offset = values
                    continue
                try:
                    row = self._row(values)
                except ValueError as error:
                    self.errors.append(f"{self.name}: {error}; the row {values!r} is skipped")
                    continue
                if self.primary_key:
                    key = _engine.ref_scalar(*(row[self.names.index(k)] for k in self.primary_key))
                elif kind == "remove":
                    if not self.remember:
                        self.errors.append(f"{self.name}: a row removed by a subject whose _deletions_enabled is False; ignored")
                        continue
                    key = None
                    for k, live_row in self.live.items():
                        if live_row == row:
                            key = k
                            break
                    if key is None:
                        continue
                else:
                    key = _engine.ref_scalar(self.name, self.counter)
                    self.counter += 1
                old = self.live.get(key)
                if old is not None:
                    changes.append((key, old, -1))
                    del self.live[key]
                if kind == "insert":
                    changes.append((key, row, 1))
                    if self.remember:
                        self.live[key] = row
        if not still_open:
            self.subject.on_stop()
            if self.subject._error is not None:
                raise self.subject._error
            self.open = False
        return changes, still_open


_source_counter = 0


def read(
    subject: ConnectorSubject,
    *,
    schema: Any = None,
    format: str = "json",  # noqa: A002
    autocommit_duration_ms: int | None = 1500,
    debug_data: Any = None,
    name: str | None = None,
    max_backlog_size: int | None = None,
    **kwargs: Any,
) -> Table:
    """A table fed by ``subject`` (started when the pipeline runs, in its own thread)."""
    global _source_counter
    if schema is None:
        if format in ("raw", "binary"):
            schema = schema_from_types(data=Any)  # next_str gives str, next_bytes bytes
        elif format in ("plaintext", "str"):
            schema = schema_from_types(data=str)
        else:
            raise ValueError("pw.io.python.read needs a schema= (or format='raw'/'plaintext')")
    columns = schema._dtypes()
    primary_key = schema.primary_key_columns()
    defaults = schema.default_values()
    if max_backlog_size is not None:
        if max_backlog_size <= 0:
            raise ValueError(f"max_backlog_size must be positive, got {max_backlog_size}")
        subject._max_backlog = max_backlog_size
    _source_counter += 1
    source_name = name or f"python-{_source_counter}"
    location = user_location()
    arity = len(columns)

    def build(g: Any, ins: list[int]) -> int:
        source = _SubjectSource(subject, columns, primary_key, defaults, autocommit_duration_ms, source_name)
        return g.source_input(
            source, arity, f"python source at {location}", max_backlog_size or 0, persistent_name=name or ""
        )

    return Table(columns, LogicalNode([], build, arity), Universe())


class ConnectorObserver:
    """Subclass and implement ``on_change``; ``on_time_end`` and ``on_end`` are optional."""

    def on_change(self, key: Any, row: dict, time: int, is_addition: bool) -> None:
        raise NotImplementedError

    def on_time_end(self, time: int) -> None:
        pass

    def on_end(self) -> None:
        pass


def write(table: Table, observer: ConnectorObserver, *, name: str | None = None, **kwargs: Any) -> None:
    """Sends every change of ``table`` to ``observer`` when the pipeline runs."""
    names = list(table.column_names())

    def on_time(time: int, changes: list) -> None:
        for key, values, diff in changes:
            row = dict(zip(names, values))
            for _ in range(abs(diff)):
                observer.on_change(key=key, row=row, time=time, is_addition=diff > 0)
        observer.on_time_end(time)

    register_sink(Sink(table, on_time, observer.on_end, name or "python.write"))


__all__ = ["ConnectorSubject", "ConnectorObserver", "read", "write"]

del json
