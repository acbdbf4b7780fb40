"""Python connectors (``ConnectorSubject``/``ConnectorObserver``): not implemented yet."""

from __future__ import annotations

from typing import Any


def read(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("pw.io.python.read is not implemented yet in deltaflow")


def write(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("pw.io.python.write is not implemented yet in deltaflow")
