"""``pw.udf``: user functions applied per row, called by the engine in batches."""

from __future__ import annotations

import functools
from typing import Any, Callable

from deltaflow.internals.expression import ApplyExpression


class UDF:
    """A user function usable in expressions: ``my_udf(table.col)`` builds an expression.

    ``deterministic=False`` (the default, as in Pathway) stores each result per row, so the
    retraction of a row retracts exactly the value that was emitted. ``executor``
    (``pw.udfs.async_executor(...)``, ``sync_executor()``; by default async for ``async def``)
    decides how the calls of a batch run; ``cache_strategy`` keeps results by arguments;
    ``max_batch_size`` bounds how many calls an executor gets at once."""

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        return_type: Any = None,
        deterministic: bool = False,
        propagate_none: bool = False,
        executor: Any = None,
        cache_strategy: Any = None,
        max_batch_size: int | None = None,
    ) -> None:
        self._executor = executor
        self._cache = cache_strategy
        self._func = func if func is not None else self.__wrapped__  # type: ignore[attr-defined]
        if return_type is None:
            return_type = getattr(self._func, "__annotations__", {}).get("return")
        self._return_type = return_type
        self._deterministic = deterministic
        self._propagate_none = propagate_none
        self._max_batch_size = max_batch_size
        functools.update_wrapper(self, self._func)

    def __call__(self, *args: Any, **kwargs: Any) -> ApplyExpression:
        return ApplyExpression(
            self._func,
            self._return_type,
            args,
            kwargs,
            deterministic=self._deterministic,
            propagate_none=self._propagate_none,
            max_batch_size=self._max_batch_size,
            executor=self._executor,
            cache=self._cache,
        )


def udf(fun: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
    """Decorator making ``fun`` a ``UDF``; use bare (``@pw.udf``) or with options."""
    if fun is None:
        return lambda f: UDF(f, **kwargs)
    return UDF(fun, **kwargs)


def pair_function_batch(fn: Callable[[Any, Any], Any], what: str) -> Callable[[list[tuple]], tuple[list[Any], list[tuple[int, str]]]]:
    """A user function of two values (a session predicate, a deduplication acceptor) as the
    engine calls it: on a batch of pairs, returning bools and the pairs it failed on."""

    def call_batch(pairs: list[tuple]) -> tuple[list[Any], list[tuple[int, str]]]:
        results: list[Any] = []
        failures: list[tuple[int, str]] = []
        for index, (a, b) in enumerate(pairs):
            try:
                results.append(bool(fn(a, b)))
            except Exception as e:  # noqa: BLE001 - the user's function: reported per pair
                results.append(False)
                failures.append((index, f"{type(e).__name__}: {e} (in {what})"))
        return results, failures

    return call_batch
