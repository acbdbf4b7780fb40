"""Date and time value types users name in schemas (``pw.DateTimeNaive`` ...)."""

from __future__ import annotations

import pandas as _pd


class DateTimeNaive(_pd.Timestamp):
    """A date and time without a time zone."""


class DateTimeUtc(_pd.Timestamp):
    """A date and time in UTC."""


class Duration(_pd.Timedelta):
    """A span of time."""
