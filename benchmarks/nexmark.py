#!/usr/bin/env python3
"""Nexmark queries q0, q1, q2, q3, q4, q5, q7 and q8 written with the Python Table API, run by
deltaflow and by Pathway (the same program, ``import deltaflow as pw`` vs ``import pathway as
pw``) on the same generated events, alternately, several repetitions, one worker each.

    python benchmarks/nexmark.py [--events N] [--reps K] [--only q5 ...] [--check]

The events come from ``benchmarks/nexmark_gen.py`` (fixed seed; generated once into
``benchmarks/results/data/nexmark-N``). Each query reads the files of the event kinds it uses
(statically, the whole stream as one batch) and writes its result to ``pw.io.null`` (``--check``:
to CSV, and the two systems' final results are compared row for row). The figure is events/s:
the events of the whole generated stream (persons, auctions and bids) divided by the time from
building the pipeline to the end of ``pw.run()``, as the published Flink and Feldera figures
count every event of the stream. Writes ``benchmarks/results/nexmark-latest.json``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from table_bench import RESULTS, pathway_python, print_comparison, run_child, summarize_runs  # noqa: E402

PRELUDE = """
import sys, time
import {module} as pw

class Person(pw.Schema):
    person_id: int
    name: str
    email_address: str
    credit_card: str
    city: str
    state: str
    date_time: int
    extra: str

class Auction(pw.Schema):
    auction_id: int
    item_name: str
    description: str
    initial_bid: int
    reserve: int
    date_time: int
    expires: int
    seller: int
    category: int
    extra: str

class Bid(pw.Schema):
    auction: int
    bidder: int
    price: int
    channel: str
    url: str
    date_time: int
    extra: str

data, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
def persons():
    return pw.io.csv.read(data + "/persons.csv", schema=Person, mode="static")
def auctions():
    return pw.io.csv.read(data + "/auctions.csv", schema=Auction, mode="static")
def bids():
    return pw.io.csv.read(data + "/bids.csv", schema=Bid, mode="static")
"""

FINISH = """
if out == "-":
    pw.io.null.write(result)
else:
    pw.io.csv.write(result, out)
pw.run()
print(time.perf_counter() - start)
"""

QUERIES = {
    # Passthrough.
    "q0": """
b = bids()
result = b.select(b.auction, b.bidder, b.price, b.date_time, b.extra)
""",
    # Currency conversion.
    "q1": """
b = bids()
result = b.select(b.auction, b.bidder, price=b.price * 0.908, date_time=b.date_time, extra=b.extra)
""",
    # Selection.
    "q2": """
b = bids()
result = b.filter(b.auction % 123 == 0).select(pw.this.auction, pw.this.price)
""",
    # Local item suggestion: an unwindowed join of auctions and sellers.
    "q3": """
a = auctions()
a = a.filter(a.category == 10)
p = persons()
p = p.filter((p.state == "OR") | (p.state == "ID") | (p.state == "CA"))
result = a.join(p, a.seller == p.person_id).select(p.name, p.city, p.state, a.auction_id)
""",
    # Average closing price per category: each auction's highest bid within its lifetime.
    "q4": """
a = auctions()
b = bids()
j = a.join(b, a.auction_id == b.auction).select(
    a.auction_id, a.category, b.price,
    valid=(b.date_time >= a.date_time) & (b.date_time <= a.expires))
j = j.filter(j.valid)
final = j.groupby(j.auction_id, j.category).reduce(j.category, final=pw.reducers.max(j.price))
result = final.groupby(final.category).reduce(final.category, average=pw.reducers.avg(final.final))
""",
    # Hot items: the auctions with the most bids in each sliding window (hop 2 s, 10 s long).
    "q5": """
b = bids()
counts = b.windowby(b.date_time, window=pw.temporal.sliding(hop=2_000, duration=10_000), instance=b.auction).reduce(
    auction=pw.this._pw_instance, starttime=pw.this._pw_window_start, num=pw.reducers.count())
top = counts.groupby(counts.starttime).reduce(counts.starttime, maxn=pw.reducers.max(counts.num))
joined = counts.join(top, counts.starttime == top.starttime).select(counts.auction, counts.num, top.maxn)
result = joined.filter(joined.num >= joined.maxn).select(pw.this.auction, pw.this.num)
""",
    # Highest bid: the bids carrying the highest price of their 10 s tumbling window.
    "q7": """
b = bids()
top = b.windowby(b.date_time, window=pw.temporal.tumbling(duration=10_000)).reduce(
    window_end=pw.this._pw_window_end, maxprice=pw.reducers.max(pw.this.price))
joined = b.join(top, b.price == top.maxprice).select(b.auction, b.price, b.bidder, b.date_time, b.extra, top.window_end)
result = joined.filter((joined.date_time >= joined.window_end - 10_000) & (joined.date_time <= joined.window_end)).select(
    pw.this.auction, pw.this.price, pw.this.bidder, pw.this.date_time, pw.this.extra)
""",
    # New users: people who opened an auction in the 10 s tumbling window they registered in.
    "q8": """
p = persons()
a = auctions()
new_people = p.windowby(p.date_time, window=pw.temporal.tumbling(duration=10_000), instance=p.person_id).reduce(
    person_id=pw.this._pw_instance, name=pw.reducers.any(pw.this.name), starttime=pw.this._pw_window_start)
sellers = a.windowby(a.date_time, window=pw.temporal.tumbling(duration=10_000), instance=a.seller).reduce(
    seller=pw.this._pw_instance, starttime=pw.this._pw_window_start)
result = new_people.join(sellers, new_people.person_id == sellers.seller, new_people.starttime == sellers.starttime).select(
    new_people.person_id, new_people.name, new_people.starttime)
""",
}


def program(query: str, module: str) -> str:
    return PRELUDE.format(module=module) + QUERIES[query] + FINISH


def final_rows(path: Path) -> Counter:
    """The rows (as text, floats rounded) a CSV change stream leaves at its end."""
    rows: Counter = Counter()
    with open(path) as f:
        reader = csv.DictReader(f)
        for row in reader:
            diff = int(row.pop("diff"))
            row.pop("time", None)
            key = tuple(sorted((k, _canonical(v)) for k, v in row.items()))
            rows[key] += diff
    return +rows


def _canonical(v: str) -> str:
    try:
        f = float(v)
    except ValueError:
        return v
    return f"{f:.6g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--check", action="store_true", help="write CSV and compare the systems' results")
    parser.add_argument("--pathway-python")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    data = RESULTS / "data" / f"nexmark-{args.events}"
    if not (data / "bids.csv").exists():
        # In a child, so that this process stays small (children forked from it start with
        # its memory, which would count in their peak RSS).
        print(f"generating {args.events} events into {data}", flush=True)
        subprocess.run([sys.executable, str(Path(__file__).parent / "nexmark_gen.py"), str(args.events), str(data)], check=True)
    systems = {"deltaflow": (sys.executable, "deltaflow")}
    pw_python = pathway_python(args.pathway_python)
    if pw_python:
        systems["pathway"] = (pw_python, "pathway")
    env = dict(os.environ, PATHWAY_THREADS="1", DELTAFLOW_THREADS="1")
    results: dict = {"events": args.events, "queries": {}}
    for query in QUERIES:
        if args.only and query not in args.only:
            continue
        runs: dict[str, list] = {s: [] for s in systems}
        outputs: dict[str, Path] = {}
        for rep in range(args.reps):
            for system, (python, module) in systems.items():
                out = RESULTS / f"nexmark-{query}-{system}.csv" if args.check else "-"
                try:
                    seconds, _, rss = run_child(python, program(query, module), [str(data), str(out)], args.timeout, env)
                    runs[system].append((float(seconds), rss))
                    print(f"{query} {system} rep {rep}: {float(seconds):.2f} s, peak RSS {rss / 1024:.0f} MiB", flush=True)
                    if args.check:
                        outputs[system] = Path(out)
                except Exception as error:  # noqa: BLE001 - reported in the cell
                    runs[system].append(None)
                    print(f"{query} {system} rep {rep}: {error}", flush=True)
        cells = summarize_runs(runs, args.events, "events_per_s")
        entry: dict = {"systems": cells}
        if args.check and len(outputs) == 2:
            got = {s: final_rows(p) for s, p in outputs.items()}
            entry["same_result"] = got["deltaflow"] == got["pathway"]
            entry["result_rows"] = sum(got["deltaflow"].values())
            print(f"{query}: results {'identical' if entry['same_result'] else 'DIFFER'} ({entry['result_rows']} rows)", flush=True)
        results["queries"][query] = entry
        print_comparison(query, cells)
    (RESULTS / "nexmark-latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
