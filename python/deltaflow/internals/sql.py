"""``pw.sql``: SQL queries over tables, parsed by sqlglot and translated into Table
operations (so they run incrementally in the engine like any other pipeline).

Supported: SELECT (columns, ``*``, expressions, aliases, DISTINCT), FROM with aliases and
subqueries, [INNER | LEFT | RIGHT | FULL] JOIN ... ON (equalities, plus further conditions on
inner joins), WHERE, GROUP BY, HAVING, COUNT/SUM/AVG/MIN/MAX, CASE WHEN, IS [NOT] NULL,
BETWEEN, IN (values), UNION [ALL], INTERSECT, WITH. Anything else raises NotImplementedError
naming the construct."""

from __future__ import annotations

import itertools
from typing import Any

from deltaflow.internals.table import JoinMode, Table

_counter = itertools.count()


def _sqlglot() -> Any:
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError:  # pragma: no cover - sqlglot is a dependency
        raise ImportError("pw.sql needs the sqlglot package: pip install sqlglot") from None
    return sqlglot, exp


def _arg(node: Any, name: str) -> Any:
    args = node.args
    return args.get(name) if args.get(name) is not None else args.get(f"{name}_")


class _Scope:
    """A table and how SQL names reach its columns: (qualifier, column) and bare columns."""

    def __init__(
        self, table: Table, qualified: dict[tuple[str, str], str], bare: dict[str, str | None], order: list[tuple[str, str, str]]
    ) -> None:
        self.table = table
        self.qualified = qualified
        self.bare = bare  # None: ambiguous
        self.order = order  # what ``*`` expands to: (qualifier, SQL name, column), in order

    @staticmethod
    def of(table: Table, alias: str) -> _Scope:
        cols = [c for c in table._columns]
        return _Scope(table, {(alias, c): c for c in cols}, {c: c for c in cols}, [(alias, c, c) for c in cols])

    def column(self, name: str, qualifier: str | None) -> str:
        if qualifier:
            key = (qualifier, name)
            if key not in self.qualified:
                raise KeyError(f"pw.sql: no column {qualifier}.{name}")
            return self.qualified[key]
        if name not in self.bare:
            raise KeyError(f"pw.sql: no column {name}")
        found = self.bare[name]
        if found is None:
            raise KeyError(f"pw.sql: column {name} is ambiguous; qualify it with its table")
        return found


class _Translator:
    def __init__(self, tables: dict[str, Table]) -> None:
        self.sqlglot, self.exp = _sqlglot()
        self.tables = dict(tables)

    # --- queries ---------------------------------------------------------------------------
    def query(self, node: Any) -> Table:
        exp = self.exp
        with_ = _arg(node, "with")
        if with_ is not None:
            for cte in with_.expressions:
                self.tables[cte.alias] = self.query(cte.this)
        if isinstance(node, exp.Union):
            left, right = self.query(node.this), self.query(node.expression)
            self._same_columns(left, right, "UNION")
            right = right.select(*[right[c] for c in left._columns])
            result = left.concat_reindex(right)
            if node.args.get("distinct"):
                result = self._distinct(result)
            return result
        if isinstance(node, exp.Intersect):
            if not node.args.get("distinct", True):
                raise NotImplementedError("pw.sql: INTERSECT ALL is not supported")
            left, right = self._distinct(self.query(node.this)), self._distinct(self.query(node.expression))
            self._same_columns(left, right, "INTERSECT")
            cols = list(left._columns)
            joined = left.join(right, *[left[c] == right[c] for c in cols])
            return joined.select(*[left[c] for c in cols])
        if isinstance(node, exp.Except):
            raise NotImplementedError("pw.sql: EXCEPT is not supported")
        if isinstance(node, exp.Subquery):
            return self.query(node.this)
        if not isinstance(node, exp.Select):
            raise NotImplementedError(f"pw.sql: {node.key.upper()} is not supported")
        return self.select(node)

    def _same_columns(self, a: Table, b: Table, what: str) -> None:
        if set(a._columns) != set(b._columns):
            raise ValueError(f"pw.sql: {what} needs the same column names, got {list(a._columns)} and {list(b._columns)}")

    def _distinct(self, table: Table) -> Table:
        cols = list(table._columns)
        return table.groupby(*[table[c] for c in cols]).reduce(*[table[c] for c in cols])

    def source(self, node: Any) -> _Scope:
        exp = self.exp
        if isinstance(node, exp.Table):
            name = node.name
            if name not in self.tables:
                raise KeyError(f"pw.sql: no table named {name!r} (pass it as {name}=table)")
            return _Scope.of(self.tables[name], node.alias_or_name)
        if isinstance(node, exp.Subquery):
            return _Scope.of(self.query(node.this), node.alias_or_name)
        raise NotImplementedError(f"pw.sql: FROM {node.key.upper()} is not supported")

    def select(self, node: Any) -> Table:
        exp = self.exp
        for unsupported in ("order", "limit", "offset"):
            if node.args.get(unsupported) is not None:
                raise NotImplementedError(f"pw.sql: {unsupported.upper()} is not supported (tables have no order)")
        from_ = _arg(node, "from")
        if from_ is None:
            raise NotImplementedError("pw.sql: SELECT without FROM is not supported")
        scope = self.source(from_.this)
        for join in node.args.get("joins") or []:
            scope = self.join(scope, join)
        where = node.args.get("where")
        if where is not None:
            cond = self.expr(where.this, scope)
            scope = _Scope(scope.table.filter(cond), scope.qualified, scope.bare, scope.order)
            scope.table = scope.table  # filtered rows keep the column names
        group = node.args.get("group")
        having = node.args.get("having")
        outputs = self._outputs(node, scope)
        has_aggregate = any(not isinstance(o, _Internal) and o.find(exp.AggFunc) is not None for _, o in outputs) or having is not None
        if group is not None or has_aggregate:
            result = self.aggregate(scope, group, outputs, having)
        else:
            result = scope.table.select(**{name: self.expr(o, scope) for name, o in outputs})
        if node.args.get("distinct") is not None:
            result = self._distinct(result)
        return result

    def _outputs(self, node: Any, scope: _Scope) -> list[tuple[str, Any]]:
        exp = self.exp
        outputs: list[tuple[str, Any]] = []
        for i, e in enumerate(node.expressions):
            if isinstance(e, exp.Star):
                outputs.extend((name, _Internal(col)) for _, name, col in scope.order)
                continue
            if isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
                qualifier = e.table
                outputs.extend((name, _Internal(col)) for q, name, col in scope.order if q == qualifier)
                continue
            if isinstance(e, exp.Alias):
                outputs.append((e.alias, e.this))
            elif isinstance(e, exp.Column):
                outputs.append((e.name, e))
            else:
                outputs.append((f"_col_{i}", e))
        return outputs

    def join(self, left: _Scope, join: Any) -> _Scope:
        exp = self.exp
        right = self.source(join.this)
        side = (join.args.get("side") or "").upper()
        kind = (join.args.get("kind") or "").upper()
        if kind in ("CROSS", "NATURAL") or join.args.get("using"):
            raise NotImplementedError(f"pw.sql: {kind or 'USING'} JOIN is not supported")
        how = {"": JoinMode.INNER, "LEFT": JoinMode.LEFT, "RIGHT": JoinMode.RIGHT, "FULL": JoinMode.OUTER}[side]
        on = join.args.get("on")
        if on is None:
            raise NotImplementedError("pw.sql: a JOIN needs an ON condition")
        conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on]
        equalities, rest = [], []
        lt, rt = left.table, right.table
        if lt is rt:
            rt = rt.copy()
            right = _Scope(rt, right.qualified, right.bare, right.order)
        for c in conjuncts:
            if isinstance(c, exp.EQ):
                sides = self._join_sides(c, left, right)
                if sides is not None:
                    equalities.append(sides)
                    continue
            rest.append(c)
        if rest and how != JoinMode.INNER:
            raise NotImplementedError("pw.sql: an outer JOIN's ON may hold equalities only")
        if not equalities:
            raise NotImplementedError("pw.sql: a JOIN needs at least one equality between its tables")
        joined = lt.join(right.table, *[a == b for a, b in equalities], how=how)
        names: dict[tuple[str, str], str] = {}
        exprs: dict[str, Any] = {}
        bare: dict[str, str | None] = {}
        order: list[tuple[str, str, str]] = []
        for scope, tab in ((left, lt), (right, right.table)):
            by_column: dict[str, str] = {}
            for (q, c), col in scope.qualified.items():
                if col not in by_column:
                    new = f"_sql{next(_counter)}"
                    by_column[col] = new
                    exprs[new] = tab[col]
                names[(q, c)] = by_column[col]
            for c, col in scope.bare.items():
                if col is None:
                    bare[c] = None
                    continue
                mapped = by_column[col]
                bare[c] = None if c in bare and bare[c] != mapped else mapped
            order.extend((q, name, by_column[col]) for q, name, col in scope.order)
        table = joined.select(**exprs)
        # `*` keeps the SQL names: a column whose bare name is unique shows as itself.
        result = _Scope(table, names, bare, order)
        if rest:
            cond = self.expr(rest[0], result)
            for c in rest[1:]:
                cond = cond & self.expr(c, result)
            result.table = result.table.filter(cond)
        return result

    def _join_sides(self, eq: Any, left: _Scope, right: _Scope) -> tuple[Any, Any] | None:
        a, b = eq.this, eq.expression
        for x, y in ((a, b), (b, a)):
            try:
                return self.expr(x, left, table=left.table), self.expr(y, right, table=right.table)
            except KeyError:
                continue
        return None

    def aggregate(self, scope: _Scope, group: Any, outputs: list[tuple[str, Any]], having: Any) -> Table:
        import deltaflow as pw

        exp = self.exp
        t = scope.table
        keys = [self.expr(g, scope) for g in group.expressions] if group is not None else []
        key_names: dict[str, str] = {}
        if keys:
            key_cols = {}
            for i, (g, k) in enumerate(zip(group.expressions, keys)):
                name = f"_sqlk{i}"
                key_cols[name] = k
                key_names[g.sql()] = name
            t = t.with_columns(**key_cols)
        grouped = t.groupby(*[t[n] for n in key_names.values()]) if keys else None

        def reduce_expr(node: Any) -> Any:
            """``node`` over the groups: aggregates become reducers, group keys their columns."""
            if isinstance(node, _Internal):
                raise ValueError("pw.sql: SELECT * with GROUP BY: name the grouped columns")
            if node.sql() in key_names:
                return pw.this[key_names[node.sql()]]
            if isinstance(node, exp.AggFunc):
                return self._reducer(node, scope, t)
            if isinstance(node, exp.Column):
                raise ValueError(f"pw.sql: column {node.sql()} must be in GROUP BY or inside an aggregate")
            return self.expr(node, scope, rewrite=reduce_expr)

        columns = {name: reduce_expr(o) for name, o in outputs}
        hidden = {}
        if having is not None:
            hidden["_sql_having"] = reduce_expr(having.this)
        reduced = grouped.reduce(**columns, **hidden) if grouped is not None else t.reduce(**columns, **hidden)
        if having is not None:
            reduced = reduced.filter(reduced["_sql_having"]).without(reduced["_sql_having"])
        return reduced

    def _reducer(self, node: Any, scope: _Scope, t: Table) -> Any:
        import deltaflow as pw

        exp = self.exp
        if node.args.get("distinct") is not None or isinstance(node.this, exp.Distinct):
            if isinstance(node, exp.Count):
                inner = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
                return pw.reducers.count_distinct(self.expr(inner, scope, table=t))
            raise NotImplementedError(f"pw.sql: {node.key.upper()}(DISTINCT ...) is not supported")
        if isinstance(node, exp.Count):
            if isinstance(node.this, exp.Star) or node.this is None:
                return pw.reducers.count()
            # COUNT(x) counts non-NULL values.
            value = self.expr(node.this, scope, table=t)
            return pw.reducers.sum(pw.if_else(value.is_none(), 0, 1))
        arg = self.expr(node.this, scope, table=t)
        reducers = {exp.Sum: pw.reducers.sum, exp.Avg: pw.reducers.avg, exp.Min: pw.reducers.min, exp.Max: pw.reducers.max}
        for kind, reducer in reducers.items():
            if isinstance(node, kind):
                return reducer(arg)
        raise NotImplementedError(f"pw.sql: the aggregate {node.key.upper()} is not supported")

    # --- expressions -----------------------------------------------------------------------
    def expr(self, node: Any, scope: _Scope, *, table: Table | None = None, rewrite: Any = None) -> Any:
        import deltaflow as pw

        exp = self.exp
        table = table if table is not None else scope.table

        def sub(n: Any) -> Any:
            return rewrite(n) if rewrite is not None else self.expr(n, scope, table=table)

        if isinstance(node, _Internal):
            return table[node.column]
        if isinstance(node, exp.Column):
            return table[scope.column(node.name, node.table or None)]
        if isinstance(node, exp.Paren):
            return sub(node.this)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return node.this
            text = node.this
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        if isinstance(node, exp.Boolean):
            return node.this
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Neg):
            return -sub(node.this)
        if isinstance(node, exp.Not):
            inner = node.this
            if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
                return sub(inner.this).is_not_none()
            return ~sub(inner)
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            return sub(node.this).is_none()
        binary = {
            exp.Add: lambda a, b: a + b, exp.Sub: lambda a, b: a - b, exp.Mul: lambda a, b: a * b,
            exp.Div: lambda a, b: a / b, exp.Mod: lambda a, b: a % b, exp.EQ: lambda a, b: a == b,
            exp.NEQ: lambda a, b: a != b, exp.LT: lambda a, b: a < b, exp.LTE: lambda a, b: a <= b,
            exp.GT: lambda a, b: a > b, exp.GTE: lambda a, b: a >= b, exp.And: lambda a, b: a & b,
            exp.Or: lambda a, b: a | b, exp.DPipe: lambda a, b: a + b,
        }
        for kind, op in binary.items():
            if type(node) is kind:
                a, b = _lift(sub(node.this)), sub(node.expression)
                return op(a, b)
        if isinstance(node, exp.Between):
            v = sub(node.this)
            return (v >= sub(node.args["low"])) & (v <= sub(node.args["high"]))
        if isinstance(node, exp.In):
            if node.args.get("query") is not None:
                raise NotImplementedError("pw.sql: IN (subquery) is not supported")
            v = sub(node.this)
            cond = None
            for item in node.expressions:
                c = v == sub(item)
                cond = c if cond is None else cond | c
            return cond if cond is not None else pw.if_else(True, False, False)
        if isinstance(node, exp.Case):
            default = sub(node.args["default"]) if node.args.get("default") is not None else None
            result = default
            for when in reversed(node.args.get("ifs") or []):
                result = pw.if_else(sub(when.this), sub(when.args["true"]), result)
            return result
        if isinstance(node, exp.Abs):
            return abs(_lift(sub(node.this)))
        if isinstance(node, (exp.Upper, exp.Lower)):
            v = _lift(sub(node.this))
            return v.str.upper() if isinstance(node, exp.Upper) else v.str.lower()
        if isinstance(node, exp.AggFunc):
            raise ValueError(f"pw.sql: aggregate {node.sql()} outside a SELECT list or HAVING")
        raise NotImplementedError(f"pw.sql: {node.key.upper()} ({node.sql()}) is not supported")


class _Internal:
    """A column of the scope's table by its own name (what ``*`` expands to)."""

    def __init__(self, column: str) -> None:
        self.column = column


def _lift(value: Any) -> Any:
    from deltaflow.internals.expression import _wrap

    return _wrap(value)


def sql(query: str, **kwargs: Table) -> Table:
    """Runs the SQL ``query`` on the tables named in ``kwargs`` (``pw.sql("SELECT ... FROM t",
    t=table)``); the result is a table kept up to date like any other."""
    sqlglot, _ = _sqlglot()
    try:
        node = sqlglot.parse_one(query)
    except sqlglot.errors.ParseError as e:
        raise ValueError(f"pw.sql: cannot parse the query: {e}") from None
    return _Translator(kwargs).query(node)
