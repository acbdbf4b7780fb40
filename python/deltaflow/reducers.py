"""``pw.reducers``: aggregations for ``groupby().reduce()`` and ``Table.reduce()``."""

from deltaflow.internals.reducers import (  # noqa: F401
    BaseCustomAccumulator,
    any,
    argmax,
    argmin,
    avg,
    count,
    count_distinct,
    count_distinct_approximate,
    earliest,
    latest,
    max,
    min,
    ndarray,
    sorted_tuple,
    stateful_many,
    stateful_single,
    sum,
    tuple,
    udf_reducer,
    unique,
)
