"""Error semantics: terminate_on_error, Error cells, the error log, remove_errors,
fill_error, unwrap."""

import time
import time as time_module

import pytest

import deltaflow as pw
from deltaflow.testing import T, assert_table_equality_wo_index


def test_error_log_gets_one_row_per_failed_cell():
    t = T("a | b\n1 | 0\n4 | 2\n3 | 0")
    d = t.select(q=t.a // t.b)
    _, cols = pw.debug.table_to_dicts(d, terminate_on_error=False)
    assert sorted(map(repr, cols["q"].values())) == sorted(["2", "Error", "Error"])
    log = pw.global_error_log()
    assert list(log.column_names()) == ["operator_id", "message", "trace"]
    streams = pw.debug._capture([d, log], terminate_on_error=False)
    messages = [values[1] for _, values, _, diff in streams[1] if diff > 0]
    assert messages == ["division by zero", "division by zero"]
    assert all("t.a // t.b" in values[2] or "//" in values[2] for _, values, _, _ in streams[1])


def test_remove_errors_and_fill_error():
    t = T("a | b\n1 | 0\n4 | 2")
    q = t.select(q=t.a // t.b)
    assert_table_equality_wo_index(q.remove_errors(), T("q\n2"), terminate_on_error=False)
    filled = t.select(q=pw.fill_error(t.a // t.b, -1))
    assert_table_equality_wo_index(filled, T("q\n-1\n2"))


def test_unwrap_of_none_is_an_error():
    t = T("a\n1\nNone")
    with pytest.raises(ValueError, match="unwrap"):
        pw.debug.table_to_dicts(t.select(x=pw.unwrap(t.a)))
    _, cols = pw.debug.table_to_dicts(t.select(x=pw.unwrap(t.a)), terminate_on_error=False)
    assert sorted(map(repr, cols["x"].values())) == ["1", "Error"]


def test_failing_udf_rows_go_to_the_log():
    def boom(x):
        if x == 4:
            raise ValueError("four")
        return x

    t = T("a\n1\n4")
    streams = pw.debug._capture([t.select(z=pw.apply(boom, t.a)), pw.global_error_log()], terminate_on_error=False)
    assert sorted(repr(v[0]) for _, v, _, _ in streams[0]) == ["1", "Error"]
    assert [v[1] for _, v, _, _ in streams[1]] == ["ValueError: four (in pw.apply(boom, t.a))"] or "four" in streams[1][0][1][1]


def test_terminate_on_error_from_the_environment(monkeypatch):
    t = T("a | b\n1 | 0")
    monkeypatch.setenv("DELTAFLOW_TERMINATE_ON_ERROR", "false")
    _, cols = pw.debug.table_to_dicts(t.select(q=t.a / t.b))
    assert list(cols["q"].values()) == [pw.ERROR]
    monkeypatch.setenv("DELTAFLOW_TERMINATE_ON_ERROR", "true")
    with pytest.raises(ZeroDivisionError):
        pw.debug.table_to_dicts(t.select(q=t.a / t.b))


def test_duplicate_ids_from_a_false_promise_fail_the_run():
    a = T("  | v\n1 | 1")
    b = T("  | v\n1 | 2")
    a.promise_universes_are_disjoint(b)
    with pytest.raises(KeyError, match="duplicate"):
        pw.debug.table_to_dicts(a.concat(b))


def test_universe_errors_name_the_users_line():
    a = T("x\n1")
    b = T("y\n1\n2")
    with pytest.raises(ValueError, match=r"test_errors.py:\d+"):
        a.select(b.y)
    with pytest.raises(ValueError, match=r"Occurred here: .*test_errors.py:\d+"):
        a.concat(b.select(x=b.y))


def test_without_terminate_on_error_rows_holding_errors_are_not_delivered(tmp_path):
    """As Pathway: the failing cell's row is logged ("Error value encountered in output") and
    skipped by outputs; its later retraction is skipped too. Debug views still show it."""
    t = pw.debug.table_from_markdown(
        """
          | a | b | __time__ | __diff__
        1 | 1 | 0 | 2        | 1
        2 | 4 | 2 | 2        | 1
        1 | 1 | 0 | 4        | -1
        """
    )
    r = t.select(a=pw.this.a, q=pw.this.a // pw.this.b)
    seen = []
    pw.io.subscribe(r, lambda key, row, time, is_addition: seen.append((row["a"], row["q"], is_addition)))
    pw.io.csv.write(r, tmp_path / "out.csv")
    log = []
    pw.io.subscribe(pw.global_error_log(), lambda key, row, time, is_addition: log.append(row["message"]))
    pw.run(terminate_on_error=False)
    assert seen == [(4, 2, True)]
    assert [line.split(",")[:2] for line in (tmp_path / "out.csv").read_text().splitlines()[1:]] == [['"4"', '"2"']]
    assert any("division by zero" in m for m in log)
    assert sum("Error value encountered in output, skipping the row" in m for m in log) == 2  # two outputs
    _, columns = pw.debug.table_to_dicts(r, terminate_on_error=False)
    assert sorted(map(repr, columns["q"].values())) == ["2"]  # the retracted row is gone; no Error left


def test_the_error_log_is_delivered_while_a_streaming_run_goes_on():
    class Numbers(pw.Schema):
        n: int

    class Subject(pw.io.python.ConnectorSubject):
        def run(self):
            self.next(n=0)
            self.commit()
            pushed.append(time.monotonic())
            deadline = time.monotonic() + 10
            while not logged and time.monotonic() < deadline:
                time.sleep(0.01)
            self.next(n=1)

    pushed: list = []
    logged: list = []
    t = pw.io.python.read(Subject(), schema=Numbers, autocommit_duration_ms=10)
    r = t.select(q=10 // pw.this.n)
    pw.io.null.write(r)
    pw.io.subscribe(pw.global_error_log(), lambda key, row, time, is_addition: logged.append(time_module.monotonic()))
    pw.run(terminate_on_error=False)
    # The failure of the first row reached the log while the subject was still running.
    assert logged and pushed and logged[0] - pushed[0] < 2.0
