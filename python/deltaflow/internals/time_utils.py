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
