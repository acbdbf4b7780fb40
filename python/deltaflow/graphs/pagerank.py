"""``pw.graphs.pagerank.pagerank``: PageRank for a fixed number of steps."""

from __future__ import annotations

import deltaflow as pw
from deltaflow.graphs.common import Result

def pagerank(edges: pw.Table, steps: int = 5) -> pw.Table:
    """PageRank over ``edges`` (columns ``u``, ``v``: vertex pointers), ``steps`` rounds, in
    integers: every vertex starts at 6000; each round a vertex's rank is 1000 plus, from each
    in-neighbour, its rank times 5/6 divided by its out-degree (floored). One row per vertex
    (id: the vertex pointer), column ``rank``."""
    sources = edges.groupby(id=edges.u).reduce(degree=pw.reducers.count())
    all_ids = edges.select(v=edges.u).concat_reindex(edges.select(v=edges.v))
    vertices = all_ids.groupby(id=all_ids.v).reduce(rank=6000)

    # The steps are unrolled (one join and one group-by per step, on the pipeline's own
    # totally ordered times) rather than run in an iterate scope: a fixed number of steps
    # needs no fixed point, and the outer group-by updates each vertex's sum incrementally.
    ranks = vertices
    for _ in range(steps):
        outflow = sources.join(ranks, sources.id == ranks.id, id=sources.id).select(
            flow=ranks.rank * 5 // (sources.degree * 6)
        )
        inflow = edges.join(outflow, edges.u == outflow.id).select(v=edges.v, flow=outflow.flow)
        base = ranks.select(v=ranks.id, flow=1000)
        total = base.concat_reindex(inflow).groupby(id=pw.this.v).reduce(rank=pw.reducers.sum(pw.this.flow))
        # Every vertex has its base row, so the sums are over exactly the vertices: a promise,
        # not a lookup join per step.
        ranks = total.promise_universe_is_equal_to(vertices)
    return ranks


__all__ = ["Result", "pagerank"]
