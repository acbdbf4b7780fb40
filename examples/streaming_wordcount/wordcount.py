"""A live word count over a directory of text files.

The pipeline watches a directory (streaming mode): every new file, and every line appended
to a file, updates the counts within milliseconds, and a file that is deleted takes its
words away again. The counts are written as a stream of changes (with `time` and `diff`)
to `output/counts.csv`, and a summary of the top words is printed after every change.

Run it with `make demo`, or `python examples/streaming_wordcount/wordcount.py`. It copies
the bundled `data/` into a fresh input directory, starts a feeder that drops the files of
`more/` in one by one (and appends a line, and deletes a file) while the pipeline runs, and
stops by itself a little after the feeder is done.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

import deltaflow as pw

HERE = os.path.dirname(os.path.abspath(__file__))


def build_pipeline(input_dir: str, output_csv: str) -> pw.Table:
    lines = pw.io.plaintext.read(input_dir, mode="streaming")
    words = (
        lines.select(word=pw.this.data.str.lower().str.split())
        .flatten(pw.this.word)
        .select(word=pw.this.word.str.strip(".,;:?!\"'()"))
        .filter(pw.this.word != "")
    )
    counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
    pw.io.csv.write(counts, output_csv)
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


def feed(input_dir: str, delay: float) -> None:
    """Drops more files in while the pipeline runs, appends to one, deletes one."""
    more = os.path.join(HERE, "more")
    for name in sorted(os.listdir(more)):
        time.sleep(delay)
        # Write next to the input directory, then rename into it: the pipeline never sees a
        # half-written file.
        tmp = input_dir.rstrip("/") + "." + name + ".tmp"
        shutil.copy(os.path.join(more, name), tmp)
        os.rename(tmp, os.path.join(input_dir, name))
        print(f"  + added {name}", flush=True)
    time.sleep(delay)
    with open(os.path.join(input_dir, "01-tyger.txt"), "a") as f:
        f.write("Tyger Tyger, burning bright\n")
    print("  + appended a line to 01-tyger.txt", flush=True)
    time.sleep(delay)
    os.remove(os.path.join(input_dir, "02-sonnet.txt"))
    print("  - deleted 02-sonnet.txt", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="directory to watch (default: a fresh copy of data/)")
    parser.add_argument("--output", default=os.path.join(HERE, "output", "counts.csv"))
    parser.add_argument("--delay", type=float, default=0.6, help="seconds between feeder steps")
    parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until the feeder is done)")
    args = parser.parse_args()

    input_dir = args.input or tempfile.mkdtemp(prefix="deltaflow-wordcount-")
    if args.input is None:
        for name in sorted(os.listdir(os.path.join(HERE, "data"))):
            shutil.copy(os.path.join(HERE, "data", name), input_dir)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    print(f"watching {input_dir}; counts stream to {args.output}", flush=True)

    counts = build_pipeline(input_dir, args.output)
    print_summary(counts)
    duration = args.duration
    if args.input is None:
        feeder = threading.Thread(target=feed, args=(input_dir, args.delay), daemon=True)
        feeder.start()
        if duration is None:
            duration = args.delay * 8 + 1.5
    pw.run(timeout=duration)
    print(f"done; the change stream is in {args.output}", flush=True)
    if args.input is None:
        shutil.rmtree(input_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
