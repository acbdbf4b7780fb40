"""``pw.persistence``: configuration of persistence (restart after a crash without losing or
repeating anything). The configuration objects exist so that Pathway programs build; running
with one raises ``NotImplementedError`` until persistence lands (see the project's issues)."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any


class PersistenceMode(enum.Enum):
    """What is persisted: the inputs read (replayed at a restart), or the operators' state."""

    PERSISTING = 1
    OPERATOR_PERSISTING = 2
    BATCH = 3
    SPEEDRUN_REPLAY = 4
    REALTIME_REPLAY = 5
    UDF_CACHING = 6
    SELECTIVE_PERSISTING = 7


@dataclass(frozen=True)
class Backend:
    """Where persisted state is stored."""

    kind: str
    path: str | None = None
    options: Any = None

    @classmethod
    def filesystem(cls, path: str | os.PathLike) -> Backend:
        return cls("filesystem", os.fspath(path))

    @classmethod
    def mock(cls, events: Any = None) -> Backend:
        return cls("mock", None, events)

    @classmethod
    def s3(cls, root_path: str, bucket_settings: Any = None) -> Backend:
        return cls("s3", root_path, bucket_settings)

    @classmethod
    def azure(cls, root_path: str, account: Any = None, password: Any = None, container: Any = None) -> Backend:
        return cls("azure", root_path, (account, container))


@dataclass(frozen=True)
class Config:
    """``pw.run(persistence_config=Config(backend, ...))``."""

    backend: Backend
    snapshot_interval_ms: int = 0
    persistence_mode: PersistenceMode = PersistenceMode.PERSISTING
    continue_after_replay: bool = True

    @classmethod
    def simple_config(cls, backend: Backend, **kwargs: Any) -> Config:
        return cls(backend, **kwargs)


__all__ = ["Backend", "Config", "PersistenceMode"]
