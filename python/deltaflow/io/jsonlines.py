"""``pw.io.jsonlines``: read JSON-lines files and write a table's changes as JSON lines."""

from __future__ import annotations

import os
from typing import Any

from deltaflow.io import _fs
from deltaflow.internals.table import Table


def read(path: str | os.PathLike, *, schema: Any = None, mode: str = "streaming", json_field_paths: Any = None, object_pattern: str = "*", with_metadata: bool = False, autocommit_duration_ms: int | None = 1500, name: str | None = None, **kwargs: Any) -> Table:
    """Rows of the JSON-lines file(s) at ``path``, one object per line, fields by column name."""
    return _fs.read(path, format="json", schema=schema, mode=mode, object_pattern=object_pattern, with_metadata=with_metadata, autocommit_duration_ms=autocommit_duration_ms, name=name, json_field_paths=json_field_paths)


def write(table: Table, filename: str | os.PathLike, *, name: str | None = None, **kwargs: Any) -> None:
    """Writes every change of ``table`` as a JSON object with its columns, ``diff`` and ``time``."""
    _fs.write(table, filename, format="json", name=name)


__all__ = ["read", "write"]
