"""The recovery drill with its counts written to a PostgreSQL table of changes: after every
crash the restarted pipeline deletes the rows written after its last checkpoint, so the table
holds every change once."""

from __future__ import annotations

import json

import pytest

from test_persistence import recovery_drill

pytest.importorskip("psycopg")


class PostgresOutput:
    """The drill's output table, read as the history of changes (by time, retractions first)."""

    def __init__(self, server, table: str) -> None:
        self.server = server
        self.table = table
        server.execute(f'CREATE TABLE {table} (word text, count bigint, "time" bigint, diff smallint)')
        self.args = [json.dumps(server.settings), table]

    def lines(self) -> list[str]:
        rows = self.server.query(f'SELECT word, count, diff FROM {self.table} ORDER BY "time", diff, word')
        return [json.dumps({"word": w, "count": c, "diff": d}) for w, c, d in rows]

    def after_clean_stop(self) -> None:
        pass  # the table goes on


@pytest.mark.parametrize("threads", [1, 2])
def test_recovery_drill_into_postgres_is_exactly_once(postgres_server, tmp_path, threads):
    output = PostgresOutput(postgres_server, postgres_server.unique_name("drill"))
    recovery_drill(tmp_path, threads, "postgres", output, seed=3000 + threads)
