"""Stable ids for records, computed by deltaflow's engine.

deltaflow identifies every row by a 128-bit pointer hashed from values; the same values give
the same pointer in every process and run. This example shows values of every kind going
through the engine's canonical encoding and coming back, with their ids.
"""

import datetime

import numpy as np

import deltaflow as pw
from deltaflow import _engine

records = [
    ("alice", 31, 1.5, datetime.datetime(2024, 5, 1, 12, 0)),
    ("bob", 27, float("nan"), datetime.datetime(2024, 5, 2, 8, 30)),
    ("alice", 31, 1.5, datetime.datetime(2024, 5, 1, 12, 0)),
]

print("record -> pointer (equal records share a pointer)")
for record in records:
    print(f"  {record!r:75} -> {_engine.ref_scalar(*record)}")

row = _engine.Row(
    [None, True, 7, -0.0, "text", b"\x00\x01", (1, (2, "nested")),
     np.arange(6).reshape(2, 3), pw.Json({"b": 1, "a": [True, None]}),
     datetime.timedelta(minutes=5)]
)
print("\na row of many kinds, as the engine stores it:")
print(" ", row)
print("  encoded size:", len(row.to_bytes()), "bytes; id:", row.key())
print("  decoded back:", row.values())
