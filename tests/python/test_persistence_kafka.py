"""The recovery drill over Kafka: words read from a topic, counts written to another one in
transactions; the pipeline is killed (SIGKILL) at random moments and restarted. A consumer
reading committed messages sees every count change exactly once, and the exact counts at the
end."""

from __future__ import annotations

import collections
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_persistence import check_output

confluent_kafka = pytest.importorskip("confluent_kafka")

pytestmark = pytest.mark.usefixtures("kafka_broker")

DRILL = Path(__file__).with_name("persistence_drill.py")


class CommittedReader:
    """Reads the output topic as a `read_committed` consumer, keeping every message."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = confluent_kafka.Consumer({
            "bootstrap.servers": bootstrap, "group.id": f"drill-{topic}", "auto.offset.reset": "earliest",
            "isolation.level": "read_committed", "enable.auto.commit": False,
        })
        self.consumer.subscribe([topic])
        self.lines: list[str] = []

    def read(self, seconds: float = 1.0) -> list[str]:
        deadline = time.time() + seconds
        while time.time() < deadline:
            message = self.consumer.poll(0.2)
            if message is None or message.error():
                continue
            row = json.loads(message.value())
            self.lines.append(json.dumps({"word": row["word"], "count": row["count"], "diff": row["diff"]}))
        return self.lines

    def close(self) -> None:
        self.consumer.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_recovery_drill_over_kafka_is_exactly_once(kafka_broker, tmp_path, threads):
    rounds = int(os.environ.get("DELTAFLOW_DRILL_ROUNDS", "5"))
    rng = random.Random(2000 + threads)
    source, sink = kafka_broker.create_topic(), kafka_broker.create_topic()
    state = tmp_path / "state"
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka_broker.bootstrap})
    vocabulary = [f"w{i}" for i in range(10)]
    written: collections.Counter = collections.Counter()

    def add_input() -> None:
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 20))]
        for w in words:
            producer.produce(source, value=w.encode())
        assert producer.flush(30) == 0
        written.update(words)

    def start() -> subprocess.Popen:
        with open(tmp_path / "stderr.txt", "ab") as err:
            return subprocess.Popen(
                [sys.executable, str(DRILL), "kafka", kafka_broker.bootstrap, source, sink, str(state), str(threads)],
                stderr=err, env=dict(os.environ, DRILL_SNAPSHOT_MS=str(rng.choice([50, 500]))),
            )

    reader = CommittedReader(kafka_broker.bootstrap, sink)
    try:
        for _ in range(rounds):
            proc = start()
            deadline = time.time() + rng.uniform(1.0, 4.0)
            while time.time() < deadline:
                add_input()
                time.sleep(rng.uniform(0.0, 0.3))
            add_input()
            time.sleep(rng.choice([0.0, 0.01, 0.03, 0.08]))  # killed while that input is in processing
            proc.kill()
            proc.wait()
            check_output(reader.read(), written, final=False)
            add_input()  # arrives while the pipeline is down
        proc = start()
        try:
            deadline = time.time() + 90
            while True:
                lines = reader.read()
                try:
                    check_output(lines, written, final=True)
                    break
                except AssertionError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise AssertionError((tmp_path / "stderr.txt").read_text()) from None
        finally:
            proc.kill()
            proc.wait()
    finally:
        reader.close()
