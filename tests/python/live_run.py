"""Helpers for tests of live pipelines: a run in a background thread, stopped on request, and
waiting for a condition the pipeline should reach."""

from __future__ import annotations

import threading
import time

import deltaflow as pw


def wait_for(condition, timeout: float = 30.0) -> None:
    """Returns once `condition()` holds; fails after `timeout` seconds."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def run_in_background(**kwargs) -> threading.Thread:
    """`pw.run(**kwargs)` in a thread; what it raises is kept in the thread's `errors`."""
    errors: list = []

    def target():
        try:
            pw.run(**kwargs)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    thread = threading.Thread(target=target)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def stop(thread: threading.Thread) -> None:
    """Stops the run of `thread` and checks that it ended cleanly."""
    from deltaflow.internals.run import request_stop

    request_stop()
    thread.join(30)
    assert not thread.is_alive()
    assert not thread.errors, thread.errors  # type: ignore[attr-defined]
