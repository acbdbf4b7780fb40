"""Processing-time helpers: a table holding the current UTC time, and rows stamped with the
time of their last update."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import deltaflow as pw


class _Clock(pw.io.python.ConnectorSubject):
    """One row (key 0) whose ``timestamp_utc`` is replaced every ``refresh`` seconds."""

    def __init__(self, refresh: float, initial_delay: float) -> None:
        super().__init__(datasource_name="utc_now")
        self._refresh = refresh
        self._initial_delay = initial_delay
        self._done = threading.Event()

    def run(self) -> None:
        if self._done.wait(self._initial_delay):
            return
        while True:
            self.next(key=0, timestamp_utc=datetime.datetime.now(datetime.timezone.utc))
            self.commit()
            if self._done.wait(self._refresh):
                return

    def on_stop(self) -> None:
        self._done.set()


class _ClockSchema(pw.Schema):
    key: int = pw.column_definition(primary_key=True)
    timestamp_utc: pw.DateTimeUtc


def _seconds(d: Any) -> float:
    if isinstance(d, (int, float)):
        return float(d)
    return d.total_seconds()


def utc_now(refresh_rate: Any = datetime.timedelta(seconds=60), initial_delay: Any = datetime.timedelta(0)) -> pw.Table:
    """A one-row table (column ``timestamp_utc``) holding the current UTC time, refreshed
    every ``refresh_rate``. It never ends: a pipeline reading it runs until stopped."""
    refresh = _seconds(refresh_rate)
    if refresh <= 0:
        raise ValueError("utc_now refresh_rate must be positive")
    clock = pw.io.python.read(_Clock(refresh, _seconds(initial_delay)), schema=_ClockSchema, autocommit_duration_ms=None)
    return clock.select(timestamp_utc=clock.timestamp_utc)


def add_update_timestamp_utc(table: pw.Table, refresh_rate: Any = datetime.timedelta(seconds=1), update_timestamp_column_name: str = "updated_timestamp_utc") -> pw.Table:
    """``table`` with a column holding the UTC time (to ``refresh_rate``) at which each row
    was last inserted or updated; ids are kept."""
    now = utc_now(refresh_rate)
    stamped = table.asof_now_join(now, id=pw.left.id, how=pw.JoinMode.LEFT).select(
        *pw.left, **{update_timestamp_column_name: now.timestamp_utc}
    )
    return stamped.with_universe_of(table)


def inactivity_detection(
    table: pw.Table, allowed_inactivity_period: Any, refresh_rate: Any = datetime.timedelta(seconds=1), instance: Any = None
) -> pw.Table:
    """Periods in which no row was added to ``table`` (per ``instance``) for longer than
    ``allowed_inactivity_period``, checked every ``refresh_rate``: one row per period with
    ``inactivity_timestamp_utc`` (the last activity before it) and
    ``resumed_activity_timestamp_utc`` (the first activity after it, None while it lasts).
    Meant for append-only tables (input streams)."""
    allowed = allowed_inactivity_period
    if not isinstance(allowed, datetime.timedelta):
        raise TypeError("allowed_inactivity_period must be a timedelta")
    stamped = add_update_timestamp_utc(table, refresh_rate, "_pw_at")
    stamped = stamped.select(_pw_at=stamped["_pw_at"], _pw_instance=_instance_expr(stamped, table, instance))
    stamped = stamped.filter(stamped["_pw_at"].is_not_none())
    stamped = stamped.select(stamped["_pw_instance"], _pw_at=pw.unwrap(stamped["_pw_at"]))
    last = stamped.groupby(stamped["_pw_instance"]).reduce(stamped["_pw_instance"], _pw_last=pw.reducers.max(stamped["_pw_at"]))
    now = utc_now(refresh_rate)
    # A period is open while the clock is past the last activity by more than allowed; its row
    # disappears when activity resumes, so it is kept as first seen (deletions ignored).
    open_now = last.join(now).select(last["_pw_instance"], _pw_start=last["_pw_last"], _pw_now=now.timestamp_utc)
    open_now = open_now.filter(open_now["_pw_now"] - open_now["_pw_start"] > allowed)
    open_now = open_now.select(open_now["_pw_instance"], open_now["_pw_start"])
    periods = open_now.deduplicate(
        value=open_now["_pw_start"], instance=pw.make_tuple(open_now["_pw_instance"], open_now["_pw_start"]), acceptor=lambda new, old: False
    )
    after = periods.join(stamped, periods["_pw_instance"] == stamped["_pw_instance"]).select(
        periods["_pw_instance"], periods["_pw_start"], _pw_at=stamped["_pw_at"]
    )
    after = after.filter(after["_pw_at"] > after["_pw_start"])
    resumed = after.groupby(after["_pw_instance"], after["_pw_start"]).reduce(
        after["_pw_instance"], after["_pw_start"], _pw_resumed=pw.reducers.min(after["_pw_at"])
    )
    result = periods.join_left(
        resumed, periods["_pw_instance"] == resumed["_pw_instance"], periods["_pw_start"] == resumed["_pw_start"]
    ).select(
        instance=periods["_pw_instance"],
        inactivity_timestamp_utc=periods["_pw_start"],
        resumed_activity_timestamp_utc=resumed["_pw_resumed"],
    )
    result = result.concat_reindex(_since_start(stamped, now, allowed))
    if instance is None:
        result = result.without(pw.this.instance)
    return result


def _since_start(stamped: pw.Table, now: pw.Table, allowed: datetime.timedelta) -> pw.Table:
    """The period from the start of the stream to its first row, when no row came within
    ``allowed``: one row (instance None) starting at the clock's first reading and resumed by
    the first row of any instance."""
    first_tick = now.deduplicate(value=now.timestamp_utc, acceptor=lambda new, old: False)
    seen = stamped.reduce(_pw_first=pw.reducers.min(stamped["_pw_at"]))
    waiting = first_tick.join(now).select(_pw_start=first_tick.timestamp_utc, _pw_now=now.timestamp_utc)
    waiting = waiting.join_left(seen).select(waiting["_pw_start"], waiting["_pw_now"], _pw_first=seen["_pw_first"])
    # Opened while nothing has been seen; kept as first seen when the first row arrives.
    opened = waiting.filter((waiting["_pw_now"] - waiting["_pw_start"] > allowed) & waiting["_pw_first"].is_none())
    opened = opened.deduplicate(value=opened["_pw_start"], acceptor=lambda new, old: False)
    period = opened.join_left(seen).select(
        instance=None,
        inactivity_timestamp_utc=opened["_pw_start"],
        resumed_activity_timestamp_utc=seen["_pw_first"],
    )
    return period


def _instance_expr(stamped: pw.Table, table: pw.Table, instance: Any) -> Any:
    if instance is None:
        return None
    if isinstance(instance, pw.ColumnReference) and instance.name in stamped._columns:
        return stamped[instance.name]
    raise ValueError("inactivity_detection instance must be a column of the table")
