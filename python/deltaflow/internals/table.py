"""``Table``: the Pathway-style API, building a logical graph that ``run()`` lowers to C++.

Every operation returns a new ``Table`` holding its columns (names and dtypes), its universe
and a ``LogicalNode``: the engine call that computes its rows from its inputs' rows. Nothing
runs while a pipeline is built; expressions are compiled (type-checked and turned into engine
expression trees) when the operation is called, so errors point at the user's line.
"""

from __future__ import annotations

import enum
import itertools
import sys
import warnings
from typing import Any, Callable, Iterable, Iterator

from deltaflow.internals import dtype as dt
from deltaflow.internals import parse_graph
from deltaflow.internals import universe as univ
from deltaflow.internals.expression import (
    ApplyExpression,
    CallExpression,
    ColumnExpression,
    ColumnReference,
    ConstExpression,
    PointerExpression,
    StarExpansion,
    ThisPlaceholder,
    _wrap,
    cast,
)
from deltaflow.internals.reducers import ReducerExpression

_PACKAGE_DIR = __file__.rsplit("/internals/", 1)[0]


def user_location() -> str:
    """``file:line`` of the first caller outside deltaflow (where the user wrote the call)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class LogicalNode:
    """One engine call: ``build(graph, input_ids) -> node id``."""

    __slots__ = ("inputs", "build", "arity")
    _serial = itertools.count()

    def __init__(self, inputs: list[LogicalNode], build: Callable[[Any, list[int]], int], arity: int) -> None:
        self.inputs = inputs
        self.build = build
        self.arity = arity


def lower(graph: Any, roots: list[LogicalNode]) -> dict[int, int]:
    """Adds every node reachable from ``roots`` to the engine graph (inputs first)."""
    memo: dict[int, int] = {}
    order: list[LogicalNode] = []
    seen: set[int] = set()
    stack: list[tuple[LogicalNode, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for i in reversed(node.inputs):
            if id(i) not in seen:
                stack.append((i, False))
    for node in order:
        memo[id(node)] = node.build(graph, [memo[id(i)] for i in node.inputs])
    return memo


def _select_node(source: LogicalNode, specs: list[tuple], name: str) -> LogicalNode:
    return LogicalNode([source], lambda g, ins: g.select(ins[0], specs, name), len(specs))


class Layout:
    """How the rows an expression reads are laid out: resolves column references to cell
    positions, and lifts user functions into batched engine nodes."""

    def __init__(self, node: LogicalNode, location: str) -> None:
        self.node = node
        self.arity = node.arity
        self.location = location

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        raise NotImplementedError

    def compile(self, expr: ColumnExpression) -> tuple[tuple, dt.DType]:
        expr = _wrap(expr)
        if expr._contains(ReducerExpression):
            raise ValueError(f"reducers can only be used inside reduce() ({expr._text()}, at {self.location})")
        dtype = expr._dtype(self)
        return expr._compile(self), dtype

    def lift_ix(self, ix: Any) -> int:
        """Appends the cells of the row ``ix``'s pointer names; returns where they start."""
        memo = self.__dict__.setdefault("_ix_offsets", {})
        if id(ix) in memo:
            return memo[id(ix)]
        target = ix._resolved_target(self)
        spec = ix._pointer._compile(self)
        offset = self.arity
        self.node = _ix_node(self.node, self.arity, target, spec, ix._optional, f"ix at {self.location}")
        self.arity += len(target._columns)
        memo[id(ix)] = offset
        return offset

    def lift_apply(self, apply: ApplyExpression) -> int:
        args = [a._compile(self) for a in apply._children()]
        fn = apply._batch_function()
        name = f"{apply._text()} at {self.location}"
        deterministic = apply._deterministic
        source = self.node
        self.node = LogicalNode([source], lambda g, ins: g.apply(ins[0], args, fn, deterministic, name), self.arity + 1)
        self.arity += 1
        return self.arity - 1


def _universe_error(ref: ColumnReference, table: Table, location: str = "") -> ValueError:
    where = f"\nOccurred here: {location}" if location else ""
    return ValueError(
        f"You cannot use {ref._text()} in this context. Its universe is different than the universe "
        f"of the table the method was called on. You can use {ref._text().split('.')[0]}.with_universe_of(...) "
        f"to assert they are equal, or promise_universe_is_subset_of(...).{where}"
    )


class TableLayout(Layout):
    """The rows of one table, side by side with same-universe tables it references."""

    def __init__(self, table: Table, exprs: Iterable[Any], location: str) -> None:
        tables: list[Table] = [table]
        for e in exprs:
            if not isinstance(e, ColumnExpression):
                continue
            for ref in e._references():
                owner = ref.table
                if isinstance(owner, Table) and all(owner is not t for t in tables):
                    if owner._node is table._node and owner._columns == table._columns:
                        continue
                    if not univ.are_equal(table._universe, owner._universe):
                        raise _universe_error(ref, table, location)
                    tables.append(owner)
        self.table = table
        self.offsets: dict[int, int] = {}
        offset = 0
        for t in tables:
            self.offsets[id(t)] = offset
            offset += len(t._columns)
        if len(tables) == 1:
            node = table._node
        else:
            name = f"combine columns at {location}"
            node = LogicalNode([t._node for t in tables], lambda g, ins: g.zip(ins, name), offset)
        super().__init__(node, location)

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        owner = ref.table
        if isinstance(owner, ThisPlaceholder):
            if owner.side != "this":
                raise ValueError(f"{owner!r} can only be used in a join (in {ref._text()}, at {self.location})")
            owner = self.table
        if isinstance(owner, Table) and id(owner) not in self.offsets:
            if owner._node is self.table._node and owner._columns == self.table._columns:
                owner = self.table
            else:
                raise _universe_error(ref, self.table, self.location)
        if ref.name == "id":
            return "id", owner._id_dtype
        if ref.name not in owner._columns:
            raise KeyError(f"Table has no column {ref.name!r} (columns: {list(owner._columns)}), at {self.location}")
        return self.offsets[id(owner)] + list(owner._columns).index(ref.name), owner._columns[ref.name]


class JoinMode(enum.IntEnum):
    INNER = 0
    LEFT = 1
    RIGHT = 2
    OUTER = 3

    def __str__(self) -> str:
        return f"JoinMode.{self.name}"


def _positional_name(e: Any) -> str | None:
    """The name a positional expression takes that is not a plain column reference, as in
    Pathway: a column read through ``ix`` (``select(t.ix(p).food)`` is "food"), and the
    ``unique``/``any`` of one column in ``reduce`` (``reduce(pw.reducers.unique(t.route))`` is
    "route")."""
    if isinstance(e, IxColumn):
        return e._name
    if isinstance(e, ReducerExpression) and e._kind in ("unique", "any") and len(e._args) == 1:
        arg = e._args[0]
        if isinstance(arg, ColumnReference):
            return arg.name
    return None


def _expand_args(args: tuple, kwargs: dict, star_columns: Callable[[StarExpansion], list[ColumnReference]], location: str) -> dict[str, ColumnExpression]:
    out: dict[str, ColumnExpression] = {}

    def put(name: str, e: Any) -> None:
        if name in out:
            raise ValueError(f"Duplicate expression value given for {name} (at {location})")
        out[name] = _wrap(e)

    for a in args:
        if isinstance(a, StarExpansion):
            for ref in star_columns(a):
                put(ref.name, ref)
        elif isinstance(a, ColumnReference):
            if a.name == "id":
                raise ValueError(f"Can't use 'id' as a column name: the id is not a column (at {location})")
            put(a.name, a)
        elif isinstance(a, (ThisPlaceholder, Table)):
            for ref in star_columns(StarExpansion(a)):
                put(ref.name, ref)
        elif _positional_name(a) is not None:
            put(_positional_name(a), a)
        else:
            raise TypeError(
                f"positional arguments of select must be column references, got {a!r}; "
                f"name other expressions with keywords (at {location})"
            )
    for name, e in kwargs.items():
        if name in out:
            raise ValueError(f"Duplicate expression value given for {name} (at {location})")
        out[name] = _wrap(e)
    return out


class Table:
    """A table: rows keyed by ids, with named, typed columns. Build pipelines by calling its
    methods; run them with ``pw.run()`` or the ``pw.debug`` helpers."""

    def __init__(
        self,
        columns: dict[str, dt.DType],
        node: LogicalNode,
        universe: univ.Universe,
        *,
        id_dtype: dt.DType = dt.ANY_POINTER,
        name: str = "table",
    ) -> None:
        self._columns = dict(columns)
        self._node = node
        self._universe = universe
        self._id_dtype = id_dtype
        self._display_name = name
        parse_graph.track(self)

    # --- columns ---------------------------------------------------------------------------
    def __getattr__(self, name: str) -> ColumnReference:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "id" or name in self._columns:
            return ColumnReference(self, name)
        raise AttributeError(f"Table has no column {name!r} (columns: {list(self._columns)})")

    def __getitem__(self, name: str | ColumnReference | list) -> Any:
        if isinstance(name, list):
            return self.select(*[self[n] for n in name])
        if isinstance(name, ColumnReference):
            name = name.name
        if name != "id" and name not in self._columns:
            raise KeyError(f"Table has no column {name!r} (columns: {list(self._columns)})")
        return ColumnReference(self, name)

    def __iter__(self) -> Iterator[ColumnReference]:
        return iter([ColumnReference(self, n) for n in self._columns])

    @property
    def id(self) -> ColumnReference:
        return ColumnReference(self, "id")

    def column_names(self) -> Any:
        """The names of the columns, in order (a ``dict_keys`` view, as Pathway returns)."""
        return self._columns.keys()

    def keys(self) -> list[str]:
        return list(self._columns)

    def typehints(self) -> Any:
        import types

        return types.MappingProxyType({n: t.typehint for n, t in self._columns.items()})

    @property
    def schema(self) -> Any:
        from deltaflow.internals.schema import schema_from_dtypes

        return schema_from_dtypes(self._columns)

    def _dtypes(self) -> dict[str, dt.DType]:
        return dict(self._columns)

    def __repr__(self) -> str:
        cols = ", ".join(f"{n}: {t!r}" for n, t in self._columns.items())
        return f"<deltaflow.Table schema={{{cols}}}>"

    def _star(self, star: StarExpansion) -> list[ColumnReference]:
        owner = star.owner
        if isinstance(owner, ThisPlaceholder):
            if owner.side != "this":
                raise ValueError(f"{owner!r} can only be used in a join")
            owner = self
        return [ColumnReference(owner, n) for n in owner._columns if n not in star.excluded]

    def _with(self, columns: dict[str, dt.DType], node: LogicalNode, universe: univ.Universe | None = None) -> Table:
        return Table(columns, node, universe if universe is not None else self._universe, id_dtype=self._id_dtype)

    # --- select and friends ----------------------------------------------------------------
    def select(self, *args: Any, **kwargs: Any) -> Table:
        """A table of the given columns and expressions, on the same ids."""
        location = user_location()
        exprs = _expand_args(args, kwargs, self._star, location)
        return self._select_exprs(exprs, location)

    def _select_exprs(self, exprs: dict[str, ColumnExpression], location: str) -> Table:
        futures = {n: e for n, e in exprs.items() if _is_fully_async(e)}
        if futures:
            from deltaflow.internals.fully_async import select_with_futures

            return select_with_futures(self, exprs, futures, location)
        layout = TableLayout(self, exprs.values(), location)
        specs = []
        columns = {}
        for name, e in exprs.items():
            spec, dtype = layout.compile(e)
            specs.append(spec)
            columns[name] = dtype
        node = _select_node(layout.node, specs, f"select at {location}")
        return self._with(columns, node)

    def with_columns(self, *args: Any, **kwargs: Any) -> Table:
        location = user_location()
        new = _expand_args(args, kwargs, self._star, location)
        exprs: dict[str, ColumnExpression] = {n: ColumnReference(self, n) for n in self._columns}
        exprs.update(new)
        return self._select_exprs(exprs, location)

    def without(self, *columns: Any) -> Table:
        names = {c.name if isinstance(c, ColumnReference) else c for c in columns}
        for n in names:
            if n not in self._columns:
                raise KeyError(f"Table has no column {n!r}")
        exprs = {n: ColumnReference(self, n) for n in self._columns if n not in names}
        return self._select_exprs(exprs, user_location())

    def rename_columns(self, **kwargs: Any) -> Table:
        """``rename_columns(new_name=pw.this.old_name)`` (or ``new_name="old_name"``)."""
        mapping = {}
        for new, old in kwargs.items():
            old_name = old.name if isinstance(old, ColumnReference) else old
            if old_name not in self._columns:
                raise KeyError(f"Table has no column {old_name!r}")
            mapping[old_name] = new
        return self.rename_by_dict(mapping)

    def rename_by_dict(self, names_mapping: dict[Any, str]) -> Table:
        mapping = {(k.name if isinstance(k, ColumnReference) else k): v for k, v in names_mapping.items()}
        for old in mapping:
            if old not in self._columns:
                raise KeyError(f"Table has no column {old!r}")
        # Columns kept as they are first, then the renamed ones (Pathway's order).
        exprs: dict[str, ColumnExpression] = {}
        for n in self._columns:
            if n not in mapping and n not in mapping.values():
                exprs[n] = ColumnReference(self, n)
        for old, new in mapping.items():
            exprs[new] = ColumnReference(self, old)
        return self._select_exprs(exprs, user_location())

    def rename(self, names_mapping: dict | None = None, **kwargs: Any) -> Table:
        if names_mapping is not None:
            return self.rename_by_dict(names_mapping)
        return self.rename_columns(**kwargs)

    def with_prefix(self, prefix: str) -> Table:
        return self.rename_by_dict({n: prefix + n for n in self._columns})

    def with_suffix(self, suffix: str) -> Table:
        return self.rename_by_dict({n: n + suffix for n in self._columns})

    def copy(self) -> Table:
        return Table(self._columns, self._node, self._universe, id_dtype=self._id_dtype)

    def update_types(self, **kwargs: Any) -> Table:
        columns = dict(self._columns)
        for n, t in kwargs.items():
            if n not in columns:
                raise ValueError(f"Table has no column {n!r} to update the type of")
            columns[n] = dt.wrap(t)
        return self._with(columns, self._node)

    def cast_to_types(self, **kwargs: Any) -> Table:
        return self.with_columns(**{n: cast(t, ColumnReference(self, n)) for n, t in kwargs.items()})

    def __add__(self, other: Table) -> Table:
        if not univ.are_equal(self._universe, other._universe):
            raise ValueError(
                "Universes of all arguments of Table.__add__() have to be equal.\n"
                "Consider using Table.promise_universes_are_equal() to assert it.\n"
                "(However, untrue assertion might result in runtime errors.)\n"
                f"Occurred here: {user_location()}"
            )
        return self.select(*self, *other)

    # --- filtering -------------------------------------------------------------------------
    def filter(self, filter_expression: Any) -> Table:
        """The rows for which ``filter_expression`` is true."""
        location = user_location()
        layout = TableLayout(self, [filter_expression], location)
        spec, dtype = layout.compile(filter_expression)
        if dtype.strip_optional() not in (dt.BOOL, dt.ANY):
            raise TypeError(f"filter expression must be a bool, got {dtype!r} (at {location})")
        name = f"filter at {location}"
        source = layout.node
        node = LogicalNode([source], lambda g, ins: g.filter(ins[0], spec, name), source.arity)
        if source is not self._node:
            keep = [("column", i, n) for i, n in enumerate(self._columns)]
            node = _select_node(node, keep, name)
        return self._with(self._columns, node, self._universe.subset())

    def split(self, split_expression: Any) -> tuple[Table, Table]:
        e = _wrap(split_expression)
        positive, negative = self.filter(e), self.filter(~e)
        univ.promise_disjoint(positive._universe, negative._universe)
        return positive, negative

    def remove_errors(self) -> Table:
        if not self._columns:
            return self
        cond = None
        for n in self._columns:
            ref = ColumnReference(self, n)
            c = CallExpression("is_not_error", [ref], lambda ts: dt.BOOL, f"{ref._text()} is not Error")
            cond = c if cond is None else cond & c
        return self.filter(cond)

    # --- ids -------------------------------------------------------------------------------
    def pointer_from(self, *args: Any, optional: bool = False, instance: Any = None) -> ColumnExpression:
        return PointerExpression([_wrap(a) for a in args], optional=optional, instance=instance)

    def with_id(self, new_index: Any) -> Table:
        location = user_location()
        layout = TableLayout(self, [new_index], location)
        spec, dtype = layout.compile(new_index)
        if not isinstance(dtype.strip_optional(), dt.Pointer) and dtype != dt.ANY:
            raise TypeError(f"with_id needs a pointer column, got {dtype!r} (at {location})")
        name = f"with_id at {location}"
        node = LogicalNode([layout.node], lambda g, ins: g.reindex(ins[0], spec, name), layout.arity)
        if layout.node is not self._node:
            node = _select_node(node, [("column", i, n) for i, n in enumerate(self._columns)], name)
        return self._with(self._columns, node, univ.Universe())

    def with_id_from(self, *args: Any, instance: Any = None) -> Table:
        return self.with_id(PointerExpression([_wrap(a) for a in args], instance=instance))

    # --- universes -------------------------------------------------------------------------
    def promise_universe_is_subset_of(self, other: Table) -> Table:
        univ.promise_subset(self._universe, other._universe)
        return self

    def promise_universe_is_equal_to(self, other: Table) -> Table:
        univ.promise_equal(self._universe, other._universe)
        return self

    def promise_universes_are_equal(self, other: Table) -> Table:
        return self.promise_universe_is_equal_to(other)

    def promise_universes_are_disjoint(self, other: Table) -> Table:
        univ.promise_disjoint(self._universe, other._universe)
        return self

    def is_universe_subset_of(self, other: Table) -> bool:
        return univ.is_subset(self._universe, other._universe)

    def with_universe_of(self, other: Table) -> Table:
        """This table's rows on ``other``'s ids: every id of ``other`` must be here (a missing
        one gives Error cells, which stop the run when they reach an output)."""
        if univ.are_equal(self._universe, other._universe):
            return Table(self._columns, self._node, other._universe, id_dtype=self._id_dtype)
        name = f"with_universe_of at {user_location()}"
        arity = len(other._columns)
        looked_up = _ix_node(other._node, arity, self, ("id", "id"), False, name)
        specs = [("column", arity + i, n) for i, n in enumerate(self._columns)]
        return self._with(self._columns, _select_node(looked_up, specs, name), other._universe)

    def restrict(self, other: Table) -> Table:
        if not univ.is_subset(other._universe, self._universe):
            raise ValueError(
                "Table.restrict(): the universe of the argument must be a subset of this table's universe.\n"
                "Consider using Table.promise_universe_is_subset_of() to assert it, or Table.intersect()."
            )
        name = f"restrict at {user_location()}"
        node = LogicalNode([self._node, other._node], lambda g, ins: g.restrict(ins[0], ins[1], name), self._node.arity)
        return self._with(self._columns, node, other._universe)

    def intersect(self, *tables: Table) -> Table:
        name = f"intersect at {user_location()}"
        node = self._node
        universe = self._universe.subset()
        for t in tables:
            node = LogicalNode([node, t._node], lambda g, ins: g.restrict(ins[0], ins[1], name), node.arity)
            univ.promise_subset(universe, t._universe)
        return self._with(self._columns, node, universe)

    def difference(self, other: Table) -> Table:
        name = f"difference at {user_location()}"
        node = LogicalNode([self._node, other._node], lambda g, ins: g.difference(ins[0], ins[1], name), self._node.arity)
        universe = self._universe.subset()
        univ.promise_disjoint(universe, other._universe)
        return self._with(self._columns, node, universe)

    # --- combining tables ------------------------------------------------------------------
    def _aligned_to(self, other: Table, method: str, columns: dict[str, dt.DType]) -> LogicalNode:
        """``other``'s rows with its columns in this table's order, cast where needed."""
        if set(other._columns) != set(self._columns):
            raise ValueError(f"Columns do not match between argument of Table.{method}() and the updated table.")
        specs = []
        for n, t in columns.items():
            spec: tuple = ("column", list(other._columns).index(n), n)
            if t.strip_optional() == dt.FLOAT and other._columns[n].strip_optional() == dt.INT:
                spec = ("cast_float", [spec], n)
            specs.append(spec)
        return _select_node(other._node, specs, f"{method} alignment")

    def _cast_node(self, columns: dict[str, dt.DType]) -> LogicalNode:
        if all(self._columns[n] == t or not (t.strip_optional() == dt.FLOAT and self._columns[n].strip_optional() == dt.INT) for n, t in columns.items()):
            return self._node
        return self._aligned_to(self, "cast", columns)

    def concat(self, *others: Table) -> Table:
        location = user_location()
        tables = [self, *others]
        for i, a in enumerate(tables):
            for b in tables[i + 1 :]:
                if not univ.are_disjoint(a._universe, b._universe):
                    raise ValueError(
                        "Universes of the arguments of Table.concat() have to be disjoint.\n"
                        "Consider using Table.promise_universes_are_disjoint() to assert it.\n"
                        "(However, untrue assertion might result in runtime errors.)\n"
                        f"Occurred here: {location}"
                    )
        return _concat(tables, location, univ.superset_of(*(t._universe for t in tables)))

    def update_rows(self, other: Table) -> Table:
        location = user_location()
        columns = {n: dt.lub(t, other._columns.get(n, t)) for n, t in self._columns.items()}
        if set(other._columns) != set(self._columns):
            raise ValueError("Columns do not match between argument of Table.update_rows() and the updated table.")
        base = self._cast_node(columns)
        updates = self._aligned_to(other, "update_rows", columns)
        name = f"update_rows at {location}"
        node = LogicalNode([base, updates], lambda g, ins: g.update_rows(ins[0], ins[1], name), len(columns))
        if univ.is_subset(other._universe, self._universe):
            universe = self._universe
        else:
            universe = univ.superset_of(self._universe, other._universe)
        return self._with(columns, node, universe)

    def update_cells(self, other: Table, /) -> Table:
        location = user_location()
        for n in other._columns:
            if n not in self._columns:
                raise ValueError(f"Columns of the argument of Table.update_cells() must be columns of the updated table; {n!r} is not.")
        if not univ.is_subset(other._universe, self._universe):
            raise ValueError(
                "Universe of the argument of Table.update_cells() needs to be a subset of the universe of the updated table.\n"
                "Consider using Table.promise_is_subset_of() to assert this.\n"
                "(However, untrue assertion might result in runtime errors.)\n"
                f"Occurred here: {user_location()}"
            )
        columns = {n: (dt.lub(t, other._columns[n]) if n in other._columns else t) for n, t in self._columns.items()}
        name = f"update_cells at {location}"
        zipped = LogicalNode([other._node, self._node], lambda g, ins: g.zip(ins, name), len(other._columns) + len(self._columns))
        specs = []
        for i, n in enumerate(self._columns):
            if n in other._columns:
                spec: tuple = ("column", list(other._columns).index(n), n)
                if columns[n].strip_optional() == dt.FLOAT and other._columns[n].strip_optional() == dt.INT:
                    spec = ("cast_float", [spec], n)
            else:
                spec = ("column", len(other._columns) + i, n)
            specs.append(spec)
        updated = _select_node(zipped, specs, name)
        base = self._cast_node(columns)
        node = LogicalNode([base, updated], lambda g, ins: g.update_rows(ins[0], ins[1], name), len(columns))
        return self._with(columns, node)

    def __lshift__(self, other: Table) -> Table:
        return self.update_cells(other)

    # --- group-by and reduce ---------------------------------------------------------------
    def groupby(self, *args: Any, id: Any = None, sort_by: Any = None, instance: Any = None, **kwargs: Any) -> GroupedTable:  # noqa: A002
        location = user_location()
        refs = []
        for a in args:
            if isinstance(a, str):
                a = ColumnReference(self, a)
            if not isinstance(a, ColumnReference):
                raise TypeError(f"groupby accepts column references only, got {a!r} (at {location})")
            refs.append(a)
        if id is not None and not refs and instance is None:
            # groupby(id=col): the groups are the values of col, which become the ids.
            refs.append(_wrap(id))
        if instance is not None:
            if id is None:
                # Pathway's group ids with an instance live on the instance's shard.
                id = PointerExpression(list(refs), instance=instance)  # noqa: A001
            refs.append(_wrap(instance))
        return GroupedTable(self, refs, id=id, sort_by=sort_by, location=location)

    def reduce(self, *args: Any, **kwargs: Any) -> Table:
        return GroupedTable(self, [], location=user_location()).reduce(*args, **kwargs)

    def deduplicate(self, *, value: Any, instance: Any = None, acceptor: Callable[[Any, Any], bool], name: str | None = None) -> Table:
        """Per ``instance``, the last row whose ``value`` the ``acceptor(new, old)`` accepted
        against the previously accepted one (the first row is accepted). Rows are taken in
        arrival order (by id within one commit); deletions are ignored."""
        from deltaflow.internals.udf import pair_function_batch

        location = user_location()
        value = _wrap(value)
        exprs = [value] + ([_wrap(instance)] if instance is not None else [])
        layout = TableLayout(self, exprs, location)
        value_spec, _ = layout.compile(value)
        inst_spec = layout.compile(_wrap(instance))[0] if instance is not None else None
        label = f"deduplicate at {location}"
        fn = pair_function_batch(acceptor, f"the acceptor of {label}")
        source = layout.node
        arity = len(self._columns)
        node = LogicalNode([source], lambda g, ins: g.deduplicate(ins[0], value_spec, inst_spec, fn, label), source.arity)
        if source.arity != arity:
            keep = [("column", i, n) for i, n in enumerate(self._columns)]
            node = _select_node(node, keep, label)
        return Table(self._columns, node, univ.Universe())

    # --- joins -----------------------------------------------------------------------------
    def join(self, other: Table, *on: Any, id: Any = None, how: JoinMode = JoinMode.INNER, left_instance: Any = None, right_instance: Any = None, **kwargs: Any) -> JoinResult:  # noqa: A002
        return JoinResult(self, other, on, id=id, how=JoinMode(how), location=user_location(), instances=(left_instance, right_instance))

    def join_inner(self, other: Table, *on: Any, id: Any = None, left_instance: Any = None, right_instance: Any = None, **kwargs: Any) -> JoinResult:  # noqa: A002
        return JoinResult(self, other, on, id=id, how=JoinMode.INNER, location=user_location(), instances=(left_instance, right_instance))

    def join_left(self, other: Table, *on: Any, id: Any = None, left_instance: Any = None, right_instance: Any = None, **kwargs: Any) -> JoinResult:  # noqa: A002
        return JoinResult(self, other, on, id=id, how=JoinMode.LEFT, location=user_location(), instances=(left_instance, right_instance))

    def join_right(self, other: Table, *on: Any, id: Any = None, left_instance: Any = None, right_instance: Any = None, **kwargs: Any) -> JoinResult:  # noqa: A002
        return JoinResult(self, other, on, id=id, how=JoinMode.RIGHT, location=user_location(), instances=(left_instance, right_instance))

    def join_outer(self, other: Table, *on: Any, id: Any = None, left_instance: Any = None, right_instance: Any = None, **kwargs: Any) -> JoinResult:  # noqa: A002
        return JoinResult(self, other, on, id=id, how=JoinMode.OUTER, location=user_location(), instances=(left_instance, right_instance))

    # --- lookups ---------------------------------------------------------------------------
    def ix(self, expression: Any, *, optional: bool = False, context: Any = None, allow_misses: bool = False) -> Any:
        """The rows of this table whose ids are the pointers ``expression`` computes, on the
        ids of the table ``expression`` reads (or, for ``pw.this``/constants, of the table
        whose operation uses the result)."""
        location = user_location()
        expression = _wrap(expression)
        owners = [r.table for r in expression._references() if isinstance(r.table, Table)]
        optional = optional or allow_misses
        if context is None:
            if not owners:
                return IxTable(self, expression, optional)
            context = owners[0]
        layout = TableLayout(context, [expression], location)
        spec, dtype = layout.compile(expression)
        optional = optional or dtype.is_optional()
        name = f"ix at {location}"
        la = layout.arity
        node = _ix_node(layout.node, la, self, spec, optional, name)
        specs = [("column", la + i, n) for i, n in enumerate(self._columns)]
        columns = {n: (dt.Optional(t) if optional else t) for n, t in self._columns.items()}
        return Table(columns, _select_node(node, specs, name), context._universe)

    def ix_ref(self, *args: Any, optional: bool = False, context: Any = None, instance: Any = None) -> Any:
        return self.ix(PointerExpression([_wrap(a) for a in args], instance=instance), optional=optional, context=context)

    @property
    def C(self) -> Any:  # noqa: N802 - Pathway's name
        """Column references by attribute even when a column's name is a method's (``t.C.select``)."""
        table = self

        class _Columns:
            def __getattr__(self, name: str) -> ColumnReference:
                return table[name]

        return _Columns()

    # --- reshaping -------------------------------------------------------------------------
    def flatten(self, to_flatten: Any, *, origin_id: str | None = None) -> Table:
        location = user_location()
        column = to_flatten.name if isinstance(to_flatten, ColumnReference) else to_flatten
        if column not in self._columns:
            raise KeyError(f"Table has no column {column!r}")
        source = self
        if origin_id is not None:
            source = self.with_columns(**{origin_id: ColumnReference(self, "id")})
        t = source._columns[column].strip_optional()
        if isinstance(t, dt.List):
            item = t.arg
        elif isinstance(t, dt.Tuple):
            item = dt.lub_all(list(t.args)) if t.args else dt.ANY
        elif t == dt.STR:
            item = dt.STR
        elif isinstance(t, dt.Array):
            item = dt.ANY
        elif t == dt.JSON:
            item = dt.JSON
        elif t == dt.ANY:
            item = dt.ANY
        else:
            raise TypeError(f"Cannot flatten column {column!r} of type {source._columns[column]!r} (at {location})")
        # The flattened column comes first, as in Pathway.
        names = [column] + [n for n in source._columns if n != column]
        order = [("column", list(source._columns).index(n), n) for n in names]
        name = f"flatten at {location}"
        reordered = _select_node(source._node, order, name)
        node = LogicalNode([reordered], lambda g, ins: g.flatten(ins[0], 0, name), reordered.arity)
        columns = {n: (item if n == column else source._columns[n]) for n in names}
        return Table(columns, node, univ.Universe())

    # --- not yet ---------------------------------------------------------------------------
    def sort(self, key: Any, instance: Any = None) -> Table:
        """For each row, the ids of the previous and next rows in ``key`` order (within its
        ``instance``): columns ``prev`` and ``next``, None at the ends. Kept up to date as
        rows change: a change touches only its neighbours."""
        location = user_location()
        key = _wrap(key)
        inst = _wrap(instance) if instance is not None else _wrap(None)
        layout = TableLayout(self, [key, inst], location)
        key_spec, key_type = layout.compile(key)
        inst_spec, _ = layout.compile(inst)
        base = key_type.strip_optional()
        if base not in (dt.INT, dt.FLOAT, dt.STR, dt.BYTES, dt.BOOL, dt.DATE_TIME_NAIVE, dt.DATE_TIME_UTC, dt.DURATION, dt.ANY) and not isinstance(base, (dt.Tuple, dt.Pointer)):
            raise TypeError(f"sort key must be comparable (int, float, str, bytes, datetime, tuple), got {key_type!r} (at {location})")
        name = f"sort at {location}"
        source = layout.node
        node = LogicalNode([source], lambda g, ins: g.sort(ins[0], key_spec, inst_spec, name), 2)
        pointer = dt.Optional(self._id_dtype if isinstance(self._id_dtype, dt.Pointer) else dt.ANY_POINTER)
        return Table({"prev": pointer, "next": pointer}, node, self._universe, id_dtype=self._id_dtype)

    def windowby(self, time_expr: Any, *, window: Any, behavior: Any = None, instance: Any = None, shard: Any = None) -> Any:
        from deltaflow.internals import temporal

        return temporal.windowby(self, time_expr, window=window, behavior=behavior, instance=instance, shard=shard)

    def forget(self, time_column: Any, threshold: Any, mark_forgetting_records: bool = False) -> Table:
        from deltaflow.internals import temporal

        return temporal.forget(self, time_column, threshold, mark_forgetting_records)

    def buffer(self, time_column: Any, threshold: Any) -> Table:
        from deltaflow.internals import temporal

        return temporal.buffer(self, time_column, threshold)

    def ignore_late(self, time_column: Any, threshold: Any) -> Table:
        from deltaflow.internals import temporal

        return temporal.ignore_late(self, time_column, threshold)

    def filter_out_results_of_forgetting(self, ensure_consistency: bool = False) -> Table:
        from deltaflow.internals import temporal

        return temporal.filter_out_results_of_forgetting(self, ensure_consistency)

    def asof_join(self, other: Table, self_time: Any, other_time: Any, *on: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_join(self, other, self_time, other_time, *on, **kwargs)

    def asof_join_left(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_join_left(self, other, *args, **kwargs)

    def asof_join_right(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_join_right(self, other, *args, **kwargs)

    def asof_join_outer(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_join_outer(self, other, *args, **kwargs)

    def asof_now_join(self, other: Table, *on: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_now_join(self, other, *on, **kwargs)

    def asof_now_join_inner(self, other: Table, *on: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_now_join_inner(self, other, *on, **kwargs)

    def asof_now_join_left(self, other: Table, *on: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.asof_now_join_left(self, other, *on, **kwargs)

    def interval_join(self, other: Table, self_time: Any, other_time: Any, interval: Any, *on: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.interval_join(self, other, self_time, other_time, interval, *on, **kwargs)

    def window_join(self, other: Table, self_time: Any, other_time: Any, window: Any, *on: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.window_join(self, other, self_time, other_time, window, *on, **kwargs)

    def interval_join_inner(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.interval_join_inner(self, other, *args, **kwargs)

    def window_join_inner(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.window_join_inner(self, other, *args, **kwargs)

    def interval_join_left(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.interval_join_left(self, other, *args, **kwargs)

    def window_join_left(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.window_join_left(self, other, *args, **kwargs)

    def interval_join_right(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.interval_join_right(self, other, *args, **kwargs)

    def window_join_right(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.window_join_right(self, other, *args, **kwargs)

    def interval_join_outer(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.interval_join_outer(self, other, *args, **kwargs)

    def window_join_outer(self, other: Table, *args: Any, **kwargs: Any) -> Any:
        from deltaflow.internals import temporal_joins

        return temporal_joins.window_join_outer(self, other, *args, **kwargs)

    def diff(self, timestamp: Any, *values: Any, instance: Any = None) -> Table:
        from deltaflow.ordered import diff

        return diff(self, timestamp, *values, instance=instance)

    def interpolate(self, timestamp: Any, *values: Any, **kwargs: Any) -> Table:
        from deltaflow.statistical import interpolate

        return interpolate(self, timestamp, *values, **kwargs)

    def add_update_timestamp_utc(self, refresh_rate: Any = None, update_timestamp_column_name: str = "updated_timestamp_utc") -> Table:
        import datetime

        from deltaflow.internals.time_utils import add_update_timestamp_utc

        rate = refresh_rate if refresh_rate is not None else datetime.timedelta(seconds=1)
        return add_update_timestamp_utc(self, rate, update_timestamp_column_name)

    def await_futures(self) -> Table:
        """The rows whose results of fully asynchronous functions (``Future`` columns) have all
        arrived, those columns typed as their results; other tables are returned as they are."""
        from deltaflow.internals.fully_async import await_futures

        return await_futures(self)

    def debug(self, name: str) -> Table:
        return self

    # --- constructors ----------------------------------------------------------------------
    @staticmethod
    def empty(**kwargs: Any) -> Table:
        columns = {n: dt.wrap(t) for n, t in kwargs.items()}
        return static_table(columns, [], name="empty")

    @staticmethod
    def from_columns(*args: ColumnReference, **kwargs: ColumnReference) -> Table:
        refs = list(args) + list(kwargs.values())
        if not refs:
            raise ValueError("Table.from_columns() needs at least one column")
        base = refs[0].table
        return base.select(*args, **kwargs)

    def concat_reindex(self, *tables: Table) -> Table:
        return concat_reindex(self, *tables)


def _concat(tables: list[Table], location: str, universe: univ.Universe) -> Table:
    first = tables[0]
    columns = dict(first._columns)
    for t in tables[1:]:
        if set(t._columns) != set(first._columns):
            raise ValueError("Columns of the arguments of Table.concat() must be the same.")
        for n in columns:
            merged = dt.lub(columns[n], t._columns[n])
            if merged == dt.ANY and dt.ANY not in (columns[n], t._columns[n]):
                raise TypeError(
                    f"Incompatible types for a concat operation. The types are: ({columns[n]!r}, {t._columns[n]!r}). "
                    f"Affected column: {n!r}."
                )
            columns[n] = merged
    nodes = [first._aligned_to(t, "concat", columns) for t in tables]
    name = f"concat at {location}"
    node = LogicalNode(nodes, lambda g, ins: g.concat(ins, name), len(columns))
    return Table(columns, node, universe)


def concat_reindex(*tables: Table) -> Table:
    location = user_location()
    reindexed = []
    for i, t in enumerate(tables):
        name = f"concat_reindex at {location}"
        spec = ("pointer_from", [("id", "id"), ("const", i, str(i))], "pointer_from(id, index)")
        node = LogicalNode([t._node], lambda g, ins, spec=spec, name=name: g.reindex(ins[0], spec, name), t._node.arity)
        reindexed.append(Table(t._columns, node, univ.Universe()))
    return _concat(reindexed, location, univ.Universe())


# --- group-by ----------------------------------------------------------------------------


class _GroupResultLayout(Layout):
    def __init__(self, node: LogicalNode, group: GroupedTable, group_dtypes: list[dt.DType], reducers: dict[int, tuple[int, dt.DType]], location: str) -> None:
        super().__init__(node, location)
        self.group = group
        self.group_dtypes = group_dtypes
        self.reducers = reducers

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        for i, g in enumerate(self.group.refs):
            if not isinstance(g, ColumnReference):
                continue
            same_table = (
                g.table is ref.table
                or isinstance(ref.table, ThisPlaceholder)
                or isinstance(g.table, ThisPlaceholder)
                or (self.group.original is not None and ref.table is self.group.original and g.table is self.group.source)
            )
            if same_table and g.name == ref.name:
                return i, self.group_dtypes[i]
        if ref.name == "id" and (isinstance(ref.table, ThisPlaceholder) or ref.table is self.group.source):
            return "id", dt.ANY_POINTER
        text = ref._text()
        raise ValueError(
            f"You cannot use {text} in this reduce statement.\n"
            f"Make sure that {text} is used in a groupby or wrap it with a reducer, e.g. pw.reducers.count({text})"
        )

    def compile(self, expr: ColumnExpression) -> tuple[tuple, dt.DType]:
        expr = _wrap(expr)
        dtype = expr._dtype(self)
        return expr._compile(self), dtype

    def reducer_result(self, reducer: ReducerExpression) -> tuple[int, dt.DType]:
        """The cell holding ``reducer``'s result, and its dtype."""
        return self.reducers[id(reducer)]


def _find_reducers(expr: ColumnExpression) -> list[ReducerExpression]:
    if isinstance(expr, ReducerExpression):
        return [expr]
    found = []
    for c in expr._children():
        found.extend(_find_reducers(c))
    return found


def _is_fully_async(e: Any) -> bool:
    if not isinstance(e, ApplyExpression) or e._executor is None:
        return False
    from deltaflow.internals.fully_async import FullyAsyncExecutor

    return isinstance(e._executor, FullyAsyncExecutor)


class GroupedTable:
    """The result of ``groupby``: call ``reduce`` to get one row per group."""

    def __init__(self, source: Any, refs: list[ColumnExpression], *, id: Any = None, sort_by: Any = None, location: str = "", layout_factory: Callable[[list[Any]], Layout] | None = None, original: Any = None) -> None:  # noqa: A002
        self.source = source
        # A table whose columns name the grouping columns too (windowby: the windowed table's
        # instance column is the original table's column of that name).
        self.original = original
        self.refs = refs
        self.id = id
        self.sort_by = sort_by
        self.location = location
        self.layout_factory = layout_factory

    def _group_star(self, star: StarExpansion) -> list[ColumnReference]:
        return [r for r in self.refs if isinstance(r, ColumnReference) and r.name not in star.excluded]

    def reduce(self, *args: Any, **kwargs: Any) -> Table:
        location = user_location()
        outputs = _expand_args(args, kwargs, self._group_star, location)
        reducers: list[ReducerExpression] = []
        for e in outputs.values():
            for r in _find_reducers(e):
                if all(r is not x for x in reducers):
                    reducers.append(r)
        needed: list[Any] = list(self.refs)
        for r in reducers:
            needed.extend(r._args)
        if self.id is not None:
            needed.append(self.id)
        if self.sort_by is not None:
            needed.append(self.sort_by)
        if self.layout_factory is not None:
            source_layout = self.layout_factory(needed)
        else:
            source_layout = TableLayout(self.source, needed, location)
        group_specs = []
        group_dtypes = []
        for g in self.refs:
            spec, t = source_layout.compile(g)
            group_specs.append(spec)
            group_dtypes.append(t)
        sort_spec = source_layout.compile(self.sort_by)[0] if self.sort_by is not None else None
        reducer_specs = []
        reducer_info: dict[int, tuple[int, dt.DType]] = {}
        for k, r in enumerate(reducers):
            for a in r._args:
                if a._contains(ReducerExpression):
                    raise ValueError(f"reducers cannot be nested ({r._text()}, at {location})")
            result_dtype = r._result_dtype(source_layout)
            arg_specs = [source_layout.compile(a)[0] for a in r._args]
            if r._kind in ("tuple", "ndarray") and sort_spec is not None:
                arg_specs.append(sort_spec)
            reducer_specs.append((r._kind, arg_specs, r._skip_nones, f"{r._text()} at {location}"))
            reducer_info[id(r)] = (len(self.refs) + k, result_dtype)
        id_spec = None
        if self.id is not None:
            id_spec, id_type = source_layout.compile(self.id)
            if not isinstance(id_type.strip_optional(), dt.Pointer) and id_type != dt.ANY:
                raise TypeError(f"groupby id= must be a pointer, got {id_type!r} (at {location})")
        name = f"groupby/reduce at {location}"
        source_node = source_layout.node
        arity = len(self.refs) + len(reducers)
        gb = LogicalNode([source_node], lambda g, ins: g.groupby_reduce(ins[0], group_specs, reducer_specs, id_spec, name), arity)
        result_layout = _GroupResultLayout(gb, self, group_dtypes, reducer_info, location)
        specs = []
        columns = {}
        for n, e in outputs.items():
            spec, t = result_layout.compile(e)
            specs.append(spec)
            columns[n] = t
        node = _select_node(result_layout.node, specs, name)
        return Table(columns, node, univ.Universe())


# --- joins -------------------------------------------------------------------------------


class _JoinLayout(Layout):
    def __init__(self, result: JoinResult, node: LogicalNode, location: str) -> None:
        super().__init__(node, location)
        self.result = result

    def _side(self, owner: Any) -> str | None:
        r = self.result
        if isinstance(owner, ThisPlaceholder):
            return owner.side if owner.side in ("left", "right") else "this"
        if owner is r.left:
            return "left"
        if owner is r.right:
            return "right"
        return None

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        r = self.result
        side = self._side(ref.table)
        if side is None:
            raise ValueError(f"{ref._text()} does not belong to either side of this join (at {self.location})")
        name = ref.name
        if side == "this":
            if name == "id":
                return "id", dt.ANY_POINTER
            in_left = name in r.left._columns
            in_right = name in r.right._columns
            if in_left and in_right:
                if name in r.same_name_keys:
                    side = "left" if r.how != JoinMode.RIGHT else "right"
                else:
                    raise KeyError(f"Column {name} appears on both left and right inputs of join.")
            elif in_left:
                side = "left"
            elif in_right:
                side = "right"
            else:
                raise KeyError(f"Column {name} does not exist in either input of the join (at {self.location})")
        la, ra = len(r.left._columns), len(r.right._columns)
        table = r.left if side == "left" else r.right
        optional = (side == "right" and r.how in (JoinMode.LEFT, JoinMode.OUTER)) or (
            side == "left" and r.how in (JoinMode.RIGHT, JoinMode.OUTER)
        )
        if name == "id":
            index = la + ra + (0 if side == "left" else 1)
            return index, (dt.Optional(dt.ANY_POINTER) if optional else dt.ANY_POINTER)
        if name not in table._columns:
            raise KeyError(f"Table has no column {name!r} (at {self.location})")
        index = list(table._columns).index(name) + (0 if side == "left" else la)
        t = table._columns[name]
        return index, (dt.Optional(t) if optional else t)


def compile_join_condition(cond: Any, left: Table, right: Table, left_layout: Any, right_layout: Any) -> tuple[tuple, tuple, dt.DType]:
    """One ``left.x == right.y`` condition of a join (plain or temporal): the compiled key of
    each side and the left key's type. Keys must be of comparable types (an int joins a float
    by value); anything else is an error naming both types, as in Pathway."""
    from deltaflow.internals.expression import BinaryExpression

    if not isinstance(cond, BinaryExpression) or cond._op != "eq":
        raise ValueError("join condition should be of form <left_table>.<column> == <right_table>.<column>")
    a, b = cond._left, cond._right
    if _refers_only_to(a, right, "right") and _refers_only_to(b, left, "left") and not _refers_only_to(a, left, "left"):
        raise ValueError(
            "The boolean condition is not properly ordered. The left part of the condition should refer to the "
            "left table of the join and the right part to the right table."
        )
    left_spec, left_type = left_layout.compile(a)
    right_spec, right_type = right_layout.compile(b)
    lt, rt = left_type.strip_optional(), right_type.strip_optional()
    comparable = lt == rt or dt.ANY in (lt, rt) or (isinstance(lt, dt.Pointer) and isinstance(rt, dt.Pointer)) or {lt, rt} == {dt.INT, dt.FLOAT}
    if not comparable:
        raise TypeError(
            f"Incompatible types in a join condition.\nThe types are: {lt!r} and {rt!r}. "
            "You might try casting the respective columns to Any type to circumvent this, but this is most probably an error.\n"
            f"The condition: {a._text()} == {b._text()}"
        )
    if {lt, rt} == {dt.INT, dt.FLOAT}:
        # Keys compare by value: 1 joins 1.0.
        left_spec = ("cast_float", [left_spec], a._text()) if lt == dt.INT else left_spec
        right_spec = ("cast_float", [right_spec], b._text()) if rt == dt.INT else right_spec
    return left_spec, right_spec, left_type


class JoinResult:
    """The result of ``join``: call ``select`` (or ``filter``/``groupby``/``reduce``)."""

    def __init__(self, left: Table, right: Table, on: tuple, *, id: Any, how: JoinMode, location: str, instances: tuple = (None, None), node: LogicalNode | None = None) -> None:  # noqa: A002
        self.left = left
        self.right = right
        self.how = how
        self.location = location
        self.same_name_keys: set[str] = set()
        if node is not None:
            self.node = node
            return
        left_keys: list[tuple] = []
        right_keys: list[tuple] = []
        conditions = list(on)
        if instances[0] is not None and instances[1] is not None:
            conditions.append(_wrap(instances[0]) == _wrap(instances[1]))
        if left is right:
            raise ValueError("Cannot join table with itself. Use <table>.copy() as one of the arguments of the join.")
        left_layout = _SideLayout(left, "left", location)
        right_layout = _SideLayout(right, "right", location)
        for cond in conditions:
            left_spec, right_spec, _ = compile_join_condition(cond, left, right, left_layout, right_layout)
            a, b = cond._left, cond._right
            left_keys.append(left_spec)
            right_keys.append(right_spec)
            if isinstance(a, ColumnReference) and isinstance(b, ColumnReference) and a.name == b.name:
                self.same_name_keys.add(a.name)
        id_mode = "pair"
        if id is not None:
            if not isinstance(id, ColumnReference) or id.name != "id":
                raise ValueError("join id= must be the id of one side (pw.left.id or pw.right.id)")
            side = "left" if (id.table is left or (isinstance(id.table, ThisPlaceholder) and id.table.side == "left")) else "right"
            id_mode = side
        self.id_mode = id_mode
        kind = {JoinMode.INNER: "inner", JoinMode.LEFT: "left", JoinMode.RIGHT: "right", JoinMode.OUTER: "outer"}[how]
        name = f"join at {location}"
        la, ra = len(left._columns), len(right._columns)
        self.node = LogicalNode(
            [left._node, right._node],
            lambda g, ins: g.join(ins[0], ins[1], left_keys, right_keys, kind, id_mode, name),
            la + ra + 2,
        )

    def _layout(self, location: str) -> _JoinLayout:
        return _JoinLayout(self, self.node, location)

    def _star(self, star: StarExpansion) -> list[ColumnReference]:
        owner = star.owner
        side = owner.side if isinstance(owner, ThisPlaceholder) else ("left" if owner is self.left else "right")
        if side == "left":
            return [ColumnReference(self.left if not isinstance(owner, ThisPlaceholder) else owner, n) for n in self.left._columns if n not in star.excluded]
        if side == "right":
            return [ColumnReference(self.right if not isinstance(owner, ThisPlaceholder) else owner, n) for n in self.right._columns if n not in star.excluded]
        names: list[str] = []
        for n in list(self.left._columns) + list(self.right._columns):
            if n in star.excluded or n in names:
                continue
            if n in self.left._columns and n in self.right._columns and n not in self.same_name_keys:
                continue
            names.append(n)
        return [ColumnReference(owner, n) for n in names]

    def select(self, *args: Any, **kwargs: Any) -> Table:
        location = user_location()
        exprs = _expand_args(args, kwargs, self._star, location)
        layout = self._layout(location)
        specs = []
        columns = {}
        for n, e in exprs.items():
            spec, t = layout.compile(e)
            specs.append(spec)
            columns[n] = t
        node = _select_node(layout.node, specs, f"join select at {location}")
        universe = univ.Universe()
        if self.id_mode == "left":
            if self.how in (JoinMode.LEFT,):
                universe = self.left._universe
            else:
                univ.promise_subset(universe, self.left._universe)
        elif self.id_mode == "right":
            if self.how in (JoinMode.RIGHT,):
                universe = self.right._universe
            else:
                univ.promise_subset(universe, self.right._universe)
        return Table(columns, node, universe)

    def filter(self, filter_expression: Any) -> JoinResult:
        location = user_location()
        layout = self._layout(location)
        spec, _ = layout.compile(filter_expression)
        name = f"join filter at {location}"
        source = layout.node
        node = LogicalNode([source], lambda g, ins: g.filter(ins[0], spec, name), source.arity)
        if source is not self.node:
            keep = [("column", i, str(i)) for i in range(self.node.arity)]
            node = _select_node(node, keep, name)
        result = JoinResult(self.left, self.right, (), id=None, how=self.how, location=location, node=node)
        result.same_name_keys = self.same_name_keys
        result.id_mode = getattr(self, "id_mode", "pair")
        return result

    def groupby(self, *args: Any, id: Any = None, sort_by: Any = None, **kwargs: Any) -> GroupedTable:  # noqa: A002
        location = user_location()
        return GroupedTable(self, list(args), id=id, sort_by=sort_by, location=location, layout_factory=lambda exprs: self._layout(location))

    def reduce(self, *args: Any, **kwargs: Any) -> Table:
        location = user_location()
        return GroupedTable(self, [], location=location, layout_factory=lambda exprs: self._layout(location)).reduce(*args, **kwargs)


class _SideLayout(Layout):
    """One side of a join, for its key expressions."""

    def __init__(self, table: Table, side: str, location: str) -> None:
        super().__init__(table._node, location)
        self.table = table
        self.side = side

    def resolve(self, ref: ColumnReference) -> tuple[Any, dt.DType]:
        owner = ref.table
        ok = owner is self.table or (isinstance(owner, ThisPlaceholder) and owner.side == self.side)
        if not ok:
            raise ValueError(
                "The boolean condition is not properly ordered. The left part of the condition should refer to the "
                "left table of the join and the right part to the right table."
            )
        if ref.name == "id":
            return "id", dt.ANY_POINTER
        if ref.name not in self.table._columns:
            raise KeyError(f"Table has no column {ref.name!r}")
        return list(self.table._columns).index(ref.name), self.table._columns[ref.name]

    def lift_apply(self, apply: ApplyExpression) -> int:
        raise NotImplementedError("user functions inside join conditions are not supported; compute the key in a select first")


def _refers_only_to(expr: ColumnExpression, table: Table, side: str) -> bool:
    refs = list(expr._references())
    return bool(refs) and all(r.table is table or (isinstance(r.table, ThisPlaceholder) and r.table.side == side) for r in refs)


# --- static tables -----------------------------------------------------------------------

_static_universes: dict[Any, univ.Universe] = {}


def static_table(
    columns: dict[str, dt.DType],
    rows: list[tuple[Any, tuple, int, int]],
    *,
    name: str = "input",
    universe_key: Any = None,
    id_dtype: dt.DType = dt.ANY_POINTER,
) -> Table:
    """A table holding ``rows``: (id, values, time, diff) each."""
    arity = len(columns)
    location = user_location()
    label = f"{name} at {location}"
    node = LogicalNode([], lambda g, ins: g.static_input(rows, arity, label), arity)
    if universe_key is not None:
        universe = _static_universes.setdefault(universe_key, univ.Universe())
    else:
        universe = univ.Universe()
    return Table(columns, node, universe, id_dtype=id_dtype)


def warn_odd_times() -> None:
    warnings.warn("timestamps are required to be even; all timestamps will be doubled", UserWarning, stacklevel=3)


_error_log_node: LogicalNode | None = None
_error_log_universe = univ.Universe()


def error_log_table() -> Table:
    """The run's error log (one engine node however often it is asked for)."""
    global _error_log_node
    if _error_log_node is None:
        _error_log_node = LogicalNode([], lambda g, ins: g.error_log(), 3)
    columns = {"operator_id": dt.INT, "message": dt.STR, "trace": dt.STR}
    return Table(columns, _error_log_node, _error_log_universe)


def _ix_node(source: LogicalNode, arity: int, target: Table, pointer_spec: tuple, optional: bool, name: str) -> LogicalNode:
    """``source``'s cells followed by the cells of the ``target`` row its pointer names; a
    missing row gives None (``optional``) or Error cells."""
    ta = len(target._columns)
    id_key = [("id", "id")]
    joined = LogicalNode(
        [source, target._node],
        lambda g, ins: g.join(ins[0], ins[1], [pointer_spec], id_key, "left", "left", name),
        arity + ta + 2,
    )
    specs: list[tuple] = [("column", i, str(i)) for i in range(arity)]
    right_id = ("column", arity + ta + 1, "id")
    for i, n in enumerate(target._columns):
        cell: tuple = ("column", arity + i, n)
        if not optional:
            present = ("is_not_none", [("unwrap", [right_id], f"ix: no row for the pointer ({name})")], "present")
            cell = ("if_else", [present, cell, cell], n)
        specs.append(cell)
    return _select_node(joined, specs, name)


class IxTable:
    """``table.ix(pw.this.ptr)``: the looked-up columns, resolved in the operation that uses
    them (its rows give the pointers)."""

    def __init__(self, target: Table, pointer: ColumnExpression, optional: bool) -> None:
        self._target = target
        self._pointer = pointer
        self._optional = optional

    def __getattr__(self, name: str) -> ColumnExpression:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> ColumnExpression:
        if isinstance(self._target, Table) and name not in self._target._columns:
            raise AttributeError(f"Table has no column {name!r}")
        return IxColumn(self, name)

    def _resolved_target(self, layout: Layout) -> Table:
        if isinstance(self._target, Table):
            return self._target
        table = getattr(layout, "table", None)
        if not isinstance(table, Table):
            raise ValueError("pw.this.ix can only be used in an operation on a table")
        return table


class IxColumn(ColumnExpression):
    def __init__(self, ix: IxTable, name: str) -> None:
        self._ix = ix
        self._name = name

    def _children(self) -> list[ColumnExpression]:
        return [self._ix._pointer]

    def _dtype(self, layout: Layout) -> dt.DType:
        target = self._ix._resolved_target(layout)
        if self._name not in target._columns:
            raise AttributeError(f"Table has no column {self._name!r}")
        t = target._columns[self._name]
        return dt.Optional(t) if self._ix._optional else t

    def _compile(self, layout: Layout) -> tuple:
        offset = layout.lift_ix(self._ix)
        target = self._ix._resolved_target(layout)
        return ("column", offset + list(target._columns).index(self._name), self._text())

    def _text(self) -> str:
        return f"ix({self._ix._pointer._text()}).{self._name}"
