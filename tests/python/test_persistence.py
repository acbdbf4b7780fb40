"""Persistence: a restarted pipeline resumes from its last checkpoint, loses nothing and writes
nothing twice (``pw.run(persistence_config=...)``)."""

from __future__ import annotations

import collections
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import deltaflow as pw
from live_run import wait_for

DRILL = Path(__file__).with_name("persistence_drill.py")


class Words(pw.Schema):
    word: str


def _config(path: Path, **kwargs) -> pw.persistence.Config:
    return pw.persistence.Config(pw.persistence.Backend.filesystem(path), **kwargs)


def _write_words(path: Path, words: list[str]) -> None:
    path.write_text("word\n" + "".join(f"{w}\n" for w in words))


def _diffs(path: Path) -> list[tuple]:
    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        out.append((row["word"], row["count"], row["diff"]))
    return sorted(out)


def _wordcount_static(inputs: Path, output: Path, state: Path, **run_kwargs) -> None:
    words = pw.io.csv.read(inputs, schema=Words, mode="static", name="words")
    counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
    pw.io.jsonlines.write(counts, output)
    pw.run(persistence_config=_config(state), **run_kwargs)


@pytest.mark.parametrize("threads", [1, 2])
def test_restart_after_clean_stop_writes_only_what_changed(tmp_path, threads):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a", "b", "a"])
    _wordcount_static(inputs, output, state, threads=threads)
    assert _diffs(output) == [("a", 2, 1), ("b", 1, 1)]
    # A new file: the output of the new run holds only the changes it caused.
    _write_words(inputs / "2.csv", ["a", "c"])
    _wordcount_static(inputs, output, state, threads=threads)
    assert _diffs(output) == [("a", 2, -1), ("a", 3, 1), ("c", 1, 1)]
    # Nothing new: nothing written.
    _wordcount_static(inputs, output, state, threads=threads)
    assert output.read_text() == ""
    # Lines appended to a file already read are read on from where the run stopped.
    with open(inputs / "2.csv", "a") as f:
        f.write("b\n")
    _wordcount_static(inputs, output, state, threads=threads)
    assert _diffs(output) == [("b", 1, -1), ("b", 2, 1)]


def test_files_rewritten_or_deleted_while_down_are_retracted(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()

    def identity():
        t = pw.io.plaintext.read(inputs, mode="static")
        pw.io.jsonlines.write(t, output)
        pw.run(persistence_config=_config(state))

    def data():
        return sorted((json.loads(line)["data"], json.loads(line)["diff"]) for line in output.read_text().splitlines())

    (inputs / "1").write_text("one\ntwo\n")
    (inputs / "2").write_text("three\n")
    identity()
    assert data() == [("one", 1), ("three", 1), ("two", 1)]
    (inputs / "1").write_text("uno\n")  # rewritten
    os.remove(inputs / "2")  # deleted
    identity()
    assert data() == [("one", -1), ("three", -1), ("two", -1), ("uno", 1)]
    (inputs / "1").write_text("uno\ndos")  # grows, its last line without a newline
    identity()
    assert data() == [("dos", 1)]
    with open(inputs / "1", "a") as f:
        f.write("s\n")  # that last line continues
    identity()
    assert data() == [("dos", -1), ("doss", 1)]


def test_whole_file_records_follow_rewrites(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()

    def identity():
        t = pw.io.fs.read(inputs, format="plaintext_by_file", mode="static")
        pw.io.jsonlines.write(t, output)
        pw.run(persistence_config=_config(state))

    (inputs / "1").write_text("a")
    identity()
    (inputs / "1").write_text("aa")
    (inputs / "2").write_text("aaa")
    identity()
    lines = sorted((json.loads(x)["data"], json.loads(x)["diff"]) for x in output.read_text().splitlines())
    assert lines == [("a", -1), ("aa", 1), ("aaa", 1)]


def test_subscribers_do_not_hear_replayed_changes(tmp_path):
    inputs, state = tmp_path / "in", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["x", "y"])

    def run() -> list:
        seen = []
        words = pw.io.csv.read(inputs, schema=Words, mode="static", name="words")
        pw.io.subscribe(words, lambda key, row, time, is_addition: seen.append((row["word"], is_addition)))
        pw.run(persistence_config=_config(state))
        return sorted(seen)

    assert run() == [("x", True), ("y", True)]
    _write_words(inputs / "2.csv", ["z"])
    assert run() == [("z", True)]


def test_mock_backend_keeps_state_between_runs_of_a_process():
    backend = pw.persistence.Backend.mock()
    rows = [[("a",)], [("b",)]]
    results = []
    for batch in rows:
        seen = []

        class Subject(pw.io.python.ConnectorSubject):
            def run(self):
                for (w,) in batch:
                    self.next(word=w)

        t = pw.io.python.read(Subject(), schema=Words, name="subject")
        counts = t.reduce(n=pw.reducers.count())
        pw.io.subscribe(counts, lambda key, row, time, is_addition: seen.append((row["n"], is_addition)))
        pw.run(persistence_config=pw.persistence.Config(backend))
        results.append(sorted(seen))
    # The second run starts from the first one's state: one row replayed, one new.
    assert results == [[(1, True)], [(1, False), (2, True)]]


def test_python_subject_resumes_from_its_reported_offset():
    backend = pw.persistence.Backend.mock()
    seeks = []

    persisted_runs = []

    class Numbers(pw.io.python.ConnectorSubject):
        def __init__(self, upto):
            super().__init__()
            self.start = 0
            self.upto = upto

        def on_persisted_run(self):
            persisted_runs.append(self.upto)

        def _seek(self, state):
            seeks.append(state)
            self.start = int(state.decode())

        def run(self):
            for i in range(self.start, self.upto):
                self.next(n=i)
                self._report_offset(str(i + 1).encode())

    class N(pw.Schema):
        n: int

    totals = []
    for upto in (3, 5):
        t = pw.io.python.read(Numbers(upto), schema=N, name="numbers")
        pw.io.subscribe(t.reduce(total=pw.reducers.sum(pw.this.n), rows=pw.reducers.count()),
                        lambda key, row, time, is_addition: is_addition and totals.append((row["total"], row["rows"])))
        pw.run(persistence_config=pw.persistence.Config(backend))
    assert seeks == [b"3"]
    assert persisted_runs == [3, 5]
    assert totals[-1] == (0 + 1 + 2 + 3 + 4, 5)


def test_corrupt_state_is_a_clear_error(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a"])
    _wordcount_static(inputs, output, state)
    logs = [p for p in state.rglob("*.log") if p.stat().st_size > 0]
    assert logs
    data = bytearray(logs[0].read_bytes())
    data[-3] ^= 0xFF
    logs[0].write_bytes(bytes(data))
    with pytest.raises(Exception, match=rf"damaged: {logs[0]} at byte 0: checksum mismatch"):
        _wordcount_static(inputs, output, state)
    (state / "manifest").write_bytes(b"garbage")
    with pytest.raises(Exception, match=rf"damaged: {state / 'manifest'}: not a deltaflow checkpoint"):
        _wordcount_static(inputs, output, state)


def test_an_input_whose_columns_changed_cannot_resume(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a"])
    _wordcount_static(inputs, output, state)

    class Two(pw.Schema):
        word: str
        extra: str

    t = pw.io.csv.read(inputs, schema=Two, mode="static", name="words")
    pw.io.jsonlines.write(t, output)
    with pytest.raises(Exception, match='the input "words" had 1 columns when its state was persisted and has 2 now'):
        pw.run(persistence_config=_config(state))


def test_two_inputs_with_one_name_are_refused(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a"])
    a = pw.io.csv.read(inputs, schema=Words, mode="static", name="same")
    b = pw.io.csv.read(inputs, schema=Words, mode="static", name="same")
    pw.io.jsonlines.write(a.concat_reindex(b), tmp_path / "out.jsonl")
    with pytest.raises(Exception, match='two inputs are named "same"'):
        pw.run(persistence_config=_config(tmp_path / "state"))


def test_operator_persisting_is_not_implemented_yet(tmp_path):
    t = pw.debug.table_from_markdown("a\n1")
    pw.io.jsonlines.write(t, tmp_path / "out.jsonl")
    with pytest.raises(NotImplementedError, match="OPERATOR_PERSISTING"):
        pw.run(persistence_config=_config(tmp_path / "s", persistence_mode=pw.PersistenceMode.OPERATOR_PERSISTING))


def test_replay_mode_writes_the_persisted_input_again(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a", "a"])
    _wordcount_static(inputs, output, state)
    _write_words(inputs / "2.csv", ["b"])  # not read: the replay stops after the persisted input
    words = pw.io.csv.read(inputs, schema=Words, mode="static", name="words")
    counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())
    pw.io.jsonlines.write(counts, output)
    pw.run(persistence_config=_config(state, persistence_mode=pw.PersistenceMode.SPEEDRUN_REPLAY, continue_after_replay=False))
    assert _diffs(output)[-1] == ("a", 2, 1)
    assert ("b", 1, 1) not in _diffs(output)


# --- The recovery drill ----------------------------------------------------------------------


def check_output(lines: list[str], written: collections.Counter, final: bool) -> None:
    """Every word's changes form one chain (each insertion retracted once before the next), no
    count exceeds what was written, and at the end the counts are exact."""
    current: dict[str, int] = {}
    for line in lines:
        row = json.loads(line)
        word, count, diff = row["word"], row["count"], row["diff"]
        if diff == 1:
            assert word not in current, f"{word}: inserted twice ({line})"
            current[word] = count
        else:
            assert current.get(word) == count, f"{word}: retracts {count}, holds {current.get(word)} ({line})"
            del current[word]
        assert count <= written[word], f"{word}: count {count} > {written[word]} written"
    if final:
        assert current == dict(written)


def _complete_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a line torn by SIGKILL is not output
    return text.splitlines()


class FileOutput:
    """The drill's JSON lines output: after a clean stop the next run writes the file anew,
    so what the stopped run wrote is kept aside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.history: list[str] = []
        self.args = [str(path)]

    def lines(self) -> list[str]:
        return self.history + _complete_lines(self.path)

    def after_clean_stop(self) -> None:
        self.history.extend(_complete_lines(self.path))
        self.path.unlink()


def recovery_drill(tmp_path: Path, threads: int, kind: str, output, seed: int) -> None:
    """Word count over CSV files streamed into a directory (new files, lines appended to
    files), killed (SIGKILL) at random moments, often while input is in processing, stopped
    cleanly once, restarted each time with input added while it was down. After every stop
    the output is a valid history of counts never above the input; at the end it is exact."""
    rounds = int(os.environ.get("DELTAFLOW_DRILL_ROUNDS", "6"))
    rng = random.Random(seed)
    inputs, state = tmp_path / "in", tmp_path / "state"
    inputs.mkdir()
    vocabulary = [f"w{i}" for i in range(12)]
    written: collections.Counter = collections.Counter()
    file_no = 0

    def add_input() -> None:
        nonlocal file_no
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 30))]
        if file_no > 0 and rng.random() < 0.3:
            with open(inputs / f"{file_no - 1}.csv", "a") as f:  # appended to a file already read
                f.write("".join(f"{w}\n" for w in words))
        else:
            tmp = inputs / f".{file_no}.tmp"
            _write_words(tmp, words)
            os.rename(tmp, inputs / f"{file_no}.csv")
            file_no += 1
        written.update(words)

    def start() -> subprocess.Popen:
        with open(tmp_path / "stderr.txt", "ab") as err:
            return subprocess.Popen(
                [sys.executable, str(DRILL), kind, str(inputs), *output.args, str(state), str(threads)], stderr=err,
                env=dict(os.environ, DRILL_SNAPSHOT_MS=str(rng.choice([50, 500]))),
            )

    for round_no in range(rounds):
        proc = start()
        started = time.time()
        deadline = started + rng.uniform(0.3, 2.0)
        while time.time() < deadline:
            add_input()
            time.sleep(rng.uniform(0.0, 0.15))
        if round_no == rounds // 2:
            time.sleep(max(0.0, started + 3.0 - time.time()))  # past start-up: SIGTERM stops the run cleanly
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            assert proc.returncode in (128 + signal.SIGTERM, -signal.SIGTERM), (tmp_path / "stderr.txt").read_text()
            if proc.returncode == 128 + signal.SIGTERM:
                output.after_clean_stop()  # (-SIGTERM: it came before the run began, as a kill)
        else:
            add_input()
            time.sleep(rng.choice([0.0, 0.01, 0.03, 0.08]))  # killed while that input is in processing
            proc.kill()
            proc.wait()
        check_output(output.lines(), written, final=False)
        add_input()  # input that arrives while the pipeline is down
    proc = start()
    try:
        def caught_up() -> bool:
            try:
                check_output(output.lines(), written, final=True)
            except AssertionError:
                return False
            return True

        wait_for(caught_up, timeout=60)
    finally:
        proc.kill()
        proc.wait()
    check_output(output.lines(), written, final=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_recovery_drill_kill_restart(tmp_path, threads):
    recovery_drill(tmp_path, threads, "files", FileOutput(tmp_path / "out.jsonl"), seed=1000 + threads)


def test_deltaflow_replay_runs_a_program_over_its_recording(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a", "b"])
    program = tmp_path / "wordcount.py"
    program.write_text(
        "import sys\nimport deltaflow as pw\n"
        "class Words(pw.Schema):\n    word: str\n"
        "words = pw.io.csv.read(sys.argv[1], schema=Words, mode='static', name='words')\n"
        "counts = words.groupby(pw.this.word).reduce(pw.this.word, count=pw.reducers.count())\n"
        "pw.io.jsonlines.write(counts, sys.argv[2])\n"
        "config = pw.persistence.Config(pw.persistence.Backend.filesystem(sys.argv[3])) if len(sys.argv) > 3 else None\n"
        "pw.run(persistence_config=config)\n"
    )
    subprocess.run([sys.executable, str(program), str(inputs), str(output), str(state)], check=True)
    _write_words(inputs / "2.csv", ["c"])
    replayed = tmp_path / "replayed.jsonl"
    cli = [sys.executable, "-m", "deltaflow.cli", "replay", "--record-path", str(state)]
    subprocess.run([*cli, str(program), str(inputs), str(replayed)], check=True)
    assert _diffs(replayed) == [("a", 1, 1), ("b", 1, 1)]  # the recording only
    # The recording replaces the program's own persistence configuration.
    subprocess.run([*cli, str(program), str(inputs), str(replayed), str(tmp_path / "other")], check=True)
    assert _diffs(replayed) == [("a", 1, 1), ("b", 1, 1)]
    subprocess.run([*cli, "--continue", str(program), str(inputs), str(replayed)], check=True)
    assert _diffs(replayed) == [("a", 1, 1), ("b", 1, 1), ("c", 1, 1)]
    missing = [sys.executable, "-m", "deltaflow.cli", "replay", "--record-path", str(tmp_path / "none"), str(program)]
    bad = subprocess.run(missing, capture_output=True, text=True)
    assert bad.returncode == 2 and "no recording at" in bad.stderr


def test_disk_cache_lives_in_the_persistence_backend(tmp_path):
    calls = []

    @pw.udf(cache_strategy=pw.udfs.DiskCache())
    def slow_double(x: int) -> int:
        calls.append(x)
        return 2 * x

    state = tmp_path / "state"
    for _ in range(2):
        t = pw.debug.table_from_markdown("x\n1\n2")
        pw.io.jsonlines.write(t.select(y=slow_double(pw.this.x)), tmp_path / "out.jsonl")
        pw.run(persistence_config=_config(state))
    assert sorted(calls) == [1, 2]  # the second run read the results from the backend
    assert any((state / "runtime_calls").iterdir())


def test_non_deterministic_results_are_persisted_with_the_input(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.jsonl", tmp_path / "state"
    inputs.mkdir()
    calls = []

    @pw.udf(deterministic=False)
    def stamp(word: str) -> int:
        calls.append(word)
        return 100 * len(calls) + len(word)

    def run():
        words = pw.io.csv.read(inputs, schema=Words, mode="static", name="words")
        pw.io.jsonlines.write(words.select(pw.this.word, s=stamp(pw.this.word)), output)
        pw.run(persistence_config=_config(state))
        return sorted((json.loads(x)["word"], json.loads(x)["s"], json.loads(x)["diff"]) for x in output.read_text().splitlines())

    _write_words(inputs / "1.csv", ["ab", "c"])
    first = run()
    assert [(w, d) for w, _, d in first] == [("ab", 1), ("c", 1)]
    # The file is rewritten: its rows leave with the values they were given, not new ones.
    _write_words(inputs / "1.csv", ["c", "d"])
    calls.clear()
    second = run()
    retracted = sorted((w, s) for w, s, d in second if d == -1)
    assert retracted == sorted((w, s) for w, s, _ in first)
    assert sorted(calls) == ["c", "d"]  # old rows were not called again


def test_rows_under_a_primary_key_leave_with_their_file(tmp_path):
    inputs, output, state = tmp_path / "in", tmp_path / "out.csv", tmp_path / "state"
    inputs.mkdir()

    class Keyed(pw.Schema):
        k: int = pw.column_definition(primary_key=True)
        v: str

    def run():
        t = pw.io.csv.read(inputs, schema=Keyed, mode="static", name="keyed")
        pw.io.csv.write(t, output)
        pw.run(persistence_config=_config(state))
        with open(output) as f:
            return sorted((int(r["k"]), r["v"], int(r["diff"])) for r in csv.DictReader(f))

    (inputs / "1.csv").write_text("k,v\n1,a\n2,b\n")
    (inputs / "2.csv").write_text("k,v\n3,c\n")
    assert run() == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]
    os.remove(inputs / "1.csv")  # deleted while down: its keys leave, the other file's stay
    (inputs / "2.csv").write_text("k,v\n3,z\n")  # rewritten: its key takes the new value
    assert run() == [(1, "a", -1), (2, "b", -1), (3, "c", -1), (3, "z", 1)]


def test_one_run_at_a_time_per_persistence_directory(tmp_path):
    from live_run import run_in_background, stop

    inputs, state = tmp_path / "in", tmp_path / "state"
    inputs.mkdir()
    _write_words(inputs / "1.csv", ["a"])
    seen = []
    words = pw.io.csv.read(inputs, schema=Words, mode="streaming", name="words")
    pw.io.subscribe(words, lambda key, row, time, is_addition: seen.append(row["word"]))
    thread = run_in_background(persistence_config=_config(state))
    wait_for(lambda: seen == ["a"])
    other = subprocess.run(
        [sys.executable, "-c",
         "import deltaflow as pw\n"
         "class W(pw.Schema):\n    word: str\n"
         f"t = pw.io.csv.read({str(inputs)!r}, schema=W, mode='static', name='words')\n"
         "pw.io.null.write(t)\n"
         f"pw.run(persistence_config=pw.persistence.Config(pw.persistence.Backend.filesystem({str(state)!r})))\n"],
        capture_output=True, text=True,
    )
    stop(thread)
    assert other.returncode != 0
    assert f"another run is using the persisted state in {state}" in other.stderr
