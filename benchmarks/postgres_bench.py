"""Writing to PostgreSQL: deltaflow against Pathway and `psql \\copy`, on the same server; and
the latency of change data capture.

The pipeline is the same program for both systems (only `import deltaflow as pw` or `import
pathway as pw` differs): rows (k: int, name: str, score: float) from a pandas DataFrame with a
`__time__` column, so that they arrive in batches of a given size, written with
`pw.io.postgres.write` to a fresh table. Cases:

- ``stream``: every row a new key, as a stream of changes (rows with `time` and `diff`);
- ``snapshot``: keys k = i mod (rows / 10), as a snapshot (upserts by primary key).

Each is run with batches of 10,000 rows (1M rows) and of 1 row (10,000 rows: a transaction
each); the stream of changes also with all 1M rows in one batch (one transaction, as `psql
\\copy` loads them). The time of `pw.run()` is measured in the pipeline's process, once writing to
PostgreSQL and once to `pw.io.null` (the same pipeline without the database); the write
throughput is rows / (time with PostgreSQL - time without): what the output costs.
`psql \\copy` of the same 1M rows from a CSV file is the reference for bulk loading.

``cdc``: deltaflow only (Pathway's PostgreSQL reader needs a paid licence): a pipeline follows
a table by logical replication; a client inserts rows one transaction at a time, each stamped
with `clock_timestamp()`; the pipeline's output callback takes the time it sees each row.
Reported: p50/p95/p99 of (seen - committed), on the same machine's clock.

    python benchmarks/postgres_bench.py                          # every case, both systems
    python benchmarks/postgres_bench.py --systems deltaflow --cases stream
    python benchmarks/postgres_bench.py --pathway-python /path/to/venv/bin/python

Needs the server of scripts/postgres.sh (started here when none is running) and psycopg in this
interpreter. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
POSTGRES = ROOT / "scripts" / "postgres.sh"

PIPELINE = """
import sys, time
import numpy as np, pandas as pd
import {module} as pw

settings = dict(host="127.0.0.1", port={port}, dbname="deltaflow", user="deltaflow", password="deltaflow-secret")
rows, batch, case, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
i = np.arange(rows)
keys = i % max(1, rows // 10) if case == "snapshot" else i
df = pd.DataFrame({{"k": keys, "name": ["name-" + str(x % 1000) for x in i], "score": i * 0.5, "__time__": 2 * (i // batch) + 2}})
t = pw.debug.table_from_pandas(df)
if target == "null":
    pw.io.null.write(t)
elif case == "snapshot":
    pw.io.postgres.write(t, settings, "bench_" + case, init_mode="replace", output_table_type="snapshot", primary_key=[t.k])
else:
    pw.io.postgres.write(t, settings, "bench_" + case, init_mode="replace")
start = time.perf_counter()
pw.run()
print("ELAPSED", time.perf_counter() - start)
"""

CDC = """
import sys, threading, time, datetime
import psycopg
import deltaflow as pw

settings = dict(host="127.0.0.1", port={port}, dbname="deltaflow", user="deltaflow", password="deltaflow-secret")
n, rate = int(sys.argv[1]), float(sys.argv[2])
with psycopg.connect(autocommit=True, **settings) as c:
    c.execute("DROP TABLE IF EXISTS bench_cdc")
    c.execute("DROP PUBLICATION IF EXISTS bench_cdc_pub")
    c.execute("CREATE TABLE bench_cdc (id BIGINT PRIMARY KEY, at TIMESTAMPTZ)")

class S(pw.Schema):
    id: int = pw.column_definition(primary_key=True)
    at: pw.DateTimeUtc

t = pw.io.postgres.read(settings, "bench_cdc", S, publication_name="bench_cdc_pub")
seen = {{}}
ready = threading.Event()
def on_change(key, row, time, is_addition):
    if is_addition:
        seen[row["id"]] = (datetime.datetime.now(datetime.timezone.utc), row["at"])
pw.io.subscribe(t, on_change, on_time_end=lambda t: ready.set())
def load():
    with psycopg.connect(autocommit=True, **settings) as c:
        c.execute("INSERT INTO bench_cdc VALUES (-1, clock_timestamp())")
        ready.wait(30)
        time.sleep(1)
        for i in range(n):
            c.execute("INSERT INTO bench_cdc VALUES (%s, clock_timestamp())", (i,))
            time.sleep(1 / rate)
    deadline = time.time() + 10
    while len(seen) < n + 1 and time.time() < deadline:
        time.sleep(0.05)
    pw.internals.run.request_stop()
threading.Thread(target=load).start()
pw.run()
lat = sorted((s - a.to_pydatetime()).total_seconds() * 1000 for k, (s, a) in seen.items() if k >= 0)
print("LATENCY", len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.95)], lat[int(len(lat) * 0.99)])
"""


def server() -> int:
    if subprocess.run([POSTGRES, "status"]).returncode != 0:
        subprocess.run([POSTGRES, "start"], check=True)
    env = dict(line.split("=", 1) for line in subprocess.run([POSTGRES, "env"], check=True, capture_output=True, text=True).stdout.split())
    return int(env["DELTAFLOW_PG_PORT"])


def run_pipeline(python: str, module: str, port: int, rows: int, batch: int, case: str, target: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PIPELINE.format(module=module, port=port))
    try:
        out = subprocess.run([python, f.name, str(rows), str(batch), case, target], capture_output=True, text=True, timeout=3600)
    finally:
        os.unlink(f.name)
    for line in out.stdout.splitlines():
        if line.startswith("ELAPSED"):
            return float(line.split()[1])
    raise RuntimeError(f"{module} {case} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def psql_copy(port: int, rows: int) -> float:
    """Seconds `psql \\copy` takes to load the stream case's rows (with time and diff) from CSV."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        for i in range(rows):
            f.write(f"{i},name-{i % 1000},{i * 0.5},{2 * (i // 10000) + 2},1\n")
    try:
        subprocess.run([POSTGRES, "psql", "-q", "-c", "DROP TABLE IF EXISTS bench_copy",
                        "-c", "CREATE TABLE bench_copy (k BIGINT NOT NULL, name TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, time BIGINT NOT NULL, diff SMALLINT NOT NULL)"],
                       check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run([POSTGRES, "psql", "-q", "-c", f"\\copy bench_copy FROM '{f.name}' CSV"], check=True, capture_output=True)
        return time.perf_counter() - start
    finally:
        os.unlink(f.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", default=["deltaflow", "pathway"])
    parser.add_argument("--cases", nargs="+", default=["stream", "snapshot", "copy", "cdc"])
    parser.add_argument("--pathway-python", default="/tmp/pwvenv/bin/python")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--single-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (the best is kept)")
    args = parser.parse_args()
    port = server()
    pythons = {"deltaflow": sys.executable, "pathway": args.pathway_python}
    results: dict = {}
    for case in [c for c in args.cases if c in ("stream", "snapshot")]:
        for rows, batch in ((args.rows, args.rows), (args.rows, 10_000), (args.single_rows, 1)):
            if case == "snapshot" and batch == args.rows:
                continue
            for system in args.systems:
                with_pg = min(run_pipeline(pythons[system], system, port, rows, batch, case, "postgres") for _ in range(args.repeat))
                without = min(run_pipeline(pythons[system], system, port, rows, batch, case, "null") for _ in range(args.repeat))
                rate = rows / max(with_pg - without, 1e-9)
                key = f"{case} batch={batch} {system}"
                results[key] = {"rows": rows, "with_postgres_s": with_pg, "without_s": without, "write_rows_per_s": rate}
                print(f"{key:<32} {rows:>8} rows  run {with_pg:7.2f} s  (null output {without:6.2f} s)  writes {rate:12,.0f} rows/s", flush=True)
    if "copy" in args.cases:
        seconds = min(psql_copy(port, args.rows) for _ in range(args.repeat))
        results["psql copy"] = {"rows": args.rows, "seconds": seconds, "rows_per_s": args.rows / seconds}
        label = "psql \\copy"
        print(f"{label:<32} {args.rows:>8} rows  {seconds:7.2f} s  {args.rows / seconds:12,.0f} rows/s", flush=True)
    if "cdc" in args.cases and "deltaflow" in args.systems:
        for rate in (100, 1000):
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
                f.write(CDC.format(port=port))
            try:
                out = subprocess.run([sys.executable, f.name, str(rate * 5), str(rate)], capture_output=True, text=True, timeout=600)
            finally:
                os.unlink(f.name)
            line = next((x for x in out.stdout.splitlines() if x.startswith("LATENCY")), None)
            if line is None:
                raise RuntimeError(out.stderr[-4000:])
            _, n, p50, p95, p99 = line.split()
            results[f"cdc {rate}/s"] = {"rows": int(n), "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99)}
            print(f"cdc latency at {rate:>5} tx/s: {n} rows  p50 {float(p50):6.1f} ms  p95 {float(p95):6.1f} ms  p99 {float(p99):6.1f} ms", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "postgres_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
