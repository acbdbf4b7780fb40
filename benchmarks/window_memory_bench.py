#!/usr/bin/env python3
"""Memory of a sliding-window aggregation over a long stream, with and without forgetting.

  python benchmarks/window_memory_bench.py [--events N] [--system deltaflow|pathway]
                                           [--python PATH]

A Python source streams N events (event time 1 ms apart, 1,000 keys, commits of 10k events)
into `windowby(t, sliding(hop=1 s, duration=5 s), instance=key, behavior=...)` reducing count
and sum; results go to a null sink. Each mode runs in its own process, which samples its
resident memory every 0.5 s: with `common_behavior(cutoff=1 s, keep_results=False)` the
windows past the cutoff are forgotten and memory should stay flat; without a behaviour every
window is kept. Prints one line per mode: events/s and the RSS samples (MiB)."""

from __future__ import annotations

import argparse
import subprocess
import sys

# In a child program: `samples` gets the resident memory (MiB) every SAMPLE_EVERY seconds once
# a thread runs `sampler` and until `done` is set.
RSS_SAMPLER = """
import threading
samples = []
done = threading.Event()

def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def sampler():
    while not done.wait(SAMPLE_EVERY):
        samples.append(round(rss_mib()))
"""

PROGRAM = """
import sys, threading, time
import {module} as pw
SAMPLE_EVERY = 0.5

events = int(sys.argv[1])
forget = sys.argv[2] == "forget"
""" + RSS_SAMPLER + """

class Events(pw.Schema):
    t: int
    key: int
    value: int

class Stream(pw.io.python.ConnectorSubject):
    @property
    def _deletions_enabled(self):
        return False  # append-only: the connector need not remember rows

    def run(self):
        for i in range(events):
            self.next(t=i, key=i % 1000, value=i % 97)
            if i % 10000 == 9999:
                self.commit()
        self.commit()

table = pw.io.python.read(Stream(), schema=Events, autocommit_duration_ms=None)
behavior = pw.temporal.common_behavior(cutoff=1000, keep_results=False) if forget else None
windows = table.windowby(
    table.t, window=pw.temporal.sliding(hop=1000, duration=5000), instance=table.key, behavior=behavior
).reduce(key=pw.this._pw_instance, n=pw.reducers.count(), total=pw.reducers.sum(pw.this.value))
pw.io.null.write(windows)
threading.Thread(target=sampler, daemon=True).start()
start = time.perf_counter()
pw.run()
elapsed = time.perf_counter() - start
done.set()
print(f"{{events / elapsed:.0f}} events/s; RSS MiB every 0.5 s: {{samples}}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--system", default="deltaflow", choices=["deltaflow", "pathway"])
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    for mode in ("forget", "keep"):
        program = PROGRAM.format(module=args.system)
        out = subprocess.run([args.python, "-c", program, str(args.events), mode], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{args.system} {mode}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        print(f"{args.system} {mode}: {out.stdout.strip().splitlines()[-1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
