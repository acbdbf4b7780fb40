"""Json values as Pathway documents them: indexing, ``get`` with defaults, ``as_*``
conversions, Json in schemas, from user functions and in flatten; rows holding Json print
in the order Pathway prints them."""

from __future__ import annotations

import textwrap

import pytest

import deltaflow as pw


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def test_json_access_conversions_and_flatten(capsys):
    class InputSchema(pw.Schema):
        data: pw.Json
    t = pw.debug.table_from_rows(InputSchema, [(pw.Json({"a": 1, "b": {"c": [1, 2, "x"]}, "f": 1.5, "s": "hi", "t": True, "n": None}),), (pw.Json({"a": 2, "b": {"c": []}, "f": 2, "s": "yo", "t": False}),)])
    r = t.select(a=t.data["a"], c=t.data["b"]["c"], c0=t.data["b"]["c"].get(0), g=t.data.get("zz"), gd=t.data.get("zz", default=pw.Json(5)),
                 ai=t.data["a"].as_int(), ff=t.data["f"].as_float(), ss=t.data["s"].as_str(), tb=t.data["t"].as_bool(), nn=t.data.get("n"))
    pw.debug.compute_and_print(r, include_id=False)
    pw.debug.compute_and_print(t.select(x=pw.unwrap(pw.this.data["a"].as_int()) + 1), include_id=False)
    @pw.udf
    def mk(a: int) -> pw.Json:
        return pw.Json({"l": [a, a], "v": a})
    u = t.select(j=mk(pw.this.data["a"].as_int()))
    pw.debug.compute_and_print(u, include_id=False)
    pw.debug.compute_and_print(u.select(v=u.j["l"][1].as_int()), include_id=False)
    pw.debug.compute_and_print(t.select(j=pw.this.data["b"]).flatten(pw.this.j) if False else t.select(c=pw.this.data["b"]["c"]).flatten(pw.this.c), include_id=False)
    print(u.schema)
    assert capsys.readouterr().out == dedent(
        """
        a | c           | c0 | g | gd | ai | ff  | ss | tb    | nn
        1 | [1, 2, "x"] | 1  |   | 5  | 1  | 1.5 | hi | True  | null
        2 | []          |    |   | 5  | 2  | 2.0 | yo | False |
        x
        2
        3
        j
        {"l": [1, 1], "v": 1}
        {"l": [2, 2], "v": 2}
        v
        1
        2
        c
        "x"
        1
        2
        id          | j
        ANY_POINTER | Json
        """
    )


def test_json_errors():
    class S(pw.Schema):
        data: pw.Json

    t = pw.debug.table_from_rows(S, [(pw.Json({"a": "x"}),), (pw.Json([1]),)])
    with pytest.raises(Exception, match="Json value has no member"):
        pw.debug.compute_and_print(t.select(v=t.data["missing"]))
    with pytest.raises(Exception, match="not an array"):
        pw.debug.compute_and_print(t.select(v=t.data).flatten(pw.this.v))
    with pytest.raises(TypeError, match="operator add"):
        t.select(v=t.data.as_int() + 1)  # as_int() is Optional: unwrap first


def test_objects_keep_the_field_order_they_were_written_in(tmp_path, capsys):
    (tmp_path / "in.jsonl").write_text('{"data": {"z": 1, "a": [2, {"y": 3, "b": 4}], "z": 5}}\n')

    class S(pw.Schema):
        data: pw.Json

    t = pw.io.jsonlines.read(tmp_path / "in.jsonl", schema=S, mode="static")
    t = t.select(data=pw.this.data, inner=pw.this.data["a"][1])
    pw.io.jsonlines.write(t, tmp_path / "out.jsonl")
    pw.debug.compute_and_print(t, include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        data                                 | inner
        {"z": 5, "a": [2, {"y": 3, "b": 4}]} | {"y": 3, "b": 4}
        """
    )
    pw.run()
    written = (tmp_path / "out.jsonl").read_text()
    assert written.startswith('{"data":{"z":5,"a":[2,{"y":3,"b":4}]},"inner":{"y":3,"b":4},')


def test_json_keeps_non_ascii_characters_as_they_are(tmp_path, capsys):
    """As Pathway prints and writes Json: "zażółć", not "za\\u017c\\u00f3\\u0142\\u0107"."""
    t = pw.debug.table_from_markdown("s\nzażółć").select(j=pw.apply_with_type(lambda s: pw.Json({"k": s}), pw.Json, pw.this.s))
    pw.debug.compute_and_print(t, include_id=False)
    assert '{"k": "zażółć"}' in capsys.readouterr().out
    assert str(pw.Json({"k": "ß"})) == '{"k": "ß"}'
    pw.io.jsonlines.write(t, tmp_path / "out.jsonl")
    pw.run()
    assert '"zażółć"' in (tmp_path / "out.jsonl").read_text(encoding="utf-8")
