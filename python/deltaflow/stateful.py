"""``pw.stateful``: stateful helpers."""

from __future__ import annotations

from typing import Any, Callable

from deltaflow.internals.table import Table


def deduplicate(table: Table, *, col: Any, instance: Any = None, acceptor: Callable[[Any, Any], bool]) -> Table:
    """``table.deduplicate(value=col, instance=instance, acceptor=acceptor)``."""
    return table.deduplicate(value=col, instance=instance, acceptor=acceptor)


__all__ = ["deduplicate"]
