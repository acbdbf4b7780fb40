"""Pathway keeps its testing helpers in ``pathway.tests.utils``; deltaflow's live in
``deltaflow.testing`` and are re-exported here so Pathway test suites run unchanged."""
