"""pw.io.python: a ConnectorSubject feeding a live pipeline, and a ConnectorObserver."""

import pytest

import deltaflow as pw


class WordSchema(pw.Schema):
    word: str
    n: int


def test_thousands_of_small_commits_reach_the_pipeline_in_order():
    class Subject(pw.io.python.ConnectorSubject):
        def run(self):
            for i in range(3000):
                self.next(word=f"w{i % 5}", n=i)
                if i % 3 == 0:
                    self.commit()

    t = pw.io.python.read(Subject(), schema=WordSchema)
    counts = t.groupby(t.word).reduce(t.word, c=pw.reducers.count(), s=pw.reducers.sum(t.n))
    final = {}
    times = []

    def on_change(key, row, time, is_addition):
        if is_addition:
            final[row["word"]] = (row["c"], row["s"])
        else:
            assert final[row["word"]] == (row["c"], row["s"])

    pw.io.subscribe(counts, on_change, on_time_end=times.append)
    pw.run()
    assert final == {f"w{k}": (600, sum(i for i in range(3000) if i % 5 == k)) for k in range(5)}
    assert len(times) > 100  # commits are separate times
    assert times == sorted(times) and len(set(times)) == len(times)


def test_primary_key_upserts_and_remove():
    class KS(pw.Schema):
        k: str = pw.column_definition(primary_key=True)
        v: int

    class Subject(pw.io.python.ConnectorSubject):
        def run(self):
            self.next(k="a", v=1)
            self.commit()
            self.next(k="a", v=2)
            self.next(k="b", v=3)
            self.commit()
            self.next(k="c", v=4)
            self.commit()
            self._remove(k="c", v=4)

    t = pw.io.python.read(Subject(), schema=KS)
    keys, cols = pw.debug.table_to_dicts(t)
    assert sorted(zip(cols["k"].values(), cols["v"].values())) == [("a", 2), ("b", 3)]


def test_observer_receives_changes_and_end():
    class Subject(pw.io.python.ConnectorSubject):
        def run(self):
            for i in range(3):
                self.next(word="x", n=i)
                self.commit()

    events = []

    class Observer(pw.io.python.ConnectorObserver):
        def on_change(self, key, row, time, is_addition):
            events.append((row["n"], is_addition))

        def on_end(self):
            events.append("end")

    pw.io.python.write(pw.io.python.read(Subject(), schema=WordSchema), Observer())
    pw.run()
    assert events == [(0, True), (1, True), (2, True), "end"]


def test_an_exception_in_the_subject_fails_the_run():
    class Subject(pw.io.python.ConnectorSubject):
        def run(self):
            self.next(word="x", n=1)
            raise RuntimeError("source broke")

    pw.io.null.write(pw.io.python.read(Subject(), schema=WordSchema))
    with pytest.raises(RuntimeError, match="source broke"):
        pw.run()


def test_append_only_subject_is_not_remembered_and_cannot_remove():
    class Appends(pw.io.python.ConnectorSubject):
        _deletions_enabled = False  # append-only: the connector keeps no rows

        def run(self):
            self.next(word="a", n=1)
            self.next(word="b", n=2)
            self.commit()
            self._remove(word="a", n=1)
            self.commit()

    t = pw.io.python.read(Appends(), schema=WordSchema)
    streams = pw.debug._capture([t, pw.global_error_log()], terminate_on_error=False)
    assert sorted(v for _, v, _, d in streams[0] if d > 0) == [("a", 1), ("b", 2)]
    assert not [v for _, v, _, d in streams[0] if d < 0]
    assert any("_deletions_enabled is False" in v[1] for _, v, _, _ in streams[1])


def test_outputs_are_delivered_while_a_fast_source_keeps_committing():
    """A source that never pauses must not hold back the outputs: the subscriber sees results
    while the subject is still producing (it stops as soon as the first result arrives)."""
    import threading

    seen = threading.Event()
    produced = []

    class Fast(pw.io.python.ConnectorSubject):
        _deletions_enabled = False

        def run(self):
            for commit in range(400):
                if seen.is_set():
                    break
                for i in range(500):
                    self.next(word=f"w{i % 7}", n=i)
                self.commit()
                produced.append(commit)

    t = pw.io.python.read(Fast(), schema=WordSchema, autocommit_duration_ms=None)
    counts = t.groupby(t.word).reduce(t.word, c=pw.reducers.count())
    pw.io.subscribe(counts, on_change=lambda key, row, time, is_addition: seen.set())
    pw.run()
    assert seen.is_set()
    assert len(produced) < 400  # the first result arrived long before the source ran out


def test_within_a_time_observers_get_every_retraction_before_any_insertion():
    rows = "\n".join(f"{i} | {i} | 2 | 1" for i in range(20))
    moves = "\n".join(f"{i} | {i} | 4 | -1\n{i + 100} | {i} | 4 | 1" for i in range(20))
    t = pw.debug.table_from_markdown(f"  | v | __time__ | __diff__\n{rows}\n{moves}")
    subscribed, observed = [], []
    pw.io.subscribe(t, lambda key, row, time, is_addition: subscribed.append((time, is_addition)))

    class Observer(pw.io.python.ConnectorObserver):
        def on_change(self, key, row, time, is_addition):
            observed.append((time, is_addition))

    pw.io.python.write(t, Observer())
    pw.run()
    for seen in (subscribed, observed):
        later = [is_addition for time, is_addition in seen if time == 4]
        assert later == [False] * 20 + [True] * 20
