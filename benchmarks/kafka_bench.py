"""Kafka -> word count -> Kafka, deltaflow against Pathway on the same broker.

The pipeline is the same program for both systems (only `import deltaflow as pw` or `import
pathway as pw` differs): read JSON messages `{"word": ...}` from an input topic, count per
word, write every change of the counts to an output topic (JSON). Words are drawn from a
5,000-word vocabulary (as Pathway's own published word-count benchmark), one word per message.

Two measurements, each for 1 and 2 workers:

- ``rate``: a producer (a separate process: benchmarks/kafka_load.cc, librdkafka in C++, so
  that the load itself takes little of the two cores) offers words at a fixed rate for
  ``--duration`` seconds into a one-partition topic. Both topics stamp messages with the
  broker's clock (``message.timestamp.type=LogAppendTime``), so the latency of an input
  message is the broker timestamp of the first output message whose count covers it minus
  the broker timestamp of the input message (the k-th occurrence of a word is covered by the
  first output of that word with a count of at least k). Reported: the fraction of offered
  messages covered within 5 s after the producer stopped, and p50/p95/p99 latency. The
  sustained throughput of a system is the highest offered rate at which every message was
  covered and p95 stayed under 50 ms.
- ``backlog``: ``--backlog`` words, then an end marker, are in the input topic before the
  pipeline starts; the broker timestamp of the marker's output (the pipeline has counted every
  word before it) minus the moment the pipeline process was started gives the catch-up
  throughput; also given from the broker timestamp of the first output message (without the
  start-up). The harness reads the output topic only after the run, so that checking costs the
  pipeline no CPU.

Pathway reads with ``autocommit_duration_ms=10`` (its default, 1500, would put its latency at
1.5 s); deltaflow commits whenever its readers have data (the argument is a maximum).

    python benchmarks/kafka_bench.py                       # both systems, the default ladder
    python benchmarks/kafka_bench.py --systems deltaflow --rates 20000 --workers 1
    python benchmarks/kafka_bench.py --pathway-python /path/to/venv/bin/python

Needs the broker of scripts/kafka.sh (started here when none is running) and confluent-kafka
in this interpreter. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
KAFKA = ROOT / "scripts" / "kafka.sh"
VOCABULARY = 5000

PIPELINE = """
import os, sys
import {module} as pw

bootstrap, in_topic, out_topic = sys.argv[1], sys.argv[2], sys.argv[3]

class Words(pw.Schema):
    word: str

settings = {{"bootstrap.servers": bootstrap, "group.id": "bench-" + in_topic, "auto.offset.reset": "earliest"}}
words = pw.io.kafka.read(settings, in_topic, format="json", schema=Words, autocommit_duration_ms=10)
counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
pw.io.kafka.write(counts, {{"bootstrap.servers": bootstrap}}, out_topic, format="json")
pw.run()
"""

LOAD = ROOT / "build" / "bench" / "benchmarks" / "deltaflow_kafka_load"


def load_generator() -> Path:
    """The C++ load generator (benchmarks/kafka_load.cc), built in build/bench when missing."""
    if not LOAD.exists():
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(ROOT / "build" / "bench"), "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", "-DDELTAFLOW_BUILD_BENCHMARKS=ON", "-DDELTAFLOW_BUILD_TESTS=OFF"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", str(ROOT / "build" / "bench"), "--target", "deltaflow_kafka_load"],
                       check=True, stdout=subprocess.DEVNULL)
    return LOAD


def produce_words(bootstrap: str, topic: str, rate: int, duration: float, seed: int, marker: str | None = None) -> int:
    """Offers `rate` words a second for `duration` seconds (0: `rate` words at once)."""
    args = [str(load_generator()), bootstrap, topic, str(rate), str(duration), str(seed), str(VOCABULARY)]
    if marker:
        args.append(marker)
    return int(subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip())


END_MARKER = "zz-end"
WARM_UP = "zz-warm-up"


def kafka_env() -> dict:
    if subprocess.run([str(KAFKA), "status"]).returncode != 0:
        subprocess.run([str(KAFKA), "start"], check=True)
    out = subprocess.run([str(KAFKA), "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    config = {"message.timestamp.type": "LogAppendTime"}
    futures = admin.create_topics([NewTopic(n, partitions, 1, config=config) for n in names])
    for f in futures.values():
        f.result(30)


def read_topic(bootstrap: str, topic: str, idle: float = 3.0) -> list:
    """Every message of `topic` as (partition, offset, broker timestamp ms, value)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-check-" + uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out = []
    last = time.monotonic()
    while time.monotonic() - last < idle:
        batch = consumer.consume(10000, 0.5)
        for m in batch:
            if m.error():
                continue
            out.append((m.partition(), m.offset(), m.timestamp()[1], m.value()))
        if batch:
            last = time.monotonic()
    consumer.close()
    return out


def latencies(inputs: list, outputs: list) -> tuple[list[float], int]:
    """Per input message, the ms from its broker timestamp to the first output covering it;
    and how many inputs were never covered."""
    occurrences: dict[str, list[int]] = {}
    for _, _, ts, value in sorted(inputs, key=lambda m: (m[0], m[1])):
        occurrences.setdefault(json.loads(value)["word"], []).append(ts)
    covered_at: dict[str, list[tuple[int, int]]] = {}
    for _, _, ts, value in sorted(outputs, key=lambda m: (m[0], m[1])):
        change = json.loads(value)
        if change["diff"] > 0:
            covered_at.setdefault(change["word"], []).append((change["count"], ts))
    result = []
    missing = 0
    for word, stamps in occurrences.items():
        outs = covered_at.get(word, [])
        at = 0
        best = None
        for k, ts_in in enumerate(stamps, start=1):
            while at < len(outs) and outs[at][0] < k:
                at += 1
            if at == len(outs):
                missing += len(stamps) - k + 1
                break
            best = outs[at][1]
            result.append(float(best - ts_in))
    return sorted(result), missing


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def start_pipeline(python: str, module: str, bootstrap: str, in_topic: str, out_topic: str, workers: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, DELTAFLOW_THREADS=str(workers), PATHWAY_THREADS=str(workers))
    program = PIPELINE.format(module=module)
    return subprocess.Popen([python, "-c", program, bootstrap, in_topic, out_topic], env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_word(bootstrap: str, topic: str, word: str, timeout: float) -> int | None:
    """Waits until `word` appears in the output topic; returns its broker timestamp (ms). The
    output is scanned as bytes (no JSON parsing) to cost the running pipeline little."""
    from confluent_kafka import Consumer

    needle = json.dumps(word).encode()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-wait-" + uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(10000, 0.5):
                if not m.error() and needle in m.value():
                    return m.timestamp()[1]
        return None
    finally:
        consumer.close()


def run_rate(python: str, module: str, bootstrap: str, rate: int, duration: float, workers: int) -> dict:
    in_topic, out_topic = f"bench-in-{uuid.uuid4().hex[:8]}", f"bench-out-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [in_topic, out_topic], 1)
    log = RESULTS / f"kafka-{module}-{rate}-{workers}.log"
    pipeline = start_pipeline(python, module, bootstrap, in_topic, out_topic, workers, log)
    try:
        # Warm up: the pipeline connects, and its first output is written, before the load.
        produce_words(bootstrap, in_topic, 0, 0, 3, WARM_UP)
        if wait_for_word(bootstrap, out_topic, WARM_UP, 60) is None:
            raise RuntimeError(f"{module}: no output within 60 s (see {log})")
        produced = produce_words(bootstrap, in_topic, rate, duration, 7)
        time.sleep(5.0)
    finally:
        stop(pipeline)
    inputs = [m for m in read_topic(bootstrap, in_topic) if WARM_UP.encode() not in m[3]]
    outputs = [m for m in read_topic(bootstrap, out_topic) if WARM_UP.encode() not in m[3]]
    values, missing = latencies(inputs, outputs)
    return {
        "offered_per_s": rate,
        "produced": int(produced),
        "produced_per_s": round(int(produced) / duration),
        "covered": len(inputs) - missing,
        "p50_ms": quantile(values, 0.5),
        "p95_ms": quantile(values, 0.95),
        "p99_ms": quantile(values, 0.99),
    }


def run_backlog(python: str, module: str, bootstrap: str, words: int, workers: int) -> dict:
    in_topic, out_topic = f"bench-in-{uuid.uuid4().hex[:8]}", f"bench-out-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [in_topic, out_topic], 1)
    produce_words(bootstrap, in_topic, words, 0, 11, END_MARKER)
    log = RESULTS / f"kafka-{module}-backlog-{workers}.log"
    started_ms = time.time() * 1000
    pipeline = start_pipeline(python, module, bootstrap, in_topic, out_topic, workers, log)
    try:
        end_ms = wait_for_word(bootstrap, out_topic, END_MARKER, timeout=600)
    finally:
        stop(pipeline)
    if end_ms is None:
        return {"words": words, "error": f"the end marker never came out (see {log})"}
    first_ms = min(m[2] for m in read_topic(bootstrap, out_topic, idle=1.0))
    seconds = (end_ms - started_ms) / 1000
    processing = (end_ms - first_ms) / 1000
    return {"words": words, "seconds": round(seconds, 2), "words_per_s": round(words / seconds),
            "seconds_from_first_output": round(processing, 2),
            "words_per_s_from_first_output": round(words / processing) if processing > 0 else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="deltaflow,pathway")
    parser.add_argument("--rates", default="5000,20000,50000,100000,200000", help="offered words per second")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=2_000_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--pathway-python")
    parser.add_argument("--skip", default="", help="comma-separated: rate, backlog")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    bootstrap = kafka_env()["DELTAFLOW_KAFKA_BOOTSTRAP"]
    pythons = {"deltaflow": str(ROOT / ".venv" / "bin" / "python")}
    if "pathway" in args.systems:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from table_bench import pathway_python

        pythons["pathway"] = pathway_python(args.pathway_python)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "vocabulary": VOCABULARY}
    for system in args.systems.split(","):
        python = pythons.get(system)
        if not python:
            continue
        for workers in (int(w) for w in args.workers.split(",")):
            if "backlog" not in args.skip:
                cell = run_backlog(python, system, bootstrap, args.backlog, workers)
                results[f"{system}/backlog/{workers}w"] = cell
                print(f"{system} backlog {workers}w {json.dumps(cell)}", flush=True)
            if "rate" not in args.skip:
                for rate in (int(r) for r in args.rates.split(",")):
                    cell = run_rate(python, system, bootstrap, rate, args.duration, workers)
                    results[f"{system}/rate{rate}/{workers}w"] = cell
                    print(f"{system} rate {rate} {workers}w {json.dumps(cell)}", flush=True)
    (RESULTS / "kafka-bench.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
