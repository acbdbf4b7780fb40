"""Watching a directory: what idle files cost, and how soon a new file is seen.

A streaming plaintext read of a directory holding ``--files`` one-line files (10,000 by
default), with a subscriber, runs in a child process (deltaflow, and Pathway for comparison,
the same program but for the import). Once every file has been seen:

- idle cost: the child's CPU time (user + system, from /proc) over ``--idle`` seconds while
  nothing changes, as a percentage of one core;
- new-file delay: ``--probes`` new files are written one at a time; the delay is from the
  moment the file is closed to the moment the subscriber sees its row (both clocks are this
  machine's ``time.time()``).

    python benchmarks/fs_watch_bench.py
    python benchmarks/fs_watch_bench.py --systems deltaflow --files 10000 --idle 10

Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
import time as clock
import {module} as pw

directory, expected = sys.argv[1], int(sys.argv[2])
lines = pw.io.plaintext.read(directory, mode="streaming", autocommit_duration_ms=10)
count = [0]

def on_change(key, row, time, is_addition):
    if not is_addition:
        return
    count[0] += 1
    if row["data"].startswith("probe"):
        print("seen", row["data"], repr(clock.time()), flush=True)
    elif count[0] == expected:
        print("ready", flush=True)

pw.io.subscribe(lines, on_change)
pw.run()
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else None


def measure(python: str, module: str, files: int, idle: float, probes: int) -> dict:
    directory = tempfile.mkdtemp(prefix=f"deltaflow-watch-{module}-")
    for i in range(files):
        with open(os.path.join(directory, f"f{i:06d}.txt"), "w") as f:
            f.write(f"file {i}\n")
    env = dict(os.environ, DELTAFLOW_THREADS="1", PATHWAY_THREADS="1")
    proc = subprocess.Popen([python, "-c", CHILD.format(module=module), directory, str(files)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        started = time.time()
        line = read_line(proc, 300)
        if line != "ready":
            return {"error": f"not ready: {line!r}"}
        loaded = time.time() - started
        time.sleep(2.0)  # settle
        before = cpu_seconds(proc.pid)
        time.sleep(idle)
        idle_core = (cpu_seconds(proc.pid) - before) / idle * 100
        delays = []
        for k in range(probes):
            path = os.path.join(directory, f"p{k:04d}.txt")
            with open(path, "w") as f:
                f.write(f"probe{k}\n")
            written = time.time()
            line = read_line(proc, 30)
            if not line or not line.startswith("seen"):
                return {"error": f"probe {k} not seen: {line!r}"}
            delays.append((float(line.split()[2]) - written) * 1000)
            time.sleep(0.2)
        return {
            "files": files,
            "initial_read_s": round(loaded, 2),
            "idle_cpu_percent_of_a_core": round(idle_core, 2),
            "new_file_ms_median": round(statistics.median(delays), 1),
            "new_file_ms_max": round(max(delays), 1),
        }
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="deltaflow,pathway")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--pathway-python")
    args = parser.parse_args()
    pythons = {"deltaflow": str(ROOT / ".venv" / "bin" / "python")}
    if "pathway" in args.systems:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from table_bench import pathway_python

        pythons["pathway"] = pathway_python(args.pathway_python)
    for system in args.systems.split(","):
        if pythons.get(system):
            print(system, json.dumps(measure(pythons[system], system, args.files, args.idle, args.probes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
