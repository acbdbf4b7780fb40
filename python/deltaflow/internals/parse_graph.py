"""``pw.internals.parse_graph.G``: the outputs registered for the next ``pw.run()``.

Pathway test suites call ``G.clear()`` between tests; deltaflow clears them after every run
too, so the call is only needed to drop outputs that were never run.
"""

from __future__ import annotations


class _Graph:
    def clear(self) -> None:
        from deltaflow.internals.run import clear_sinks

        clear_sinks()


G = _Graph()
