"""``pw.sql``: queries translated into Table operations (sqlglot parses them), with the
results Pathway documents; incremental like any other pipeline."""

from __future__ import annotations

import textwrap

import pytest

import deltaflow as pw
from test_incremental_properties import check_incremental


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def test_queries(capsys):
    t = pw.debug.table_from_markdown(
        """
          A  | B
          1  | 2
          4  | 3
          4  | 7
        """
    )
    ret = pw.sql("SELECT * FROM tab WHERE A<B", tab=t)
    pw.debug.compute_and_print(ret, include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A, SUM(B) AS s, COUNT(*) AS c FROM tab GROUP BY A", tab=t), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A, SUM(B) AS s FROM tab GROUP BY A HAVING SUM(B) > 3", tab=t), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A + B AS x, A * 2 AS y FROM tab WHERE B > 2 AND A = 4", tab=t), include_id=False)
    u = pw.debug.table_from_markdown(
        """
          A  | C
          1  | x
          4  | y
          5  | z
        """
    )
    pw.debug.compute_and_print(pw.sql("SELECT t.A, t.B, u.C FROM t JOIN u ON t.A = u.A", t=t, u=u), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT u.A, t.B FROM u LEFT JOIN t ON u.A = t.A", t=t, u=u), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A FROM t UNION SELECT A FROM u", t=t, u=u), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A FROM t UNION ALL SELECT A FROM u", t=t, u=u), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A FROM t INTERSECT SELECT A FROM u", t=t, u=u), include_id=False)
    pw.debug.compute_and_print(pw.sql("WITH big AS (SELECT A, B FROM t WHERE B > 2) SELECT SUM(B) AS total FROM big", t=t), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A, CASE WHEN B > 3 THEN 'big' ELSE 'small' END AS size FROM t", t=t), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT A, MAX(B) AS m, MIN(B) AS mi, AVG(B) AS av FROM t GROUP BY A", t=t), include_id=False)
    pw.debug.compute_and_print(pw.sql("SELECT * FROM t WHERE B BETWEEN 3 AND 7 AND A IN (4, 5)", t=t), include_id=False)
    assert capsys.readouterr().out == dedent(
        """
        A | B
        1 | 2
        4 | 7
        A | s  | c
        1 | 2  | 1
        4 | 10 | 2
        A | s
        4 | 10
        x  | y
        7  | 8
        11 | 8
        A | B | C
        1 | 2 | x
        4 | 3 | y
        4 | 7 | y
        A | B
        1 | 2
        4 | 3
        4 | 7
        5 |
        A
        1
        4
        5
        A
        1
        1
        4
        4
        4
        5
        A
        1
        4
        total
        10
        A | size
        1 | small
        4 | big
        4 | small
        A | m | mi | av
        1 | 2 | 2  | 2.0
        4 | 7 | 3  | 5.0
        A | B
        4 | 3
        4 | 7
        """
    )


def test_unsupported_and_wrong_queries():
    t = pw.debug.table_from_markdown("A | B\n1 | 2")
    with pytest.raises(NotImplementedError, match="ORDER"):
        pw.sql("SELECT A FROM t ORDER BY A", t=t)
    with pytest.raises(KeyError, match="no table named 'u'"):
        pw.sql("SELECT A FROM u", t=t)
    with pytest.raises(KeyError, match="no column C"):
        pw.sql("SELECT C FROM t", t=t)
    with pytest.raises(ValueError, match="cannot parse"):
        pw.sql("SELEC A FROM", t=t)
    with pytest.raises(ValueError, match="GROUP BY"):
        pw.sql("SELECT A, B, SUM(B) AS s FROM t GROUP BY A", t=t)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_sql_is_incremental(workers):
    rows = [
        (1, (1, 2), 2, 1), (2, (1, 5), 2, 1), (3, (2, 1), 4, 1), (1, (1, 2), 4, -1),
        (1, (2, 7), 6, 1), (4, (0, 3), 6, 1), (2, (1, 5), 8, -1),
    ]

    def build(t):
        return pw.sql("SELECT k, SUM(v) AS s, COUNT(*) AS c FROM t WHERE v > 1 GROUP BY k HAVING COUNT(*) > 0", t=t)

    check_incremental(build, [rows], workers, with_index=False)
