"""``pw.io.plaintext``: one row per line of text (column ``data``)."""

from __future__ import annotations

import os
from typing import Any

from deltaflow.io import _fs
from deltaflow.internals.table import Table


def read(path: str | os.PathLike, *, mode: str = "streaming", object_pattern: str = "*", with_metadata: bool = False, autocommit_duration_ms: int | None = 1500, name: str | None = None, **kwargs: Any) -> Table:
    return _fs.read(path, format="plaintext", mode=mode, object_pattern=object_pattern, with_metadata=with_metadata, autocommit_duration_ms=autocommit_duration_ms, name=name)


__all__ = ["read"]
