"""The recovery drill's pipeline: word count over a directory of CSV files, streamed, with
persistence, written as JSON lines. Run as a process that the drill kills (SIGKILL) and
restarts: ``python persistence_drill.py INPUT_DIR OUTPUT STATE_DIR THREADS``."""

import sys

import deltaflow as pw


class Words(pw.Schema):
    word: str


def main() -> None:
    inputs, output, state, threads = sys.argv[1:5]
    words = pw.io.csv.read(inputs, schema=Words, mode="streaming", autocommit_duration_ms=10, name="words")
    counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
    pw.io.jsonlines.write(counts, output)
    pw.run(
        persistence_config=pw.persistence.Config(pw.persistence.Backend.filesystem(state), snapshot_interval_ms=50),
        threads=int(threads),
    )


if __name__ == "__main__":
    main()
