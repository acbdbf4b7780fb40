"""Schemas of ``pw.graphs``."""

from __future__ import annotations

import deltaflow as pw


class Edge(pw.Schema):
    """An edge: pointers to its endpoint vertices."""

    u: pw.Pointer
    v: pw.Pointer


class Vertex(pw.Schema):
    """A vertex for ``bellman_ford``: whether it is a source."""

    is_source: bool


class Dist(pw.Schema):
    """An edge length."""

    dist: float


class DistFromSource(pw.Schema):
    """A vertex's distance from the nearest source."""

    dist_from_source: float


class Result(pw.Schema):
    """A vertex's PageRank (scaled integers)."""

    rank: int


