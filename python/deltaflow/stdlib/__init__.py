"""``pw.stdlib``: the standard library under the module paths Pathway gives it
(``pw.stdlib.temporal`` is ``pw.temporal``, and so on). Indexes and the ML helpers
(``indexing``, ``ml``) come with the live-RAG work and say so when used."""

from __future__ import annotations

import sys
import types
from typing import Any

from deltaflow import graphs, ordered, stateful, statistical, temporal, utils


def _planned(name: str, feature: str) -> types.ModuleType:
    module = types.ModuleType(f"{__name__}.{name}")
    module.__doc__ = f"pw.stdlib.{name}: {feature}; not implemented yet in deltaflow."

    def __getattr__(attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise NotImplementedError(f"pw.stdlib.{name}.{attribute} ({feature}) is not implemented yet in deltaflow")

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    return module


indexing = _planned("indexing", "KNN, BM25 and hybrid indexes")
ml = _planned("ml", "the ML helpers: KNN index, classifiers")

for _name, _module in {
    "graphs": graphs,
    "ordered": ordered,
    "stateful": stateful,
    "statistical": statistical,
    "temporal": temporal,
    "utils": utils,
    "indexing": indexing,
    "ml": ml,
}.items():
    sys.modules[f"{__name__}.{_name}"] = _module

__all__ = ["graphs", "indexing", "ml", "ordered", "stateful", "statistical", "temporal", "utils"]
