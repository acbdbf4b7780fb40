"""Names and module paths a Pathway program uses, and the small semantics of the API surface
that Pathway documents (column names, positional expressions, the id)."""

import pytest

import deltaflow as pw


def test_column_names_is_a_keys_view_in_order():
    t = pw.debug.table_from_markdown("b | a\n1 | 2")
    names = t.column_names()
    assert type(names).__name__ == "dict_keys"
    assert list(names) == ["b", "a"]


def test_the_id_is_not_a_column_to_select():
    t = pw.debug.table_from_markdown("a\n1")
    with pytest.raises(ValueError, match="Can't use 'id' as a column name"):
        t.select(t.id)
    assert list(t.select(key=t.id).column_names()) == ["key"]


def test_positional_expressions_of_one_column_take_its_name():
    t = pw.debug.table_from_markdown("route | food\na | 1\na | 2\nb | 5")
    r = t.groupby(t.route).reduce(pw.reducers.unique(t.route), total=pw.reducers.sum(t.food))
    assert list(r.column_names()) == ["route", "total"]
    totals = r.with_id_from(pw.this.route)
    x = t.select(t.food, totals.ix(t.pointer_from(t.route)).total)
    assert list(x.column_names()) == ["food", "total"]
    assert sorted(pw.debug.table_to_dicts(x)[1]["total"].values()) == [3, 3, 5]


def test_stdlib_module_paths():
    import deltaflow.stdlib.temporal
    from deltaflow.stdlib.ordered import diff  # noqa: F401
    from deltaflow.stdlib.statistical import interpolate  # noqa: F401

    assert deltaflow.stdlib.temporal is pw.temporal
    assert pw.stdlib.graphs is pw.graphs and pw.stdlib.utils is pw.utils and pw.stdlib.stateful is pw.stateful
    with pytest.raises(NotImplementedError, match="pw.stdlib.indexing.DataIndex"):
        pw.stdlib.indexing.DataIndex  # noqa: B018
    with pytest.raises(NotImplementedError, match="pw.stdlib.ml.index"):
        pw.stdlib.ml.index  # noqa: B018


def test_license_keys_are_accepted_and_persistence_runs_without_one(tmp_path):
    pw.set_license_key("demo-license-key-with-telemetry")
    config = pw.persistence.Config(pw.persistence.Backend.filesystem(tmp_path), snapshot_interval_ms=1000)
    assert config.backend.path == str(tmp_path)
    t = pw.debug.table_from_markdown("a\n1")
    pw.io.null.write(t)
    pw.run(persistence_config=config)
    assert (tmp_path / "manifest").exists()
