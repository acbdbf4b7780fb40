"""State of the run in progress, read by user-function wrappers on worker threads."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_terminate_on_error = True
_errors: list[tuple[str, str]] = []


def begin(terminate_on_error: bool) -> None:
    global _terminate_on_error
    with _lock:
        _terminate_on_error = terminate_on_error
        _errors.clear()


def terminate_on_error() -> bool:
    return _terminate_on_error


def log_error(operation: str, message: str) -> None:
    with _lock:
        _errors.append((operation, message))


def take_errors() -> list[tuple[str, str]]:
    with _lock:
        errors = list(_errors)
        _errors.clear()
        return errors
