"""The recovery drill's pipeline: word count with persistence, run as a process that the drill
kills (SIGKILL) and restarts.

    python persistence_drill.py files INPUT_DIR OUTPUT.jsonl STATE_DIR THREADS
    python persistence_drill.py postgres INPUT_DIR SETTINGS_JSON TABLE STATE_DIR THREADS
    python persistence_drill.py kafka BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC STATE_DIR THREADS

Files: CSV files of a directory, streamed, counts written as JSON lines. Postgres: the same
input, counts written to a table of changes. Kafka: one word per message, counts written as
JSON messages (exactly once through transactions)."""

import json
import sys

import deltaflow as pw


class Words(pw.Schema):
    word: str


def main() -> None:
    kind, *args = sys.argv[1:]
    if kind in ("files", "postgres"):
        inputs, *output, state, threads = args
        words = pw.io.csv.read(inputs, schema=Words, mode="streaming", autocommit_duration_ms=10, name="words")
    else:
        bootstrap, input_topic, output, state, threads = args
        settings = {"bootstrap.servers": bootstrap, "auto.offset.reset": "earliest"}
        messages = pw.io.kafka.read(settings, input_topic, format="plaintext", autogenerate_key=True,
                                    autocommit_duration_ms=10, name="words")
        words = messages.select(word=pw.this.data)
    counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
    if kind == "files":
        pw.io.jsonlines.write(counts, output[0])
    elif kind == "postgres":
        pw.io.postgres.write(counts, json.loads(output[0]), output[1])
    else:
        pw.io.kafka.write(counts, {"bootstrap.servers": bootstrap}, output, format="json")
    pw.run(
        persistence_config=pw.persistence.Config(pw.persistence.Backend.filesystem(state), snapshot_interval_ms=int(__import__("os").environ.get("DRILL_SNAPSHOT_MS", "50"))),
        threads=int(threads),
    )


if __name__ == "__main__":
    main()
