"""``pw.graphs``: graph algorithms written with the Table API on ``pw.iterate``
(``pw.graphs.pagerank.pagerank``, ``pw.graphs.bellman_ford.bellman_ford``)."""

from __future__ import annotations

from deltaflow.graphs import bellman_ford, pagerank
from deltaflow.graphs.common import Dist, DistFromSource, Edge, Result, Vertex

__all__ = ["Dist", "DistFromSource", "Edge", "Result", "Vertex", "bellman_ford", "pagerank"]
