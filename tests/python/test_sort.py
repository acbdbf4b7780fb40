"""``Table.sort``: prev/next pointers per instance, as Pathway documents them, maintained
incrementally (a change touches only its neighbours)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings

import deltaflow as pw
from deltaflow.testing import T
from test_incremental_properties import check_incremental, update_streams

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def people():
    return T(
        """
            | name     | age | score | __time__
          1 | Alice    | 25  | 80    | 2
          2 | Bob      | 20  | 90    | 2
          3 | Charlie  | 30  | 80    | 4
          4 | Dan      | 25  | 70    | 4
        """
    )


def test_sort_prev_next_and_stream(capsys):
    t = people()
    s = t.sort(key=t.age)
    pw.debug.compute_and_print(t + s)
    pw.debug.compute_and_print_update_stream(s)
    assert capsys.readouterr().out == dedent(
        """
                    | name    | age | score | prev        | next
        ^YYY4HAB... | Alice   | 25  | 80    | ^Z3QWT29... | ^3HN31E1...
        ^Z3QWT29... | Bob     | 20  | 90    |             | ^YYY4HAB...
        ^3CZ78B4... | Charlie | 30  | 80    | ^3HN31E1... |
        ^3HN31E1... | Dan     | 25  | 70    | ^YYY4HAB... | ^3CZ78B4...
                    | prev        | next        | __time__ | __diff__
        ^Z3QWT29... |             | ^YYY4HAB... | 2        | 1
        ^YYY4HAB... | ^Z3QWT29... |             | 2        | 1
        ^YYY4HAB... | ^Z3QWT29... |             | 4        | -1
        ^3HN31E1... | ^YYY4HAB... | ^3CZ78B4... | 4        | 1
        ^YYY4HAB... | ^Z3QWT29... | ^3HN31E1... | 4        | 1
        ^3CZ78B4... | ^3HN31E1... |             | 4        | 1
        """
    )


def test_sort_with_instance_and_lookups(capsys):
    t = people()
    s = t.sort(key=t.age, instance=t.score)
    pw.debug.compute_and_print(t + s)
    # Following the pointers: each person's predecessor's name.
    r = (t + t.sort(key=t.age)).select(t.name, before=pw.coalesce(t.ix(pw.this.prev, optional=True).name, "-"))
    pw.debug.compute_and_print(r, include_id=False)
    assert capsys.readouterr().out == dedent(
        """
                    | name    | age | score | prev        | next
        ^YYY4HAB... | Alice   | 25  | 80    |             | ^3CZ78B4...
        ^Z3QWT29... | Bob     | 20  | 90    |             |
        ^3CZ78B4... | Charlie | 30  | 80    | ^YYY4HAB... |
        ^3HN31E1... | Dan     | 25  | 70    |             |
        name    | before
        Alice   | Bob
        Bob     | -
        Charlie | Dan
        Dan     | Alice
        """
    )


def test_sort_key_type_error():
    t = people()
    with pytest.raises(TypeError, match="sort key must be comparable"):
        t.sort(key=pw.declare_type(list[int], pw.apply(lambda a: [a], t.age)))


def python_sorted(live):
    """id label -> (prev label, next label), by (k instance) then (v, label)."""
    result = {}
    by_instance = {}
    for label, (k, v) in live.items():
        by_instance.setdefault(k, []).append((v, label))
    for rows in by_instance.values():
        rows.sort()
        for i, (_, label) in enumerate(rows):
            result[label] = (rows[i - 1][1] if i > 0 else None, rows[i + 1][1] if i + 1 < len(rows) else None)
    return result


@pytest.mark.parametrize("workers", [1, 2, 4])
@SETTINGS
@given(rows=update_streams())
def test_sort_incremental_equals_recomputed(workers, rows):
    def build(t):
        return t.sort(key=t.v, instance=t.k)

    check_incremental(build, [rows], workers)


@SETTINGS
@given(rows=update_streams())
def test_sort_matches_python(rows):
    from test_incremental_properties import live_rows

    live = live_rows(rows)
    lines = ["   | k | v | lbl"] + [f"{label} | {k} | {v} | {label}" for label, (k, v) in sorted(live.items())]
    t = T("\n".join(lines), schema=pw.schema_from_types(k=int, v=int, lbl=int))
    s = t + t.sort(key=t.v, instance=t.k)
    r = s.select(
        s.lbl,
        p=t.ix(s.prev, optional=True).lbl,
        n=t.ix(s.next, optional=True).lbl,
    )
    got = {row.lbl: (_none(row.p), _none(row.n)) for row in pw.debug.table_to_pandas(r).itertuples()}
    assert got == python_sorted(live)


def _none(v):
    import math

    import pandas as pd

    return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else int(v)
