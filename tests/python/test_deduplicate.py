"""``Table.deduplicate`` and ``pw.stateful.deduplicate`` as Pathway documents them: per
instance, the last row the acceptor accepted against the previously accepted one."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaflow as pw
from deltaflow.testing import T


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def acceptor(new_value, old_value) -> bool:
    return new_value >= old_value + 2


def events():
    return T(
        """
        val | instance | __time__
         1  |     1    |     2
         2  |     1    |     4
         3  |     2    |     6
         4  |     1    |     8
         4  |     2    |     8
         5  |     1    |    10
        """
    )


def test_deduplicate_per_instance_and_ids(capsys):
    result = events().deduplicate(value=pw.this.val, instance=pw.this.instance, acceptor=acceptor)
    pw.debug.compute_and_print_update_stream(result)
    assert capsys.readouterr().out == dedent(
        """
                    | val | instance | __time__ | __diff__
        ^YYY4HAB... | 1   | 1        | 2        | 1
        ^Z3QWT29... | 3   | 2        | 6        | 1
        ^YYY4HAB... | 1   | 1        | 8        | -1
        ^YYY4HAB... | 4   | 1        | 8        | 1
        """
    )


def test_deduplicate_without_instance_and_stateful(capsys):
    t = events()
    pw.debug.compute_and_print_update_stream(t.deduplicate(value=pw.this.val, acceptor=acceptor))
    first = capsys.readouterr().out
    t = events()
    pw.debug.compute_and_print_update_stream(pw.stateful.deduplicate(t, col=t.val, acceptor=acceptor))
    assert capsys.readouterr().out == first == dedent(
        """
                    | val | instance | __time__ | __diff__
        ^VFP4W1Z... | 1   | 1        | 2        | 1
        ^VFP4W1Z... | 1   | 1        | 6        | -1
        ^VFP4W1Z... | 3   | 2        | 6        | 1
        ^VFP4W1Z... | 3   | 2        | 10       | -1
        ^VFP4W1Z... | 5   | 1        | 10       | 1
        """
    )


def test_acceptor_failure_is_reported_and_the_run_goes_on():
    def picky(new, old):
        if new == 3:
            raise ValueError("three")
        return new > old

    t = T(
        """
        val | __time__
         1  |     2
         3  |     4
         5  |     6
        """
    )
    result = t.deduplicate(value=t.val, acceptor=picky)
    streams = pw.debug._capture([result, pw.global_error_log()], terminate_on_error=False)
    final = {}
    for key, values, _, diff in streams[0]:
        if diff > 0:
            final[key] = values
        elif final.get(key) == values:
            del final[key]
    assert list(final.values()) == [(5,)]
    messages = [values[1] for _, values, _, diff in streams[1] if diff > 0]
    assert len(messages) == 1 and "ValueError: three" in messages[0] and "acceptor" in messages[0]


def python_dedup(batches):
    accepted = {}
    for batch in batches:
        for inst, val in batch:
            if inst not in accepted or val >= accepted[inst] + 2:
                accepted[inst] = val
    return accepted


# One event per instance per commit, so the order within a commit does not matter.
BATCHES = st.lists(
    st.dictionaries(st.integers(0, 2), st.integers(0, 9), max_size=3).map(lambda d: sorted(d.items())),
    min_size=1,
    max_size=6,
)


@pytest.mark.parametrize("workers", [1, 2, 4])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=BATCHES)
def test_deduplicate_matches_python(workers, batches):
    lines = ["   | inst | val | __time__"]
    label = 0
    for i, batch in enumerate(batches):
        for inst, val in batch:
            label += 1
            lines.append(f"{label} | {inst} | {val} | {2 * (i + 1)}")
    t = T("\n".join(lines), schema=pw.schema_from_types(inst=int, val=int))
    r = t.deduplicate(value=t.val, instance=t.inst, acceptor=acceptor)
    got = {row.inst: row.val for row in pw.debug.table_to_pandas(r).itertuples()} if workers == 1 else _state(r, workers)
    assert got == python_dedup(batches)


def _state(table, workers):
    (stream,) = pw.debug._capture([table], threads=workers)
    state = {}
    for _key, values, _time, diff in stream:
        if diff > 0:
            state[values[0]] = values[1]
    return state
