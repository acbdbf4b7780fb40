"""File connectors: static and streaming reads (files appearing, growing, changing and
disappearing while a pipeline runs), writes with time and diff, and bad input."""

import csv
import json
import os
import threading
import time

import pytest

import deltaflow as pw
from deltaflow.internals.run import request_stop
from deltaflow.testing import T, assert_table_equality_wo_index


class WordSchema(pw.Schema):
    word: str
    n: int


def test_static_csv_with_quoting(tmp_path):
    (tmp_path / "a.csv").write_text('word,n\nhello,1\n"a,b",3\n"say ""hi""",4\n')
    t = pw.io.csv.read(tmp_path, schema=WordSchema, mode="static")
    _, cols = pw.debug.table_to_dicts(t)
    assert sorted(zip(cols["word"].values(), cols["n"].values())) == [("a,b", 3), ("hello", 1), ('say "hi"', 4)]


def test_static_directory_commits_each_file_in_name_order(tmp_path):
    """As Pathway reads a directory in static mode: each file is its own batch (its own
    time), files in name order; a file is never split."""
    (tmp_path / "b.csv").write_text("word,n\nthird,3\n")
    (tmp_path / "a.csv").write_text("word,n\nfirst,1\nsecond,2\n")
    (tmp_path / "c.csv").write_text("word,n\n")
    t = pw.io.csv.read(tmp_path, schema=WordSchema, mode="static")
    seen = []
    pw.io.subscribe(t, on_change=lambda key, row, time, is_addition: seen.append((time, row["word"])))
    pw.run()
    times = sorted({time for time, _ in seen})
    assert len(times) == 2
    assert sorted(w for time, w in seen if time == times[0]) == ["first", "second"]
    assert [w for time, w in seen if time == times[1]] == ["third"]


def test_bad_lines_go_to_the_error_log_and_the_rest_is_kept(tmp_path):
    (tmp_path / "a.csv").write_text("word,n\nok,1\nbad,x\nshort\nok2,2\n")
    t = pw.io.csv.read(tmp_path / "a.csv", schema=WordSchema, mode="static")
    streams = pw.debug._capture([t, pw.global_error_log()], terminate_on_error=False)
    assert sorted(v for _, v, _, _ in streams[0]) == [("ok", 1), ("ok2", 2)]
    messages = sorted(v[1] for _, v, _, _ in streams[1])
    assert len(messages) == 2
    assert 'a.csv:3: cannot parse "x" as int for column n' in messages[0]
    assert "a.csv:4" in messages[1]


def test_jsonlines_read_and_invalid_json(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"word": "x", "n": 1}\n{"word": "y", "n": 2.5}\nnot json\n{"word": "z", "n": 3}\n')
    t = pw.io.jsonlines.read(tmp_path / "a.jsonl", schema=WordSchema, mode="static")
    streams = pw.debug._capture([t, pw.global_error_log()], terminate_on_error=False)
    assert sorted(v for _, v, _, _ in streams[0]) == [("x", 1), ("z", 3)]
    assert len(streams[1]) == 2


def test_plaintext_and_by_file(tmp_path):
    (tmp_path / "a.txt").write_text("one line\nanother\n")
    lines = pw.io.plaintext.read(tmp_path, mode="static")
    assert_table_equality_wo_index(lines, T("data\none_line\nanother").select(data=pw.this.data.str.replace("_", " ")))
    whole = pw.io.fs.read(tmp_path, format="plaintext_by_file", mode="static")
    _, cols = pw.debug.table_to_dicts(whole)
    assert list(cols["data"].values()) == ["one line\nanother"]  # the final newline dropped, as Pathway does


def test_written_stream_replays_to_the_final_table(tmp_path):
    t = T(
        """
          | word | n | __time__ | __diff__
        1 | a    | 1 | 2        | 1
        2 | b    | 2 | 2        | 1
        1 | a    | 1 | 4        | -1
        3 | c    | 5 | 4        | 1
    """
    )
    totals = t.reduce(total=pw.reducers.sum(t.n))
    pw.io.csv.write(totals, tmp_path / "out.csv")
    pw.io.jsonlines.write(t, tmp_path / "out.jsonl")
    pw.run()
    with open(tmp_path / "out.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["total"], r["time"], r["diff"]) for r in rows] == [("3", "2", "1"), ("3", "4", "-1"), ("7", "4", "1")]
    state = {}
    for line in (tmp_path / "out.jsonl").read_text().splitlines():
        obj = json.loads(line)
        key = (obj["word"], obj["n"])
        state[key] = state.get(key, 0) + obj["diff"]
    assert {k for k, c in state.items() if c > 0} == {("b", 2), ("c", 5)}


def test_streaming_directory_follows_new_appended_changed_and_deleted_files(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    t = pw.io.csv.read(source, schema=WordSchema, mode="streaming")
    totals = t.groupby(t.word).reduce(t.word, total=pw.reducers.sum(t.n))
    state = {}
    lock = threading.Lock()

    def on_change(key, row, time, is_addition):
        with lock:
            if is_addition:
                state[row["word"]] = row["total"]
            elif state.get(row["word"]) == row["total"]:
                del state[row["word"]]

    pw.io.subscribe(totals, on_change)
    seen = []

    def wait_for(expected):
        deadline = time.time() + 10
        while time.time() < deadline:
            with lock:
                if state == expected:
                    seen.append(dict(state))
                    return
            time.sleep(0.02)
        seen.append(("timeout", dict(state), expected))

    def writer():
        (source / "1.csv").write_text("word,n\na,1\nb,2\n")
        wait_for({"a": 1, "b": 2})
        with open(source / "1.csv", "a") as f:
            f.write("a,5\n")
        wait_for({"a": 6, "b": 2})
        (source / "2.csv").write_text("word,n\nb,10\n")
        wait_for({"a": 6, "b": 12})
        (source / "1.csv").write_text("word,n\nc,7\n")  # rewritten
        wait_for({"b": 10, "c": 7})
        os.remove(source / "2.csv")
        wait_for({"c": 7})

    thread = threading.Thread(target=writer)
    thread.start()
    pw.run(timeout=4.0)
    thread.join()
    assert seen == [{"a": 1, "b": 2}, {"a": 6, "b": 2}, {"a": 6, "b": 12}, {"b": 10, "c": 7}, {"c": 7}]


def test_missing_path_in_static_mode_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        pw.io.csv.read(tmp_path / "nope.csv", schema=WordSchema, mode="static")


def test_streaming_with_two_workers_finishes_and_sees_everything(tmp_path):
    # A regression test: the run's polling once deadlocked with a stepping worker (the
    # runtime's lock and a worker's lock taken in opposite orders) under streaming load.
    source = tmp_path / "in"
    source.mkdir()
    (source / "words.txt").write_text("".join(f"w{i % 500} zzmark{i}\n" for i in range(30000)))
    lines = pw.io.plaintext.read(source, mode="streaming", autocommit_duration_ms=10)
    words = lines.select(word=pw.this.data.str.split()).flatten(pw.this.word)
    markers = words.filter(pw.this.word.str.startswith("zzmark")).reduce(n=pw.reducers.count())
    seen = []
    pw.io.subscribe(markers, lambda key, row, time, is_addition: seen.append(row["n"]) if is_addition else None)
    pw.run(timeout=2.0, threads=2)
    assert seen[-1] == 30000


def test_csv_comments_escapes_and_json_field_paths(tmp_path):
    (tmp_path / "a.csv").write_text('word,n\n# a comment\nx\\"y,1\nz,2\n')
    settings = pw.io.CsvParserSettings(escape="\\\\", comment_character="#")
    t = pw.io.csv.read(tmp_path / "a.csv", schema=WordSchema, mode="static", csv_settings=settings)
    _, cols = pw.debug.table_to_dicts(t)
    assert sorted(zip(cols["word"].values(), cols["n"].values())) == [('x"y', 1), ("z", 2)]
    (tmp_path / "b.jsonl").write_text('{"inner": {"word": "deep"}, "n": 3}\n')
    j = pw.io.jsonlines.read(tmp_path / "b.jsonl", schema=WordSchema, mode="static", json_field_paths={"word": "/inner/word"})
    _, cols = pw.debug.table_to_dicts(j)
    assert list(cols["word"].values()) == ["deep"]


def test_commits_are_wall_clock_milliseconds(tmp_path):
    (tmp_path / "a.csv").write_text("word,n\nx,1\n")
    times = []
    pw.io.subscribe(pw.io.csv.read(tmp_path, schema=WordSchema), lambda key, row, time, is_addition: times.append(time))
    before = time.time() * 1000
    pw.run(timeout=0.5)
    assert len(times) == 1 and times[0] % 2 == 0 and times[0] >= before - 1000


def test_invalid_utf8_rows_go_to_the_error_log_and_good_rows_are_kept(tmp_path):
    """Text that is not UTF-8 never becomes a string: each such record is logged with its file
    and line, and every good record still arrives (CSV, JSON lines and plaintext alike)."""
    (tmp_path / "a.csv").write_bytes(b"word,n\nok,1\nbad\xff,2\nok2,3\n")
    (tmp_path / "a.jsonl").write_bytes(b'{"word": "ok", "n": 1}\n{"word": "bad\xfe", "n": 2}\n{"word": "ok2", "n": 3}\n')
    (tmp_path / "a.txt").write_bytes(b"good line\nbad \xc0\xaf line\nlast\n")
    csv_t = pw.io.csv.read(tmp_path / "a.csv", schema=WordSchema, mode="static")
    json_t = pw.io.jsonlines.read(tmp_path / "a.jsonl", schema=WordSchema, mode="static")
    text_t = pw.io.plaintext.read(tmp_path / "a.txt", mode="static")
    streams = pw.debug._capture([csv_t, json_t, text_t, pw.global_error_log()], terminate_on_error=False)
    assert sorted(v for _, v, _, _ in streams[0]) == [("ok", 1), ("ok2", 3)]
    assert sorted(v for _, v, _, _ in streams[1]) == [("ok", 1), ("ok2", 3)]
    assert sorted(v for _, v, _, _ in streams[2]) == [("good line",), ("last",)]
    messages = sorted(v[1] for _, v, _, _ in streams[3])
    assert len(messages) == 3
    assert any("a.csv:3" in m and "not valid UTF-8" in m for m in messages)
    assert any("a.jsonl:2" in m and "invalid JSON" in m for m in messages)
    assert any("a.txt:2" in m and "not valid UTF-8" in m for m in messages)


def test_max_backlog_size_must_be_positive(tmp_path):
    (tmp_path / "a.csv").write_text("word,n\nok,1\n")
    with pytest.raises(ValueError, match="max_backlog_size must be positive"):
        pw.io.csv.read(tmp_path / "a.csv", schema=WordSchema, mode="static", max_backlog_size=0)


def test_streaming_reads_a_last_line_without_newline_and_reads_it_again_when_it_grows(tmp_path):
    """As Pathway: a file whose last line has no newline yet is read as it stands (a JSON
    file of one object, say); when the file grows, that line is read again with the rest."""
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.jsonl").write_text('{"word": "one", "n": 1}')
    t = pw.io.jsonlines.read(source, schema=WordSchema, mode="streaming", object_pattern="*.jsonl").concat_reindex(
        pw.io.csv.read(source, schema=WordSchema, mode="streaming", object_pattern="*.csv")
    )
    state = {}
    lock = threading.Lock()

    def on_change(key, row, time, is_addition):
        with lock:
            state[(row["word"], row["n"])] = state.get((row["word"], row["n"]), 0) + (1 if is_addition else -1)
            if state[(row["word"], row["n"])] == 0:
                del state[(row["word"], row["n"])]

    seen = []

    def wait_for(expected):
        deadline = time.time() + 10
        while time.time() < deadline:
            with lock:
                if state == expected:
                    seen.append(dict(state))
                    return
            time.sleep(0.02)
        seen.append(("timeout", dict(state)))

    def writer():
        wait_for({("one", 1): 1})
        with open(source / "a.jsonl", "a") as f:
            f.write('\n{"word": "two", "n": 2}\n')
        wait_for({("one", 1): 1, ("two", 2): 1})
        (source / "b.csv").write_text("word,n\nthree,3")  # CSV too, and then the line grows
        wait_for({("one", 1): 1, ("two", 2): 1, ("three", 3): 1})
        with open(source / "b.csv", "a") as f:
            f.write("0\n")
        wait_for({("one", 1): 1, ("two", 2): 1, ("three", 30): 1})
        request_stop()

    pw.io.subscribe(t, on_change)
    thread = threading.Thread(target=writer)
    thread.start()
    pw.run(timeout=8.0)
    thread.join()
    assert seen == [
        {("one", 1): 1},
        {("one", 1): 1, ("two", 2): 1},
        {("one", 1): 1, ("two", 2): 1, ("three", 3): 1},
        {("one", 1): 1, ("two", 2): 1, ("three", 30): 1},
    ]


def test_an_unclosed_quote_in_a_watched_file_is_reported(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.csv").write_text('word,n\nok,1\n"open,2\n')
    t = pw.io.csv.read(source, schema=WordSchema, mode="streaming")
    streams = []

    def on_change(key, row, time, is_addition):
        streams.append(row)

    errors = pw.global_error_log()
    messages = []
    pw.io.subscribe(errors, lambda key, row, time, is_addition: messages.append(row["message"]))
    pw.io.subscribe(t, on_change)
    pw.run(timeout=1.5, terminate_on_error=False)
    assert [r["word"] for r in streams] == ["ok"]
    assert len(messages) == 1 and "a.csv:3: unterminated quoted field" in messages[0]


def test_sigterm_stops_a_run_cleanly_and_exits_143(tmp_path):
    import signal
    import subprocess
    import sys

    source = tmp_path / "in"
    source.mkdir()
    (source / "a.csv").write_text("word,n\nfirst,1\n")
    out = tmp_path / "out.csv"
    program = f"""
import deltaflow as pw
class S(pw.Schema):
    word: str
    n: int
t = pw.io.csv.read({str(source)!r}, schema=S, mode="streaming")
pw.io.csv.write(t, {str(out)!r})
pw.run()
print("not reached")
"""
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline and (not out.exists() or "first" not in out.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert "not reached" not in stdout
    assert "received SIGTERM" in stderr
    assert '"first","1"' in out.read_text()
