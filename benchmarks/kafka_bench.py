"""Kafka -> word count -> Kafka, deltaflow against Pathway on the same broker.

The pipeline is the same program for both systems (only `import deltaflow as pw` or `import
pathway as pw` differs): read JSON messages `{"word": ...}` from an input topic, count per
word, write every change of the counts to an output topic (JSON). Words are drawn from a
5,000-word vocabulary (as Pathway's own published word-count benchmark), one word per message.

Two measurements, each for 1 and 2 workers:

- ``rate``: a producer (a separate process, confluent-kafka) offers words at a fixed rate for
  ``--duration`` seconds into a one-partition topic. Both topics stamp messages with the
  broker's clock (``message.timestamp.type=LogAppendTime``), so the latency of an input
  message is the broker timestamp of the first output message whose count covers it minus
  the broker timestamp of the input message (the k-th occurrence of a word is covered by the
  first output of that word with a count of at least k). Reported: the fraction of offered
  messages covered within 5 s after the producer stopped, and p50/p95/p99 latency. The
  sustained throughput of a system is the highest offered rate at which every message was
  covered and p95 stayed under 50 ms.
- ``backlog``: ``--backlog`` words are in the input topic before the pipeline starts; the time
  from the pipeline's start to the output covering every word gives the catch-up throughput.

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

PRODUCER = """
import json, random, sys, time
from confluent_kafka import Producer

bootstrap, topic, rate, duration, seed, vocabulary = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rng = random.Random(seed)
payloads = [json.dumps({"word": "w%04d" % i}).encode() for i in range(vocabulary)]
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "queue.buffering.max.messages": 2000000})
tick = 0.001
per_tick = rate * tick
start = time.perf_counter()
sent = 0.0
count = 0
while True:
    elapsed = time.perf_counter() - start
    if duration > 0 and elapsed >= duration:
        break
    due = int(rate * elapsed) if duration > 0 else rate
    while count < due:
        try:
            producer.produce(topic, payloads[rng.randrange(vocabulary)])
            count += 1
        except BufferError:
            producer.poll(0.001)
    producer.poll(0)
    if duration <= 0:
        break
    time.sleep(max(0.0, start + (count + per_tick) / rate - time.perf_counter()))
producer.flush(120)
print(count)
"""


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


def wait_covered(bootstrap: str, out_topic: str, expected: int, timeout: float) -> float | None:
    """Seconds until the output's counts add up to `expected` words, or None."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-wait-" + uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([out_topic])
    counts: dict[str, int] = {}
    total = 0
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        for m in consumer.consume(10000, 0.2):
            if m.error():
                continue
            change = json.loads(m.value())
            if change["diff"] > 0:
                old = counts.get(change["word"], 0)
                if change["count"] > old:
                    total += change["count"] - old
                    counts[change["word"]] = change["count"]
        if total >= expected:
            consumer.close()
            return time.monotonic() - start
    consumer.close()
    return None


def run_rate(python: str, module: str, bootstrap: str, rate: int, duration: float, workers: int) -> dict:
    in_topic, out_topic = f"bench-in-{uuid.uuid4().hex[:8]}", f"bench-out-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [in_topic, out_topic], 1)
    log = RESULTS / f"kafka-{module}-{rate}-{workers}.log"
    pipeline = start_pipeline(python, module, bootstrap, in_topic, out_topic, workers, log)
    try:
        time.sleep(4.0)  # the pipeline connects and is idle before the load starts
        produced = subprocess.run([sys.executable, "-c", PRODUCER, bootstrap, in_topic, str(rate), str(duration), "7", str(VOCABULARY)],
                                  check=True, capture_output=True, text=True).stdout.strip()
        time.sleep(5.0)
    finally:
        stop(pipeline)
    inputs = read_topic(bootstrap, in_topic)
    outputs = read_topic(bootstrap, out_topic)
    values, missing = latencies(inputs, outputs)
    span = (max(m[2] for m in inputs) - min(m[2] for m in inputs)) / 1000 if inputs else 0
    return {
        "offered_per_s": rate,
        "produced": int(produced),
        "achieved_offered_per_s": round(len(inputs) / span) if span else None,
        "covered": len(inputs) - missing,
        "p50_ms": quantile(values, 0.5),
        "p95_ms": quantile(values, 0.95),
        "p99_ms": quantile(values, 0.99),
    }


def run_backlog(python: str, module: str, bootstrap: str, words: int, workers: int) -> dict:
    in_topic, out_topic = f"bench-in-{uuid.uuid4().hex[:8]}", f"bench-out-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [in_topic, out_topic], max(1, workers))
    subprocess.run([sys.executable, "-c", PRODUCER, bootstrap, in_topic, str(words), "0", "11", str(VOCABULARY)],
                   check=True, capture_output=True, text=True)
    log = RESULTS / f"kafka-{module}-backlog-{workers}.log"
    start = time.monotonic()
    pipeline = start_pipeline(python, module, bootstrap, in_topic, out_topic, workers, log)
    try:
        seconds = wait_covered(bootstrap, out_topic, words, timeout=600)
        if seconds is not None:
            seconds = time.monotonic() - start
    finally:
        stop(pipeline)
    return {"words": words, "seconds": seconds, "words_per_s": round(words / seconds) if seconds else None}


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
