"""``pw.utils.filtering``: the rows holding a group's smallest or largest value."""

from __future__ import annotations

from typing import Any

import deltaflow as pw


def _arg_rows(table: pw.Table, on: tuple, what: Any, reducer: Any) -> pw.Table:
    picked = table.groupby(*on).reduce(_pw_picked=reducer(what))
    return table.ix(picked["_pw_picked"]).with_id(picked["_pw_picked"])


def argmin_rows(table: pw.Table, *on: Any, what: Any) -> pw.Table:
    """Per group of ``on``, the row with the smallest ``what`` (the table's columns and ids)."""
    return _arg_rows(table, on, what, pw.reducers.argmin)


def argmax_rows(table: pw.Table, *on: Any, what: Any) -> pw.Table:
    """Per group of ``on``, the row with the largest ``what``."""
    return _arg_rows(table, on, what, pw.reducers.argmax)


__all__ = ["argmax_rows", "argmin_rows"]
