"""``pw.temporal``: event-time windows, behaviours and temporal joins."""

from __future__ import annotations

from typing import Any

from deltaflow.internals.temporal import (
    Behavior,
    CommonBehavior,
    ExactlyOnceBehavior,
    Window,
    common_behavior,
    exactly_once_behavior,
    intervals_over,
    session,
    sliding,
    tumbling,
    windowby,
)
from deltaflow.internals.temporal_joins import (
    Direction,
    asof_join,
    asof_join_left,
    asof_join_outer,
    asof_join_right,
    asof_now_join,
    asof_now_join_inner,
    asof_now_join_left,
    Interval,
    interval,
    interval_join,
    interval_join_inner,
    interval_join_left,
    interval_join_outer,
    interval_join_right,
    window_join,
    window_join_inner,
    window_join_left,
    window_join_outer,
    window_join_right,
)


def utc_now(refresh_rate: Any = None, initial_delay: Any = None) -> Any:
    """A one-row table (column ``timestamp_utc``) holding the current UTC time, refreshed
    every ``refresh_rate`` (60 s by default)."""
    import datetime

    from deltaflow.internals import time_utils

    return time_utils.utc_now(
        refresh_rate if refresh_rate is not None else datetime.timedelta(seconds=60),
        initial_delay if initial_delay is not None else datetime.timedelta(0),
    )


def inactivity_detection(table: Any, allowed_inactivity_period: Any, refresh_rate: Any = None, instance: Any = None) -> Any:
    """Periods without additions to ``table`` longer than ``allowed_inactivity_period``."""
    import datetime

    from deltaflow.internals import time_utils

    rate = refresh_rate if refresh_rate is not None else datetime.timedelta(seconds=1)
    return time_utils.inactivity_detection(table, allowed_inactivity_period, rate, instance)



__all__ = [
    "Behavior",
    "CommonBehavior",
    "ExactlyOnceBehavior",
    "Window",
    "common_behavior",
    "exactly_once_behavior",
    "intervals_over",
    "session",
    "sliding",
    "tumbling",
    "windowby",
    "utc_now",
    "inactivity_detection",
    "Direction",
    "asof_join",
    "asof_join_left",
    "asof_join_outer",
    "asof_join_right",
    "asof_now_join",
    "asof_now_join_inner",
    "asof_now_join_left",
    "Interval",
    "interval",
    "interval_join",
    "interval_join_inner",
    "interval_join_left",
    "interval_join_outer",
    "interval_join_right",
    "window_join",
    "window_join_inner",
    "window_join_left",
    "window_join_outer",
    "window_join_right",
]
