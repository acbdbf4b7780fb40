"""pw.run: worker counts from the environment, Ctrl-C, many runs in one process."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import deltaflow as pw
from deltaflow.testing import T, assert_table_equality_wo_index


def test_worker_count_from_environment(monkeypatch):
    t = T("g | v\n1 | 1\n1 | 2\n2 | 3")
    for var in ("DELTAFLOW_THREADS", "PATHWAY_THREADS"):
        monkeypatch.setenv(var, "3")
        assert_table_equality_wo_index(t.groupby(t.g).reduce(t.g, s=pw.reducers.sum(t.v)), T("g | s\n1 | 3\n2 | 3"))
        monkeypatch.delenv(var)
    monkeypatch.setenv("PATHWAY_THREADS", "zero")
    with pytest.raises(ValueError, match="PATHWAY_THREADS"):
        pw.debug.table_to_dicts(t)


def test_many_runs_in_one_process():
    for i in range(20):
        t = T(f"v\n{i}")
        seen = []
        pw.io.subscribe(t, lambda key, row, time, is_addition: seen.append(row["v"]))
        pw.run()
        assert seen == [i]


def test_ctrl_c_stops_a_streaming_run_and_keeps_what_was_written(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.csv").write_text("word,n\nx,1\n")
    out = tmp_path / "out.csv"
    script = tmp_path / "pipeline.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import deltaflow as pw
            class S(pw.Schema):
                word: str
                n: int
            t = pw.io.csv.read({str(source)!r}, schema=S)
            pw.io.csv.write(t, {str(out)!r})
            print("running", flush=True)
            try:
                pw.run()
            except KeyboardInterrupt:
                print("interrupted", flush=True)
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "running"
    deadline = time.time() + 20
    while time.time() < deadline and (not out.exists() or "\"x\",\"1\"" not in out.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=20)
    assert "interrupted" in stdout
    assert proc.returncode == 0
    assert "\"x\",\"1\"," in out.read_text()


def test_run_all_computes_tables_without_outputs_so_their_errors_surface():
    t = pw.debug.table_from_markdown("a | b\n1 | 0")
    t.select(q=pw.this.a // pw.this.b)  # built, never read by an output
    pw.run()  # only outputs are computed: nothing to run
    t.select(q=pw.this.a // pw.this.b)
    with pytest.raises(ZeroDivisionError):
        pw.run_all()


def test_run_all_also_runs_the_registered_outputs_once():
    t = pw.debug.table_from_markdown("a\n1\n2")
    doubled = t.select(d=pw.this.a * 2)
    seen = []
    pw.io.subscribe(doubled, lambda key, row, time, is_addition: seen.append(row["d"]))
    pw.run_all()
    assert sorted(seen) == [2, 4]


def test_run_all_leaves_tables_built_inside_an_iterate_body_to_the_loop():
    t = pw.debug.table_from_markdown("a\n1\n5")

    def step(t):
        return t.select(a=pw.if_else(pw.this.a < 10, pw.this.a + 1, pw.this.a))

    result = pw.iterate(step, t=t)
    seen = []
    pw.io.subscribe(result, lambda key, row, time, is_addition: seen.append(row["a"]) if is_addition else None)
    pw.run_all()
    assert sorted(seen) == [10, 10]


def test_a_process_forked_after_a_run_runs_pipelines_of_its_own():
    # The engine's idle worker threads are joined before fork(): a child forked after the
    # parent ran a pipeline (multiprocessing's "fork", as Pathway's test helpers use) runs its
    # own instead of waiting forever for threads it does not have.
    import multiprocessing

    t = pw.debug.table_from_markdown("a\n1\n2")
    assert sorted(pw.debug.table_to_pandas(t)["a"]) == [1, 2]
    queue = multiprocessing.get_context("fork").SimpleQueue()

    def child():
        u = pw.debug.table_from_markdown("b\n3")
        queue.put(list(pw.debug.table_to_pandas(u)["b"]))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    alive = process.is_alive()
    if alive:
        process.kill()
    assert not alive and process.exitcode == 0
    assert queue.get() == [3]
    # The parent runs again afterwards.
    assert sorted(pw.debug.table_to_pandas(t)["a"]) == [1, 2]
