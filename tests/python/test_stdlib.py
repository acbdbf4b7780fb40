"""Standard-library helpers as Pathway documents them: ``pw.utils.col`` and
``pw.utils.filtering``, ``pw.graphs`` (PageRank, Bellman-Ford), ``pw.ordered.diff`` and
``pw.statistical.interpolate`` (outputs as Pathway's documentation gives them)."""

from __future__ import annotations

import math
import textwrap

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaflow as pw


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def test_utils_and_pagerank(capsys):
    t1 = pw.debug.table_from_markdown('''
      | colA   | colB | colC
    1 | Alice  | 25   | dog
    2 | Bob    | 32   | cat
    3 | Carole | 28   | dog
    ''')
    t2 = t1.select(user = pw.make_tuple(pw.this.colA, pw.this.colB, pw.this.colC))
    pw.debug.compute_and_print(pw.utils.col.unpack_col(t2.user, "name", "age", "pet"), include_id=False)
    class SomeSchema(pw.Schema):
        name: str
        age: int
        pet: str
    pw.debug.compute_and_print(pw.utils.col.unpack_col(t2.user, schema=SomeSchema), include_id=False)
    table = pw.debug.table_from_markdown('''
      | colA | colB
    1 | 1    | 10
    2 | 2    | 20
    3 | 3    | 30
    ''')
    def add_total_sum(col1, col2):
       sum_all = sum(col1) + sum(col2)
       return [x + sum_all for x in col1]
    pw.debug.compute_and_print(pw.utils.col.apply_all_rows(table.colA, table.colB, fun=add_total_sum, result_col_name="res"))
    def add_total_sum2(col1, col2):
       sum_all = sum(col1) + sum(col2)
       return [x + sum_all for x in col1], [x + sum_all for x in col2]
    pw.debug.compute_and_print(pw.utils.col.multiapply_all_rows(table.colA, table.colB, fun=add_total_sum2, result_col_names=["res1", "res2"]))
    table = pw.debug.table_from_markdown('''
      | group | vote
    0 | 1     | pizza
    1 | 1     | pizza
    2 | 1     | hotdog
    3 | 2     | hotdog
    4 | 2     | pasta
    5 | 2     | pasta
    6 | 2     | pasta
    ''')
    pw.debug.compute_and_print(pw.utils.col.groupby_reduce_majority(table.group, table.vote), include_id=False)
    t = pw.debug.table_from_markdown('''
      | g | x | y
    1 | 1 | 5 | a
    2 | 1 | 3 | b
    3 | 2 | 7 | c
    4 | 2 | 9 | d
    ''')
    pw.debug.compute_and_print(pw.utils.filtering.argmin_rows(t, t.g, what=t.x))
    pw.debug.compute_and_print(pw.utils.filtering.argmax_rows(t, t.g, what=t.x))
    e = pw.debug.table_from_markdown('''
       | a | b
     1 | 1 | 2
     2 | 2 | 3
     3 | 3 | 1
     4 | 1 | 3
     5 | 4 | 1
    ''')
    edges = e.select(u=e.pointer_from(e.a), v=e.pointer_from(e.b))
    for steps in [1, 2, 5]:
        pw.debug.compute_and_print(pw.graphs.pagerank.pagerank(edges, steps=steps) if hasattr(pw.graphs.pagerank, "pagerank") else pw.graphs.pagerank(edges, steps=steps))
    assert capsys.readouterr().out == dedent(
        """
        name   | age | pet
        Alice  | 25  | dog
        Bob    | 32  | cat
        Carole | 28  | dog
        name   | age | pet
        Alice  | 25  | dog
        Bob    | 32  | cat
        Carole | 28  | dog
                    | res
        ^YYY4HAB... | 67
        ^Z3QWT29... | 68
        ^3CZ78B4... | 69
                    | res1 | res2
        ^YYY4HAB... | 67   | 76
        ^Z3QWT29... | 68   | 86
        ^3CZ78B4... | 69   | 96
        group | majority
        1     | pizza
        2     | pasta
                    | g | x | y
        ^Z3QWT29... | 1 | 3 | b
        ^3CZ78B4... | 2 | 7 | c
                    | g | x | y
        ^YYY4HAB... | 1 | 5 | a
        ^3HN31E1... | 2 | 9 | d
                    | rank
        ^3HN31E1... | 1000
        ^Z3QWT29... | 3500
        ^3CZ78B4... | 8500
        ^YYY4HAB... | 11000
                    | rank
        ^3HN31E1... | 1000
        ^Z3QWT29... | 5583
        ^3CZ78B4... | 8499
        ^YYY4HAB... | 8916
                    | rank
        ^3HN31E1... | 1000
        ^Z3QWT29... | 5015
        ^3CZ78B4... | 8943
        ^YYY4HAB... | 9035
        """
    )


def test_ordered_diff_and_interpolate(capsys):
    table = pw.debug.table_from_markdown('''
    timestamp | values
    1         | 1
    2         | 2
    3         | 4
    4         | 7
    5         | 11
    6         | 16
    ''')
    table += table.diff(pw.this.timestamp, pw.this.values)
    pw.debug.compute_and_print(table, include_id=False)
    table = pw.debug.table_from_markdown(
        '''
    timestamp | instance | values
    1         | 0        | 1
    2         | 1        | 2
    3         | 1        | 4
    3         | 0        | 7
    6         | 1        | 11
    6         | 0        | 16
    '''
    )
    table += table.diff(pw.this.timestamp, pw.this.values, instance=pw.this.instance)
    pw.debug.compute_and_print(table, include_id=False)
    table = pw.debug.table_from_markdown('''
    timestamp | values_a | values_b
    1         | 1        | 10
    2         |          |
    3         | 3        |
    4         |          |
    5         |          |
    6         | 6        | 60
    ''')
    table = table.interpolate(pw.this.timestamp, pw.this.values_a, pw.this.values_b)
    pw.debug.compute_and_print(table, include_id=False)
    table = pw.debug.table_from_markdown('''
    timestamp | values_a
    1         | 
    2         | 4
    3         | 
    5         | 8
    7         | 
    ''')
    pw.debug.compute_and_print(table.interpolate(pw.this.timestamp, pw.this.values_a), include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        timestamp | values | diff_values
        1         | 1      |
        2         | 2      | 1
        3         | 4      | 2
        4         | 7      | 3
        5         | 11     | 4
        6         | 16     | 5
        timestamp | instance | values | diff_values
        1         | 0        | 1      |
        2         | 1        | 2      |
        3         | 0        | 7      | 6
        3         | 1        | 4      | 2
        6         | 0        | 16     | 9
        6         | 1        | 11     | 7
        timestamp | values_a | values_b
        1         | 1.0      | 10.0
        2         | 2.0      | 20.0
        3         | 3.0      | 30.0
        4         | 4.0      | 40.0
        5         | 5.0      | 50.0
        6         | 6.0      | 60.0
        timestamp | values_a
        1         | 4.0
        2         | 4.0
        3         | 5.333333333333333
        5         | 8.0
        7         | 8.0
        """
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 9)), min_size=1, max_size=12))
def test_bellman_ford_matches_networkx(ops):
    vertices = sorted({u for u, _, _ in ops} | {v for _, v, _ in ops})
    source = ops[0][0]
    vt = pw.debug.table_from_markdown(
        "\n".join(["   | n | is_source"] + [f"{i + 1} | {v} | {v == source}" for i, v in enumerate(vertices)])
    ).with_id_from(pw.this.n)
    et = pw.debug.table_from_markdown("\n".join(["   | a | b | w"] + [f"{i + 1} | {u} | {v} | {w}" for i, (u, v, w) in enumerate(ops)]))
    edges = et.select(u=et.pointer_from(et.a), v=et.pointer_from(et.b), dist=pw.cast(float, et.w))
    dist = pw.graphs.bellman_ford.bellman_ford(vt, edges)
    got = {row.n: row.d for row in pw.debug.table_to_pandas(vt + dist.select(d=dist.dist_from_source)).itertuples()}
    g = nx.DiGraph()
    g.add_nodes_from(vertices)
    for u, v, w in ops:
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(u, v, weight=w)
    lengths = nx.single_source_dijkstra_path_length(g, source)
    assert got == {v: float(lengths.get(v, math.inf)) for v in vertices}
