"""The Table API as Pathway documents it: printing, select/filter, ids, reducers, joins,
universes, subscribe and user functions."""

import textwrap

import pytest

import deltaflow as pw
from deltaflow.testing import (
    T,
    assert_stream_equality_wo_index,
    assert_table_equality,
    assert_table_equality_wo_index,
)


def printed(capsys, *tables, **kwargs):
    pw.debug.compute_and_print(*tables, **kwargs)
    return capsys.readouterr().out


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def test_markdown_types_and_printing(capsys):
    t = T(
        """
         | a | b    | c     | d    | e
       1 | 1 | 1.5  | True  | foo  | None
       2 | -3| 2.0  | False | "xy" |
       5 | 7 | 1e3  | true  | 'q'  | abc
    """
    )
    assert t.schema._dtypes() == {
        "a": pw.dt.INT,
        "b": pw.dt.FLOAT,
        "c": pw.dt.BOOL,
        "d": pw.dt.STR,
        "e": pw.dt.Optional(pw.dt.STR),
    }
    assert printed(capsys, t, include_id=False) == dedent(
        """
        a  | b      | c     | d    | e
        -3 | 2.0    | False | "xy" |
        1  | 1.5    | True  | foo  |
        7  | 1000.0 | True  | 'q'  | abc
        """
    )


def test_ids_match_pathways_for_labels_and_row_numbers(capsys):
    t = T(
        """
        colA | colB
        valA | -1
        valA | 1
        valA | 2
        valB | 4
        valB | 4
        valB | 7
    """
    )
    assert printed(capsys, t) == dedent(
        """
                    | colA | colB
        ^X1MXHYY... | valA | -1
        ^YYY4HAB... | valA | 1
        ^Z3QWT29... | valA | 2
        ^3CZ78B4... | valB | 4
        ^3HN31E1... | valB | 4
        ^3S2X6B2... | valB | 7
        """
    )
    assert str(pw.Pointer("^X1MXHYYG4YM0DB900V28XN5T4W")) == "^X1MXHYYG4YM0DB900V28XN5T4W"
    labelled = T(
        """
          | v
        1 | 10
        """
    )
    keys, _ = pw.debug.table_to_dicts(labelled)
    assert [str(k) for k in keys] == ["^YYY4HABTRW7T8VX2Q429ZYV70W"]


def test_groupby_ids_equal_pointer_from_of_group_values():
    t = T(
        """
        g | v
        1 | 10
        1 | 20
        2 | 5
    """
    )
    r = t.groupby(t.g).reduce(t.g, s=pw.reducers.sum(t.v))
    expected = T(
        """
          | g | s
        1 | 1 | 30
        2 | 2 | 5
    """
    )
    assert_table_equality(r, expected)
    with_ptr = r.select(same=r.id == r.pointer_from(r.g))
    assert_table_equality_wo_index(with_ptr, T("same\nTrue\nTrue"))


def test_select_with_columns_without_rename_filter():
    t = T(
        """
        a | b | c
        1 | 2 | x
        3 | 4 | y
    """
    )
    assert_table_equality(
        t.with_columns(d=pw.this.a + pw.this.b).without("c"),
        T(
            """
            a | b | d
            1 | 2 | 3
            3 | 4 | 7
        """
        ),
    )
    assert_table_equality(
        t.rename_columns(z=pw.this.a).select(pw.this.z),
        T("z\n1\n3"),
    )
    assert list(t.with_prefix("p_").column_names()) == ["p_a", "p_b", "p_c"]
    assert_table_equality_wo_index(t.filter(t.a > 1).select(pw.this.c), T("c\ny"))
    with pytest.raises(ValueError, match="universe"):
        t.filter(t.a > 1).select(t.c)  # as in Pathway: the filtered table has its own universe


def test_arithmetic_follows_python_rules(capsys):
    t = T(
        """
        a  | b
        7  | 2
        -7 | 2
        7  | -2
    """
    )
    out = printed(capsys, t.select(fd=t.a // t.b, m=t.a % t.b, d=t.a / t.b, p=t.a**2), include_id=False)
    assert out == dedent(
        """
        fd | m  | d    | p
        -4 | -1 | -3.5 | 49
        -4 | 1  | -3.5 | 49
        3  | 1  | 3.5  | 49
        """
    )
    f = T("x\n-7.5\n7.5")
    out = printed(capsys, f.select(q=f.x // -2.0, r=f.x % -2.0), include_id=False)
    assert out == dedent(
        """
        q    | r
        -4.0 | -0.5
        3.0  | -1.5
        """
    )


def test_type_errors_at_build_time():
    t = T("a | s\n1 | x")
    with pytest.raises(TypeError, match="add"):
        t.select(q=t.a + t.s)
    o = T("n\n1\nNone")
    with pytest.raises(TypeError):
        o.select(q=o.n + 1)
    with pytest.raises(AttributeError):
        t.nonexistent  # noqa: B018


def test_division_by_zero_stops_the_run_or_becomes_error(capsys):
    t = T("a\n1\n2")
    with pytest.raises(ZeroDivisionError):
        pw.debug.compute_and_print(t.select(z=t.a // 0))
    out = printed(capsys, t.select(z=t.a / 0, ok=t.a), include_id=False, terminate_on_error=False)
    assert "Error" in out and "| 1" in out


def test_expression_helpers():
    t = T(
        """
        a | b    | s
        1 | None | Hello
        2 | 5    | World
    """
    )
    r = t.select(
        c=pw.coalesce(t.b, 0),
        ie=pw.if_else(t.a > 1, "big", "small"),
        rq=pw.require(t.a, t.b),
        tp=pw.make_tuple(t.a, t.s),
        first=pw.make_tuple(t.a, t.s)[1],
        n=t.b.is_none(),
        up=t.s.str.upper(),
        ln=t.s.str.len(),
        fi=t.s.str.find("l"),
        rep=t.s.str.replace("l", "L", 1),
        sl=t.s.str.slice(1, 3),
        ci=pw.cast(float, t.a),
        fl=t.b.num.fill_na(-1),
    )
    keys, cols = pw.debug.table_to_dicts(r)
    rows = sorted(({n: cols[n][k] for n in cols} for k in keys), key=lambda row: row["ln"] + row["fi"])
    assert rows[0] == {
        "c": 0, "ie": "small", "rq": None, "tp": (1, "Hello"), "first": "Hello", "n": True, "up": "HELLO",
        "ln": 5, "fi": 2, "rep": "HeLlo", "sl": "el", "ci": 1.0, "fl": -1,
    }
    assert rows[1] == {
        "c": 5, "ie": "big", "rq": 2, "tp": (2, "World"), "first": "World", "n": False, "up": "WORLD",
        "ln": 5, "fi": 3, "rep": "WorLd", "sl": "or", "ci": 2.0, "fl": 5,
    }


def test_reducers():
    t = T(
        """
          | g | v | s
        1 | a | 3 | x
        2 | a | 1 | y
        3 | a | 3 | x
        4 | b | 5 | z
    """
    )
    r = t.groupby(t.g).reduce(
        t.g,
        c=pw.reducers.count(),
        s=pw.reducers.sum(t.v),
        a=pw.reducers.avg(t.v),
        mn=pw.reducers.min(t.v),
        mx=pw.reducers.max(t.s),
        cd=pw.reducers.count_distinct(t.v),
        st=pw.reducers.sorted_tuple(t.v),
        tp=pw.reducers.tuple(t.s),
        am=pw.reducers.argmax(t.v, t.s),
    )
    keys, cols = pw.debug.table_to_dicts(r)
    by_group = {cols["g"][k]: {n: cols[n][k] for n in cols} for k in keys}
    assert by_group["a"]["c"] == 3 and by_group["a"]["s"] == 7
    assert by_group["a"]["a"] == pytest.approx(7 / 3)
    assert by_group["a"]["mn"] == 1 and by_group["a"]["mx"] == "y"
    assert by_group["a"]["cd"] == 2
    assert by_group["a"]["st"] == (1, 3, 3)
    assert by_group["a"]["tp"] == ("x", "y", "x")  # ordered by row id
    assert by_group["a"]["am"] == "x"
    assert by_group["b"] == {"g": "b", "c": 1, "s": 5, "a": 5.0, "mn": 5, "mx": "z", "cd": 1, "st": (5,), "tp": ("z",), "am": "z"}


def test_reduce_without_groupby_and_empty_table():
    t = T("v\n1\n2\n3")
    assert_table_equality_wo_index(t.reduce(s=pw.reducers.sum(t.v), c=pw.reducers.count()), T("s | c\n6 | 3"))
    empty = pw.Table.empty(v=int)
    keys, _ = pw.debug.table_to_dicts(empty.reduce(c=pw.reducers.count()))
    assert keys == []


def test_non_grouped_column_in_reduce_is_an_error():
    t = T("g | v\n1 | 2")
    with pytest.raises(ValueError, match="cannot use"):
        t.groupby(t.g).reduce(t.v)


def test_unique_reducer_fails_on_two_values():
    t = T("g | v\n1 | 2\n1 | 3")
    with pytest.raises(ValueError, match="more than one distinct value"):
        pw.debug.compute_and_print(t.groupby(t.g).reduce(u=pw.reducers.unique(t.v)))


def test_outer_join(capsys):
    left = T("k | a\n1 | 10\n2 | 20")
    right = T("k | b\n1 | x\n3 | y")
    out = printed(
        capsys,
        left.join_outer(right, left.k == right.k).select(lk=left.k, rk=right.k, a=left.a, b=right.b),
        include_id=False,
    )
    assert out == dedent(
        """
        lk | rk | a  | b
           | 3  |    | y
        1  | 1  | 10 | x
        2  |    | 20 |
        """
    )


def test_join_variants_and_this():
    left = T("k | a\n1 | 10\n2 | 20")
    right = T("k | b\n1 | x\n3 | y")
    assert_table_equality_wo_index(left.join(right, left.k == right.k).select(*pw.this), T("k | a | b\n1 | 10 | x"))
    lj = left.join_left(right, pw.left.k == pw.right.k).select(pw.left.a, pw.right.b)
    assert lj.schema._dtypes()["b"] == pw.dt.Optional(pw.dt.STR)
    assert_table_equality_wo_index(lj, T("a | b\n10 | x\n20 | None"))
    kept = left.join_left(right, left.k == right.k, id=left.id).select(left.a)
    assert_table_equality(kept, left.select(left.a))
    with pytest.raises(ValueError, match="not properly ordered"):
        left.join(right, right.k == left.k)
    both = T("k | c\n1 | 1")
    with pytest.raises(KeyError, match="both left and right"):
        T("k | c\n1 | 2").join(both, pw.left.k == pw.right.k).select(pw.this.c)


def test_join_then_groupby_and_filter():
    orders = T("cust | amount\n1 | 5\n1 | 7\n2 | 1")
    names = T("cust | name\n1 | ann\n2 | bob")
    joined = orders.join(names, orders.cust == names.cust)
    totals = joined.groupby(pw.right.name).reduce(pw.this.name, total=pw.reducers.sum(pw.left.amount))
    assert_table_equality_wo_index(totals, T("name | total\nann | 12\nbob | 1"))
    big = joined.filter(pw.left.amount > 4).select(pw.right.name)
    assert_table_equality_wo_index(big, T("name\nann\nann"))


def test_universes_concat_update_rows_update_cells():
    a = T("  | v\n1 | 1\n2 | 2")
    b = T("  | v\n3 | 3")
    with pytest.raises(ValueError, match="disjoint"):
        a.concat(b)
    b.promise_universes_are_disjoint(a)
    assert_table_equality_wo_index(a.concat(b), T("v\n1\n2\n3"))
    c = T("  | v\n2 | 20\n4 | 40")
    assert_table_equality(a.update_rows(c), T("  | v\n1 | 1\n2 | 20\n4 | 40"))
    d = T("  | v\n1 | 100")
    with pytest.raises(ValueError, match="subset"):
        a.update_cells(d)
    d.promise_universe_is_subset_of(a)
    assert_table_equality(a << d, T("  | v\n1 | 100\n2 | 2"))
    other = T("  | w\n7 | 1")
    with pytest.raises(ValueError, match="universe"):
        a.select(other.w)
    same_ids = T("  | w\n1 | 5\n2 | 6")
    assert_table_equality(a + same_ids, T("  | v | w\n1 | 1 | 5\n2 | 2 | 6"))
    assert_table_equality(a.difference(d), T("  | v\n2 | 2"))
    assert_table_equality(a.intersect(d), T("  | v\n1 | 1"))
    assert_table_equality(a.restrict(d), T("  | v\n1 | 1"))


def test_with_id_from_ix_and_flatten():
    t = T("k | v\na | 1\nb | 2")
    keyed = t.with_id_from(t.k)
    refs = T("ref\na\nb\na")
    looked_up = keyed.ix(refs.select(p=refs.pointer_from(refs.ref)).p)
    assert_table_equality_wo_index(looked_up, T("k | v\na | 1\nb | 2\na | 1"))
    words = T("line\na,b").select(parts=pw.this.line.str.split(","))
    assert_table_equality_wo_index(words.flatten(pw.this.parts), T("parts\na\nb"))


def test_streams_with_time_and_diff(capsys):
    t = T(
        """
          | v | __time__ | __diff__
        1 | 1 | 2        | 1
        2 | 2 | 2        | 1
        1 | 1 | 4        | -1
        3 | 5 | 4        | 1
    """
    )
    expected = T(
        """
        s | __time__ | __diff__
        3 | 2        | 1
        3 | 4        | -1
        7 | 4        | 1
    """
    )
    assert_stream_equality_wo_index(t.reduce(s=pw.reducers.sum(t.v)), expected)
    pw.debug.compute_and_print_update_stream(t.reduce(s=pw.reducers.sum(t.v)), include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        s | __time__ | __diff__
        3 | 2        | 1
        3 | 4        | -1
        7 | 4        | 1
        """
    )


def test_latest_reducer_follows_time(capsys):
    t = T(
        """
        a | b | __time__
        1 | 2 | 2
        2 | 3 | 2
        1 | 4 | 4
    """
    )
    pw.debug.compute_and_print_update_stream(t.groupby(t.a).reduce(t.a, latest=pw.reducers.latest(t.b)), include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        a | latest | __time__ | __diff__
        1 | 2      | 2        | 1
        2 | 3      | 2        | 1
        1 | 2      | 4        | -1
        1 | 4      | 4        | 1
        """
    )


def test_subscribe_sees_every_change_in_time_order():
    t = T(
        """
          | a | __time__ | __diff__
        1 | 1 | 2        | 1
        2 | 2 | 2        | 1
        1 | 1 | 4        | -1
        3 | 3 | 6        | 1
    """
    )
    events = []
    pw.io.subscribe(
        t,
        on_change=lambda key, row, time, is_addition: events.append((row["a"], time, is_addition)),
        on_time_end=lambda time: events.append(("end", time)),
        on_end=lambda: events.append("done"),
    )
    pw.run()
    assert events == [
        (1, 2, True),
        (2, 2, True),
        ("end", 2),
        (1, 4, False),
        ("end", 4),
        (3, 6, True),
        ("end", 6),
        "done",
    ] or sorted(events[:2]) == [(1, 2, True), (2, 2, True)] and events[2:] == [
        ("end", 2),
        (1, 4, False),
        ("end", 4),
        (3, 6, True),
        ("end", 6),
        "done",
    ]


def test_apply_and_udf_run_in_batches():
    calls = []

    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    @pw.udf
    def label(x: int, suffix: str) -> str:
        return f"{x}{suffix}"

    t = T("v\n1\n2\n3")
    r = t.select(d=pw.apply(double, t.v), l=label(t.v, "!"))
    assert r.schema._dtypes() == {"d": pw.dt.INT, "l": pw.dt.STR}
    assert_table_equality_wo_index(r, T("d | l\n2 | 1!\n4 | 2!\n6 | 3!"))
    assert sorted(calls) == [1, 2, 3]


def test_udf_exception_stops_run_or_becomes_error():
    def boom(x):
        raise RuntimeError("no")

    t = T("v\n1")
    with pytest.raises(RuntimeError, match="no"):
        pw.debug.table_to_dicts(t.select(x=pw.apply(boom, t.v)))
    keys, cols = pw.debug.table_to_dicts(t.select(x=pw.apply(boom, t.v)), terminate_on_error=False)
    assert list(cols["x"].values()) == [pw.ERROR]


@pytest.mark.parametrize("workers", [1, 2])
def test_results_do_not_depend_on_worker_count(workers):
    t = T("\n".join(["g | v"] + [f"{i % 7} | {i}" for i in range(200)]))
    r = t.groupby(t.g).reduce(t.g, s=pw.reducers.sum(t.v), c=pw.reducers.count())
    expected_rows = ["g | s | c"] + [f"{g} | {sum(i for i in range(200) if i % 7 == g)} | {len([i for i in range(200) if i % 7 == g])}" for g in range(7)]
    assert_table_equality_wo_index(r, T("\n".join(expected_rows)), threads=workers)


def test_schema_class_and_table_from_rows():
    class S(pw.Schema):
        name: str = pw.column_definition(primary_key=True)
        age: int
        score: float = 0.5

    assert list(S.column_names()) == ["name", "age", "score"]
    assert S.primary_key_columns() == ["name"]
    t = pw.debug.table_from_rows(S, [("ann", 3, 1.0), ("bob", 4, 2)])
    assert t.schema._dtypes()["score"] == pw.dt.FLOAT
    keys, cols = pw.debug.table_to_dicts(t)
    assert {cols["name"][k]: k for k in keys}["ann"] == pw._engine.ref_scalar("ann")
    stream = pw.debug.table_from_rows(S, [("ann", 3, 1.0, 2, 1), ("bob", 4, 2.0, 4, 1), ("ann", 3, 1.0, 6, -1)], is_stream=True)
    # Markdown reads 2.0 as an int (as Pathway does): compare without types.
    pw.testing.assert_table_equality_wo_index_types(stream, T("name | age | score\nbob | 4 | 2.0"))
    with pytest.raises(RuntimeError, match="schema validation"):
        assert_table_equality_wo_index(stream, T("name | age | score\nbob | 4 | 2.0"))
    s2 = pw.schema_from_types(a=int, b=str)
    assert list(s2.column_names()) == ["a", "b"]


def test_pandas_round_trip():
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    t = pw.debug.table_from_pandas(df)
    out = pw.debug.table_to_pandas(t, include_id=False).sort_values("a").reset_index(drop=True)
    assert out.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_polars_and_parquet_round_trips(tmp_path):
    import polars as pl

    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    t = pw.debug.table_from_polars(df)
    doubled = t.select(a=t.a * 2, b=t.b)
    out = pw.debug.table_to_polars(doubled).sort("a")
    assert out.to_dict(as_series=False) == {"a": [2, 4, 6], "b": ["x", "y", "z"]}
    path = tmp_path / "t.parquet"
    pw.debug.table_to_parquet(doubled, str(path))
    back = pw.debug.table_from_parquet(str(path))
    assert_table_equality_wo_index(back, T("a | b\n2 | x\n4 | y\n6 | z"))


def test_custom_reducer_with_retractions():
    class CustomAvg(pw.BaseCustomAccumulator):
        def __init__(self, total, count):
            self.total, self.count = total, count

        @classmethod
        def from_row(cls, row):
            [value] = row
            return cls(value, 1)

        def update(self, other):
            self.total += other.total
            self.count += other.count

        def compute_result(self) -> float:
            return self.total / self.count

    custom_avg = pw.reducers.udf_reducer(CustomAvg)
    t = T(
        """
          | owner | price | __time__ | __diff__
        1 | Alice | 100   | 2        | 1
        2 | Bob   | 80    | 2        | 1
        3 | Alice | 90    | 2        | 1
        1 | Alice | 100   | 4        | -1
    """
    )
    r = t.groupby(t.owner).reduce(t.owner, avg=custom_avg(t.price))
    assert r.schema._dtypes()["avg"] == pw.dt.FLOAT
    expected = T(
        """
        owner | avg  | __time__ | __diff__
        Alice | 95.5 | 2        | 1
        Bob   | 80.5 | 2        | 1
        Alice | 95.5 | 4        | -1
        Alice | 90.5 | 4        | 1
    """
    ).select(pw.this.owner, avg=pw.this.avg - 0.5)
    pw.testing.assert_stream_equality_wo_index(r, expected)


def test_remaining_table_methods():
    t = T("  | a | b\n1 | 1 | x\n2 | 2 | y")
    casted = t.cast_to_types(a=float)
    assert casted.schema._dtypes()["a"] == pw.dt.FLOAT
    _, cols = pw.debug.table_to_dicts(casted)
    assert sorted(cols["a"].values()) == [1.0, 2.0]
    assert t.update_types(a=float).schema._dtypes()["a"] == pw.dt.FLOAT
    empty = pw.Table.empty(a=int, b=str)
    assert list(empty.column_names()) == ["a", "b"] and pw.debug.table_to_dicts(empty)[0] == []
    assert_table_equality(pw.Table.from_columns(t.b, c=t.a), T("  | b | c\n1 | x | 1\n2 | y | 2"))
    big, small = t.split(t.a > 1)
    assert_table_equality(big.concat(small), t)  # split halves are disjoint
    assert_table_equality_wo_index(pw.Table.concat_reindex(t, t), T("a | b\n1 | x\n2 | y\n1 | x\n2 | y"))
    assert list(t.with_suffix("_s").column_names()) == ["a_s", "b_s"]
    assert list(t.rename_by_dict({"a": "z"}).column_names()) == ["b", "z"]
    keyed = t.with_id_from(t.b)
    lookup = T("name\ny\nx")
    assert_table_equality_wo_index(lookup.select(pw.this.name, a=keyed.ix_ref(pw.this.name).a), T("name | a\ny | 2\nx | 1"))
    same = T("  | c\n1 | 5\n2 | 6").promise_universe_is_equal_to(t)
    assert_table_equality(t.select(t.a, c=same.c), T("  | a | c\n1 | 1 | 5\n2 | 2 | 6"))
    # with_universe_of asserts equal id sets: ids missing from the table stop the run.
    with pytest.raises(KeyError):
        pw.debug.table_to_dicts(keyed.with_universe_of(t))
    ptrs = t.select(ok=pw.this.pointer_from(pw.this.b) == t.pointer_from(t.b))
    assert_table_equality(ptrs, T("  | ok\n1 | True\n2 | True"))
