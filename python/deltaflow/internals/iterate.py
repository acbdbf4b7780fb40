"""``pw.iterate``: a fixed point computed in the engine's nested scope.

The loop body is the user's function applied once to placeholder tables; the tables it
builds become a body graph that the engine runs round after round inside each outer time
(`TableGraph::Iterate`), feeding the iterated results back until they stop changing. Tables
the body reads from outside (passed as arguments or captured) enter the scope unchanged."""

from __future__ import annotations

from typing import Any, Callable

from deltaflow.internals import universe as univ
from deltaflow.internals import parse_graph
from deltaflow.internals.table import LogicalNode, Table, _select_node, user_location


def iterate_universe(table: Table) -> Table:
    """Marks a table whose set of rows may change from one iteration to the next (accepted for
    compatibility; deltaflow's iterate allows it for every iterated table)."""
    return table


def _depends(node: LogicalNode, placeholders: set[int], memo: dict[int, bool]) -> bool:
    stack = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        if id(n) in memo:
            continue
        if id(n) in placeholders:
            memo[id(n)] = True
            continue
        if expanded:
            memo[id(n)] = any(memo[id(i)] for i in n.inputs)
            continue
        stack.append((n, True))
        stack.extend((i, False) for i in n.inputs if id(i) not in memo)
    return memo[id(node)]


def iterate(func: Callable[..., Any], iteration_limit: int | None = None, **kwargs: Any) -> Any:
    """Applies ``func`` to the tables in ``kwargs`` until the tables it returns stop changing
    (or ``iteration_limit`` times). ``func`` returns one table (with one argument), or a dict
    or named tuple of tables named as arguments: those are iterated, the other arguments stay
    as given. Kept up to date incrementally as the inputs change."""
    location = user_location()
    if iteration_limit is not None and (not isinstance(iteration_limit, int) or iteration_limit < 1):
        raise ValueError("iteration_limit must be a positive int")
    tables = {name: t for name, t in kwargs.items() if isinstance(t, Table)}
    extras = {name: v for name, v in kwargs.items() if not isinstance(v, Table)}
    if not tables:
        raise ValueError("pw.iterate needs at least one table argument")

    # Tables of the body (placeholders, what the function builds on them) live in the loop's
    # scope: run_all does not compute them on their own.
    with parse_graph.untracked():
        return _iterate(func, iteration_limit, tables, extras, location)


def _iterate(func: Callable[..., Any], iteration_limit: int | None, tables: dict, extras: dict, location: str) -> Any:
    placeholders: dict[str, Table] = {}
    placeholder_ids: dict[int, str] = {}
    for name, t in tables.items():
        node = LogicalNode([], None, len(t._columns))  # built by the iterate node's body
        placeholders[name] = Table(t._columns, node, t._universe, id_dtype=t._id_dtype)
        placeholder_ids[id(node)] = name

    out = func(**placeholders, **extras)
    if isinstance(out, Table):
        if len(tables) != 1:
            raise ValueError("pw.iterate: with several tables, the function must return a dict or named tuple of tables")
        results = {next(iter(tables)): out}
        shape = "table"
    elif isinstance(out, dict):
        results, shape = dict(out), "dict"
    elif hasattr(out, "_asdict"):
        results, shape = dict(out._asdict()), type(out)
    else:
        raise TypeError(f"pw.iterate: the function returned {type(out).__name__}, not a table, dict or named tuple of tables")
    for name, r in results.items():
        if name not in tables:
            raise ValueError(f"pw.iterate: the function returned {name!r}, which is not one of its table arguments")
        if set(r._columns) != set(tables[name]._columns):
            raise ValueError(
                f"pw.iterate: {name!r} must keep its columns {list(tables[name]._columns)}, the function returned {list(r._columns)}"
            )
    iterated = list(results)
    order = iterated + [n for n in tables if n not in results]

    # The body: nodes depending on a placeholder run inside; what they read from outside enters.
    body_roots = []
    for name in iterated:
        r = results[name]
        cols = list(tables[name]._columns)
        if list(r._columns) != cols:
            specs = [("column", list(r._columns).index(c), c) for c in cols]
            r = Table(tables[name]._columns, _select_node(r._node, specs, f"iterate at {location}"), r._universe)
        body_roots.append(r._node)
    placeholder_nodes = {id(placeholders[n]._node) for n in tables}
    memo: dict[int, bool] = {}
    imports: list[LogicalNode] = []
    import_ids: dict[int, int] = {}
    seen: set[int] = set()
    stack = list(body_roots)
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if id(n) in placeholder_nodes:
            continue
        if not _depends(n, placeholder_nodes, memo):
            import_ids[id(n)] = len(imports)
            imports.append(n)
            continue
        stack.extend(n.inputs)
    label = f"iterate at {location}"
    index_of = {name: k for k, name in enumerate(order)}

    def build(g: Any, ins: list[int]) -> int:
        from deltaflow import _engine

        body = _engine.TableGraph()
        built: dict[int, int] = {}

        def lower_body(node: LogicalNode) -> int:
            stack = [(node, False)]
            while stack:
                n, expanded = stack.pop()
                if id(n) in built:
                    continue
                if id(n) in placeholder_ids:
                    name = placeholder_ids[id(n)]
                    built[id(n)] = body.scope_input(index_of[name], n.arity, f"{name} in {label}")
                    continue
                if id(n) in import_ids:
                    built[id(n)] = body.scope_input(len(order) + import_ids[id(n)], n.arity, label)
                    continue
                if expanded:
                    built[id(n)] = n.build(body, [built[id(i)] for i in n.inputs])
                    continue
                stack.append((n, True))
                stack.extend((i, False) for i in reversed(n.inputs) if id(i) not in built)
            return built[id(node)]

        outputs = [lower_body(r) for r in body_roots]
        return g.iterate(list(ins), body, outputs, len(iterated), iteration_limit, label)

    inputs = [tables[n]._node for n in order] + imports
    node = LogicalNode(inputs, build, 0)
    final: dict[str, Table] = {}
    for k, name in enumerate(iterated):
        t = tables[name]
        arity = len(t._columns)
        result = LogicalNode([node], lambda g, ins, k=k, arity=arity: g.iterate_output(ins[0], k, arity, f"{name} of {label}"), arity)
        # A body that keeps the iterated table's universe (with_universe_of) keeps it after
        # the loop too.
        same = univ.are_equal(results[name]._universe, t._universe)
        universe = t._universe if same else univ.Universe()
        final[name] = Table(results[name]._columns if list(results[name]._columns) == list(t._columns) else t._columns, result, universe, id_dtype=t._id_dtype)
        parse_graph.track_anyway(final[name])  # a table after the loop: run_all computes it
    if shape == "table":
        return final[iterated[0]]
    if shape == "dict":
        return final
    return shape(**{n: final.get(n, tables[n]) for n in shape._fields})
