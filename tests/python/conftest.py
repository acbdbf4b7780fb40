import os
import sys

import pytest

# The tests exercise the installed package, never the `python/` source folder.
_SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "python")
sys.path = [p for p in sys.path if os.path.abspath(p) != os.path.abspath(_SOURCE)]


@pytest.fixture(autouse=True)
def _release_objects():
    yield
    from deltaflow import _engine

    _engine.release_pending_objects()
