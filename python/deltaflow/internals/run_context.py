"""State of the run in progress, read by user-function wrappers on worker threads."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_terminate_on_error = True
_errors: list[tuple[str, str]] = []
_exceptions: dict[str, BaseException] = {}


def begin(terminate_on_error: bool) -> None:
    global _terminate_on_error
    with _lock:
        _terminate_on_error = terminate_on_error
        _errors.clear()
        _exceptions.clear()


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


def remember_exception(message: str, error: BaseException) -> None:
    """Keeps the first exception behind a failure message, to re-raise it if the run stops."""
    with _lock:
        if message not in _exceptions and len(_exceptions) < 100:
            _exceptions[message] = error


def exception_for(text: str) -> BaseException | None:
    with _lock:
        for message, error in _exceptions.items():
            if message in text:
                return error
    return None
