"""Column types: what a column holds, checked when a pipeline is built.

Every column has a dtype. Expressions compute their result dtype from their operands' dtypes
when the user writes them, so a type error (``int + str``, arithmetic on an Optional column)
is raised at the user's line, before anything runs. The names follow Pathway's (``INT``,
``Optional(INT)``, ``List(STR)`` ...).
"""

from __future__ import annotations

import datetime as _datetime
import types as _types
import typing
from typing import Any

import numpy as _np

from deltaflow.internals.values import Json as _Json


class DType:
    """A column type. Compare with ``==``; print for the name users see."""

    _name: str = "?"

    def __repr__(self) -> str:
        return self._name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DType) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def is_optional(self) -> bool:
        return False

    def strip_optional(self) -> DType:
        return self

    @property
    def typehint(self) -> Any:
        return Any


class _Simple(DType):
    def __init__(self, name: str, python_type: Any) -> None:
        self._name = name
        self._python_type = python_type

    @property
    def typehint(self) -> Any:
        return self._python_type


INT = _Simple("INT", int)
FLOAT = _Simple("FLOAT", float)
BOOL = _Simple("BOOL", bool)
STR = _Simple("STR", str)
BYTES = _Simple("BYTES", bytes)
JSON = _Simple("Json", _Json)
class _TimeType(DType):
    def __init__(self, name: str, cls_name: str) -> None:
        self._name = name
        self._cls_name = cls_name

    @property
    def typehint(self) -> Any:
        from deltaflow.internals import datetime_types

        return getattr(datetime_types, self._cls_name)


DATE_TIME_NAIVE = _TimeType("DATE_TIME_NAIVE", "DateTimeNaive")
DATE_TIME_UTC = _TimeType("DATE_TIME_UTC", "DateTimeUtc")
DURATION = _TimeType("DURATION", "Duration")
ANY = _Simple("ANY", Any)
NONE = _Simple("NONE", None)
ERROR = _Simple("ERROR", None)


class Pointer(DType):
    """The id type; Pathway writes it ``ANY_POINTER`` or ``Pointer(...)``."""

    def __init__(self, *args: DType) -> None:
        self.args = args
        self._name = "ANY_POINTER" if args == ("any",) else f"Pointer({', '.join(map(repr, args))})"

    @property
    def typehint(self) -> Any:
        from deltaflow import Pointer as _P

        return _P


ANY_POINTER = Pointer("any")  # type: ignore[arg-type]


class Optional(DType):
    def __new__(cls, wrapped: DType) -> DType:  # type: ignore[misc]
        if wrapped.is_optional() or wrapped in (ANY, NONE):
            return wrapped
        obj = super().__new__(cls)
        obj.wrapped = wrapped
        obj._name = f"Optional({wrapped!r})"
        return obj

    wrapped: DType

    def is_optional(self) -> bool:
        return True

    def strip_optional(self) -> DType:
        return self.wrapped

    @property
    def typehint(self) -> Any:
        hint = self.wrapped.typehint
        try:
            return hint | None
        except TypeError:
            return typing.Optional[hint]


class Tuple(DType):
    def __init__(self, *args: DType) -> None:
        self.args = args
        self._name = f"Tuple({', '.join(map(repr, args))})"

    @property
    def typehint(self) -> Any:
        return tuple[tuple(a.typehint for a in self.args)] if self.args else tuple


class List(DType):
    def __init__(self, arg: DType) -> None:
        self.arg = arg
        self._name = f"List({arg!r})"

    @property
    def typehint(self) -> Any:
        return list[self.arg.typehint]


ANY_TUPLE = List(ANY)


class Future(DType):
    """A column of a fully asynchronous function's results: ``Pending`` until each arrives.
    ``Table.await_futures()`` drops the pending rows and strips the wrapper."""

    def __init__(self, wrapped: DType) -> None:
        self.wrapped = wrapped
        self._name = f"Future({wrapped!r})"

    @property
    def typehint(self) -> Any:
        return self.wrapped.typehint


class Array(DType):
    def __init__(self, n_dim: int | None = None, wrapped: DType | None = None) -> None:
        self.n_dim = n_dim
        self.wrapped = wrapped
        self._name = "Array"

    @property
    def typehint(self) -> Any:
        return _np.ndarray


ANY_ARRAY = Array()


class Callable(DType):
    def __init__(self) -> None:
        self._name = "Callable"


def _is_pointer_type(t: Any) -> bool:
    from deltaflow import Pointer as _P

    return t is _P or getattr(t, "__origin__", None) is _P


def _resolve_annotation(text: str) -> Any:
    import builtins
    import datetime

    import deltaflow

    namespace = {**vars(typing), **vars(builtins), "pw": deltaflow, "pathway": deltaflow, "datetime": datetime, "np": _np}
    namespace.update({n: getattr(deltaflow, n) for n in ("Json", "Pointer", "DateTimeNaive", "DateTimeUtc", "Duration") if hasattr(deltaflow, n)})
    try:
        return eval(text, namespace)  # noqa: S307 - a type annotation the user wrote
    except Exception:
        raise TypeError(f"unsupported type hint {text!r}") from None


def wrap(t: Any) -> DType:
    """The dtype for a Python type hint (``int``, ``str | None``, ``tuple[int, str]``, ...)."""
    if isinstance(t, DType):
        return t
    if isinstance(t, str):
        # A postponed annotation (``from __future__ import annotations``): its text.
        t = _resolve_annotation(t)
    if t is None or t is type(None):
        return NONE
    if t is Any or t is typing.Any:
        return ANY
    if t is bool:
        return BOOL
    if t is int:
        return INT
    if t is float:
        return FLOAT
    if t is str:
        return STR
    if t is bytes:
        return BYTES
    if t is _Json or t is dict:
        return JSON
    if _is_pointer_type(t):
        return ANY_POINTER
    if t is _np.ndarray:
        return ANY_ARRAY
    from deltaflow.internals import datetime_types as _dtt

    if t is _dtt.DateTimeNaive or t is _datetime.datetime:
        return DATE_TIME_NAIVE
    if t is _dtt.DateTimeUtc:
        return DATE_TIME_UTC
    if t is _dtt.Duration or t is _datetime.timedelta:
        return DURATION
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Union or origin is _types.UnionType:
        non_none = [a for a in args if a is not type(None)]
        inner = wrap(non_none[0]) if len(non_none) == 1 else ANY
        return Optional(inner) if len(non_none) < len(args) else inner
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return List(wrap(args[0]))
        return Tuple(*(wrap(a) for a in args))
    if origin is list:
        return List(wrap(args[0]) if args else ANY)
    if t is tuple or t is list:
        return ANY_TUPLE
    if origin is _np.ndarray:
        return ANY_ARRAY
    if isinstance(t, type):
        return ANY
    raise TypeError(f"unsupported type hint {t!r}")


def of_value(value: Any) -> DType:
    """The dtype of a Python constant."""
    from deltaflow import Pointer as _P

    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, _np.integer)):
        return INT
    if isinstance(value, (float, _np.floating)):
        return FLOAT
    if isinstance(value, str):
        return STR
    if isinstance(value, bytes):
        return BYTES
    if isinstance(value, _P):
        return ANY_POINTER
    if isinstance(value, _Json):
        return JSON
    if isinstance(value, tuple):
        return Tuple(*(of_value(v) for v in value))
    if isinstance(value, list):
        return List(lub_all([of_value(v) for v in value]) if value else ANY)
    if isinstance(value, _np.ndarray):
        return ANY_ARRAY
    try:
        import pandas as _pd

        if isinstance(value, _pd.Timestamp):
            return DATE_TIME_UTC if value.tzinfo is not None else DATE_TIME_NAIVE
        if isinstance(value, _pd.Timedelta):
            return DURATION
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, _datetime.datetime):
        return DATE_TIME_UTC if value.tzinfo is not None else DATE_TIME_NAIVE
    if isinstance(value, _datetime.timedelta):
        return DURATION
    return ANY


def is_numeric(t: DType) -> bool:
    return t in (INT, FLOAT)


def lub(a: DType, b: DType) -> DType:
    """The least type holding values of both (``INT`` and ``FLOAT`` give ``FLOAT``)."""
    if a == b:
        return a
    if a == NONE:
        return Optional(b)
    if b == NONE:
        return Optional(a)
    if a == ERROR:
        return b
    if b == ERROR:
        return a
    optional = a.is_optional() or b.is_optional()
    sa, sb = a.strip_optional(), b.strip_optional()
    if sa == sb:
        result = sa
    elif {sa, sb} == {INT, FLOAT}:
        result = FLOAT
    elif isinstance(sa, Pointer) and isinstance(sb, Pointer):
        result = ANY_POINTER
    elif isinstance(sa, (Tuple, List)) and isinstance(sb, (Tuple, List)):
        result = ANY_TUPLE
    else:
        return ANY
    return Optional(result) if optional else result


def lub_all(types: list[DType]) -> DType:
    result = types[0]
    for t in types[1:]:
        result = lub(result, t)
    return result


def is_subtype(a: DType, b: DType) -> bool:
    """True when every value of ``a`` is a value of ``b``."""
    if a == b or b == ANY:
        return True
    if a == NONE:
        return b.is_optional()
    if b.is_optional():
        return is_subtype(a.strip_optional(), b.strip_optional())
    if a.is_optional():
        return False
    if isinstance(a, Pointer) and isinstance(b, Pointer):
        return True
    if isinstance(b, List) and isinstance(a, (Tuple, List)):
        items = a.args if isinstance(a, Tuple) else (a.arg,)
        return all(is_subtype(x, b.arg) for x in items)
    if isinstance(a, Array) and isinstance(b, Array):
        return True
    return False
