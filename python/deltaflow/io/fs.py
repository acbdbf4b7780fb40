"""``pw.io.fs``: files in any supported format (csv, json, plaintext, plaintext_by_file,
binary, only_metadata)."""

from __future__ import annotations

import os
from typing import Any

from deltaflow.io import _fs
from deltaflow.internals.table import Table


def read(path: str | os.PathLike, *, format: str, schema: Any = None, mode: str = "streaming", csv_settings: Any = None, json_field_paths: Any = None, object_pattern: str = "*", with_metadata: bool = False, autocommit_duration_ms: int | None = 1500, name: str | None = None, **kwargs: Any) -> Table:  # noqa: A002
    return _fs.read(path, format=format, schema=schema, mode=mode, csv_settings=csv_settings, object_pattern=object_pattern, with_metadata=with_metadata, autocommit_duration_ms=autocommit_duration_ms, name=name, json_field_paths=json_field_paths)


def write(table: Table, filename: str | os.PathLike, *, format: str, name: str | None = None, **kwargs: Any) -> None:  # noqa: A002
    if format not in ("csv", "json"):
        raise ValueError(f"pw.io.fs.write supports format='csv' or 'json', got {format!r}")
    _fs.write(table, filename, format=format, name=name)


__all__ = ["read", "write"]
