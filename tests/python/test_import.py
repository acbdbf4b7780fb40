"""Importing the package, with and without its compiled engine."""

import os
import subprocess
import sys
import textwrap


def test_import_exposes_the_engine():
    import deltaflow

    assert deltaflow._engine.__name__ == "deltaflow._engine"
    assert deltaflow.__version__


def test_missing_extension_gives_a_helpful_message(tmp_path):
    # A copy of the pure-Python package without the compiled module, first on sys.path.
    source = os.path.join(os.path.dirname(__file__), "..", "..", "python", "deltaflow")
    target = tmp_path / "deltaflow"
    target.mkdir()
    with open(os.path.join(source, "__init__.py")) as f:
        (target / "__init__.py").write_text(f.read())
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            import deltaflow
        except ImportError as e:
            print(e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "compiled engine (deltaflow._engine) could not be loaded" in out
    assert "pip install ." in out


def test_features_of_later_issues_raise_not_implemented():
    import pytest

    import deltaflow as pw

    t = pw.debug.table_from_markdown("a\n1")
    for call in (
        lambda: pw.io.mongodb.write(t, {}, "table"),
        lambda: pw.io.kafka.read({"bootstrap.servers": "x"}, "t", schema_registry_settings=object()),
    ):
        with pytest.raises(NotImplementedError):
            call()
