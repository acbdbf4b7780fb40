#!/usr/bin/env python3
"""Table-API workloads: deltaflow against Pathway and polars on the same generated files.

    python benchmarks/table_bench.py [--rows N] [--reps R] [--only NAME ...]
        [--pathway-python PATH]

Workloads (each system runs in its own process, alternating A B A B; median wall time and
peak RSS of the child are reported):

- ``pipeline``: a CSV of N rows → select (arithmetic + a string method) → filter →
  group-by/reduce (count, sum) → CSV. Timed end to end, reading and writing included.
  Systems: deltaflow, Pathway (same program, ``import pathway as pw``), polars (eager).
- ``wordcount``: a streaming word count over a file that grows at a fixed offered rate
  (10-word lines from a 5,000-word vocabulary, written every 10 ms), 1 and 2 workers;
  sustained throughput and end-to-end latency p50/p95/p99 from the moment a line is written
  and flushed to the moment its (unique marker) word's count reaches a subscriber.
- ``incremental``: N orders (CSV) joined with 1,000 customers and summed per region, kept up
  to date while batches of 1, 100 and 10,000 order changes arrive from a Python source; the
  figure is the median latency from a batch's commit to its result, against polars
  recomputing the same result from scratch each time.

Inputs are generated with a fixed seed into ``benchmarks/results/data`` (reused when they
exist). Pathway runs from ``--pathway-python`` (a virtualenv with ``pip install pathway``;
default ``benchmarks/results/pathway-venv/bin/python``, created when missing).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA = RESULTS / "data"


# --- inputs ----------------------------------------------------------------------------------


def orders_csv(rows: int) -> Path:
    path = DATA / f"orders-{rows}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write("oid,customer,amount,name\n")
        chunk = []
        for i in range(rows):
            chunk.append(f"{i},{rng.randrange(1000)},{rng.randrange(10000) / 100},{names[rng.randrange(8)]}\n")
            if len(chunk) == 100_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    tmp.rename(path)
    return path


def customers_csv() -> Path:
    path = DATA / "customers.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write("customer,region\n")
            for c in range(1000):
                f.write(f"{c},r{c % 17}\n")
    return path


# --- programs (run in a child process) --------------------------------------------------------

PIPELINE_TABLE_API = """
import sys, time
import {module} as pw

class Orders(pw.Schema):
    oid: int
    customer: int
    amount: float
    name: str

start = time.perf_counter()
t = pw.io.csv.read(sys.argv[1], schema=Orders, mode="static")
s = t.select(pw.this.customer, amount=pw.this.amount * 1.1 + 1.0, tag=pw.this.name.str.upper())
f = s.filter(pw.this.amount > 50.0)
r = f.groupby(pw.this.customer).reduce(pw.this.customer, n=pw.reducers.count(), total=pw.reducers.sum(pw.this.amount))
pw.io.csv.write(r, sys.argv[2])
pw.run({run_args})
print(time.perf_counter() - start)
"""

PIPELINE_POLARS = """
import sys, time
import polars as pl
start = time.perf_counter()
t = pl.read_csv(sys.argv[1])
s = t.select(pl.col("customer"), amount=pl.col("amount") * 1.1 + 1.0, tag=pl.col("name").str.to_uppercase())
r = s.filter(pl.col("amount") > 50.0).group_by("customer").agg(n=pl.len(), total=pl.col("amount").sum())
r.write_csv(sys.argv[2])
print(time.perf_counter() - start)
"""

INCREMENTAL_TABLE_API = """
import json, random, sys, threading, time
import {module} as pw

class Orders(pw.Schema):
    oid: int = pw.column_definition(primary_key=True)
    customer: int
    amount: float
    name: str

class Customers(pw.Schema):
    customer: int = pw.column_definition(primary_key=True)
    region: str

batch_sizes = [int(x) for x in sys.argv[3].split(",")]
rows = int(sys.argv[4])
rounds = 15
committed = {{}}
latencies = {{k: [] for k in batch_sizes}}
done = threading.Event()
expected_commits = threading.Semaphore(0)

class Changes(pw.io.python.ConnectorSubject):
    def run(self):
        rng = random.Random(7)
        expected_commits.acquire()  # the initial load is complete
        for k in batch_sizes:
            for _ in range(rounds):
                for _ in range(k):
                    oid = rng.randrange(rows)
                    self.next(oid=oid, customer=rng.randrange(1000), amount=rng.randrange(10000) / 100, name="upd")
                committed["at"] = time.perf_counter()
                committed["k"] = k
                self.commit()
                expected_commits.acquire()
        done.set()

orders = pw.io.csv.read(sys.argv[1], schema=Orders, mode="static")
customers = pw.io.csv.read(sys.argv[2], schema=Customers, mode="static")
changes = pw.io.python.read(Changes(), schema=Orders, autocommit_duration_ms=None)
current = orders.update_rows(changes)
joined = current.join(customers, current.customer == customers.customer).select(customers.region, current.amount)
totals = joined.groupby(pw.this.region).reduce(pw.this.region, total=pw.reducers.sum(pw.this.amount))

load_start = time.perf_counter()
state = {{"loaded": False}}
def on_time_end(t):
    if not state["loaded"]:
        state["loaded"] = True
        state["load_s"] = time.perf_counter() - load_start
        expected_commits.release()
        return
    if "at" in committed:
        latencies[committed["k"]].append(time.perf_counter() - committed.pop("at"))
        expected_commits.release()
pw.io.subscribe(totals, lambda **kw: None, on_time_end=on_time_end)
pw.run({run_args})
median = lambda v: sorted(v)[len(v) // 2] if v else None
print(json.dumps({{"load_s": state.get("load_s"), "latency_s": {{str(k): median(v) for k, v in latencies.items()}}}}))
"""

INCREMENTAL_POLARS = """
import json, sys, time
import polars as pl
orders = pl.read_csv(sys.argv[1])
customers = pl.read_csv(sys.argv[2])
times = []
for _ in range(3):
    start = time.perf_counter()
    r = orders.join(customers, on="customer").group_by("region").agg(total=pl.col("amount").sum())
    times.append(time.perf_counter() - start)
print(json.dumps({"recompute_s": sorted(times)[1]}))
"""


WORDCOUNT_TABLE_API = """
import os, random, sys, threading, time
import {module} as pw

input_dir, rate, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rng = random.Random(5)
vocabulary = ["w%04d" % i for i in range(5000)]
tick = 0.01
words_per_tick = max(1, int(rate * tick))
# Pre-generated lines (10 words each), rotated: the writer spends little time per word.
lines = [" ".join(rng.choice(vocabulary) for _ in range(10)) + "\\n" for _ in range(2000)]
written = {{}}
seen = {{}}
state = {{"words": 0, "done": False}}

def writer():
    path = os.path.join(input_dir, "words.txt")
    start = time.perf_counter()
    k = 0
    line_at = 0
    with open(path, "a") as f:
        while time.perf_counter() - start < duration:
            chunk = []
            for _ in range(max(1, words_per_tick // 10)):
                chunk.append(lines[line_at])
                line_at = (line_at + 1) % len(lines)
            marker = "zzmark%d" % k
            chunk.append(marker + "\\n")
            f.write("".join(chunk))
            f.flush()
            written[marker] = time.perf_counter()
            state["words"] += 10 * (len(chunk) - 1) + 1
            k += 1
            next_at = start + k * tick
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    time.sleep(3.0)
    report()

def report():
    latencies = sorted(seen[m] - written[m] for m in seen if m in written)
    def q(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else None
    last = max(seen.values()) if seen else None
    first = min(written.values()) if written else None
    import json
    print(json.dumps({{"offered_words_per_s": rate, "words": state["words"], "markers_seen": len(seen), "markers": len(written),
                      "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99),
                      "throughput_words_per_s": state["words"] / (last - first) if last and first and last > first else None}}), flush=True)
    os._exit(0)

lines_table = pw.io.plaintext.read(input_dir, mode="streaming", autocommit_duration_ms=10)
words = lines_table.select(word={split}).flatten(pw.this.word)
counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())

def on_change(key, row, time, is_addition):
    w = row["word"]
    if is_addition and w.startswith("zzmark") and w not in seen:
        seen[w] = time_module.perf_counter()

time_module = time
pw.io.subscribe(counts, on_change)
threading.Thread(target=writer, daemon=True).start()
pw.run({run_args})
"""


# Prepended to every child program: at exit, the child writes its own peak RSS (VmHWM, KiB).
# The kernel's ru_maxrss of a child also counts the memory of the parent it was forked from,
# which would put a floor of this process's size under every figure.
PEAK_RSS_HOOK = """
import atexit as _atexit, os as _os
def _write_peak_rss():
    with open("/proc/self/status") as _f:
        _kib = next(int(_l.split()[1]) for _l in _f if _l.startswith("VmHWM:"))
    with open(_os.environ["BENCH_PEAK_RSS_FILE"], "w") as _f:
        _f.write(str(_kib))
_atexit.register(_write_peak_rss)
"""


def run_child(python: str, program: str, args: list[str], timeout: float, env: dict | None = None) -> tuple[str, float, int]:
    """Runs a program in a child; returns (stdout, wall seconds, peak RSS in KiB)."""
    start = time.perf_counter()
    peak_file = RESULTS / "child.peak"
    peak_file.unlink(missing_ok=True)
    env = dict(env if env is not None else os.environ, BENCH_PEAK_RSS_FILE=str(peak_file))
    with open(RESULTS / "child.out", "w+") as out_f, open(RESULTS / "child.err", "w+") as err_f:
        proc = subprocess.Popen([python, "-c", PEAK_RSS_HOOK + program, *args], stdout=out_f, stderr=err_f, text=True, env=env)
        deadline = time.time() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.time() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError("timed out")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}")
    peak = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss
    return out.strip().splitlines()[-1], wall, peak


def summarize_runs(runs: dict[str, list], size: int | None = None, unit: str | None = None) -> dict:
    """Per system, from its runs' ``(seconds, peak RSS KiB)`` (None for a failed run): the
    median seconds, ``size / seconds`` as ``unit`` when given, and the largest peak RSS."""
    cells: dict = {}
    for system, rs in runs.items():
        ok = [r for r in rs if r is not None]
        if not ok:
            cells[system] = {"error": "failed"}
            continue
        seconds = statistics.median(s for s, _ in ok)
        cells[system] = {"seconds": seconds, "peak_rss_mib": max(r for _, r in ok) / 1024}
        if unit is not None and size is not None:
            cells[system][unit] = size / seconds
    return cells


def print_comparison(name: str, cells: dict, note: str = "") -> None:
    """One line: deltaflow against Pathway (speed-up and memory ratio), when both ran."""
    d, p = cells.get("deltaflow", {}), cells.get("pathway", {})
    if "seconds" in d and "seconds" in p:
        print(f"{name}: deltaflow {d['seconds']:.2f} s vs Pathway {p['seconds']:.2f} s "
              f"(speed-up {p['seconds'] / d['seconds']:.2f}x, memory {d['peak_rss_mib'] / p['peak_rss_mib']:.2f}x{note})", flush=True)


def pathway_python(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    venv = RESULTS / "pathway-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "pathway"], check=True, timeout=900)
        except Exception as error:  # noqa: BLE001 - reported in the cell
            print(f"cannot prepare Pathway: {error}", file=sys.stderr)
            return None
    return str(python)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--pathway-python")
    parser.add_argument("--batches", default="1,100,10000")
    parser.add_argument("--rates", default="100000,300000,1000000", help="wordcount: offered words/s")
    parser.add_argument("--duration", type=float, default=10.0, help="wordcount: seconds of offered load")
    args = parser.parse_args()
    deltaflow_python = str(ROOT / ".venv" / "bin" / "python")
    pw_python = pathway_python(args.pathway_python) if not args.only or "pathway" in args.only else None
    orders = orders_csv(args.rows)
    customers = customers_csv()
    out = RESULTS / "bench-out.csv"
    results: dict = {"rows": args.rows, "machine": os.uname().nodename, "date": time.strftime("%Y-%m-%d")}

    def wanted(name: str) -> bool:
        return not args.only or name in args.only

    if wanted("pipeline"):
        systems = [("deltaflow", deltaflow_python, PIPELINE_TABLE_API.format(module="deltaflow", run_args=""))]
        if pw_python:
            systems.append(("pathway", pw_python, PIPELINE_TABLE_API.format(module="pathway", run_args="monitoring_level=pw.MonitoringLevel.NONE")))
        systems.append(("polars", deltaflow_python, PIPELINE_POLARS))
        measured: dict = {name: [] for name, _, _ in systems}
        for _ in range(args.reps):
            for name, python, program in systems:
                try:
                    inner, wall, rss = run_child(python, program, [str(orders), str(out)], 3600)
                    measured[name].append((float(inner), wall, rss))
                except RuntimeError as error:
                    measured[name].append(str(error))
        results["pipeline"] = {}
        for name, runs in measured.items():
            ok = [r for r in runs if not isinstance(r, str)]
            if not ok:
                results["pipeline"][name] = {"error": runs[0]}
                continue
            seconds = statistics.median(r[0] for r in ok)
            results["pipeline"][name] = {"seconds": seconds, "rows_per_s": args.rows / seconds, "peak_rss_mib": max(r[2] for r in ok) / 1024}
        print(json.dumps(results["pipeline"], indent=2))

    if wanted("incremental"):
        results["incremental"] = {}
        program = INCREMENTAL_TABLE_API.format(module="deltaflow", run_args="")
        try:
            inner, wall, rss = run_child(deltaflow_python, program, [str(orders), str(customers), args.batches, str(args.rows)], 3600)
            results["incremental"]["deltaflow"] = {**json.loads(inner), "peak_rss_mib": rss / 1024}
        except RuntimeError as error:
            results["incremental"]["deltaflow"] = {"error": str(error)}
        inner, wall, rss = run_child(deltaflow_python, INCREMENTAL_POLARS, [str(orders), str(customers)], 3600)
        results["incremental"]["polars"] = json.loads(inner)
        print(json.dumps(results["incremental"], indent=2))

    if wanted("wordcount"):
        import shutil
        import tempfile

        results["wordcount"] = {}
        rates = [int(r) for r in args.rates.split(",")]
        systems = [("deltaflow", deltaflow_python, "deltaflow", "DELTAFLOW_THREADS")]
        if pw_python:
            systems.append(("pathway", pw_python, "pathway", "PATHWAY_THREADS"))
        for workers in (1, 2):
            for rate in rates:
                for name, python, module, env_var in systems:
                    directory = tempfile.mkdtemp(prefix="deltaflow-wordcount-bench-")
                    env = dict(os.environ, **{env_var: str(workers)})
                    run_args = "" if module == "deltaflow" else "monitoring_level=pw.MonitoringLevel.NONE"
                    # Pathway has no str.split: its users split with a Python function.
                    split = "pw.this.data.str.split()" if module == "deltaflow" else "pw.apply_with_type(str.split, list[str], pw.this.data)"
                    program = WORDCOUNT_TABLE_API.format(module=module, run_args=run_args, split=split)
                    key = f"{name}/w{workers}/{rate}"
                    try:
                        inner, wall, rss = run_child(python, program, [directory, str(rate), str(args.duration)], 600, env=env)
                        results["wordcount"][key] = {**json.loads(inner), "peak_rss_mib": rss / 1024}
                    except RuntimeError as error:
                        results["wordcount"][key] = {"error": str(error)}
                    shutil.rmtree(directory, ignore_errors=True)
                    print(key, json.dumps(results["wordcount"][key]), flush=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "table-latest.json", "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
