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


def _missing(feature: str) -> Any:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"pw.temporal.{feature} is not implemented yet in deltaflow")

    missing.__name__ = feature
    return missing


asof_join = _missing("asof_join")
asof_join_left = _missing("asof_join_left")
asof_join_right = _missing("asof_join_right")
asof_join_outer = _missing("asof_join_outer")
asof_now_join = _missing("asof_now_join")
utc_now = _missing("utc_now")
inactivity_detection = _missing("inactivity_detection")

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
