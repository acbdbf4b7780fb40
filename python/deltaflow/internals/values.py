"""Python-side value types that rows can hold: Json, the Error value and wrapped objects."""

from __future__ import annotations

import json as _json
from typing import Any


class Json:
    """A JSON value (null, bool, number, string, array or object) stored in a table cell.

    deltaflow stores JSON compactly: whitespace is dropped and object fields keep the order
    they were written in, which is the order they print in. In a table, two Json values are
    the same value when their text is the same, so objects with the same fields in another
    order group apart; in Python, ``==`` compares the data, as for dicts.
    """

    __slots__ = ("_value",)

    NULL: Json

    def __init__(self, value: Any) -> None:
        if isinstance(value, Json):
            value = value._value
        self._value = value

    @property
    def value(self) -> Any:
        return self._value

    @classmethod
    def parse(cls, text: str | bytes) -> Json:
        return cls(_json.loads(text))

    @staticmethod
    def dumps(value: Any) -> str:
        if isinstance(value, Json):
            value = value._value
        return _json.dumps(value, sort_keys=True, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Json):
            return self.dumps(self._value) == self.dumps(other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dumps(self._value))

    def __getitem__(self, key: int | str) -> Json:
        return Json(self._value[key])

    def __iter__(self):
        if isinstance(self._value, dict):
            return iter(self._value)
        if isinstance(self._value, list):
            return (Json(v) for v in self._value)
        raise TypeError(f"Json {self} is not iterable")

    def __len__(self) -> int:
        if isinstance(self._value, (list, dict, str)):
            return len(self._value)
        raise TypeError(f"Json {self} has no length")

    def __str__(self) -> str:
        return _json.dumps(self._value, ensure_ascii=False)

    def __repr__(self) -> str:
        return f"pw.Json({self._value!r})"

    def _as(self, kind: type, name: str) -> Any:
        value = self._value
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, bool):
            raise ValueError(f"Json {self} is a bool, not an int")
        if value is None:
            return None
        if not isinstance(value, kind):
            raise ValueError(f"Json {self} is not {name}")
        return value

    def as_int(self) -> int | None:
        return self._as(int, "an int")

    def as_float(self) -> float | None:
        return self._as(float, "a float")

    def as_str(self) -> str | None:
        return self._as(str, "a str")

    def as_bool(self) -> bool | None:
        return self._as(bool, "a bool")

    def as_list(self) -> list | None:
        return self._as(list, "a list")

    def as_dict(self) -> dict | None:
        return self._as(dict, "a dict")


Json.NULL = Json(None)


class ErrorValue:
    """The value of a cell whose computation failed (see ``global_error_log``).

    There is one instance, ``deltaflow.ERROR``.
    """

    _instance: ErrorValue | None = None

    def __new__(cls) -> ErrorValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Error"

    def __reduce__(self):
        return (ErrorValue, ())


ERROR = ErrorValue()


class PyObjectWrapper:
    """An arbitrary Python object carried through a pipeline as an opaque value.

    Rows compare wrapped objects by their pickled form, so the object should be picklable;
    an unpicklable object is equal only to itself and its id is stable only within one process.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PyObjectWrapper):
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(id(self.value))

    def __repr__(self) -> str:
        return f"PyObjectWrapper({self.value!r})"


class Pending(PyObjectWrapper):
    """The value of a fully asynchronous function's call that has not returned yet. There is
    one instance, ``deltaflow.PENDING``; it prints as ``Pending``."""

    _instance: Pending | None = None

    def __new__(cls) -> Pending:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance.value = None
        return cls._instance

    def __init__(self) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return hash("deltaflow.Pending")

    def __repr__(self) -> str:
        return "Pending"

    def __reduce__(self):
        return (Pending, ())


PENDING = Pending()


def wrap_py_object(value: Any) -> PyObjectWrapper:
    """Wraps ``value`` so that a table cell can hold it."""
    return PyObjectWrapper(value)
