"""``pw.internals.parse_graph.G``: what the next run computes.

The outputs registered for the next ``pw.run()`` (``io.subscribe``, writers) live in
``deltaflow.internals.run``; this module also keeps every table built since the last run, so
that ``pw.run_all()`` computes them all, those without an output included (their errors
surface as they would in an output). Pathway test suites call ``G.clear()`` between tests;
deltaflow also clears both after every run.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

# Every table built since the last run (strong references: a table built and dropped is still
# computed by run_all, as in Pathway).
_tables: list[Any] = []
_suspended = 0


def track(table: Any) -> None:
    if _suspended == 0:
        _tables.append(table)


@contextlib.contextmanager
def untracked() -> Iterator[None]:
    """Tables built inside (an iterate body: they live in the loop's scope) are not computed
    by run_all on their own."""
    global _suspended
    _suspended += 1
    try:
        yield
    finally:
        _suspended -= 1


def track_anyway(table: Any) -> None:
    """Tracks a table built while tracking is suspended that lives outside (an iterate's
    result)."""
    _tables.append(table)


def take_tables() -> list[Any]:
    tables = list(_tables)
    _tables.clear()
    return tables


class _Graph:
    def clear(self) -> None:
        from deltaflow.internals.run import clear_sinks

        clear_sinks()
        _tables.clear()


G = _Graph()
