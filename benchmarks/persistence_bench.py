"""Persistence: what checkpoints cost while a pipeline runs, and how fast it restarts.

Word count over ``--rows`` words in CSV files (``--files`` of them, a 5,000-word vocabulary),
read in static mode, counts written as JSON lines, each system in a child process (deltaflow,
and Pathway for comparison: the same program but for the import):

- overhead: the run's wall time without persistence, and with
  ``persistence_config=Config(Backend.filesystem(...))`` (every input logged, checkpoints at
  the default interval); throughput = rows / time, and the ratio on / off;
- restart: the same program run again over the persisted state with nothing new (input
  replay: the state is rebuilt from the persisted input, nothing is written again), against a
  run without persistence that reads and computes everything again.

Peak RSS of each child from ``wait4``.

    python benchmarks/persistence_bench.py --rows 10000000
    python benchmarks/persistence_bench.py --systems deltaflow --rows 1000000

Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
import {module} as pw

inputs, output, state, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

class Words(pw.Schema):
    word: str

words = pw.io.csv.read(inputs, schema=Words, mode="static", name="words")
counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
pw.io.jsonlines.write(counts, output)
config = pw.persistence.Config(pw.persistence.Backend.filesystem(state)) if state != "-" else None
kwargs = {{"monitoring_level": pw.MonitoringLevel.NONE}} if "{module}" == "pathway" else {{}}
pw.run(persistence_config=config, **kwargs)
"""


def python_for(system: str) -> str:
    if system == "pathway":
        return os.environ.get("PATHWAY_PYTHON", "/tmp/pwvenv/bin/python")
    return os.environ.get("DELTAFLOW_PYTHON", str(ROOT / ".venv" / "bin" / "python"))


def run_child(system: str, inputs: Path, output: Path, state: str, threads: int) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one run."""
    env = dict(os.environ, PATHWAY_THREADS=str(threads), DELTAFLOW_THREADS=str(threads))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [python_for(system), "-c", CHILD.format(module=system), str(inputs), str(output), state, str(threads)], env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{system} failed (status {status})")
    return wall, usage.ru_maxrss / 1024


def write_inputs(directory: Path, rows: int, files: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    vocabulary = [f"word{i}" for i in range(5000)]
    per_file = rows // files
    for f in range(files):
        n = per_file if f < files - 1 else rows - per_file * (files - 1)
        with open(directory / f"{f:05d}.csv", "w") as out:
            out.write("word\n")
            out.write("\n".join(rng.choices(vocabulary, k=n)))
            out.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--systems", default="deltaflow,pathway")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="persistence-bench-"))
    try:
        inputs = work / "in"
        inputs.mkdir()
        write_inputs(inputs, args.rows, args.files)
        results = {}
        for system in args.systems.split(","):
            state = work / f"state-{system}"
            off, off_rss = run_child(system, inputs, work / "off.jsonl", "-", args.threads)
            on, on_rss = run_child(system, inputs, work / "on.jsonl", str(state), args.threads)
            restart, restart_rss = run_child(system, inputs, work / "restart.jsonl", str(state), args.threads)
            size = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
            results[system] = {
                "rows": args.rows, "threads": args.threads,
                "off_s": round(off, 2), "on_s": round(on, 2), "restart_s": round(restart, 2),
                "off_rows_per_s": round(args.rows / off), "on_rows_per_s": round(args.rows / on),
                "on_off_throughput": round(off / on, 3), "restart_vs_recompute": round(off / restart, 2),
                "state_mib": round(size / 2**20, 1),
                "rss_mib": {"off": round(off_rss), "on": round(on_rss), "restart": round(restart_rss)},
            }
            print(json.dumps({system: results[system]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
