"""Values through the engine's canonical row encoding, as a user of the Python package sees them."""

import datetime
import math
import pickle
import subprocess
import sys
import gc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaflow as pw
from deltaflow import _engine


def roundtrip(*values):
    return _engine.Row(values).values()


def test_scalars_round_trip():
    values = (None, True, False, 0, -1, 2**63 - 1, -(2**63), 1.5, "", "héllo", b"", b"\x00\xff")
    assert roundtrip(*values) == values
    for out, expected in zip(roundtrip(*values), values):
        assert type(out) is type(expected)


def test_bool_is_not_int():
    assert roundtrip(True, 1) == (True, 1)
    assert type(roundtrip(True)[0]) is bool
    assert _engine.ref_scalar(True) != _engine.ref_scalar(1)


def test_lists_and_tuples_become_tuples():
    assert roundtrip([1, [2, "x"], ()]) == ((1, (2, "x"), ()),)


def test_int_and_float_arrays():
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    floats = np.linspace(0, 1, 5)
    out_ints, out_floats = roundtrip(ints, floats)
    assert out_ints.dtype == np.int64 and out_ints.shape == (3, 4)
    assert (out_ints == ints).all()
    assert out_floats.dtype == np.float64
    assert (out_floats == floats).all()


def test_numpy_scalars_become_plain_values():
    assert roundtrip(np.int64(5), np.float32(0.5), np.bool_(True)) == (5, 0.5, True)


def test_datetimes_and_durations_keep_nanoseconds():
    naive = pd.Timestamp("2024-03-10 02:30:00.123456789")
    aware = pd.Timestamp("2024-03-10 02:30:00.5", tz="Europe/Warsaw")
    py_naive = datetime.datetime(2020, 1, 2, 3, 4, 5, 6)
    delta = pd.Timedelta(nanoseconds=1_000_000_001)
    out = roundtrip(naive, aware, py_naive, delta, datetime.timedelta(days=-1))
    assert out[0] == naive and out[0].tzinfo is None
    assert out[1] == aware and str(out[1].tzinfo) == "UTC"
    assert out[2] == pd.Timestamp(py_naive)
    assert out[3] == delta
    assert out[4] == pd.Timedelta(days=-1)


def test_json_keeps_field_order():
    a = pw.Json({"b": 1, "a": [True, None, 1.5]})
    b = pw.Json({"a": [True, None, 1.5], "b": 1})
    assert a == b  # in Python, the data compares, as for dicts
    assert _engine.Row([a]) != _engine.Row([b])  # in a table, the text does
    assert _engine.Row([a]) == _engine.Row([pw.Json.parse('{ "b": 1, "a": [true, null, 1.5] }')])
    (out,) = roundtrip(a)
    assert isinstance(out, pw.Json)
    assert list(out.value) == ["b", "a"]
    assert str(out) == '{"b": 1, "a": [true, null, 1.5]}'
    assert out["a"][2].as_float() == 1.5
    assert _engine.Row([pw.Json(1)]) != _engine.Row([pw.Json(1.0)])


def test_float_canonical_forms():
    assert _engine.Row([-0.0]) == _engine.Row([0.0])
    assert math.copysign(1, roundtrip(-0.0)[0]) == 1
    assert _engine.Row([float("nan")]).to_bytes() == _engine.Row([-float("nan")]).to_bytes()
    assert _engine.Row([float("nan")]) > _engine.Row([float("inf")])


def test_error_value():
    assert roundtrip(pw.ERROR) == (pw.ERROR,)
    assert roundtrip(pw.ERROR)[0] is pw.ERROR


def test_pointer_values():
    p = _engine.ref_scalar("alice", 1)
    assert isinstance(p, pw.Pointer)
    assert str(p).startswith("^") and len(str(p)) == 27
    assert pw.Pointer(str(p)) == p
    assert roundtrip(p) == (p,)
    assert pickle.loads(pickle.dumps(p)) == p
    assert {p: 1}[_engine.ref_scalar("alice", 1)] == 1
    assert sorted([p, _engine.ref_scalar(2)]) == sorted([_engine.ref_scalar(2), p])
    with pytest.raises(ValueError, match="not a pointer"):
        pw.Pointer("nonsense")


def test_python_objects_are_carried_and_released():
    class Payload:
        def __init__(self, n):
            self.n = n

        def __eq__(self, other):
            return isinstance(other, Payload) and other.n == self.n

    inner = Payload(3)
    wrapped = pw.wrap_py_object(inner)
    refs_before = sys.getrefcount(wrapped)
    row = _engine.Row([1, (wrapped, "x")])
    (one, (out, x)) = row.values()
    assert out is wrapped and out.value is inner and x == "x"
    assert sys.getrefcount(wrapped) > refs_before
    with pytest.raises(ValueError, match="no portable bytes"):
        row.to_bytes()
    del row, out
    gc.collect()
    _engine.release_pending_objects()
    assert sys.getrefcount(wrapped) == refs_before


def test_equal_objects_share_a_handle():
    a = pw.wrap_py_object({"k": [1, 2]})
    b = pw.wrap_py_object({"k": [1, 2]})
    assert _engine.Row([a]) == _engine.Row([b])
    assert _engine.Row([a]).key() == _engine.Row([b]).key()


def test_unsupported_values_raise_clear_errors():
    with pytest.raises(TypeError, match=r"value 1: deltaflow cannot store a value of type object"):
        _engine.Row([1, object()])
    with pytest.raises(ValueError, match="does not fit in 64 bits"):
        _engine.Row([2**64])
    with pytest.raises(ValueError, match="dtype"):
        _engine.Row([np.array(["a", "b"])])
    with pytest.raises(ValueError, match="not serializable"):
        _engine.Row([pw.Json({1, 2})])


def test_from_bytes_validates():
    row = _engine.Row([1, "a", (2.5, None)])
    assert _engine.Row.from_bytes(row.to_bytes()) == row
    data = row.to_bytes()
    with pytest.raises(ValueError, match="invalid row encoding"):
        _engine.Row.from_bytes(data[:-1])
    with pytest.raises(ValueError, match="invalid row encoding"):
        _engine.Row.from_bytes(b"")


def test_ids_are_stable_across_processes():
    values = ("alice", 7, 2.5, None, (1, "x"), b"\x01")
    here = str(_engine.ref_scalar(*values))
    code = (
        "from deltaflow import _engine;"
        f"print(_engine.ref_scalar(*{values!r}))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there
    # Pinned: ids must never change between releases (they are persisted).
    assert str(_engine.ref_scalar(1, "a")) == str(_engine.Row([1, "a"]).key())


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
)
values = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.tuples(inner), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, max_size=5))
def test_any_values_round_trip(vals):
    row = _engine.Row(vals)
    assert row.values() == tuple(
        _normalise(v) for v in vals
    )
    assert _engine.Row.from_bytes(row.to_bytes()) == row


def _normalise(v):
    if isinstance(v, float) and v == 0.0:
        return 0.0
    if isinstance(v, (list, tuple)):
        return tuple(_normalise(x) for x in v)
    return v


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1)), st.lists(st.text()))
def test_order_matches_python_order_within_a_kind(ints, texts):
    assert sorted(_engine.Row([i]) for i in ints) == [_engine.Row([i]) for i in sorted(ints)]
    by_engine = [r.values()[0] for r in sorted(_engine.Row([t]) for t in texts)]
    assert by_engine == sorted(texts, key=lambda t: t.encode("utf-8"))
