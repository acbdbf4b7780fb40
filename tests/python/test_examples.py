"""The bundled examples run as a user runs them."""

import csv
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_streaming_wordcount_counts_live_and_stops_by_itself(tmp_path):
    out = tmp_path / "counts.csv"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "streaming_wordcount", "wordcount.py"), "--output", str(out), "--delay", "0.3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summaries = [line for line in result.stdout.splitlines() if "distinct words" in line]
    assert len(summaries) >= 4  # the counts changed live, once per feeder step at least
    final = {}
    with open(out) as f:
        for row in csv.DictReader(f):
            key = (row["word"], int(row["count"]))
            final[key] = final.get(key, 0) + int(row["diff"])
    live = {word: count for (word, count), n in final.items() if n > 0}
    # The expected final counts, from the files the feeder left behind.
    here = os.path.join(ROOT, "examples", "streaming_wordcount")
    text = ""
    for folder, name in [("data", "01-tyger.txt"), ("more", "03-road.txt"), ("more", "04-dream.txt"), ("more", "05-fire.txt")]:
        with open(os.path.join(here, folder, name)) as f:
            text += f.read()
    text += "Tyger Tyger, burning bright\n"
    expected = {}
    for word in text.lower().split():
        word = word.strip(".,;:?!\"'()")
        if word:
            expected[word] = expected.get(word, 0) + 1
    assert live == expected


def test_postgres_snapshot_example_follows_a_new_file(postgres_server):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "postgres_snapshot", "pipeline.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "erin       1 orders     17.50" in result.stdout
    assert "the table equals a sum in plain Python after each file" in result.stdout
