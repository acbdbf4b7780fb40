"""``pw.universes``: promises about how tables' id sets relate."""

from __future__ import annotations

from deltaflow.internals import universe as _u
from deltaflow.internals.table import Table


def promise_is_subset_of(subset: Table, superset: Table) -> None:
    _u.promise_subset(subset._universe, superset._universe)


def promise_are_equal(*tables: Table) -> None:
    for t in tables[1:]:
        _u.promise_equal(tables[0]._universe, t._universe)


def promise_are_pairwise_disjoint(*tables: Table) -> None:
    for i, a in enumerate(tables):
        for b in tables[i + 1 :]:
            _u.promise_disjoint(a._universe, b._universe)
