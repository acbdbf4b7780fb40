"""Universes: the sets of ids tables live on, and what is known about how they relate.

Columns of two tables can be combined only when deltaflow can prove that every row of one has
a row in the other: the tables share a universe, or one was derived from the other by an
operation that keeps ids (``filter`` gives a subset, ``select`` the same set), or the user
promised it (``promise_universe_is_subset_of`` ...). These facts are recorded here and checked
when the pipeline is built, so a mismatch fails at the user's line, not at run time.
"""

from __future__ import annotations

import itertools

_counter = itertools.count()


class Universe:
    __slots__ = ("serial", "supersets", "disjoint")

    def __init__(self) -> None:
        self.serial = next(_counter)
        self.supersets: set[Universe] = set()
        self.disjoint: set[Universe] = set()

    def __repr__(self) -> str:
        return f"Universe#{self.serial}"

    def subset(self) -> Universe:
        """A new universe known to be a subset of this one."""
        child = Universe()
        child.supersets.add(self)
        return child


def _ancestors(u: Universe) -> set[Universe]:
    seen = {u}
    stack = [u]
    while stack:
        for parent in stack.pop().supersets:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def is_subset(a: Universe, b: Universe) -> bool:
    return b in _ancestors(a)


def are_equal(a: Universe, b: Universe) -> bool:
    return is_subset(a, b) and is_subset(b, a)


def are_disjoint(a: Universe, b: Universe) -> bool:
    ancestors_b = _ancestors(b)
    for x in _ancestors(a):
        if x.disjoint & ancestors_b:
            return True
    return False


def promise_subset(a: Universe, b: Universe) -> None:
    if a is not b:
        a.supersets.add(b)


def promise_equal(a: Universe, b: Universe) -> None:
    promise_subset(a, b)
    promise_subset(b, a)


def promise_disjoint(a: Universe, b: Universe) -> None:
    a.disjoint.add(b)
    b.disjoint.add(a)


def superset_of(*universes: Universe) -> Universe:
    """A new universe holding all of ``universes``."""
    result = Universe()
    for u in universes:
        u.supersets.add(result)
    return result
