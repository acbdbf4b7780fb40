"""``pw.utils``: helpers over columns and rows."""

from __future__ import annotations

from deltaflow.utils import col, filtering

__all__ = ["col", "filtering"]
