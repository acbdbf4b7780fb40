"""``pw.iterate`` in the engine's nested scope: fixed points and iteration limits as Pathway
documents them, and graph algorithms written as users write them (connected components,
shortest paths, PageRank) compared with networkx on random graphs that change over time,
on 1, 2 and 4 workers."""

from __future__ import annotations

import textwrap

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaflow as pw
from deltaflow.debug import _capture
from deltaflow.testing import T

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORKERS = pytest.mark.parametrize("workers", [1, 2, 4])


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def collatz_step(t):
    return t.select(t.a, n=pw.if_else(t.n == 1, 1, pw.if_else(t.n % 2 == 0, t.n // 2, 3 * t.n + 1)))


def numbers():
    return T(
        """
           | a | n
         1 | 1 | 6
         2 | 2 | 27
         3 | 3 | 1
        """
    )


def test_fixed_point_and_iteration_limit(capsys):
    pw.debug.compute_and_print(pw.iterate(collatz_step, t=numbers()))
    pw.debug.compute_and_print(pw.iterate(collatz_step, iteration_limit=3, t=numbers()))
    assert capsys.readouterr().out == dedent(
        """
                    | a | n
        ^YYY4HAB... | 1 | 1
        ^Z3QWT29... | 2 | 1
        ^3CZ78B4... | 3 | 1
                    | a | n
        ^YYY4HAB... | 1 | 5
        ^Z3QWT29... | 2 | 124
        ^3CZ78B4... | 3 | 1
        """
    )


def test_iterate_argument_errors():
    with pytest.raises(ValueError, match="keep its columns"):
        pw.iterate(lambda t: t.select(x=t.a), t=numbers())
    with pytest.raises(ValueError, match="not one of its table arguments"):
        pw.iterate(lambda t: {"u": t}, t=numbers())
    with pytest.raises(ValueError, match="iteration_limit"):
        pw.iterate(collatz_step, iteration_limit=0, t=numbers())


def components(edges):
    """Connected components as users write them: labels start as the vertex, each round
    takes the smallest label among the vertex and its neighbours."""
    sym = edges.concat_reindex(edges.select(u=edges.v, v=edges.u))
    vertices = sym.groupby(sym.u).reduce(vertex=sym.u, label=sym.u)

    def step(labels, edges):
        nb = edges.join(labels, edges.u == labels.vertex).select(vertex=edges.v, label=labels.label)
        cand = labels.concat_reindex(nb)
        return dict(labels=cand.groupby(cand.vertex).reduce(cand.vertex, label=pw.reducers.min(cand.label)).with_universe_of(labels))

    return pw.iterate(step, labels=pw.iterate_universe(vertices), edges=sym)["labels"]


@WORKERS
def test_connected_components_stream(capsys, workers):
    edges = T(
        """
           | u | v | __time__ | __diff__
         1 | 1 | 2 | 2        | 1
         2 | 2 | 3 | 2        | 1
         3 | 4 | 5 | 2        | 1
         4 | 3 | 4 | 4        | 1
         5 | 6 | 6 | 4        | 1
         4 | 3 | 4 | 6        | -1
        """
    )
    pw.debug.compute_and_print_update_stream(components(edges), threads=workers)
    assert capsys.readouterr().out == dedent(
        """
                    | vertex | label | __time__ | __diff__
        ^YYY4HAB... | 1      | 1     | 2        | 1
        ^Z3QWT29... | 2      | 1     | 2        | 1
        ^3CZ78B4... | 3      | 1     | 2        | 1
        ^3HN31E1... | 4      | 4     | 2        | 1
        ^3S2X6B2... | 5      | 4     | 2        | 1
        ^3HN31E1... | 4      | 4     | 4        | -1
        ^3S2X6B2... | 5      | 4     | 4        | -1
        ^3HN31E1... | 4      | 1     | 4        | 1
        ^3S2X6B2... | 5      | 1     | 4        | 1
        ^A984WV0... | 6      | 6     | 4        | 1
        ^3HN31E1... | 4      | 1     | 6        | -1
        ^3S2X6B2... | 5      | 1     | 6        | -1
        ^3HN31E1... | 4      | 4     | 6        | 1
        ^3S2X6B2... | 5      | 4     | 6        | 1
        """
    )


# Random graphs that change: edges are inserted and deleted at several times.
EDGE_STREAMS = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.booleans()), min_size=1, max_size=14
)


def edge_stream(ops):
    """Markdown for a stream of edge insertions/deletions (a deletion removes a live edge),
    and the live edges after each time."""
    lines = ["   | u | v | __time__ | __diff__"]
    live: dict[int, tuple] = {}
    label = 0
    snapshots = {}
    for i, (u, v, delete) in enumerate(ops):
        time = 2 * (i // 3 + 1)
        if delete and live:
            k = sorted(live)[(u + v) % len(live)]
            eu, ev = live.pop(k)
            lines.append(f"{k} | {eu} | {ev} | {time} | -1")
        else:
            label += 1
            live[label] = (u, v)
            lines.append(f"{label} | {u} | {v} | {time} | 1")
        snapshots[time] = dict(live)
    return "\n".join(lines), snapshots


def state_at(stream, time):
    state = {}
    for key, values, t, diff in stream:
        if t > time:
            break
        if diff > 0:
            state[key] = values
        elif state.get(key) == values:
            del state[key]
    return state


@WORKERS
@SETTINGS
@given(ops=EDGE_STREAMS)
def test_components_match_networkx_at_every_time(workers, ops):
    text, snapshots = edge_stream(ops)
    edges = T(text, schema=pw.schema_from_types(u=int, v=int))
    (stream,) = _capture([components(edges)], threads=workers)
    for time, live in snapshots.items():
        g = nx.Graph()
        g.add_edges_from(live.values())
        expected = {v: min(c) for c in nx.connected_components(g) for v in c}
        got = {values[0]: values[1] for values in state_at(stream, time).values()}
        assert got == expected, f"after time {time}: {got} != {expected}\n{text}"


def shortest_paths(edges, start):
    """Bellman-Ford as users write it: distances relaxed round after round."""
    vertices = edges.concat_reindex(edges.select(u=edges.v, v=edges.u, w=edges.w)).groupby(pw.this.u).reduce(
        vertex=pw.this.u, dist=pw.if_else(pw.this.u == start, 0, 10**9)
    )

    def step(dist, edges):
        relaxed = edges.join(dist, edges.u == dist.vertex).select(vertex=edges.v, dist=dist.dist + edges.w)
        cand = dist.concat_reindex(relaxed)
        return dict(dist=cand.groupby(cand.vertex).reduce(cand.vertex, dist=pw.reducers.min(cand.dist)).with_universe_of(dist))

    return pw.iterate(step, dist=vertices, edges=edges)["dist"]


@WORKERS
@SETTINGS
@given(ops=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 9)), min_size=1, max_size=12))
def test_shortest_paths_match_networkx(workers, ops):
    lines = ["   | u | v | w"] + [f"{i + 1} | {u} | {v} | {w}" for i, (u, v, w) in enumerate(ops)]
    edges = T("\n".join(lines), schema=pw.schema_from_types(u=int, v=int, w=int))
    (stream,) = _capture([shortest_paths(edges, ops[0][0])], threads=workers)
    got = {values[0]: values[1] for values in state_at(stream, 1 << 62).values()}
    g = nx.DiGraph()
    for u, v, w in ops:
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(u, v, weight=w)
    for u, v, w in ops:  # vertices reached only as targets exist too
        g.add_node(v)
        g.add_node(u)
    lengths = nx.single_source_dijkstra_path_length(g, ops[0][0])
    expected = {v: lengths.get(v, 10**9) for v in g.nodes}
    assert got == expected


def pagerank(edges, steps):
    """PageRank in integers (as Pathway's tutorial writes it), ``steps`` rounds."""
    degrees = edges.groupby(edges.u).reduce(vertex=edges.u, degree=pw.reducers.count())
    vertices = edges.concat_reindex(edges.select(u=edges.v, v=edges.u)).groupby(pw.this.u).reduce(vertex=pw.this.u, rank=6000)

    def step(ranks, edges, degrees):
        with_degree = ranks.join(degrees, ranks.vertex == degrees.vertex).select(ranks.vertex, ranks.rank, degrees.degree)
        flows = edges.join(with_degree, edges.u == with_degree.vertex).select(
            vertex=edges.v, flow=with_degree.rank * 5 // (with_degree.degree * 6)
        )
        inflow = flows.concat_reindex(ranks.select(ranks.vertex, flow=1000)).groupby(pw.this.vertex).reduce(
            pw.this.vertex, rank=pw.reducers.sum(pw.this.flow)
        )
        return dict(ranks=inflow.with_universe_of(ranks))

    return pw.iterate(step, iteration_limit=steps, ranks=vertices, edges=edges, degrees=degrees)["ranks"]


def python_pagerank(edge_list, steps):
    vertices = {u for u, _ in edge_list} | {v for _, v in edge_list}
    degree = {}
    for u, _ in edge_list:
        degree[u] = degree.get(u, 0) + 1
    rank = {v: 6000 for v in vertices}
    for _ in range(steps):
        nxt = {v: 1000 for v in vertices}
        for u, v in edge_list:
            nxt[v] += rank[u] * 5 // (degree[u] * 6)
        rank = nxt
    return rank


@WORKERS
@SETTINGS
@given(edge_list=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=15), steps=st.integers(1, 5))
def test_pagerank_matches_python(workers, edge_list, steps):
    lines = ["   | u | v"] + [f"{i + 1} | {u} | {v}" for i, (u, v) in enumerate(edge_list)]
    edges = T("\n".join(lines), schema=pw.schema_from_types(u=int, v=int))
    (stream,) = _capture([pagerank(edges, steps)], threads=workers)
    got = {values[0]: values[1] for values in state_at(stream, 1 << 62).values()}
    assert got == python_pagerank(edge_list, steps)


def test_user_functions_inside_iterate(capsys):
    """The documented example: a deterministic UDF as the loop body."""

    def collatz_transformer(iterated):
        @pw.udf(deterministic=True)
        def collatz_step(x: int) -> int:
            if x == 1:
                return 1
            elif x % 2 == 0:
                return x // 2
            else:
                return 3 * x + 1

        return iterated.select(val=collatz_step(iterated.val))

    tab = pw.debug.table_from_markdown("val\n1\n2\n3\n4\n5\n6\n7\n8")
    pw.debug.compute_and_print(pw.iterate(collatz_transformer, iterated=tab), include_id=False)
    assert capsys.readouterr().out == "val\n" + "1\n" * 8
