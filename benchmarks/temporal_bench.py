#!/usr/bin/env python3
"""Benchmarks of event-time windows and iteration written with the Python API, run by
deltaflow and by Pathway on the same generated files (alternately, several repetitions).

  python benchmarks/temporal_bench.py [--events N] [--edges N] [--reps K] [--only NAME]

Workloads (the same program for both systems, `import deltaflow as pw` vs `import pathway as
pw`; the input files are generated once with fixed seeds):
  sliding  a sliding-window aggregation (count, sum, max per key and window; hop 10 s,
           window 60 s) over N events read from CSV
  pagerank `pw.graphs.pagerank.pagerank(edges, steps=5)` on a synthetic power-law graph of N
           edges read from CSV (Pathway's own implementation vs deltaflow's on pw.iterate)

Reports median wall time, throughput and peak RSS, and writes
benchmarks/results/temporal-latest.json. Needs a virtualenv with `pathway` (created under
benchmarks/results/pathway-venv, or given with --pathway-python)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from table_bench import RESULTS, pathway_python, print_comparison, run_child, summarize_runs  # noqa: E402

DATA = RESULTS / "data"

SLIDING = """
import sys, time
import {module} as pw

class Events(pw.Schema):
    t: int
    key: int
    value: int

start = time.perf_counter()
events = pw.io.csv.read(sys.argv[1], schema=Events, mode="static")
windows = events.windowby(
    events.t, window=pw.temporal.sliding(hop=10_000, duration=60_000), instance=events.key
).reduce(key=pw.this._pw_instance, start=pw.this._pw_window_start, n=pw.reducers.count(),
         total=pw.reducers.sum(pw.this.value), top=pw.reducers.max(pw.this.value))
pw.io.csv.write(windows, sys.argv[2])
pw.run()
print(time.perf_counter() - start)
"""

PAGERANK = """
import sys, time
import {module} as pw

class Edges(pw.Schema):
    a: int
    b: int

start = time.perf_counter()
raw = pw.io.csv.read(sys.argv[1], schema=Edges, mode="static")
edges = raw.select(u=raw.pointer_from(raw.a), v=raw.pointer_from(raw.b))
ranks = pw.graphs.pagerank.pagerank(edges, steps=5)
pw.io.csv.write(ranks, sys.argv[2])
pw.run()
print(time.perf_counter() - start)
"""


def _generated(name: str, header: str, lines: Any) -> Path:
    """A generated input file, written once (it is reused by later runs)."""
    path = DATA / name
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write(header + "\n")
            f.writelines(lines)
    return path


def events_csv(n: int) -> Path:
    """Events 10 ms apart on average, slightly out of order, over 1,000 keys."""
    rng = random.Random(7)
    lines = (f"{i * 10 + rng.randrange(0, 500)},{rng.randrange(1000)},{rng.randrange(1000)}\n" for i in range(n))
    return _generated(f"events-{n}.csv", "t,key,value", lines)


def edges_csv(n: int) -> Path:
    """A power-law graph: preferential attachment over n / 5 vertices, n edges."""
    rng = random.Random(11)
    vertices = max(10, n // 5)
    targets = list(range(10))

    def lines() -> Any:
        for _ in range(n):
            u = rng.randrange(vertices)
            v = targets[rng.randrange(len(targets))] if rng.random() < 0.8 else rng.randrange(vertices)
            targets.append(u)
            yield f"{u},{v}\n"

    return _generated(f"edges-{n}.csv", "a,b", lines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--pathway-python")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    systems = {"deltaflow": (sys.executable, "deltaflow")}
    pw_python = pathway_python(args.pathway_python)
    if pw_python:
        systems["pathway"] = (pw_python, "pathway")
    workloads = {
        "sliding": (SLIDING, events_csv(args.events) if not args.only or "sliding" in args.only else None, args.events, "events/s"),
        "pagerank": (PAGERANK, edges_csv(args.edges) if not args.only or "pagerank" in args.only else None, args.edges, "edges/s"),
    }
    results: dict = {}
    for name, (program, path, size, unit) in workloads.items():
        if args.only and name not in args.only:
            continue
        runs: dict[str, list] = {s: [] for s in systems}
        for rep in range(args.reps):
            for system, (python, module) in systems.items():
                out = RESULTS / f"{name}-{system}.csv"
                try:
                    _, wall, rss = run_child(python, program.format(module=module), [str(path), str(out)], args.timeout)
                    runs[system].append((wall, rss))
                    print(f"{name} {system} rep {rep}: {wall:.2f} s, peak RSS {rss / 1024:.0f} MiB", flush=True)
                except Exception as error:  # noqa: BLE001 - reported in the cell
                    runs[system].append(None)
                    print(f"{name} {system} rep {rep}: {error}", flush=True)
        cells = summarize_runs(runs, size, unit)
        results[name] = {"size": size, "unit": unit, "systems": cells}
        print_comparison(name, cells)
    (RESULTS / "temporal-latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
