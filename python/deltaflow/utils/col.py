"""``pw.utils.col``: helpers over columns."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import deltaflow as pw


def unpack_col(column: Any, *unpacked_columns: Any, schema: Any = None) -> pw.Table:
    """A table with one column per item of the tuples in ``column`` (named by
    ``unpacked_columns`` or the columns of ``schema``), on the same ids."""
    if bool(unpacked_columns) == (schema is not None):
        raise ValueError("unpack_col needs either column names or a schema, not both")
    if schema is not None:
        names = list(schema.column_names())
        types = schema._dtypes()
    else:
        names = [c.name if isinstance(c, pw.ColumnReference) else str(c) for c in unpacked_columns]
        types = None
    table = column.table
    exprs = {name: column[i] for i, name in enumerate(names)}
    result = table.select(**exprs)
    if types is not None:
        result = result.select(**{n: pw.declare_type(types[n], result[n]) for n in names})
    return result


def multiapply_all_rows(*cols: Any, fun: Callable[..., Sequence[Sequence]], result_col_names: list) -> pw.Table:
    """``fun`` called once on whole columns (lists, in id order), returning one list per result
    column; the results go back to the rows they belong to. Recomputed when the table changes
    (meant for small tables)."""
    table = cols[0].table
    names = [c.name if isinstance(c, pw.ColumnReference) else str(c) for c in result_col_names]
    gathered = table.reduce(
        _pw_ids=pw.reducers.tuple(table.id),
        **{f"_pw_c{i}": pw.reducers.tuple(c) for i, c in enumerate(cols)},
    )

    def apply_all(ids, *columns):  # noqa: ANN001, ANN202 - typed by the result column
        results = fun(*[list(c) for c in columns])
        return tuple(zip(ids, *results))

    applied = gathered.select(
        _pw_rows=pw.apply(apply_all, gathered["_pw_ids"], *[gathered[f"_pw_c{i}"] for i in range(len(cols))])
    )
    flat = applied.flatten(applied["_pw_rows"])
    rows = flat.select(**{"_pw_id": flat["_pw_rows"][0]}, **{n: flat["_pw_rows"][i + 1] for i, n in enumerate(names)})
    return rows.with_id(rows["_pw_id"]).without(pw.this._pw_id).with_universe_of(table)


def apply_all_rows(*cols: Any, fun: Callable[..., Sequence], result_col_name: Any) -> pw.Table:
    """``fun`` called once on whole columns (lists, in id order), returning one list; its items
    go back to the rows they belong to, in a column named ``result_col_name``."""
    return multiapply_all_rows(*cols, fun=lambda *c: (fun(*c),), result_col_names=[result_col_name])


def groupby_reduce_majority(column_group: Any, column_val: Any) -> pw.Table:
    """Per value of ``column_group``, the most frequent value of ``column_val`` (column
    ``majority``)."""
    table = column_group.table
    counts = table.groupby(column_group, column_val).reduce(
        _pw_group=column_group, _pw_val=column_val, _pw_count=pw.reducers.count()
    )
    best = counts.groupby(counts["_pw_group"]).reduce(
        counts["_pw_group"], _pw_best=pw.reducers.argmax(counts["_pw_count"])
    )
    return best.select(**{column_group.name: best["_pw_group"]}, majority=counts.ix(best["_pw_best"])["_pw_val"])


__all__ = ["apply_all_rows", "groupby_reduce_majority", "multiapply_all_rows", "unpack_col"]
