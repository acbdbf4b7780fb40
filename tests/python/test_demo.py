"""pw.demo streams."""

import deltaflow as pw


def test_range_stream_counts_every_row():
    t = pw.demo.range_stream(nb_rows=20, input_rate=1000)
    s = t.reduce(total=pw.reducers.sum(t.value), n=pw.reducers.count())
    _, cols = pw.debug.table_to_dicts(s)
    assert list(cols["total"].values()) == [float(sum(range(20)))]
    assert list(cols["n"].values()) == [20]


def test_replay_csv_with_time_releases_rows_one_commit_each_in_order(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("t,v\n0,1\n1,2\n2,3\n")
    schema = pw.schema_from_types(t=int, v=int)
    t = pw.demo.replay_csv_with_time(path, schema=schema, time_column="t", unit="s", speedup=10)
    arrivals = []
    pw.io.subscribe(t, lambda key, row, time, is_addition: arrivals.append((row["v"], time)))
    pw.run()
    assert [v for v, _ in arrivals] == [1, 2, 3]
    times = [time for _, time in arrivals]
    assert times == sorted(times) and len(set(times)) == 3  # released separately, in order


def test_replay_csv_with_time_commits_the_rows_of_one_timestamp_together(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("t,v\n0,1\n0,2\n1,3\n1,4\n1,5\n2,6\n")
    schema = pw.schema_from_types(t=int, v=int)
    t = pw.demo.replay_csv_with_time(path, schema=schema, time_column="t", unit="s", speedup=10)
    arrivals = []
    pw.io.subscribe(t, lambda key, row, time, is_addition: arrivals.append((row["t"], row["v"], time)))
    pw.run()
    by_time: dict = {}
    for source_time, v, engine_time in arrivals:
        by_time.setdefault(engine_time, []).append((source_time, v))
    assert [sorted(rows) for _, rows in sorted(by_time.items())] == [[(0, 1), (0, 2)], [(1, 3), (1, 4), (1, 5)], [(2, 6)]]


def test_generate_custom_stream():
    schema = pw.schema_from_types(i=int, sq=int)
    t = pw.demo.generate_custom_stream({"i": lambda i: i, "sq": lambda i: i * i}, schema=schema, nb_rows=5, input_rate=1000)
    _, cols = pw.debug.table_to_dicts(t)
    assert sorted(cols["sq"].values()) == [0, 1, 4, 9, 16]
