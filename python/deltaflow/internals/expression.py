"""Column expressions: what users write inside ``select``, ``filter``, ``reduce`` ...

An expression is a tree of Python objects (column references, constants, operations). When
a table operation receives it, the expression is *compiled* against the operation's input
layout: its dtype is computed (raising ``TypeError`` for unsupported operand types at the
user's line) and it is turned into the nested tuples the engine evaluates in C++. User
functions (``apply``/``udf``) are lifted out of the tree into batched engine nodes, so no
Python runs per row except inside them.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Any, Callable, Iterator

from deltaflow.internals import dtype as dt

if TYPE_CHECKING:  # pragma: no cover
    from deltaflow.internals.table import Layout


_OPERATOR_NAMES = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "truediv": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
    "and": "&",
    "or": "|",
    "xor": "^",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
}


def _wrap(value: Any) -> ColumnExpression:
    if isinstance(value, ColumnExpression):
        return value
    if isinstance(value, (ThisPlaceholder,)):
        raise TypeError("pw.this cannot be used as a value; use pw.this.<column>")
    return ConstExpression(value)


class ColumnExpression:
    """Base of every expression. Operators build new expressions; nothing is evaluated."""

    def __add__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("add", self, _wrap(other))

    def __radd__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("add", _wrap(other), self)

    def __sub__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("sub", self, _wrap(other))

    def __rsub__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("sub", _wrap(other), self)

    def __mul__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("mul", self, _wrap(other))

    def __rmul__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("mul", _wrap(other), self)

    def __truediv__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("truediv", self, _wrap(other))

    def __rtruediv__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("truediv", _wrap(other), self)

    def __floordiv__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("floordiv", self, _wrap(other))

    def __rfloordiv__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("floordiv", _wrap(other), self)

    def __mod__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("mod", self, _wrap(other))

    def __rmod__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("mod", _wrap(other), self)

    def __pow__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("pow", self, _wrap(other))

    def __rpow__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("pow", _wrap(other), self)

    def __and__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("and", self, _wrap(other))

    def __rand__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("and", _wrap(other), self)

    def __or__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("or", self, _wrap(other))

    def __ror__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("or", _wrap(other), self)

    def __xor__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("xor", self, _wrap(other))

    def __rxor__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("xor", _wrap(other), self)

    def __eq__(self, other: Any) -> ColumnExpression:  # type: ignore[override]
        return BinaryExpression("eq", self, _wrap(other))

    def __ne__(self, other: Any) -> ColumnExpression:  # type: ignore[override]
        return BinaryExpression("ne", self, _wrap(other))

    def __lt__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("lt", self, _wrap(other))

    def __le__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("le", self, _wrap(other))

    def __gt__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("gt", self, _wrap(other))

    def __ge__(self, other: Any) -> ColumnExpression:
        return BinaryExpression("ge", self, _wrap(other))

    def __neg__(self) -> ColumnExpression:
        return UnaryExpression("neg", self)

    def __invert__(self) -> ColumnExpression:
        return UnaryExpression("invert", self)

    def __abs__(self) -> ColumnExpression:
        return UnaryExpression("abs", self)

    def __bool__(self) -> bool:
        raise RuntimeError(
            "a column expression has no truth value while the pipeline is built; use & | ~ "
            "instead of and/or/not, and pw.if_else instead of if"
        )

    __hash__ = object.__hash__

    def __getitem__(self, index: Any) -> ColumnExpression:
        return GetExpression(self, _wrap(index), None, checked=True)

    def get(self, index: Any, default: Any = None) -> ColumnExpression:
        return GetExpression(self, _wrap(index), _wrap(default), checked=False)

    def is_none(self) -> ColumnExpression:
        return UnaryExpression("is_none", self)

    def is_not_none(self) -> ColumnExpression:
        return UnaryExpression("is_not_none", self)

    def to_string(self) -> ColumnExpression:
        return UnaryExpression("to_string", self)

    def as_int(self, *, unwrap: bool = False) -> ColumnExpression:
        return _json_convert(self, "as_int", dt.INT, unwrap)

    def as_float(self, *, unwrap: bool = False) -> ColumnExpression:
        return _json_convert(self, "as_float", dt.FLOAT, unwrap)

    def as_str(self, *, unwrap: bool = False) -> ColumnExpression:
        return _json_convert(self, "as_str", dt.STR, unwrap)

    def as_bool(self, *, unwrap: bool = False) -> ColumnExpression:
        return _json_convert(self, "as_bool", dt.BOOL, unwrap)

    @property
    def str(self) -> StringNamespace:
        return StringNamespace(self)

    @property
    def num(self) -> NumericalNamespace:
        return NumericalNamespace(self)

    @property
    def dt(self) -> DateTimeNamespace:
        return DateTimeNamespace(self)

    # --- compilation (overridden) ---------------------------------------------------------
    def _children(self) -> list[ColumnExpression]:
        return []

    def _dtype(self, layout: Layout) -> dt.DType:
        raise NotImplementedError

    def _compile(self, layout: Layout) -> tuple:
        raise NotImplementedError

    def _text(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return self._text()

    def _references(self) -> Iterator[ColumnReference]:
        for child in self._children():
            yield from child._references()

    def _contains(self, kind: type) -> bool:
        return isinstance(self, kind) or any(c._contains(kind) for c in self._children())


class ColumnReference(ColumnExpression):
    """``table.name``: a column of a table, or of ``pw.this``/``pw.left``/``pw.right``."""

    def __init__(self, table: Any, name: str) -> None:
        self._table = table
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def table(self) -> Any:
        return self._table

    def _references(self) -> Iterator[ColumnReference]:
        yield self

    def _dtype(self, layout: Layout) -> dt.DType:
        return layout.resolve(self)[1]

    def _compile(self, layout: Layout) -> tuple:
        index, _ = layout.resolve(self)
        if index == "id":
            return ("id", self._text())
        return ("column", index, self._text())

    def _text(self) -> str:
        owner = getattr(self._table, "_display_name", None) or "table"
        return f"{owner}.{self._name}"


class ConstExpression(ColumnExpression):
    def __init__(self, value: Any) -> None:
        self._value = value

    def _dtype(self, layout: Layout) -> dt.DType:
        return dt.of_value(self._value)

    def _compile(self, layout: Layout) -> tuple:
        return ("const", self._value, repr(self._value))

    def _text(self) -> str:
        return repr(self._value)


def _type_name(t: dt.DType) -> str:
    hint = t.typehint
    if hint is None or hint is Any:
        return repr(t)
    return repr(hint)


def _binary_dtype(op: str, a: dt.DType, b: dt.DType) -> dt.DType | None:
    """The result dtype of ``a op b``, or None when the operation is not supported."""
    comparisons = {"eq", "ne", "lt", "le", "gt", "ge"}
    if op in ("eq", "ne"):
        sa, sb = a.strip_optional(), b.strip_optional()
        simple = (dt.INT, dt.FLOAT, dt.BOOL, dt.STR, dt.BYTES)
        if sa in simple and sb in simple and sa != sb and not (dt.is_numeric(sa) and dt.is_numeric(sb)):
            return None
        return dt.BOOL
    if a == dt.ANY or b == dt.ANY:
        return dt.BOOL if op in comparisons else dt.ANY
    if a.is_optional() or b.is_optional() or a == dt.NONE or b == dt.NONE:
        return None
    if op in comparisons:
        if dt.is_numeric(a) and dt.is_numeric(b):
            return dt.BOOL
        if a == b or (isinstance(a, dt.Pointer) and isinstance(b, dt.Pointer)):
            return dt.BOOL
        if isinstance(a, (dt.Tuple, dt.List)) and isinstance(b, (dt.Tuple, dt.List)):
            return dt.BOOL
        return None
    if a == dt.INT and b == dt.INT:
        return dt.FLOAT if op == "truediv" else dt.INT
    if dt.is_numeric(a) and dt.is_numeric(b) and op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
        return dt.FLOAT
    if a == dt.BOOL and b == dt.BOOL and op in ("and", "or", "xor"):
        return dt.BOOL
    if a == dt.STR and b == dt.STR and op == "add":
        return dt.STR
    if op == "mul" and {a, b} == {dt.STR, dt.INT}:
        return dt.STR
    if a == dt.BYTES and b == dt.BYTES and op == "add":
        return dt.BYTES
    if isinstance(a, (dt.Tuple, dt.List)) and isinstance(b, (dt.Tuple, dt.List)) and op == "add":
        if isinstance(a, dt.Tuple) and isinstance(b, dt.Tuple):
            return dt.Tuple(*a.args, *b.args)
        return dt.ANY_TUPLE
    times = (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC)
    if a in times and a == b and op == "sub":
        return dt.DURATION
    if a in times and b == dt.DURATION and op in ("add", "sub"):
        return a
    if a == dt.DURATION and b in times and op == "add":
        return b
    if a == dt.DURATION and b == dt.DURATION:
        return {"add": dt.DURATION, "sub": dt.DURATION, "truediv": dt.FLOAT, "floordiv": dt.INT, "mod": dt.DURATION}.get(op)
    if a == dt.DURATION and dt.is_numeric(b) and op in ("mul", "truediv", "floordiv"):
        if op == "floordiv" and b != dt.INT:
            return None
        return dt.DURATION
    if dt.is_numeric(a) and b == dt.DURATION and op == "mul":
        return dt.DURATION
    if isinstance(a, dt.Array) or isinstance(b, dt.Array):
        return dt.ANY_ARRAY
    return None


class BinaryExpression(ColumnExpression):
    def __init__(self, op: str, left: ColumnExpression, right: ColumnExpression) -> None:
        self._op = op
        self._left = left
        self._right = right

    def _children(self) -> list[ColumnExpression]:
        return [self._left, self._right]

    def _dtype(self, layout: Layout) -> dt.DType:
        a = self._left._dtype(layout)
        b = self._right._dtype(layout)
        result = _binary_dtype(self._op, a, b)
        if result is None:
            raise TypeError(
                f"deltaflow does not support using binary operator {self._op} on columns of types "
                f"{_type_name(a)}, {_type_name(b)}. (in `{self._text()}`)"
            )
        return result

    def _compile(self, layout: Layout) -> tuple:
        self._dtype(layout)
        return (self._op, [self._left._compile(layout), self._right._compile(layout)], self._text())

    def _text(self) -> str:
        return f"({self._left._text()} {_OPERATOR_NAMES[self._op]} {self._right._text()})"


_UNARY_SYMBOL = {"neg": "-", "invert": "~", "abs": "abs"}


class UnaryExpression(ColumnExpression):
    def __init__(self, op: str, arg: ColumnExpression) -> None:
        self._op = op
        self._arg = arg

    def _children(self) -> list[ColumnExpression]:
        return [self._arg]

    def _dtype(self, layout: Layout) -> dt.DType:
        a = self._arg._dtype(layout)
        op = self._op
        if op in ("is_none", "is_not_none"):
            return dt.BOOL
        if op == "to_string":
            return dt.STR
        if a == dt.ANY:
            return dt.ANY
        if op == "neg" and a in (dt.INT, dt.FLOAT, dt.DURATION):
            return a
        if op == "invert" and a == dt.BOOL:
            return dt.BOOL
        if op == "abs" and a in (dt.INT, dt.FLOAT, dt.DURATION):
            return a
        raise TypeError(
            f"deltaflow does not support using unary operator {_UNARY_SYMBOL.get(op, op)} on "
            f"column of type {_type_name(a)}. (in `{self._text()}`)"
        )

    def _compile(self, layout: Layout) -> tuple:
        self._dtype(layout)
        op = "not" if self._op == "invert" and self._arg._dtype(layout) == dt.BOOL else self._op
        return (op, [self._arg._compile(layout)], self._text())

    def _text(self) -> str:
        if self._op in _UNARY_SYMBOL:
            return f"{_UNARY_SYMBOL[self._op]}{self._arg._text()}"
        return f"{self._arg._text()}.{self._op}()"


class CallExpression(ColumnExpression):
    """An engine operation with a dtype rule: ``fn(args dtypes) -> dtype``."""

    def __init__(
        self,
        op: str,
        args: list[ColumnExpression],
        result: Callable[[list[dt.DType]], dt.DType],
        text: str,
    ) -> None:
        self._op = op
        self._args = args
        self._result = result
        self._text_value = text

    def _children(self) -> list[ColumnExpression]:
        return list(self._args)

    def _dtype(self, layout: Layout) -> dt.DType:
        return self._result([a._dtype(layout) for a in self._args])

    def _compile(self, layout: Layout) -> tuple:
        self._dtype(layout)
        return (self._op, [a._compile(layout) for a in self._args], self._text_value)

    def _text(self) -> str:
        return self._text_value


def _json_convert(expr: ColumnExpression, op: str, result: dt.DType, unwrap: bool) -> ColumnExpression:
    def rule(types: list[dt.DType]) -> dt.DType:
        t = types[0].strip_optional()
        if t not in (dt.JSON, dt.ANY):
            raise TypeError(f"{op}() needs a Json column, got {types[0]!r}")
        return result if unwrap else dt.Optional(result)

    converted = CallExpression(op, [expr], rule, f"{expr._text()}.{op}()")
    if unwrap:
        return CallExpression("unwrap", [converted], lambda ts: result, f"{expr._text()}.{op}(unwrap=True)")
    return converted


class GetExpression(ColumnExpression):
    def __init__(self, container: ColumnExpression, index: ColumnExpression, default: ColumnExpression | None, checked: bool) -> None:
        self._container = container
        self._index = index
        self._default = default
        self._checked = checked

    def _children(self) -> list[ColumnExpression]:
        return [self._container, self._index] + ([self._default] if self._default is not None else [])

    def _dtype(self, layout: Layout) -> dt.DType:
        c = self._container._dtype(layout)
        base = c.strip_optional()
        if base == dt.JSON:
            return dt.JSON if self._checked or self._default is None else dt.JSON
        if isinstance(base, dt.Tuple):
            index = self._index
            if isinstance(index, ConstExpression) and isinstance(index._value, int):
                i = index._value
                if -len(base.args) <= i < len(base.args):
                    item = base.args[i]
                    if not self._checked and self._default is not None and self._default._dtype(layout) != dt.NONE:
                        return dt.lub(item, self._default._dtype(layout))
                    return item
                if self._checked:
                    raise IndexError(f"index {i} out of range for a column of type {c!r}")
                return self._default._dtype(layout) if self._default is not None else dt.NONE
            return dt.lub_all(list(base.args)) if base.args else dt.ANY
        if isinstance(base, dt.List):
            item = base.arg
            if not self._checked:
                return dt.lub(item, self._default._dtype(layout) if self._default is not None else dt.NONE)
            return item
        if base == dt.STR:
            return dt.STR
        if base == dt.ANY:
            return dt.ANY
        raise TypeError(f"cannot index a column of type {c!r} (in `{self._text()}`)")

    def _compile(self, layout: Layout) -> tuple:
        self._dtype(layout)
        args = [self._container._compile(layout), self._index._compile(layout)]
        if self._checked:
            return ("get_item", args, self._text())
        default = self._default if self._default is not None else ConstExpression(None)
        return ("get_or", args + [default._compile(layout)], self._text())

    def _text(self) -> str:
        if self._checked:
            return f"{self._container._text()}[{self._index._text()}]"
        return f"{self._container._text()}.get({self._index._text()})"


# --- functions on expressions (pw.if_else, pw.coalesce, ...) ---------------------------


class _NarrowedLayout:
    """A layout in which the given column references are known not to be None (inside
    ``pw.require(value, *args)``, or the branch of an ``if_else`` on ``is_none``)."""

    def __init__(self, layout: Any, refs: list[ColumnReference]) -> None:
        self._layout = layout
        self._refs = [(r.table, r.name) for r in refs]

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        index, t = self._layout.resolve(ref)
        for table, name in self._refs:
            same_table = ref.table is table or isinstance(table, ThisPlaceholder) or isinstance(ref.table, ThisPlaceholder)
            # Requiring a side's id (of an outer join) requires that side's row: all its cells.
            if same_table and (ref.name == name or (name == "id" and not isinstance(table, ThisPlaceholder))):
                return index, t.strip_optional()
        return index, t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layout, name)


class _Narrowing(ColumnExpression):
    """Evaluates ``expr`` with ``refs`` treated as non-optional."""

    def __init__(self, expr: ColumnExpression, refs: list[ColumnReference]) -> None:
        self._expr = expr
        self._refs = refs

    def _children(self) -> list[ColumnExpression]:
        return [self._expr]

    def _dtype(self, layout: Layout) -> dt.DType:
        return self._expr._dtype(_NarrowedLayout(layout, self._refs))  # type: ignore[arg-type]

    def _compile(self, layout: Layout) -> tuple:
        return self._expr._compile(_NarrowedLayout(layout, self._refs))  # type: ignore[arg-type]

    def _text(self) -> str:
        return self._expr._text()


def _none_check(cond: ColumnExpression) -> tuple[str, ColumnReference] | None:
    if isinstance(cond, UnaryExpression) and cond._op in ("is_none", "is_not_none") and isinstance(cond._arg, ColumnReference):
        return cond._op, cond._arg
    if isinstance(cond, BinaryExpression) and cond._op in ("eq", "ne") and isinstance(cond._left, ColumnReference):
        if isinstance(cond._right, ConstExpression) and cond._right._value is None:
            return ("is_none" if cond._op == "eq" else "is_not_none"), cond._left
    return None


def if_else(if_clause: Any, then_clause: Any, else_clause: Any) -> ColumnExpression:
    def rule(types: list[dt.DType]) -> dt.DType:
        if types[0].strip_optional() not in (dt.BOOL, dt.ANY):
            raise TypeError(f"if_else condition must be a bool, got {types[0]!r}")
        return dt.lub(types[1], types[2])

    args = [_wrap(if_clause), _wrap(then_clause), _wrap(else_clause)]
    check = _none_check(args[0])
    if check is not None:
        kind, ref = check
        branch = 2 if kind == "is_none" else 1
        args[branch] = _Narrowing(args[branch], [ref])
    return CallExpression("if_else", args, rule, f"pw.if_else({', '.join(a._text() for a in args)})")


def coalesce(*args: Any) -> ColumnExpression:
    wrapped = [_wrap(a) for a in args]

    def rule(types: list[dt.DType]) -> dt.DType:
        result = dt.lub_all(types)
        if any(not t.is_optional() and t != dt.NONE for t in types):
            result = result.strip_optional()
        return result

    return CallExpression("coalesce", wrapped, rule, f"pw.coalesce({', '.join(a._text() for a in wrapped)})")


def require(val: Any, *args: Any) -> ColumnExpression:
    deps = [_wrap(a) for a in args]
    narrowed = [d for d in deps if isinstance(d, ColumnReference)]
    wrapped = [_Narrowing(_wrap(val), narrowed) if narrowed else _wrap(val)] + deps
    return CallExpression("require", wrapped, lambda ts: dt.Optional(ts[0]), f"pw.require({', '.join(a._text() for a in wrapped)})")


def unwrap(col: Any) -> ColumnExpression:
    e = _wrap(col)
    return CallExpression("unwrap", [e], lambda ts: ts[0].strip_optional(), f"pw.unwrap({e._text()})")


def fill_error(col: Any, replacement: Any) -> ColumnExpression:
    a, b = _wrap(col), _wrap(replacement)
    return CallExpression("fill_error", [a, b], lambda ts: dt.lub(ts[0], ts[1]), f"pw.fill_error({a._text()}, {b._text()})")


def make_tuple(*args: Any) -> ColumnExpression:
    wrapped = [_wrap(a) for a in args]
    return CallExpression("make_tuple", wrapped, lambda ts: dt.Tuple(*ts), f"pw.make_tuple({', '.join(a._text() for a in wrapped)})")


_CASTS = {dt.INT: "cast_int", dt.FLOAT: "cast_float", dt.BOOL: "cast_bool", dt.STR: "cast_str"}


def cast(target_type: Any, col: Any) -> ColumnExpression:
    target = dt.wrap(target_type)
    e = _wrap(col)
    base = target.strip_optional()
    if base not in _CASTS:
        raise TypeError(f"pw.cast to {target!r} is not supported; cast to int, float, bool or str")
    op = _CASTS[base]

    def rule(types: list[dt.DType]) -> dt.DType:
        source = types[0]
        return dt.Optional(base) if source.is_optional() or target.is_optional() else base

    return CallExpression(op, [e], rule, f"pw.cast({target!r}, {e._text()})")


class DeclareTypeExpression(ColumnExpression):
    def __init__(self, target: dt.DType, expr: ColumnExpression) -> None:
        self._target = target
        self._expr = expr

    def _children(self) -> list[ColumnExpression]:
        return [self._expr]

    def _dtype(self, layout: Layout) -> dt.DType:
        source = self._expr._dtype(layout)
        target = self._target
        if not (dt.is_subtype(source, target) or dt.is_subtype(target, source) or dt.ANY in (source, target)
                or {source.strip_optional(), target.strip_optional()} == {dt.INT, dt.FLOAT}):
            raise TypeError(
                f"Cannot change type from {source!r} to {target!r}. pw.declare_type should be used only for "
                "type narrowing or type extending."
            )
        return target

    def _compile(self, layout: Layout) -> tuple:
        return self._expr._compile(layout)

    def _text(self) -> str:
        return f"pw.declare_type({self._target!r}, {self._expr._text()})"


def declare_type(target_type: Any, col: Any) -> ColumnExpression:
    return DeclareTypeExpression(dt.wrap(target_type), _wrap(col))


class PointerExpression(ColumnExpression):
    """``table.pointer_from(*args)``: the id derived from values."""

    def __init__(self, args: list[ColumnExpression], optional: bool = False, instance: Any = None) -> None:
        self._args = args
        self._optional = optional
        self._instance = _wrap(instance) if instance is not None else None

    def _children(self) -> list[ColumnExpression]:
        return list(self._args) + ([self._instance] if self._instance is not None else [])

    def _dtype(self, layout: Layout) -> dt.DType:
        types = [a._dtype(layout) for a in self._args]
        if self._optional and any(t.is_optional() for t in types):
            return dt.Optional(dt.ANY_POINTER)
        return dt.ANY_POINTER

    def _compile(self, layout: Layout) -> tuple:
        args = [a._compile(layout) for a in self._args]
        op = "pointer_from"
        if self._instance is not None:
            args.append(self._instance._compile(layout))
            op = "pointer_from_instance"
        spec = (op, args, self._text())
        if self._optional:
            return ("require", [spec] + [a._compile(layout) for a in self._args], self._text())
        return spec

    def _text(self) -> str:
        return f"pointer_from({', '.join(a._text() for a in self._args)})"


# --- user functions ----------------------------------------------------------------------

_apply_counter = itertools.count()


class ApplyExpression(ColumnExpression):
    """A user function applied per row; lifted into a batched engine node when compiled."""

    def __init__(
        self,
        fun: Callable[..., Any],
        return_type: Any,
        args: tuple,
        kwargs: dict,
        *,
        deterministic: bool = False,
        propagate_none: bool = False,
        max_batch_size: int | None = None,
        executor: Any = None,
        cache: Any = None,
    ) -> None:
        self._fun = fun
        self._executor = executor
        self._cache = cache
        self._return_type = return_type
        self._args = [_wrap(a) for a in args]
        self._kwarg_names = list(kwargs)
        self._kwargs = [_wrap(v) for v in kwargs.values()]
        self._deterministic = deterministic
        self._propagate_none = propagate_none
        self._max_batch_size = max_batch_size
        self._serial = next(_apply_counter)

    def _children(self) -> list[ColumnExpression]:
        return self._args + self._kwargs

    def _dtype(self, layout: Layout) -> dt.DType:
        for a in self._children():
            a._dtype(layout)
        if self._return_type is None:
            return dt.ANY
        result = dt.wrap(self._return_type)
        if self._propagate_none and any(a._dtype(layout).is_optional() for a in self._children()):
            return dt.Optional(result)
        return result

    def _compile(self, layout: Layout) -> tuple:
        index = layout.lift_apply(self)
        return ("column", index, self._text())

    def _batch_function(self) -> Callable[[list[tuple]], list[Any]]:
        from deltaflow.internals import run_context

        fun = self._fun
        n_pos = len(self._args)
        names = self._kwarg_names
        propagate_none = self._propagate_none
        from deltaflow.internals import executors

        executor = self._executor or executors.auto_executor()
        cache = self._cache
        if isinstance(cache, executors.DiskCache):
            cache.bind(fun)
        max_batch = self._max_batch_size
        # A function declared to return Json may return plain dicts, lists, numbers, strings.
        json_result = self._return_type is not None and dt.wrap(self._return_type).strip_optional() == dt.JSON

        def call_batch(rows: list[tuple]) -> tuple[list[Any], list[tuple[int, str]]]:
            from deltaflow.internals.values import ERROR, Json

            results: list[Any] = [None] * len(rows)
            failures: list[tuple[int, str]] = []
            calls: list[tuple[tuple, dict]] = []
            where: list[int] = []
            for index, row in enumerate(rows):
                if propagate_none and any(v is None for v in row):
                    continue
                if names:
                    calls.append((tuple(row[:n_pos]), dict(zip(names, row[n_pos:]))))
                else:
                    calls.append((tuple(row), {}))
                where.append(index)
            step = max_batch or len(calls) or 1
            for start in range(0, len(calls), step):
                outcomes = executor.run_batch(fun, calls[start : start + step], cache)
                for index, (ok, value) in zip(where[start : start + step], outcomes):
                    if ok:
                        if json_result and value is not None and not isinstance(value, Json):
                            value = Json(value)
                        results[index] = value
                        continue
                    message = f"{type(value).__name__}: {value}"
                    run_context.remember_exception(message, value)
                    failures.append((index, message))
                    results[index] = ERROR
            return results, failures

        return call_batch

    def _text(self) -> str:
        name = getattr(self._fun, "__name__", "function")
        return f"pw.apply({name}, {', '.join(a._text() for a in self._children())})"


def apply(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> ColumnExpression:
    """Applies ``fun`` to the values of ``args`` per row (called in batches)."""
    return_type = getattr(fun, "__annotations__", {}).get("return")
    return ApplyExpression(fun, return_type, args, kwargs)


def apply_with_type(fun: Callable[..., Any], ret_type: Any, *args: Any, **kwargs: Any) -> ColumnExpression:
    return ApplyExpression(fun, ret_type, args, kwargs)


def apply_async(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> ColumnExpression:
    """Applies ``fun`` (``async def`` or plain) to the values of ``args`` per row, the calls of
    a batch running concurrently."""
    from deltaflow.internals.executors import async_executor

    return_type = getattr(fun, "__annotations__", {}).get("return")
    return ApplyExpression(fun, return_type, args, kwargs, executor=async_executor())


def numba_apply(fun: Callable[..., Any], numba_signature: str, *args: Any, **kwargs: Any) -> ColumnExpression:
    return ApplyExpression(fun, None, args, kwargs, deterministic=True)


# --- namespaces --------------------------------------------------------------------------


def _expect(types: list[dt.DType], allowed: tuple, method: str) -> dt.DType:
    t = types[0]
    if t.strip_optional() not in allowed and t != dt.ANY:
        raise TypeError(f"{method} needs a column of type {' or '.join(map(repr, allowed))}, got {t!r}")
    return t


_DATE_TIMES = (dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC)


# Units pandas no longer accepts, that Pathway still does.
_LEGACY_UNITS = {"H": "h", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns"}
_DURATION_TOKEN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)?([A-Za-z]+)")


def _duration_arg(value: Any) -> Any:
    """A duration given as a string or a pandas/datetime timedelta, as a constant. A string is
    a sum of (number, unit) parts: "2h3min", "14ms22ms14us"; a unit alone counts once ("D",
    "min"); the legacy aliases "H", "T", "S", "L", "U", "N" are accepted, as in Pathway."""
    if not isinstance(value, str):
        return value
    import pandas as pd

    text = value.replace(" ", "")
    parts = _DURATION_TOKEN.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return pd.Timedelta(value)  # other forms pandas reads ("1 days 02:00:00"), or its error
    total = pd.Timedelta(0)
    for number, unit in parts:
        total += pd.Timedelta(float(number) if number else 1, unit=_LEGACY_UNITS.get(unit, unit))
    return total


class DateTimeNamespace:
    """``expr.dt``: datetime and duration methods, evaluated in the engine. Time zones come
    from the system's tz database (Debian's ``tzdata``)."""

    def __init__(self, expr: ColumnExpression) -> None:
        self._expr = expr

    def _call(self, op: str, method: str, allowed: tuple, result: Any, *args: Any) -> ColumnExpression:
        wrapped = [self._expr] + [_wrap(a) for a in args]

        def rule(types: list[dt.DType]) -> dt.DType:
            t = types[0]
            if t.is_optional() and t != dt.ANY:
                raise TypeError(f"dt.{method} on an Optional column ({t!r}); filter or coalesce None first")
            _expect(types, allowed, f"dt.{method}")
            return result(t) if callable(result) else result

        shown = [a._text() for a in wrapped[1:] if not (isinstance(a, ConstExpression) and a._value is None)]
        text = f"{self._expr._text()}.dt.{method}({', '.join(shown)})"
        return CallExpression(op, wrapped, rule, text)

    def _field(self, name: str) -> ColumnExpression:
        return self._call("dt.field", name, _DATE_TIMES, dt.INT, name)

    def nanosecond(self) -> ColumnExpression:
        return self._field("nanosecond")

    def microsecond(self) -> ColumnExpression:
        return self._field("microsecond")

    def millisecond(self) -> ColumnExpression:
        return self._field("millisecond")

    def second(self) -> ColumnExpression:
        return self._field("second")

    def minute(self) -> ColumnExpression:
        return self._field("minute")

    def hour(self) -> ColumnExpression:
        return self._field("hour")

    def day(self) -> ColumnExpression:
        return self._field("day")

    def month(self) -> ColumnExpression:
        return self._field("month")

    def year(self) -> ColumnExpression:
        return self._field("year")

    def weekday(self) -> ColumnExpression:
        """Monday is 0, Sunday 6."""
        return self._field("weekday")

    def timestamp(self, unit: str | None = None) -> ColumnExpression:
        """Time since the epoch: a float in ``unit`` (s, ms, us, ns); without a unit, int
        nanoseconds."""
        if unit is not None and unit not in ("s", "ms", "us", "ns"):
            raise ValueError(f"timestamp unit must be one of s, ms, us, ns, got {unit!r}")
        return self._call("dt.timestamp", "timestamp", _DATE_TIMES, dt.INT if unit is None else dt.FLOAT, unit)

    def strftime(self, fmt: Any) -> ColumnExpression:
        return self._call("dt.strftime", "strftime", _DATE_TIMES, dt.STR, fmt)

    def strptime(self, fmt: Any, contains_timezone: bool | None = None) -> ColumnExpression:
        """Parses a string; the result is a DateTimeUtc when the format holds a time zone
        (``%z``) or ``contains_timezone`` is true, else a DateTimeNaive."""
        if contains_timezone is None:
            if not isinstance(fmt, str):
                raise ValueError("strptime with a non-constant format needs contains_timezone=")
            contains_timezone = any(z in fmt for z in ("%z", "%:z", "%Z"))
        result = dt.DATE_TIME_UTC if contains_timezone else dt.DATE_TIME_NAIVE
        return self._call("dt.strptime", "strptime", (dt.STR,), result, fmt, bool(contains_timezone))

    def to_utc(self, from_timezone: Any) -> ColumnExpression:
        return self._call("dt.to_utc", "to_utc", (dt.DATE_TIME_NAIVE,), dt.DATE_TIME_UTC, from_timezone)

    def to_naive_in_timezone(self, timezone: Any) -> ColumnExpression:
        return self._call("dt.to_naive_in_timezone", "to_naive_in_timezone", (dt.DATE_TIME_UTC,), dt.DATE_TIME_NAIVE, timezone)

    def add_duration_in_timezone(self, duration: Any, timezone: Any) -> ColumnExpression:
        return self._call("dt.add_duration_in_timezone", "add_duration_in_timezone", (dt.DATE_TIME_NAIVE,), dt.DATE_TIME_NAIVE, _duration_arg(duration), timezone)

    def subtract_duration_in_timezone(self, duration: Any, timezone: Any) -> ColumnExpression:
        return self._call("dt.subtract_duration_in_timezone", "subtract_duration_in_timezone", (dt.DATE_TIME_NAIVE,), dt.DATE_TIME_NAIVE, _duration_arg(duration), timezone)

    def subtract_date_time_in_timezone(self, date_time: Any, timezone: Any) -> ColumnExpression:
        return self._call("dt.subtract_date_time_in_timezone", "subtract_date_time_in_timezone", (dt.DATE_TIME_NAIVE,), dt.DURATION, date_time, timezone)

    def round(self, duration: Any) -> ColumnExpression:
        return self._call("dt.round", "round", _DATE_TIMES + (dt.DURATION,), lambda t: t, _duration_arg(duration))

    def floor(self, duration: Any) -> ColumnExpression:
        return self._call("dt.floor", "floor", _DATE_TIMES + (dt.DURATION,), lambda t: t, _duration_arg(duration))

    def to_duration(self, unit: Any) -> ColumnExpression:
        return self._call("dt.to_duration", "to_duration", (dt.INT, dt.FLOAT), dt.DURATION, unit)

    def _total(self, unit: str, method: str) -> ColumnExpression:
        return self._call("dt.total", method, (dt.DURATION,), dt.INT, unit)

    def nanoseconds(self) -> ColumnExpression:
        return self._total("ns", "nanoseconds")

    def microseconds(self) -> ColumnExpression:
        return self._total("us", "microseconds")

    def milliseconds(self) -> ColumnExpression:
        return self._total("ms", "milliseconds")

    def seconds(self) -> ColumnExpression:
        return self._total("s", "seconds")

    def minutes(self) -> ColumnExpression:
        return self._total("m", "minutes")

    def hours(self) -> ColumnExpression:
        return self._total("h", "hours")

    def days(self) -> ColumnExpression:
        return self._total("D", "days")

    def weeks(self) -> ColumnExpression:
        return self._total("W", "weeks")

    def from_timestamp(self, unit: str) -> ColumnExpression:
        return self._call("dt.from_timestamp", "from_timestamp", (dt.INT, dt.FLOAT), dt.DATE_TIME_NAIVE, unit, False)

    def utc_from_timestamp(self, unit: str) -> ColumnExpression:
        return self._call("dt.from_timestamp", "utc_from_timestamp", (dt.INT, dt.FLOAT), dt.DATE_TIME_UTC, unit, True)


class StringNamespace:
    """``expr.str``: string methods, evaluated in the engine."""

    def __init__(self, expr: ColumnExpression) -> None:
        self._expr = expr

    def _call(self, method: str, result: dt.DType | None, *args: Any) -> ColumnExpression:
        wrapped = [self._expr] + [_wrap(a) for a in args]

        def rule(types: list[dt.DType]) -> dt.DType:
            t = _expect(types, (dt.STR,), f"str.{method}")
            if t.is_optional():
                raise TypeError(f"str.{method} on an Optional column; filter or coalesce None first")
            return result if result is not None else t

        text = f"{self._expr._text()}.str.{method}({', '.join(a._text() for a in wrapped[1:])})"
        return CallExpression(f"str.{method}", wrapped, rule, text)

    def lower(self) -> ColumnExpression:
        return self._call("lower", dt.STR)

    def upper(self) -> ColumnExpression:
        return self._call("upper", dt.STR)

    def reversed(self) -> ColumnExpression:
        return self._call("reversed", dt.STR)

    def len(self) -> ColumnExpression:
        return self._call("len", dt.INT)

    def swapcase(self) -> ColumnExpression:
        return self._call("swapcase", dt.STR)

    def title(self) -> ColumnExpression:
        return self._call("title", dt.STR)

    def strip(self, chars: Any = None) -> ColumnExpression:
        return self._call("strip", dt.STR, chars)

    def lstrip(self, chars: Any = None) -> ColumnExpression:
        return self._call("lstrip", dt.STR, chars)

    def rstrip(self, chars: Any = None) -> ColumnExpression:
        return self._call("rstrip", dt.STR, chars)

    def startswith(self, prefix: Any) -> ColumnExpression:
        return self._call("startswith", dt.BOOL, prefix)

    def endswith(self, suffix: Any) -> ColumnExpression:
        return self._call("endswith", dt.BOOL, suffix)

    def count(self, sub: Any, start: Any = None, end: Any = None) -> ColumnExpression:
        return self._call("count", dt.INT, sub, start, end)

    def find(self, sub: Any, start: Any = None, end: Any = None) -> ColumnExpression:
        return self._call("find", dt.INT, sub, start, end)

    def rfind(self, sub: Any, start: Any = None, end: Any = None) -> ColumnExpression:
        return self._call("rfind", dt.INT, sub, start, end)

    def replace(self, old_value: Any, new_value: Any, count: Any = -1, /) -> ColumnExpression:
        return self._call("replace", dt.STR, old_value, new_value, count)

    def removeprefix(self, prefix: Any, /) -> ColumnExpression:
        return self._call("removeprefix", dt.STR, prefix)

    def removesuffix(self, suffix: Any, /) -> ColumnExpression:
        return self._call("removesuffix", dt.STR, suffix)

    def slice(self, start: Any, end: Any, /) -> ColumnExpression:
        return self._call("slice", dt.STR, start, end)

    def parse_int(self, optional: bool = False) -> ColumnExpression:
        return self._call("parse_int", dt.Optional(dt.INT) if optional else dt.INT, optional)

    def parse_float(self, optional: bool = False) -> ColumnExpression:
        return self._call("parse_float", dt.Optional(dt.FLOAT) if optional else dt.FLOAT, optional)

    def parse_bool(
        self,
        true_values: Any = ("on", "true", "yes", "1"),
        false_values: Any = ("off", "false", "no", "0"),
        optional: bool = False,
    ) -> ColumnExpression:
        return self._call(
            "parse_bool", dt.Optional(dt.BOOL) if optional else dt.BOOL, tuple(true_values), tuple(false_values), optional
        )

    def split(self, sep: Any = None, maxsplit: Any = -1) -> ColumnExpression:
        return self._call("split", dt.List(dt.STR), sep, maxsplit)


class NumericalNamespace:
    """``expr.num``: numeric methods."""

    def __init__(self, expr: ColumnExpression) -> None:
        self._expr = expr

    def abs(self) -> ColumnExpression:
        return UnaryExpression("abs", self._expr)

    def round(self, decimals: Any = 0) -> ColumnExpression:
        e = self._expr

        def rule(types: list[dt.DType]) -> dt.DType:
            return _expect(types, (dt.INT, dt.FLOAT), "num.round")

        d = _wrap(decimals)
        return CallExpression("num.round", [e, d], rule, f"{e._text()}.num.round({d._text()})")

    def fill_na(self, default_value: Any) -> ColumnExpression:
        e = self._expr
        d = _wrap(default_value)

        def rule(types: list[dt.DType]) -> dt.DType:
            _expect(types, (dt.INT, dt.FLOAT), "num.fill_na")
            return dt.lub(types[0].strip_optional(), types[1])

        if isinstance(d, ConstExpression) and isinstance(d._value, int) and not isinstance(d._value, bool):
            as_float = ConstExpression(float(d._value))
            return _FillNa(e, d, as_float, rule)
        return CallExpression("num.fill_na", [e, d], rule, f"{e._text()}.num.fill_na({d._text()})")


class _FillNa(CallExpression):
    """``fill_na`` with an int default: a float column gets the default as a float."""

    def __init__(self, e: ColumnExpression, d: ColumnExpression, as_float: ColumnExpression, rule: Any) -> None:
        super().__init__("num.fill_na", [e, d], rule, f"{e._text()}.num.fill_na({d._text()})")
        self._as_float = as_float

    def _compile(self, layout: Layout) -> tuple:
        self._dtype(layout)
        e = self._args[0]
        default = self._as_float if e._dtype(layout).strip_optional() == dt.FLOAT else self._args[1]
        return ("num.fill_na", [e._compile(layout), default._compile(layout)], self._text_value)


# --- pw.this, pw.left, pw.right ----------------------------------------------------------


class StarExpansion:
    """``*pw.this`` (or ``*table``): every column of the context, minus ``excluded``."""

    def __init__(self, owner: Any, excluded: tuple[str, ...] = ()) -> None:
        self.owner = owner
        self.excluded = excluded


class ThisPlaceholder:
    """``pw.this``, ``pw.left``, ``pw.right``: the table an operation works on."""

    def __init__(self, side: str, excluded: tuple[str, ...] = ()) -> None:
        self._side = side
        self._excluded = excluded
        self._display_name = {"this": "pw.this", "left": "pw.left", "right": "pw.right"}[side]

    @property
    def side(self) -> str:
        return self._side

    def __getattr__(self, name: str) -> ColumnReference:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return ColumnReference(self, name)

    def __getitem__(self, name: str | ColumnReference) -> ColumnReference:
        if isinstance(name, ColumnReference):
            name = name.name
        return ColumnReference(self, name)

    def __iter__(self) -> Iterator[StarExpansion]:
        return iter([StarExpansion(self, self._excluded)])

    def pointer_from(self, *args: Any, optional: bool = False, instance: Any = None) -> ColumnExpression:
        return PointerExpression([_wrap(a) for a in args], optional=optional, instance=instance)

    def ix(self, expression: Any, *, optional: bool = False, **kwargs: Any) -> Any:
        """``pw.this.ix(ptr)``: rows of the operation's own table, looked up by pointer."""
        from deltaflow.internals.table import IxTable

        return IxTable(self, _wrap(expression), optional)

    def ix_ref(self, *args: Any, optional: bool = False, instance: Any = None, **kwargs: Any) -> Any:
        return self.ix(PointerExpression([_wrap(a) for a in args], instance=instance), optional=optional)

    def without(self, *columns: Any) -> ThisPlaceholder:
        names = tuple(c.name if isinstance(c, ColumnReference) else c for c in columns)
        return ThisPlaceholder(self._side, self._excluded + names)

    def __repr__(self) -> str:
        return self._display_name


this = ThisPlaceholder("this")
left = ThisPlaceholder("left")
right = ThisPlaceholder("right")
