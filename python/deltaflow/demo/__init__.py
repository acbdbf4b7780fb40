"""``pw.demo``: synthetic and replayed streams for trying pipelines out.

Each generator is a live source: rows arrive at the given rate, each commit an engine time,
so pipelines over them behave as over a real stream.
"""

from __future__ import annotations

import csv as _csv
import random
import time as _time
from typing import Any, Callable

from deltaflow.internals.schema import schema_from_types
from deltaflow.internals.table import Table
from deltaflow.io.python import ConnectorSubject, read


def _sleep_until(deadline: float) -> None:
    delay = deadline - _time.monotonic()
    if delay > 0:
        _time.sleep(delay)


class _Generator(ConnectorSubject):
    def __init__(self, generators: dict[str, Callable[[int], Any]], nb_rows: int | None, input_rate: float) -> None:
        super().__init__("demo")
        self.generators = generators
        self.nb_rows = nb_rows
        self.input_rate = input_rate

    def run(self) -> None:
        start = _time.monotonic()
        i = 0
        while self.nb_rows is None or i < self.nb_rows:
            if self.input_rate > 0:
                _sleep_until(start + i / self.input_rate)
            self.next(**{name: gen(i) for name, gen in self.generators.items()})
            self.commit()
            i += 1


def generate_custom_stream(
    value_generators: dict[str, Callable[[int], Any]],
    *,
    schema: Any,
    nb_rows: int | None = None,
    autocommit_duration_ms: int = 1000,
    input_rate: float = 1.0,
    persistent_id: str | None = None,
) -> Table:
    """A stream whose row ``i`` holds ``value_generators[c](i)`` for each column ``c``,
    ``input_rate`` rows per second (``nb_rows=None``: endless)."""
    if nb_rows is not None and nb_rows < 0:
        raise ValueError("nb_rows must be non-negative")
    missing = set(schema.column_names()) - set(value_generators)
    if missing:
        raise ValueError(f"generate_custom_stream: no generator for columns {sorted(missing)}")
    return read(_Generator(value_generators, nb_rows, input_rate), schema=schema, autocommit_duration_ms=autocommit_duration_ms)


def range_stream(nb_rows: int = 30, offset: int = 0, input_rate: float = 1.0, autocommit_duration_ms: int = 1000) -> Table:
    """A stream of ``value`` = offset, offset+1, ... (as floats)."""
    schema = schema_from_types(value=float)
    return generate_custom_stream({"value": lambda i: float(i + offset)}, schema=schema, nb_rows=nb_rows, input_rate=input_rate, autocommit_duration_ms=autocommit_duration_ms)


def noisy_linear_stream(nb_rows: int = 10, input_rate: float = 1.0) -> Table:
    """A stream of points ``(x, y)``, ``x`` the primary key, ``y = x`` plus uniform noise in
    [-0.1, 0.1) from a generator seeded with 0."""
    from deltaflow.internals.schema import column_definition, schema_builder

    schema = schema_builder(
        {"x": column_definition(primary_key=True, dtype=float), "y": column_definition(dtype=float)}
    )
    rng = random.Random(0)
    return generate_custom_stream(
        {"x": lambda i: float(i), "y": lambda i: float(i) + (2 * rng.random() - 1) / 10},
        schema=schema,
        nb_rows=nb_rows,
        input_rate=input_rate,
    )


class _Replay(ConnectorSubject):
    def __init__(self, path: str, schema: Any, input_rate: float | None, time_column: str | None, unit: str, speedup: float) -> None:
        super().__init__("replay")
        self.path = path
        self.schema = schema
        self.input_rate = input_rate
        self.time_column = time_column
        self.scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit] / speedup

    def _typed(self, row: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, t in self.schema._dtypes().items():
            text = row.get(name)
            base = t.strip_optional()
            if text is None or (text == "" and t.is_optional()):
                out[name] = None
            elif base.typehint is int:
                out[name] = int(text)
            elif base.typehint is float:
                out[name] = float(text)
            elif base.typehint is bool:
                out[name] = text.strip().lower() in ("true", "1", "yes", "on")
            else:
                out[name] = text
        return out

    def run(self) -> None:
        start = _time.monotonic()
        first_time: float | None = None
        previous: float | None = None
        with open(self.path, newline="") as f:
            for i, row in enumerate(_csv.DictReader(f)):
                values = self._typed(row)
                if self.time_column is not None:
                    # Rows of one timestamp are committed together, when the next time begins.
                    t = float(values[self.time_column])
                    if first_time is None:
                        first_time = t
                    if previous is not None and t != previous:
                        self.commit()
                    previous = t
                    _sleep_until(start + (t - first_time) * self.scale)
                    self.next(**values)
                    continue
                if self.input_rate:
                    _sleep_until(start + i / self.input_rate)
                self.next(**values)
                self.commit()
        self.commit()


def replay_csv(path: str, *, schema: Any, input_rate: float = 1.0) -> Table:
    """The rows of a CSV file, replayed at ``input_rate`` rows per second."""
    return read(_Replay(str(path), schema, input_rate, None, "s", 1.0), schema=schema)


def replay_csv_with_time(path: str, *, schema: Any, time_column: str, unit: str = "s", autocommit_ms: int = 100, speedup: float = 1) -> Table:
    """The rows of a CSV file, each released when its ``time_column`` value comes (relative
    to the first row's, in ``unit``), ``speedup`` times faster than real time."""
    if unit not in ("s", "ms", "us", "ns"):
        raise ValueError(f"unit must be one of s, ms, us, ns; got {unit!r}")
    return read(_Replay(str(path), schema, None, time_column, unit, float(speedup)), schema=schema, autocommit_duration_ms=autocommit_ms)


__all__ = ["generate_custom_stream", "noisy_linear_stream", "range_stream", "replay_csv", "replay_csv_with_time"]
