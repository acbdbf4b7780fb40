#!/usr/bin/env python3
"""A sliding-window aggregation over a long event log (50M events by default), with
forgetting: throughput, and resident memory sampled over the whole run.

  python benchmarks/sliding_long_bench.py [--events N] [--files F] [--limit-files K]
                                          [--system deltaflow|pathway] [--python PATH]

The events (event time 10 ms apart, slightly out of order, 1,000 keys) are generated once
with a fixed seed into ``benchmarks/results/data/events-N/`` as F CSV files, read in static
mode (each file its own batch, in name order, in both systems); ``--limit-files K`` reads
only the first K files. The pipeline, the same program for both systems:

    windowby(t, sliding(hop=10 s, duration=60 s), instance=key,
             behavior=common_behavior(cutoff=10 s, keep_results=False))
      .reduce(count, sum, max)  ->  pw.io.null

Windows whose end is more than the cutoff behind the newest event time are final and
forgotten, so the live state is a few windows per key however long the log. The child
samples its RSS every second; the script prints events/s and the samples (MiB), and writes
them to ``benchmarks/results/sliding-long-<system>.json``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from window_memory_bench import RSS_SAMPLER  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

PROGRAM = """
import json, sys, threading, time
import {module} as pw
SAMPLE_EVERY = 1.0
""" + RSS_SAMPLER + """

class Events(pw.Schema):
    t: int
    key: int
    value: int

start = time.perf_counter()
events = pw.io.csv.read(sys.argv[1], schema=Events, mode="static")
windows = events.windowby(
    events.t, window=pw.temporal.sliding(hop=10_000, duration=60_000), instance=events.key,
    behavior=pw.temporal.common_behavior(cutoff=10_000, keep_results=False),
).reduce(key=pw.this._pw_instance, start=pw.this._pw_window_start, n=pw.reducers.count(),
         total=pw.reducers.sum(pw.this.value), top=pw.reducers.max(pw.this.value))
pw.io.null.write(windows)
threading.Thread(target=sampler, daemon=True).start()
pw.run()
elapsed = time.perf_counter() - start
done.set()
print(json.dumps({{"seconds": elapsed, "rss_mib": samples}}))
"""


def event_files(events: int, files: int) -> Path:
    """The event log as ``files`` CSV files (written once; reused by later runs)."""
    directory = RESULTS / "data" / f"events-{events}-{files}"
    done = directory.with_name(directory.name + ".done")
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    per_file = -(-events // files)
    for f in range(files):
        lo, hi = f * per_file, min(events, (f + 1) * per_file)
        i = np.arange(lo, hi, dtype=np.int64)
        t = i * 10 + rng.integers(0, 500, len(i))
        key = rng.integers(0, 1000, len(i))
        value = rng.integers(0, 1000, len(i))
        body = np.char.add(np.char.add(np.char.add(np.char.add(t.astype(str), ","), key.astype(str)), ","), value.astype(str))
        (directory / f"part-{f:04d}.csv").write_text("t,key,value\n" + "\n".join(body.tolist()) + "\n")
    done.write_text("")
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--limit-files", type=int)
    parser.add_argument("--system", default="deltaflow", choices=["deltaflow", "pathway"])
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    directory = event_files(args.events, args.files)
    source = str(directory)
    read_events = args.events
    if args.limit_files:
        # The first K files, through a directory of links (both systems read a directory).
        subset = RESULTS / "data" / f"events-{args.events}-{args.files}-first{args.limit_files}"
        subset.mkdir(exist_ok=True)
        for f in sorted(directory.glob("part-*.csv"))[: args.limit_files]:
            link = subset / f.name
            if not link.exists():
                link.symlink_to(f)
        source = str(subset)
        read_events = min(args.events, args.limit_files * -(-args.events // args.files))
    out = subprocess.run([args.python, "-c", PROGRAM.format(module=args.system), source], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{args.system}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return 1
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(system=args.system, events=read_events, events_per_s=read_events / result["seconds"])
    rss = result["rss_mib"]
    print(f"{args.system}: {read_events:,} events in {result['seconds']:.1f} s = {result['events_per_s']:,.0f} events/s; "
          f"RSS MiB min/median/max {min(rss)}/{sorted(rss)[len(rss) // 2]}/{max(rss)}; every 1 s: {rss}")
    (RESULTS / f"sliding-long-{args.system}.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
