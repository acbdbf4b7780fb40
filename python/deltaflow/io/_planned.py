"""Connectors that are planned but not built yet: calling them says so clearly."""

from __future__ import annotations

import types
from typing import Any


def planned_connector(name: str) -> types.ModuleType:
    module = types.ModuleType(f"deltaflow.io.{name}")

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"the {name} connector (pw.io.{name}) is not implemented yet in deltaflow")

    module.read = missing  # type: ignore[attr-defined]
    module.write = missing  # type: ignore[attr-defined]
    module.__doc__ = f"pw.io.{name}: not implemented yet (raises NotImplementedError)."
    return module
