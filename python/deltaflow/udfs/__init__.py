"""``pw.udfs``: executors, retry strategies and caches for user functions."""

from __future__ import annotations

from deltaflow.internals.executors import (
    AsyncRetryStrategy,
    CacheStrategy,
    DefaultCache,
    DiskCache,
    ExponentialBackoffRetryStrategy,
    FixedDelayRetryStrategy,
    InMemoryCache,
    NoRetryStrategy,
    async_executor,
    async_options,
    auto_executor,
    coerce_async,
    fully_async_executor,
    sync_executor,
    with_cache_strategy,
    with_capacity,
    with_retry_strategy,
    with_timeout,
)
from deltaflow.internals.udf import UDF, udf

__all__ = [
    "AsyncRetryStrategy",
    "CacheStrategy",
    "DefaultCache",
    "DiskCache",
    "ExponentialBackoffRetryStrategy",
    "FixedDelayRetryStrategy",
    "InMemoryCache",
    "NoRetryStrategy",
    "UDF",
    "async_executor",
    "async_options",
    "auto_executor",
    "coerce_async",
    "fully_async_executor",
    "sync_executor",
    "udf",
    "with_cache_strategy",
    "with_capacity",
    "with_retry_strategy",
    "with_timeout",
]
