#!/usr/bin/env python3
"""The benchmark harness: deltaflow against other systems on the same workloads, same machine.

    python benchmarks/run.py [--quick] [--only NAME ...] [--keys N] [--reps R] [--jobs J]

Builds what it needs (the Release CMake build of deltaflow_dd_bench in build/bench, as
`make bench-dd` configures it; `cargo build --release` of benchmarks/reference/dd), then runs
every case on every system, alternating systems within each repetition (A B A B ...), and
writes benchmarks/results/latest.json and latest.md (median wall time, updates/s, peak RSS,
and the ratio deltaflow / other system per case). Inputs are generated inside each program
from the same fixed seed; nothing is generated here.

--quick: 1M keys, 2 repetitions; default (full): 10M keys, 3 repetitions.
--only NAME: keep only the cases or systems named NAME (a case id such as `count/w2`, a
workload such as `count`, or a system such as `differential-dataflow`); repeatable.

Systems: deltaflow (C++ programs, and its Python package for the Table-API cases),
differential-dataflow (the Rust reference), Pathway (its own virtualenv, Table-API cases).
Python 3.11 standard library only (the Table-API inputs are generated with the project's
.venv, which has numpy). To add a system, write a class with `name`, `build()` and
`run(case, keys, timeout)` (see `System` below) and add an instance in `make_systems`; a case it cannot
run raises `Unsupported("why")`, which becomes the text of its cell.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the Table-API benchmark modules

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
BUILD_DIR = ROOT / "build" / "bench"
DD_PROJECT = BENCH_DIR / "reference" / "dd"
DD_TARGET = BENCH_DIR / "reference" / "target"  # also named in reference/dd/.cargo/config.toml


# --------------------------------------------------------------------------------------------
# Cases


@dataclasses.dataclass(frozen=True)
class Case:
    workload: str  # "arrange" | "count" | "count-runtime" | "degree" | "pagerank" | "idle" | "chain"
    workers: int
    title: str

    @property
    def id(self) -> str:
        return f"{self.workload}/w{self.workers}"

    def size(self, keys: int) -> int:
        """The n of this case's program for a run of `keys` keys: updates (edges), or rounds
        for `chain`; `idle` has none."""
        if self.workload == "pagerank":
            return max(10_000, keys // 10)
        if self.workload == "chain":
            return max(1_000, keys // 1_000)
        if self.workload == "idle":
            return 1
        if self.workload == "sliding":
            return max(10_000, keys // 5)
        if self.workload.startswith("nexmark-"):
            return max(10_000, keys // 2)
        return keys

    @property
    def python_api(self) -> bool:
        """Whether the case is a Table-API program (deltaflow against Pathway)."""
        return self.workload == "sliding" or self.workload.startswith("nexmark-")


CASES = [
    Case("arrange", 1, "arrangement maintenance (input, exchange, arrange, probe)"),
    Case("arrange", 2, "arrangement maintenance (input, exchange, arrange, probe)"),
    Case("count", 1, "maintained count; deltaflow on one bare Worker"),
    Case("count-runtime", 1, "maintained count; deltaflow on the oneTBB runtime"),
    Case("count-runtime", 2, "maintained count; deltaflow on the oneTBB runtime"),
    Case("degree", 1, "degree distribution: edges loaded in batches of 10k (then update latency)"),
    Case("degree", 2, "degree distribution: edges loaded in batches of 10k (then update latency)"),
    Case("pagerank", 1, "PageRank, 5 steps: edges (keys/10) in batches of 10k (then update latency)"),
    Case("pagerank", 2, "PageRank, 5 steps: edges (keys/10) in batches of 10k (then update latency)"),
    Case("idle", 1, "idle second after loading a count: process CPU ms (lower is better)"),
    Case("idle", 2, "idle second after loading a count: process CPU ms (lower is better)"),
    Case("chain", 1, "1,000 map operators, one update per round (keys/1000 rounds)"),
    Case("sliding", 1, "Python API: sliding-window aggregation over keys/5 events from CSV"),
    *[Case(f"nexmark-{q}", 1, f"Python API: Nexmark {q} over keys/2 generated events")
      for q in ("q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8")],
]

# The workloads of deltaflow_graph_bench / the reference's graph.rs (one JSON line each).
GRAPH_WORKLOADS = ("degree", "pagerank", "idle", "chain")


class Unsupported(Exception):
    """A system cannot run a case; the message says why and fills its cell."""


@dataclasses.dataclass
class Measurement:
    seconds: float  # wall-clock time of the timed part (feeding every batch to completion)
    updates_per_s: float  # keys / seconds
    peak_rss_kb: int  # peak resident set: the program's own VmHWM where it reports one, else wait4 ru_maxrss
    cpu_seconds: float | None = None  # as the program reports it (see each system)
    extra: dict = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Running a child process: output, exit status and its own peak RSS (wait4, not the cumulative
# RUSAGE_CHILDREN, so each run's figure is its own).


def run_child(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None,
              timeout: float) -> tuple[int, str, str, int, float]:
    """Returns (exit code, stdout, stderr, peak RSS in KiB, wall seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise TimeoutError(f"timed out after {timeout:.0f} s")
            time.sleep(0.02)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_maxrss, wall)


def last_lines(text: str, n: int = 3) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " / ".join(lines[-n:])[-300:]


def timed_build(steps: list[tuple[list[str], Path | None]], timeout: float) -> float:
    """Runs build commands in order; raises RuntimeError with the tail of the output."""
    start = time.monotonic()
    for cmd, cwd in steps:
        print("  $", " ".join(cmd), flush=True)
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuntimeError(f"{cmd[0]}: {e}") from e
        if proc.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd[:3])} ...` failed: "
                               f"{last_lines(proc.stdout + proc.stderr)}")
    return time.monotonic() - start


# --------------------------------------------------------------------------------------------
# Systems


class System:
    """A system under test. `build()` prepares it (raise to mark every cell as failed);
    `run(case, keys)` runs one case once and returns a Measurement, or raises Unsupported."""

    name = "?"

    def build(self, jobs: int) -> float:  # returns seconds spent
        return 0.0

    def versions(self) -> dict:
        return {}

    def run(self, case: Case, keys: int, timeout: float) -> Measurement:
        raise Unsupported("not implemented")


class Deltaflow(System):
    """deltaflow_dd_bench (Google Benchmark; the count cases), one case per process via
    --benchmark_filter, and deltaflow_graph_bench (one JSON line; arrange and the graph and
    runtime cases).

    Times: Google Benchmark's real_time (wall clock, excluding the paused set-up and
    tear-down). Its items_per_second is kept as `gbench_items_per_second`: for the
    single-worker cases it is per CPU second of the benchmark thread, for the runtime cases
    per wall second. The ratio uses wall-clock updates/s for every system."""

    name = "deltaflow"

    def __init__(self, build_dir: Path = BUILD_DIR):
        self.build_dir = build_dir
        self.binary = build_dir / "benchmarks" / "deltaflow_dd_bench"
        self.graph_binary = build_dir / "benchmarks" / "deltaflow_graph_bench"

    FILTERS = {
        ("count", 1): r"^BM_MaintainedCount/",
        ("count-runtime", 1): r"^BM_MaintainedCountWorkers/.*workers:1/",
        ("count-runtime", 2): r"^BM_MaintainedCountWorkers/.*workers:2/",
    }
    WHY_NOT: dict = {}

    def build(self, jobs: int) -> float:
        return timed_build([
            (["cmake", "-S", str(ROOT), "-B", str(self.build_dir), "-G", "Ninja",
              "-DCMAKE_BUILD_TYPE=Release", "-DDELTAFLOW_BUILD_BENCHMARKS=ON",
              "-DDELTAFLOW_BUILD_TESTS=OFF"], None),
            (["cmake", "--build", str(self.build_dir), "--target", "deltaflow_dd_bench",
              "deltaflow_graph_bench", "--parallel", str(jobs)], None),
        ], timeout=1800)

    def versions(self) -> dict:
        try:
            cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
            return {"compiler": cxx.splitlines()[0], "build": "CMake Release (-O3 -DNDEBUG)"}
        except (OSError, IndexError):
            return {}

    def run(self, case: Case, keys: int, timeout: float) -> Measurement:
        if case.python_api:
            python = ROOT / ".venv" / "bin" / "python"
            if not python.exists():
                raise Unsupported("no .venv with deltaflow installed (run the README's setup first)")
            return python_api_measurement(str(python), "deltaflow", case, keys, timeout)
        if case.workload in GRAPH_WORKLOADS or case.workload == "arrange":
            cmd = [str(self.graph_binary), case.workload, str(case.size(keys)), str(case.workers)]
            return json_line_measurement(cmd, timeout)
        key = (case.workload, case.workers)
        if key in self.WHY_NOT:
            raise Unsupported(self.WHY_NOT[key])
        if key not in self.FILTERS:
            raise Unsupported(f"no deltaflow_dd_bench case for {case.id}")
        env = dict(os.environ, DELTAFLOW_BENCH_KEYS=str(keys))
        cmd = [str(self.binary), "--benchmark_format=json",
               f"--benchmark_filter={self.FILTERS[key]}"]
        code, out, err, rss, _ = run_child(cmd, env=env, timeout=timeout)
        if code != 0:
            raise RuntimeError(f"exit {code}: {last_lines(err or out)}")
        runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
        if len(runs) != 1:
            raise RuntimeError(f"expected one benchmark, got {[b['name'] for b in runs]}")
        b = runs[0]
        if b.get("error_occurred"):
            raise RuntimeError(b.get("error_message", "benchmark error"))
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        seconds = b["real_time"] * scale
        extra = {"benchmark": b["name"],
                 "gbench_items_per_second": b.get("items_per_second")}
        # The runtime cases' cpu_time is the driver thread's only: not the workers' work.
        cpu = b["cpu_time"] * scale if case.workload != "count-runtime" else None
        return Measurement(seconds, keys / seconds, rss, cpu, extra)


class DifferentialDataflow(System):
    """benchmarks/reference/dd (differential-dataflow + timely from crates.io), one JSON line
    per run; times are wall clock, cpu_seconds the process's user+system time."""

    name = "differential-dataflow"

    def __init__(self, target_dir: Path = DD_TARGET):
        self.target_dir = target_dir
        self.binary = target_dir / "release" / "dd_reference_bench"

    PROGRAM = {"arrange": "arrange", "count": "count", "count-runtime": "count",
               **{w: w for w in GRAPH_WORKLOADS}}

    def build(self, jobs: int) -> float:
        if shutil.which("cargo") is None:
            raise RuntimeError("cargo not found (install Rust, e.g. rustup)")
        return timed_build([
            (["cargo", "build", "--release", "--locked", "-j", str(jobs),
              "--target-dir", str(self.target_dir)], DD_PROJECT),
        ], timeout=1800)

    def versions(self) -> dict:
        found = {}
        lock = (DD_PROJECT / "Cargo.lock").read_text()
        for crate in ("differential-dataflow", "timely"):
            m = re.search(rf'name = "{crate}"\nversion = "([^"]+)"', lock)
            if m:
                found[crate] = m.group(1)
        try:
            found["rustc"] = subprocess.run(["rustc", "--version"], capture_output=True,
                                            text=True).stdout.strip()
        except OSError:
            pass
        return found

    def run(self, case: Case, keys: int, timeout: float) -> Measurement:
        if case.python_api:
            raise Unsupported("a Table-API program; differential-dataflow is a Rust library")
        if case.workload not in self.PROGRAM:
            raise Unsupported(f"no reference program for {case.workload}")
        cmd = [str(self.binary), self.PROGRAM[case.workload], str(case.size(keys)), "-w", str(case.workers)]
        return json_line_measurement(cmd, timeout)


# Fields of a program's JSON line kept in Measurement.extra (and summarized as medians).
EXTRA_FIELDS = ("latency_ms", "idle_cpu_ms_per_s", "ns_per_operator_per_round")


def json_line_measurement(cmd: list[str], timeout: float) -> Measurement:
    """Runs a program that prints one JSON line {seconds, cpu_seconds, updates_per_s, ...}."""
    code, out, err, rss, _ = run_child(cmd, timeout=timeout)
    if code != 0:
        raise RuntimeError(f"exit {code}: {last_lines(err or out)}")
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    extra = {"wait4_peak_rss_kb": rss}
    extra.update({k: r[k] for k in EXTRA_FIELDS if k in r})
    # The program's own VmHWM: wait4's ru_maxrss of a forked child also counts this process.
    return Measurement(r["seconds"], r["updates_per_s"], r.get("peak_rss_kb") or rss, r.get("cpu_seconds"), extra)


class Pathway(System):
    """Pathway from PyPI in its own virtualenv (benchmarks/results/pathway-venv, created by the
    build step), running the Table-API cases: the same program as deltaflow's with
    `import pathway as pw`, on the same generated files, one worker (PATHWAY_THREADS=1)."""

    name = "pathway"

    def __init__(self) -> None:
        self.python: str | None = None

    def build(self, jobs: int) -> float:
        from table_bench import pathway_python

        start = time.monotonic()
        self.python = pathway_python(None)
        if self.python is None:
            raise RuntimeError("could not create the Pathway virtualenv (pip install pathway)")
        return time.monotonic() - start

    def versions(self) -> dict:
        python = RESULTS_DIR / "pathway-venv" / "bin" / "python"
        try:
            out = subprocess.run([str(python), "-c", "import pathway; print(pathway.__version__)"],
                                 capture_output=True, text=True, timeout=120).stdout.strip()
            return {"pathway": out} if out else {}
        except (OSError, subprocess.TimeoutExpired):
            return {}

    def run(self, case: Case, keys: int, timeout: float) -> Measurement:
        if not case.python_api:
            raise Unsupported("a C++/Rust dataflow program; Pathway is used through its Python API")
        python = self.python or str(RESULTS_DIR / "pathway-venv" / "bin" / "python")
        if not Path(python).exists():
            raise Unsupported("no Pathway virtualenv (the build step creates it)")
        return python_api_measurement(python, "pathway", case, keys, timeout)


def python_api_input(case: Case, keys: int) -> Path:
    """The generated input of a Table-API case (written once, fixed seeds, reused)."""
    n = case.size(keys)
    if case.workload == "sliding":
        from temporal_bench import events_csv

        return events_csv(n)
    data = RESULTS_DIR / "data" / f"nexmark-{n}"
    if not (data / "bids.csv").exists():
        python = ROOT / ".venv" / "bin" / "python"  # numpy is there
        subprocess.run([str(python if python.exists() else sys.executable),
                        str(BENCH_DIR / "nexmark_gen.py"), str(n), str(data)], check=True)
    return data


def python_api_measurement(python: str, module: str, case: Case, keys: int, timeout: float) -> Measurement:
    """Runs a Table-API case's program with `import <module> as pw`; its time is what the
    program reports (pipeline built to the end of pw.run()), its RSS its own VmHWM."""
    from table_bench import run_child as run_program

    source = python_api_input(case, keys)
    if case.workload == "sliding":
        from temporal_bench import SLIDING

        program = SLIDING.format(module=module)
        args = [str(source), str(RESULTS_DIR / f"sliding-{module}.csv")]
    else:
        from nexmark import program as nexmark_program

        program = nexmark_program(case.workload.removeprefix("nexmark-"), module)
        args = [str(source), "-"]
    env = dict(os.environ, PATHWAY_THREADS="1", DELTAFLOW_THREADS="1")
    try:
        out, _, peak_kib = run_program(python, program, args, timeout, env)
    except RuntimeError as error:
        raise RuntimeError(str(error)) from None
    seconds = float(out)
    return Measurement(seconds, case.size(keys) / seconds, peak_kib, None, {})


# Append a System here to compare it too.
def make_systems(args: argparse.Namespace) -> list[System]:
    return [Deltaflow(args.build_dir.resolve()),
            DifferentialDataflow(args.cargo_target_dir.resolve()),
            Pathway()]


BASELINE = "deltaflow"  # ratios are BASELINE / other


# --------------------------------------------------------------------------------------------
# Reporting


def machine_info() -> dict:
    info = {"nproc": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", lscpu)
        if m:
            info["cpu"] = m.group(1).strip()
    except OSError:
        pass
    try:
        mem = Path("/proc/meminfo").read_text()
        m = re.search(r"MemTotal:\s*(\d+) kB", mem)
        if m:
            info["mem_gib"] = round(int(m.group(1)) / 2**20, 1)
    except OSError:
        pass
    return info


def _median_extras(ok: list[dict]) -> dict:
    """Medians over runs of the programs' extra figures (numbers, or dicts of numbers)."""
    out: dict = {}
    for field in EXTRA_FIELDS:
        values = [r["extra"][field] for r in ok if field in r.get("extra", {})]
        if not values:
            continue
        if isinstance(values[0], dict):
            out[field] = {k: statistics.median(v[k] for v in values if k in v) for k in values[0]}
        else:
            out[field] = statistics.median(values)
    return out


def summarize(runs: list[dict], case: Case, keys: int) -> dict:
    ok = [r for r in runs if "seconds" in r]
    if not ok:
        return {"error": runs[0].get("error", "no runs") if runs else "no runs"}
    seconds = statistics.median(r["seconds"] for r in ok)
    extras = _median_extras(ok)
    if case.workload == "idle":
        rate = {"idle_cpu_ms_per_s": extras.pop("idle_cpu_ms_per_s", None)}
    else:
        rate = {"updates_per_s": case.size(keys) / seconds}
    return {
        "runs": len(ok),
        "median_seconds": seconds,
        **rate,
        **extras,
        "min_seconds": min(r["seconds"] for r in ok),
        "max_seconds": max(r["seconds"] for r in ok),
        "peak_rss_kb": int(statistics.median(r["peak_rss_kb"] for r in ok)),
        **({"error": f"{len(runs) - len(ok)} of {len(runs)} runs failed: {runs[-1].get('error')}"}
           if len(ok) < len(runs) else {}),
    }


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    return f"{x / 1e3:.0f}k" if x >= 1e4 else f"{x:,.0f}"


def fmt_mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


def write_markdown(report: dict, path: Path) -> None:
    systems = [s["name"] for s in report["systems"]]
    others = [s for s in systems if s != BASELINE]
    lines = [
        f"# Benchmark results ({'quick' if report['quick'] else 'full'})",
        "",
        f"{report['date']}; {report['keys']:,} keys in batches of 10k, "
        f"{report['repetitions']} repetitions per system, alternating; median wall time. "
        f"Machine: {report['machine'].get('cpu', '?')}, nproc {report['machine']['nproc']}, "
        f"{report['machine'].get('mem_gib', '?')} GiB; load average before the runs "
        f"{report['loadavg_before'][0]:.2f}, after {report['loadavg_after'][0]:.2f}.",
        "",
    ]
    for s in report["systems"]:
        v = ", ".join(f"{k} {val}" for k, val in s["versions"].items())
        if "build_seconds" in s:
            b = f"build {s['build_seconds']:.0f} s"
        elif "build_error" in s:
            b = f"build failed: {s['build_error']}"
        else:
            b = "not built (--no-build)"
        lines.append(f"- {s['name']}: {v}; {b}")
    lines.append("")
    head = ["case", "what", "workers"] + [f"{s} updates/s" for s in systems]
    head += [f"{BASELINE} / {o}" for o in others]
    head += [f"{s} peak RSS" for s in systems]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for c in report["cases"]:
        row = [f"`{c['id']}`", c["title"], str(c["workers"])]
        res = c["results"]
        for s in systems:
            r = res[s]
            if "updates_per_s" in r:
                row.append(fmt_rate(r["updates_per_s"]))
            elif r.get("idle_cpu_ms_per_s") is not None:
                row.append(f"{r['idle_cpu_ms_per_s']:.1f} ms CPU")
            else:
                row.append(f"— ({r.get('error')})")
        for o in others:
            ratio = c["ratios"].get(o)
            row.append(f"{ratio:.2f}" if ratio is not None else "—")
        for s in systems:
            r = res[s]
            row.append(fmt_mib(r["peak_rss_kb"]) if "peak_rss_kb" in r else "—")
        lines.append("| " + " | ".join(row) + " |")
    details = []
    for c in report["cases"]:
        for s in systems:
            r = c["results"][s]
            if "latency_ms" in r:
                sizes = ", ".join(f"{int(k):,}: {v:.2f} ms" for k, v in r["latency_ms"].items())
                details.append(f"- `{c['id']}` {s}: median latency per update batch ({sizes})")
            if "ns_per_operator_per_round" in r:
                details.append(f"- `{c['id']}` {s}: {r['ns_per_operator_per_round']:.0f} ns per operator per round")
    if details:
        lines += ["", "Update latency (changes per batch: median time until the output reflects the "
                  "batch) and per-operator overhead:", ""] + details
    lines += ["", "differential-dataflow runs the same program (count_total) for `count` and "
              "`count-runtime`, and the programs of benchmarks/reference/dd/src/graph.rs for the "
              "graph and runtime cases; ratios above 1 mean deltaflow is faster.", "",
              f"Total time of this run, builds included: {report['total_seconds']:.0f} s.", ""]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1M keys, 2 repetitions")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="a case id (count/w2), workload (count) or system; repeatable")
    ap.add_argument("--keys", type=int, help="override the number of keys")
    ap.add_argument("--reps", type=int, help="override the number of repetitions")
    ap.add_argument("--jobs", type=int, default=1, help="build parallelism (default 1)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--timeout", type=float, help="seconds per run (default: by size)")
    ap.add_argument("--build-dir", type=Path, default=BUILD_DIR,
                    help=f"CMake build directory (default {BUILD_DIR.relative_to(ROOT)})")
    ap.add_argument("--cargo-target-dir", type=Path, default=DD_TARGET,
                    help=f"cargo target directory (default {DD_TARGET.relative_to(ROOT)})")
    args = ap.parse_args(argv)

    started = time.monotonic()
    keys = args.keys or (1_000_000 if args.quick else 10_000_000)
    reps = args.reps or (2 if args.quick else 3)
    timeout = args.timeout or max(120.0, keys / 20_000)
    only = set(args.only)
    all_systems = make_systems(args)
    system_names = {s.name for s in all_systems}
    systems = [s for s in all_systems if not (only & system_names) or s.name in only]
    case_filter = only - system_names
    cases = [c for c in CASES if not case_filter or c.id in case_filter
             or c.workload in case_filter]
    if not systems or not cases:
        print(f"--only {sorted(only)} selects nothing; cases: {[c.id for c in CASES]}, "
              f"systems: {sorted(system_names)}", file=sys.stderr)
        return 2

    sys_reports = {}
    broken = {}
    for s in systems:
        rep = {"name": s.name, "versions": s.versions()}
        if args.no_build:
            print(f"[{s.name}] not building (--no-build)", flush=True)
        else:
            print(f"[{s.name}] building", flush=True)
            try:
                rep["build_seconds"] = s.build(args.jobs)
                print(f"[{s.name}] built in {rep['build_seconds']:.1f} s", flush=True)
            except RuntimeError as e:
                rep["build_error"] = str(e)
                broken[s.name] = f"build failed: {e}"
                print(f"[{s.name}] {broken[s.name]}", flush=True)
        sys_reports[s.name] = rep

    loadavg_before = os.getloadavg()
    case_reports = []
    for case in cases:
        runs: dict[str, list[dict]] = {s.name: [] for s in systems}
        for rep in range(reps):
            for s in systems:  # alternate: A B A B ...
                label = f"[{case.id} rep {rep + 1}/{reps}] {s.name}"
                if s.name in broken:
                    runs[s.name].append({"error": broken[s.name]})
                    continue
                if runs[s.name] and runs[s.name][-1].get("unsupported"):
                    runs[s.name].append(dict(runs[s.name][-1]))
                    continue
                load = os.getloadavg()[0]
                try:
                    m = s.run(case, keys, timeout)
                    r = dataclasses.asdict(m)
                    r["loadavg_before"] = load
                    print(f"{label}: {m.seconds:.3f} s, {fmt_rate(m.updates_per_s)} updates/s, "
                          f"peak RSS {fmt_mib(m.peak_rss_kb)} (load {load:.2f})", flush=True)
                except Unsupported as e:
                    r = {"error": f"cannot run: {e}", "unsupported": True}
                    print(f"{label}: cannot run: {e}", flush=True)
                except (RuntimeError, TimeoutError, OSError, ValueError, KeyError) as e:
                    r = {"error": f"failed: {e}"}
                    print(f"{label}: failed: {e}", flush=True)
                runs[s.name].append(r)
        results = {name: summarize(rs, case, keys) for name, rs in runs.items()}
        ratios = {}
        base = results.get(BASELINE, {})
        for name, r in results.items():
            if name != BASELINE and "updates_per_s" in r and "updates_per_s" in base:
                ratios[name] = base["updates_per_s"] / r["updates_per_s"]
        case_reports.append({"id": case.id, "workload": case.workload, "workers": case.workers,
                             "title": case.title, "results": results, "ratios": ratios,
                             "runs": runs})

    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": args.quick,
        "keys": keys,
        "batch_size": 10_000,
        "repetitions": reps,
        "machine": machine_info(),
        "loadavg_before": loadavg_before,
        "loadavg_after": os.getloadavg(),
        "systems": list(sys_reports.values()),
        "baseline": BASELINE,
        "ratio": f"{BASELINE} updates/s / other system's updates/s (above 1: {BASELINE} faster)",
        "cases": case_reports,
        "total_seconds": time.monotonic() - started,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, RESULTS_DIR / "latest.md")
    print()
    print((RESULTS_DIR / "latest.md").read_text())
    print(f"wrote {RESULTS_DIR / 'latest.md'} and latest.json "
          f"({report['total_seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
