"""``pw.io.csv``: read CSV files (static or watched) and write a table's changes as CSV."""

from __future__ import annotations

import os
from typing import Any

from deltaflow.io import _fs
from deltaflow.io._fs import CsvParserSettings
from deltaflow.internals.table import Table


def read(path: str | os.PathLike, *, schema: Any = None, csv_settings: CsvParserSettings | None = None, mode: str = "streaming", object_pattern: str = "*", with_metadata: bool = False, autocommit_duration_ms: int | None = 1500, name: str | None = None, **kwargs: Any) -> Table:
    """Rows of the CSV file(s) at ``path`` (a file or a directory). ``mode="streaming"`` (the
    default) keeps watching: new files and appended lines arrive, rewritten or deleted files
    retract their rows."""
    return _fs.read(path, format="csv", schema=schema, mode=mode, csv_settings=csv_settings, object_pattern=object_pattern, with_metadata=with_metadata, autocommit_duration_ms=autocommit_duration_ms, name=name, **kwargs)


def write(table: Table, filename: str | os.PathLike, *, name: str | None = None, **kwargs: Any) -> None:
    """Writes every change of ``table`` to ``filename``: its columns, then ``time`` and ``diff``."""
    _fs.write(table, filename, format="csv", name=name)


__all__ = ["read", "write", "CsvParserSettings"]
