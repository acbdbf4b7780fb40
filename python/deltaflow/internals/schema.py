"""Schemas: the names, types, primary keys and defaults of a table's columns.

Declared like a dataclass::

    class InputSchema(pw.Schema):
        name: str = pw.column_definition(primary_key=True)
        age: int
        score: float | None = None
"""

from __future__ import annotations

from typing import Any

from deltaflow.internals import dtype as dt


class _NotSet:
    def __repr__(self) -> str:
        return "NOT_SET"


NOT_SET: Any = _NotSet()


class ColumnDefinition:
    def __init__(self, *, primary_key: bool = False, default_value: Any = NOT_SET, dtype: Any = None, name: str | None = None) -> None:
        self.primary_key = primary_key
        self.default_value = default_value
        self.dtype = dt.wrap(dtype) if dtype is not None else None
        self.name = name

    def has_default_value(self) -> bool:
        return self.default_value is not NOT_SET

    def __repr__(self) -> str:
        return f"ColumnDefinition(primary_key={self.primary_key}, default_value={self.default_value!r}, dtype={self.dtype!r})"


def column_definition(*, primary_key: bool = False, default_value: Any = NOT_SET, dtype: Any = None, name: str | None = None) -> Any:
    """Declares a column's properties inside a ``Schema`` class."""
    return ColumnDefinition(primary_key=primary_key, default_value=default_value, dtype=dtype, name=name)


class SchemaMetaclass(type):
    __columns__: dict[str, ColumnDefinition]

    def __new__(mcs, name: str, bases: tuple, namespace: dict, **kwargs: Any) -> SchemaMetaclass:
        cls = super().__new__(mcs, name, bases, namespace)
        columns: dict[str, ColumnDefinition] = {}
        for base in reversed(cls.__mro__[1:]):
            columns.update(getattr(base, "__columns__", {}))
        try:
            import typing

            hints = typing.get_type_hints(cls)
        except Exception:  # noqa: BLE001 - fall back to the raw annotations
            hints = namespace.get("__annotations__", {})
        own = namespace.get("__annotations__", {})
        for field in own:
            hint = hints.get(field, own[field])
            value = namespace.get(field, NOT_SET)
            if isinstance(value, ColumnDefinition):
                definition = ColumnDefinition(
                    primary_key=value.primary_key,
                    default_value=value.default_value,
                    dtype=value.dtype if value.dtype is not None else dt.wrap(hint),
                    name=value.name,
                )
            else:
                definition = ColumnDefinition(default_value=value, dtype=dt.wrap(hint))
            columns[definition.name or field] = definition
        cls.__columns__ = columns
        return cls

    def column_names(cls) -> list[str]:
        return list(cls.__columns__)

    def keys(cls) -> list[str]:
        return list(cls.__columns__)

    def columns(cls) -> dict[str, ColumnDefinition]:
        return dict(cls.__columns__)

    def typehints(cls) -> Any:
        import types

        return types.MappingProxyType({n: c.dtype.typehint for n, c in cls.__columns__.items()})

    def _dtypes(cls) -> dict[str, dt.DType]:
        return {n: c.dtype for n, c in cls.__columns__.items()}

    def primary_key_columns(cls) -> list[str] | None:
        keys = [n for n, c in cls.__columns__.items() if c.primary_key]
        return keys or None

    def default_values(cls) -> dict[str, Any]:
        return {n: c.default_value for n, c in cls.__columns__.items() if c.has_default_value()}

    def __getitem__(cls, name: str) -> ColumnDefinition:
        return cls.__columns__[name]

    def __or__(cls, other: SchemaMetaclass) -> SchemaMetaclass:
        return schema_builder({**cls.__columns__, **other.__columns__}, name=f"{cls.__name__}|{other.__name__}")

    def with_types(cls, **kwargs: Any) -> SchemaMetaclass:
        columns = dict(cls.__columns__)
        for n, t in kwargs.items():
            if n not in columns:
                raise ValueError(f"Schema has no column {n!r}")
            c = columns[n]
            columns[n] = ColumnDefinition(primary_key=c.primary_key, default_value=c.default_value, dtype=t)
        return schema_builder(columns, name=cls.__name__)

    def without(cls, *names: Any) -> SchemaMetaclass:
        drop = {getattr(n, "name", n) for n in names}
        return schema_builder({n: c for n, c in cls.__columns__.items() if n not in drop}, name=cls.__name__)

    def __repr__(cls) -> str:
        from deltaflow import Pointer

        types = {n: c.dtype.typehint for n, c in cls.__columns__.items()}
        return f"<deltaflow.Schema types={types}, id_type={Pointer!r}>"

    def __str__(cls) -> str:
        names = ["id"] + list(cls.__columns__)
        types = ["ANY_POINTER"] + [repr(c.dtype) for c in cls.__columns__.values()]
        widths = [max(len(a), len(b)) for a, b in zip(names, types)]
        header = " | ".join(x.ljust(w) for x, w in zip(names, widths)).rstrip()
        return header + "\n" + " | ".join(x.ljust(w) for x, w in zip(types, widths))  # as Pathway prints it

    def __eq__(cls, other: object) -> bool:
        if not isinstance(other, SchemaMetaclass):
            return NotImplemented
        return cls._dtypes() == other._dtypes() and cls.primary_key_columns() == other.primary_key_columns()

    def __hash__(cls) -> int:
        return hash(tuple(cls.__columns__))


class Schema(metaclass=SchemaMetaclass):
    """Base class of user schemas."""


def schema_builder(columns: dict[str, ColumnDefinition], *, name: str | None = None, properties: Any = None) -> Any:
    namespace: dict[str, Any] = {"__annotations__": {}}
    for n, c in columns.items():
        namespace["__annotations__"][n] = c.dtype if c.dtype is not None else dt.ANY
        namespace[n] = ColumnDefinition(primary_key=c.primary_key, default_value=c.default_value, dtype=c.dtype)
    return SchemaMetaclass(name or "Schema", (Schema,), namespace)


def schema_from_types(_name: str | None = None, **kwargs: Any) -> Any:
    return schema_builder({n: ColumnDefinition(dtype=t) for n, t in kwargs.items()}, name=_name)


def schema_from_dict(columns: dict[str, Any], *, name: str | None = None, properties: Any = None) -> Any:
    definitions = {}
    for n, spec in columns.items():
        if isinstance(spec, dict):
            definitions[n] = ColumnDefinition(
                primary_key=spec.get("primary_key", False),
                default_value=spec.get("default_value", NOT_SET),
                dtype=spec.get("dtype", Any),
            )
        else:
            definitions[n] = ColumnDefinition(dtype=spec)
    return schema_builder(definitions, name=name)


def schema_from_dtypes(dtypes: dict[str, dt.DType]) -> Any:
    return schema_builder({n: ColumnDefinition(dtype=t) for n, t in dtypes.items()}, name="Schema")


def schema_from_csv(
    path: str,
    *,
    name: str | None = None,
    properties: Any = None,
    delimiter: str = ",",
    quote: str = '"',
    comment_character: str | None = None,
    escape: str | None = None,
    double_quote_escapes: bool = True,
    num_parsed_rows: int | None = None,
) -> Any:
    """A schema from a CSV file's header, with column types inferred from its first rows
    (int, then float, then bool, else str)."""
    import csv

    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar=quote)
        header = next(reader)
        rows = []
        for i, row in enumerate(reader):
            if num_parsed_rows is not None and i >= num_parsed_rows:
                break
            if comment_character and row and row[0].startswith(comment_character):
                continue
            rows.append(row)

    def infer(values: list[str]) -> Any:
        def all_of(parse: Any) -> bool:
            try:
                for v in values:
                    parse(v)
                return bool(values)
            except ValueError:
                return False

        if all_of(int):
            return int
        if all_of(float):
            return float
        if values and all(v.lower() in ("true", "false") for v in values):
            return bool
        return str

    types = {h: infer([r[i] for r in rows if i < len(r)]) for i, h in enumerate(header)}
    return schema_from_types(name, **types)
