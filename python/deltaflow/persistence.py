"""``pw.persistence``: restart after a crash without losing or repeating anything.

``pw.run(persistence_config=pw.persistence.Config(pw.persistence.Backend.filesystem(path)))``
keeps, under ``path``, what every input produced (its input log, compacted as it grows) and
where it stands in the system it reads (file positions, Kafka offsets, PostgreSQL LSNs), in
checkpoints taken every ``snapshot_interval_ms``. A restarted program replays that input
(its results are not written again), resumes every input after its offsets, and goes on.

Inputs are matched between runs by their ``name=`` (unnamed ones by the order in which the
program creates them). File outputs are exactly-once: after a crash, a restarted run cuts the
file back to the last checkpoint and writes on, so the file holds every change once; after a
clean stop, a new run writes the file anew with only what changed since, as Pathway does.
Other outputs (Kafka, PostgreSQL, subscribers) receive again what came after the last
checkpoint (at least once).
"""

from __future__ import annotations

import enum
import os
from dataclasses import KW_ONLY, dataclass
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


class SnapshotAccess(enum.Enum):
    """Whether a run reads the persisted input, writes it, or both (``deltaflow replay``)."""

    RECORD = 1
    REPLAY = 2
    FULL = 3
    OFFSETS_ONLY = 4


class Backend:
    """Where persisted state is stored."""

    def __init__(self, kind: str, path: str | None = None, options: Any = None) -> None:
        self.kind = kind
        self.path = path
        self.options = options
        self._memory: Any = None

    @classmethod
    def filesystem(cls, path: str | os.PathLike) -> Backend:
        """State kept in the directory ``path`` (created when missing)."""
        return cls("filesystem", os.fspath(path))

    @classmethod
    def mock(cls, events: Any = None) -> Backend:
        """State kept in memory, shared by the runs given this backend (tests)."""
        return cls("mock", None, events)

    @classmethod
    def s3(cls, root_path: str, bucket_settings: Any = None) -> Backend:
        return cls("s3", root_path, bucket_settings)

    @classmethod
    def azure(cls, root_path: str, account: Any = None, password: Any = None, container: Any = None) -> Backend:
        return cls("azure", root_path, (account, container))

    def _engine_store(self) -> Any:
        from deltaflow import _engine

        if self.kind == "filesystem":
            assert self.path is not None
            return _engine.PersistenceStore.filesystem(self.path)
        if self.kind == "mock":
            if self._memory is None:
                self._memory = _engine.PersistenceStore.memory()
            return self._memory
        raise NotImplementedError(
            f"the {self.kind} persistence backend is not implemented in deltaflow; use Backend.filesystem(path)"
        )

    def store_path_in_env_variable(self) -> None:
        if self.kind == "filesystem" and self.path:
            os.environ["PATHWAY_PERSISTENT_STORAGE"] = self.path

    def remove_path_from_env_variable(self) -> None:
        if self.kind == "filesystem" and self.path:
            os.environ.pop("PATHWAY_PERSISTENT_STORAGE", None)

    def __repr__(self) -> str:
        return f"Backend.{self.kind}({self.path!r})" if self.path else f"Backend.{self.kind}()"


@dataclass(frozen=True)
class Config:
    """``pw.run(persistence_config=Config(backend, ...))``.

    ``snapshot_interval_ms``: how often a checkpoint is taken (0: as often as the run commits
    input, at most every 200 ms). ``persistence_mode``: ``PERSISTING`` (inputs; the default),
    ``UDF_CACHING`` (only ``pw.udfs.DiskCache`` uses the backend), ``SPEEDRUN_REPLAY`` /
    ``BATCH`` (replay the persisted input, writing its results again; with
    ``continue_after_replay`` the inputs are then read on). ``OPERATOR_PERSISTING`` raises
    ``NotImplementedError`` until operator snapshots land."""

    backend: Backend
    _: KW_ONLY
    snapshot_interval_ms: int = 0
    snapshot_access: SnapshotAccess = SnapshotAccess.FULL
    persistence_mode: PersistenceMode = PersistenceMode.PERSISTING
    continue_after_replay: bool = True
    worker_scaling_enabled: bool = False
    workload_tracking_window_ms: int = 120000

    @classmethod
    def simple_config(cls, backend: Backend, snapshot_interval_ms: int = 0, **kwargs: Any) -> Config:
        return cls(backend, snapshot_interval_ms=snapshot_interval_ms, **kwargs)


def _from_environment() -> Config | None:
    """The configuration ``deltaflow replay`` (or ``pathway replay``) gives a program through
    its environment, if any."""
    path = os.environ.get("DELTAFLOW_REPLAY_STORAGE") or os.environ.get("PATHWAY_REPLAY_STORAGE")
    if not path:
        return None
    mode_name = os.environ.get("DELTAFLOW_PERSISTENCE_MODE") or os.environ.get("PATHWAY_PERSISTENCE_MODE") or "SPEEDRUN_REPLAY"
    try:
        mode = PersistenceMode[mode_name.upper()]
    except KeyError:
        raise ValueError(f"unknown persistence mode {mode_name!r}") from None
    cont = (os.environ.get("DELTAFLOW_CONTINUE_AFTER_REPLAY") or os.environ.get("PATHWAY_CONTINUE_AFTER_REPLAY") or "false")
    return Config(
        Backend.filesystem(path), persistence_mode=mode, continue_after_replay=cont.strip().lower() in ("1", "true", "yes")
    )


__all__ = ["Backend", "Config", "PersistenceMode", "SnapshotAccess"]
