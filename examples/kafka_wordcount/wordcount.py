"""A live word count from Kafka to Kafka.

Lines of text arrive on the topic `lines`; the pipeline splits them into words, keeps a count
per word up to date, and writes every change of the counts to the topic `counts` (JSON, with
`time` and `diff`, the message key being the row's id). A summary of the top words is printed
after every change.

Run it with `make kafka-demo` (or `python examples/kafka_wordcount/wordcount.py`). It uses the
broker of `scripts/kafka.sh` (starting it, and stopping it at the end, if none is running),
creates fresh topics, feeds the bundled text line by line while the pipeline runs, then reads
the `counts` topic back with an independent Kafka client and checks the final counts against
a count done in plain Python.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import deltaflow as pw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
KAFKA = os.path.join(ROOT, "scripts", "kafka.sh")


def broker() -> tuple[str, bool]:
    """The broker's address, and whether this run started it."""
    started = subprocess.run([KAFKA, "status"]).returncode != 0
    if started:
        subprocess.run([KAFKA, "start"], check=True)
    env = dict(line.split("=", 1) for line in subprocess.run([KAFKA, "env"], check=True, capture_output=True, text=True).stdout.split())
    return env["DELTAFLOW_KAFKA_BOOTSTRAP"], started


def build_pipeline(bootstrap: str, lines_topic: str, counts_topic: str) -> pw.Table:
    settings = {"bootstrap.servers": bootstrap, "group.id": f"wordcount-{lines_topic}", "auto.offset.reset": "earliest"}
    lines = pw.io.kafka.read(settings, lines_topic, format="plaintext")
    words = (
        lines.select(word=pw.this.data.str.lower().str.split())
        .flatten(pw.this.word)
        .select(word=pw.this.word.str.strip(".,;:?!\"'()"))
        .filter(pw.this.word != "")
    )
    counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
    pw.io.kafka.write(counts, {"bootstrap.servers": bootstrap}, counts_topic, format="json")
    return counts


def print_summary(counts: pw.Table) -> None:
    current: dict[str, int] = {}
    started = time.monotonic()

    def on_change(key, row, time, is_addition):
        if is_addition:
            current[row["word"]] = row["count"]
        elif current.get(row["word"]) == row["count"]:
            del current[row["word"]]

    def on_time_end(t):
        top = sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
        words = ", ".join(f"{w}={c}" for w, c in top)
        print(f"[{time.monotonic() - started:5.2f}s] {len(current):3d} distinct words | top: {words}", flush=True)

    pw.io.subscribe(counts, on_change, on_time_end=on_time_end)


def text_lines() -> list[str]:
    """The lines of the poems bundled with the file word count example."""
    out = []
    for folder in ("data", "more"):
        data = os.path.join(ROOT, "examples", "streaming_wordcount", folder)
        for name in sorted(os.listdir(data)):
            with open(os.path.join(data, name), encoding="utf-8") as f:
                out.extend(line.rstrip("\n") for line in f if line.strip())
    return out


def feed(bootstrap: str, topic: str, lines: list[str], delay: float) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    for line in lines:
        producer.produce(topic, value=line.encode("utf-8"))
        producer.poll(0)
        time.sleep(delay)
    producer.flush(30)


def final_counts(bootstrap: str, topic: str) -> dict[str, int]:
    """The counts as a consumer of the `counts` topic sees them: the change stream replayed."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    state: dict[str, int] = {}
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 3.0:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        idle_since = time.monotonic()
        change = json.loads(message.value())
        if change["diff"] > 0:
            state[change["word"]] = change["count"]
        elif state.get(change["word"]) == change["count"]:
            del state[change["word"]]
    consumer.close()
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="seconds between two lines fed")
    parser.add_argument("--threads", type=int, default=None, help="worker threads (default: DELTAFLOW_THREADS or 1)")
    args = parser.parse_args()
    bootstrap, started = broker()
    try:
        suffix = uuid.uuid4().hex[:8]
        lines_topic, counts_topic = f"lines-{suffix}", f"counts-{suffix}"
        lines = text_lines()
        counts = build_pipeline(bootstrap, lines_topic, counts_topic)
        print_summary(counts)
        feeder = threading.Thread(target=feed, args=(bootstrap, lines_topic, lines, args.delay))
        feeder.start()
        pw.run(threads=args.threads, timeout=len(lines) * args.delay + 4.0)
        feeder.join()
        expected = collections.Counter(
            w for line in lines for w in (word.strip(".,;:?!\"'()") for word in line.lower().split()) if w
        )
        written = final_counts(bootstrap, counts_topic)
        ok = written == dict(expected)
        print(f"{len(lines)} lines fed to '{lines_topic}'; '{counts_topic}' holds {len(written)} word counts: "
              + ("they match a count in plain Python" if ok else "MISMATCH with a count in plain Python"))
        return 0 if ok else 1
    finally:
        if started:
            subprocess.run([KAFKA, "stop"], check=True)


if __name__ == "__main__":
    sys.exit(main())
