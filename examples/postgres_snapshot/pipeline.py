"""CSV files in, a PostgreSQL table out, kept equal to the live result.

Orders arrive as CSV files in a directory; the pipeline keeps, per customer, the number of
orders and the amount spent, and writes that result to the PostgreSQL table
`customer_totals` as a snapshot: one row per customer, updated in place (upserts by the
primary key, one transaction per change of the result). Then a new CSV file lands in the
directory, and the table follows.

Run it with `make postgres-demo` (or `python examples/postgres_snapshot/pipeline.py`). It uses
the server of `scripts/postgres.sh` (starting it, and removing it at the end, if none is
running), copies the bundled orders into a temporary directory, and prints the table as
another PostgreSQL client sees it: first the totals of the bundled orders, then, after a new
file of orders is dropped in, the totals with them, and checks both against a sum done in
plain Python.
"""

from __future__ import annotations

import collections
import csv
import os
import shutil
import subprocess
import tempfile
import threading
import time

import deltaflow as pw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
POSTGRES = os.path.join(ROOT, "scripts", "postgres.sh")

NEW_ORDERS = """order_id,customer,product,quantity,price
7,alice,coffee,1,4.0
8,erin,tea,5,3.5
"""


class Order(pw.Schema):
    order_id: int = pw.column_definition(primary_key=True)
    customer: str
    product: str
    quantity: int
    price: float


def server() -> tuple[dict, bool]:
    """How to reach the server, and whether this run started it."""
    started = subprocess.run([POSTGRES, "status"]).returncode != 0
    if started:
        subprocess.run([POSTGRES, "start"], check=True)
    out = subprocess.run([POSTGRES, "env"], check=True, capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.split())
    settings = {
        "host": env["DELTAFLOW_PG_HOST"], "port": env["DELTAFLOW_PG_PORT"], "dbname": env["DELTAFLOW_PG_DATABASE"],
        "user": env["DELTAFLOW_PG_USER"], "password": env["DELTAFLOW_PG_PASSWORD"],
    }
    return settings, started


def query(sql: str) -> list[list[str]]:
    """Rows as `psql` (another client) returns them."""
    out = subprocess.run([POSTGRES, "psql", "-At", "-F", "|", "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def expected_totals(directory: str) -> list[list[str]]:
    totals: dict = collections.defaultdict(lambda: [0, 0.0])
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as f:
            for row in csv.DictReader(f):
                totals[row["customer"]][0] += 1
                totals[row["customer"]][1] += int(row["quantity"]) * float(row["price"])
    return [[c, str(n), f"{spent:.2f}"] for c, (n, spent) in sorted(totals.items())]


def table_totals() -> list[list[str]]:
    return query("SELECT customer, orders, round(spent::numeric, 2) FROM customer_totals ORDER BY customer")


def wait_for(expected: list, timeout: float = 30.0) -> list:
    deadline = time.time() + timeout
    while True:
        try:
            current = table_totals()
        except subprocess.CalledProcessError:
            current = None  # the table is not made yet
        if current == expected or time.time() > deadline:
            return current
        time.sleep(0.1)


def main() -> None:
    settings, started = server()
    inbox = tempfile.mkdtemp(prefix="deltaflow-orders-")
    try:
        shutil.copy(os.path.join(HERE, "data", "orders-1.csv"), inbox)
        orders = pw.io.csv.read(inbox, schema=Order, mode="streaming")
        totals = orders.groupby(pw.this.customer).reduce(
            pw.this.customer,
            orders=pw.reducers.count(),
            spent=pw.reducers.sum(pw.this.quantity * pw.this.price),
        )
        pw.io.postgres.write(
            totals, settings, "customer_totals", init_mode="replace",
            output_table_type="snapshot", primary_key=[totals.customer],
        )
        run = threading.Thread(target=pw.run)
        run.start()
        ok = True
        for step in ("the bundled orders", "a new file of orders"):
            if step == "a new file of orders":
                with open(os.path.join(inbox, ".orders-2.csv"), "w") as f:
                    f.write(NEW_ORDERS)
                os.rename(os.path.join(inbox, ".orders-2.csv"), os.path.join(inbox, "orders-2.csv"))
            expected = expected_totals(inbox)
            current = wait_for(expected)
            print(f"customer_totals after {step}:")
            for customer, n, spent in current or []:
                print(f"  {customer:<8} {n:>3} orders  {spent:>8}")
            if current != expected:
                print(f"  MISMATCH: expected {expected}")
                ok = False
        pw.internals.run.request_stop()
        run.join()
        print("the table equals a sum in plain Python after each file" if ok else "the table did not follow the files")
        if not ok:
            raise SystemExit(1)
    finally:
        shutil.rmtree(inbox, ignore_errors=True)
        if started:
            subprocess.run([POSTGRES, "stop"], check=True)


if __name__ == "__main__":
    main()
