"""``pw.graphs.bellman_ford.bellman_ford``: shortest distances from sources on ``pw.iterate``."""

from __future__ import annotations

import math

import deltaflow as pw
from deltaflow.graphs.common import Dist, DistFromSource, Vertex

def bellman_ford(vertices: pw.Table, edges: pw.Table) -> pw.Table:
    """Distances from the nearest source (``vertices.is_source``) along ``edges`` (``u``,
    ``v``: vertex pointers; ``dist``: length), relaxed round after round until they stop
    changing. One row per vertex, column ``dist_from_source`` (``inf`` when unreachable)."""
    start = vertices.select(dist_from_source=pw.if_else(vertices.is_source, 0.0, math.inf))

    def step(dist: pw.Table, edges: pw.Table) -> dict:
        relaxed = edges.join(dist, edges.u == dist.id).select(v=edges.v, d=dist.dist_from_source + edges.dist)
        own = dist.select(v=dist.id, d=dist.dist_from_source)
        best = own.concat_reindex(relaxed).groupby(id=pw.this.v).reduce(dist_from_source=pw.reducers.min(pw.this.d))
        return dict(dist=best.with_universe_of(dist))

    return pw.iterate(step, dist=start, edges=edges)["dist"]


__all__ = ["Dist", "DistFromSource", "Vertex", "bellman_ford"]
