#!/usr/bin/env python3
"""PageRank (5 steps, `pw.graphs.pagerank.pagerank`) written with the Python API, run by
deltaflow and by Pathway (its own `pw.graphs.pagerank`) on the same edge files, in three ways:

  python benchmarks/pagerank_bench.py [--edges N] [--update 1000] [--stream-edges K]
                                      [--only batch|streamed|backfill] [--reps R]
                                      [--pathway-python PATH]

  batch     the N edges in one file (one batch)
  streamed  the first K edges as files of `--update` edges each: every file is one commit
            (static directory reads commit file by file in both systems), so the ranks are
            updated K / update times
  backfill  N - K edges in one file, then the K edges as files of `--update` edges

The graph is the preferential-attachment graph of benchmarks/temporal_bench.py (N / 5
vertices). Each run reports its wall time from building the pipeline to the end of
`pw.run()` and its peak RSS; both systems' final ranks are compared (they must be identical:
both compute in integers). Writes benchmarks/results/pagerank-latest.json.

For the cost of the Python layer, compare with the C++ PageRank of the harness:
`python benchmarks/run.py --only pagerank`.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from table_bench import RESULTS, pathway_python, print_comparison, run_child, summarize_runs  # noqa: E402
from temporal_bench import PAGERANK as PROGRAM, edges_csv  # noqa: E402



def layout(edges: int, update: int, stream: int, mode: str) -> Path:
    """A directory of edge files for one mode (written once, from the one generated file)."""
    source = edges_csv(edges)
    directory = RESULTS / "data" / f"pagerank-{edges}-{mode}-{stream}-{update}"
    done = directory.with_name(directory.name + ".done")
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    with open(source) as f:
        header = f.readline()
        lines = f.readlines()
    if mode == "batch":
        parts = [lines]
    elif mode == "streamed":
        parts = [lines[i : i + update] for i in range(0, min(stream, len(lines)), update)]
    else:
        head = len(lines) - stream
        parts = [lines[:head]] + [lines[i : i + update] for i in range(head, len(lines), update)]
    for k, part in enumerate(parts):
        (directory / f"part-{k:06d}.csv").write_text(header + "".join(part))
    done.write_text("")
    return directory


def final_ranks(path: Path) -> list[int]:
    ranks: dict[int, int] = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            ranks[int(row["rank"])] = ranks.get(int(row["rank"]), 0) + int(row["diff"])
    return sorted(r for r, n in ranks.items() for _ in range(n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--update", type=int, default=1_000)
    parser.add_argument("--stream-edges", type=int, default=100_000, help="edges streamed in updates (streamed, backfill)")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--pathway-python")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    systems = {"deltaflow": (sys.executable, "deltaflow")}
    pw_python = pathway_python(args.pathway_python)
    if pw_python:
        systems["pathway"] = (pw_python, "pathway")
    env = dict(os.environ, PATHWAY_THREADS="1", DELTAFLOW_THREADS="1")
    results: dict = {"edges": args.edges, "update": args.update, "stream_edges": args.stream_edges, "modes": {}}
    for mode in ("batch", "streamed", "backfill"):
        if args.only and mode not in args.only:
            continue
        directory = layout(args.edges, args.update, args.stream_edges, mode)
        runs: dict[str, list] = {s: [] for s in systems}
        outputs = {}
        for rep in range(args.reps):
            for system, (python, module) in systems.items():
                out = RESULTS / f"pagerank-{mode}-{system}.csv"
                try:
                    seconds, _, rss = run_child(python, PROGRAM.format(module=module), [str(directory), str(out)], args.timeout, env)
                    runs[system].append((float(seconds), rss))
                    outputs[system] = out
                    print(f"{mode} {system} rep {rep}: {float(seconds):.1f} s, peak RSS {rss / 1024:.0f} MiB", flush=True)
                except Exception as error:  # noqa: BLE001 - reported in the cell
                    runs[system].append(None)
                    print(f"{mode} {system} rep {rep}: {error}", flush=True)
        cells = summarize_runs(runs)
        entry = {"systems": cells}
        if len(outputs) == 2:
            entry["same_ranks"] = final_ranks(outputs["deltaflow"]) == final_ranks(outputs["pathway"])
        results["modes"][mode] = entry
        print_comparison(mode, cells, f", same ranks: {entry.get('same_ranks')}")
    (RESULTS / "pagerank-latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
