"""The ``.dt`` namespace as Pathway documents it: fields, formatting and parsing (chrono's
specifiers), timestamps, rounding, duration totals, and time zones from the tz database,
including the hours daylight saving time skips and repeats."""

from __future__ import annotations

import datetime
import textwrap

import pytest

import deltaflow as pw
from deltaflow.testing import T


def printed(capsys, *tables, **kwargs):
    pw.debug.compute_and_print(*tables, include_id=False, **kwargs)
    return capsys.readouterr().out


def dedent(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def parsed():
    t = T(
        """
           | s
         1 | 2023-03-26T01:30:15.123456789
         2 | 2024-02-29T23:59:59.000000001
         3 | 1969-12-31T23:00:00.5
        """
    )
    return t.select(d=pw.this.s.dt.strptime("%Y-%m-%dT%H:%M:%S.%f"))


def test_fields_and_weekday(capsys):
    u = parsed()
    r = u.select(
        u.d, y=u.d.dt.year(), mo=u.d.dt.month(), da=u.d.dt.day(), h=u.d.dt.hour(), mi=u.d.dt.minute(),
        se=u.d.dt.second(), ms=u.d.dt.millisecond(), us=u.d.dt.microsecond(), ns=u.d.dt.nanosecond(), wd=u.d.dt.weekday(),
    )
    assert printed(capsys, r) == dedent(
        """
        d                             | y    | mo | da | h  | mi | se | ms  | us     | ns        | wd
        1969-12-31 23:00:00.500000    | 1969 | 12 | 31 | 23 | 0  | 0  | 500 | 500000 | 500000000 | 2
        2023-03-26 01:30:15.123456789 | 2023 | 3  | 26 | 1  | 30 | 15 | 123 | 123456 | 123456789 | 6
        2024-02-29 23:59:59.000000001 | 2024 | 2  | 29 | 23 | 59 | 59 | 0   | 0      | 1         | 3
        """
    )


def test_timestamps_and_strftime(capsys):
    u = parsed()
    r = u.select(
        ts=u.d.dt.timestamp(), tss=u.d.dt.timestamp(unit="s"), tsms=u.d.dt.timestamp(unit="ms"),
        f1=u.d.dt.strftime("%Y/%m/%d %H:%M:%S.%f"), f2=u.d.dt.strftime("%d.%m.%y %I%p %j %a %b %A %B %%"),
    )
    assert printed(capsys, r) == dedent(
        """
        ts                  | tss                | tsms               | f1                            | f2
        -3599500000000      | -3599.5            | -3599500.0         | 1969/12/31 23:00:00.500000000 | 31.12.69 11PM 365 Wed Dec Wednesday December %
        1679794215123456789 | 1679794215.1234567 | 1679794215123.4568 | 2023/03/26 01:30:15.123456789 | 26.03.23 01AM 085 Sun Mar Sunday March %
        1709251199000000001 | 1709251199.0       | 1709251199000.0    | 2024/02/29 23:59:59.000000001 | 29.02.24 11PM 060 Thu Feb Thursday February %
        """
    )


def test_round_and_floor(capsys):
    u = parsed()
    r = u.select(
        r=u.d.dt.round(datetime.timedelta(hours=1)), f=u.d.dt.floor("1h"),
        f2=u.d.dt.floor(pd_minutes(15)), r2=u.d.dt.round("1s"),
    )
    assert printed(capsys, r) == dedent(
        """
        r                   | f                   | f2                  | r2
        1969-12-31 23:00:00 | 1969-12-31 23:00:00 | 1969-12-31 23:00:00 | 1969-12-31 23:00:01
        2023-03-26 02:00:00 | 2023-03-26 01:00:00 | 2023-03-26 01:30:00 | 2023-03-26 01:30:15
        2024-03-01 00:00:00 | 2024-02-29 23:00:00 | 2024-02-29 23:45:00 | 2024-02-29 23:59:59
        """
    )


def test_duration_strings_as_pathway_reads_them(capsys):
    # A sum of (number, unit) parts, a bare unit counting once, and the legacy aliases
    # pandas dropped (H, T, S, L) all name the same durations as in Pathway; a pandas
    # Timedelta string ("1 days 00:00:00") is read too.
    u = parsed()
    r = u.select(
        a=u.d.dt.floor("D"), b=u.d.dt.floor("2h30min"), c=u.d.dt.floor("H"),
        d=u.d.dt.floor("15T"), e=u.d.dt.round("S"), f=u.d.dt.floor("1 days 00:00:00"),
    )
    assert printed(capsys, r) == dedent(
        """
        a                   | b                   | c                   | d                   | e                   | f
        1969-12-31 00:00:00 | 1969-12-31 21:30:00 | 1969-12-31 23:00:00 | 1969-12-31 23:00:00 | 1969-12-31 23:00:01 | 1969-12-31 00:00:00
        2023-03-26 00:00:00 | 2023-03-25 23:30:00 | 2023-03-26 01:00:00 | 2023-03-26 01:30:00 | 2023-03-26 01:30:15 | 2023-03-26 00:00:00
        2024-02-29 00:00:00 | 2024-02-29 22:00:00 | 2024-02-29 23:00:00 | 2024-02-29 23:45:00 | 2024-02-29 23:59:59 | 2024-02-29 00:00:00
        """
    )
    with pytest.raises(ValueError):
        u.select(x=u.d.dt.floor("3 parsecs"))


def pd_minutes(n):
    import pandas as pd

    return pd.Timedelta(minutes=n)


def test_time_zones_with_skipped_and_repeated_hours(capsys):
    t = T(
        """
           | s
         1 | 2023-03-26T02:30:00
         2 | 2023-10-29T02:30:00
         3 | 2023-10-29T01:30:00
         4 | 2023-06-01T12:00:00
        """
    )
    u = t.select(d=pw.this.s.dt.strptime("%Y-%m-%dT%H:%M:%S"))
    z = u.select(
        u.d, z=u.d.dt.to_utc("Europe/Warsaw"), a=u.d.dt.add_duration_in_timezone(datetime.timedelta(hours=1), "Europe/Warsaw"),
        r=u.d.dt.round("1h"), s=u.d.dt.strftime("%s|%e|%T|%F|%D|%u|%w|%y|%C|%h|%.f|%.3f|%3f|%H%M|%-d"),
    )
    # 02:30 on 26 March does not exist in Warsaw (clocks jump to 03:00 = 01:00 UTC); 02:30
    # on 29 October happens twice (the later one is taken).
    assert printed(capsys, z) == dedent(
        """
        d                   | z                         | a                   | r                   | s
        2023-03-26 02:30:00 | 2023-03-26 01:00:00+00:00 | 2023-03-26 04:00:00 | 2023-03-26 03:00:00 | 1679797800|26|02:30:00|2023-03-26|03/26/23|7|0|23|20|Mar||.000|000|0230|26
        2023-06-01 12:00:00 | 2023-06-01 10:00:00+00:00 | 2023-06-01 13:00:00 | 2023-06-01 12:00:00 | 1685620800| 1|12:00:00|2023-06-01|06/01/23|4|4|23|20|Jun||.000|000|1200|1
        2023-10-29 01:30:00 | 2023-10-28 23:30:00+00:00 | 2023-10-29 02:30:00 | 2023-10-29 02:00:00 | 1698543000|29|01:30:00|2023-10-29|10/29/23|7|0|23|20|Oct||.000|000|0130|29
        2023-10-29 02:30:00 | 2023-10-29 01:30:00+00:00 | 2023-10-29 03:30:00 | 2023-10-29 03:00:00 | 1698546600|29|02:30:00|2023-10-29|10/29/23|7|0|23|20|Oct||.000|000|0230|29
        """
    )
    zz = z.select(
        n=z.z.dt.to_naive_in_timezone("America/New_York"), fz=z.z.dt.strftime("%Y-%m-%d %H:%M:%S %z"), h=z.z.dt.hour(),
        c=z.d.dt.subtract_date_time_in_timezone(datetime.datetime(2023, 1, 1), "Europe/Warsaw"),
        b=z.d.dt.subtract_duration_in_timezone(datetime.timedelta(hours=2), "Europe/Warsaw"),
    )
    assert printed(capsys, zz) == dedent(
        """
        n                   | fz                        | h  | c                 | b
        2023-03-25 21:00:00 | 2023-03-26 01:00:00 +0000 | 1  | 84 days 02:00:00  | 2023-03-26 00:00:00
        2023-06-01 06:00:00 | 2023-06-01 10:00:00 +0000 | 10 | 151 days 11:00:00 | 2023-06-01 10:00:00
        2023-10-28 19:30:00 | 2023-10-28 23:30:00 +0000 | 23 | 301 days 00:30:00 | 2023-10-28 23:30:00
        2023-10-28 21:30:00 | 2023-10-29 01:30:00 +0000 | 1  | 301 days 02:30:00 | 2023-10-29 01:30:00
        """
    )


def test_durations_and_timestamps(capsys):
    u = parsed()
    d = u.select(du=u.d - datetime.datetime(2023, 1, 1))
    r = d.select(
        d.du, n=d.du.dt.nanoseconds(), s=d.du.dt.seconds(), m=d.du.dt.minutes(), h=d.du.dt.hours(),
        dd=d.du.dt.days(), w=d.du.dt.weeks(),
    )
    # Totals truncate toward zero.
    assert printed(capsys, r) == dedent(
        """
        du                           | n                    | s           | m         | h       | dd     | w
        -19359 days +23:00:00.500000 | -1672534799500000000 | -1672534799 | -27875579 | -464592 | -19358 | -2765
        84 days 01:30:15.123456789   | 7263015123456789     | 7263015     | 121050    | 2017    | 84     | 12
        424 days 23:59:59.000000001  | 36719999000000001    | 36719999    | 611999    | 10199   | 424    | 60
        """
    )
    i = T(
        """
           | x
         1 | 1700000000
         2 | -5
        """
    )
    r = i.select(
        a=i.x.dt.from_timestamp("s"), b=i.x.dt.utc_from_timestamp("s"), c=(i.x * 1000).dt.from_timestamp("ms"),
        e=i.x.dt.to_duration("s"), f=i.x.dt.to_duration("ms"), g=(i.x * 1.5).dt.from_timestamp("s"),
    )
    assert printed(capsys, r) == dedent(
        """
        a                   | b                         | c                   | e                   | f                        | g
        1969-12-31 23:59:55 | 1969-12-31 23:59:55+00:00 | 1969-12-31 23:59:55 | -1 days +23:59:55   | -1 days +23:59:59.995000 | 1969-12-31 23:59:52.500000
        2023-11-14 22:13:20 | 2023-11-14 22:13:20+00:00 | 2023-11-14 22:13:20 | 19675 days 22:13:20 | 19 days 16:13:20         | 2050-10-21 21:20:00
        """
    )


def test_parsing_names_twelve_hour_clock_and_offsets(capsys):
    t = T(
        """
           | s
         1 | 2023-03-26_2:30:00.25_PM
         2 | 2023-10-29_11:05:07.000001_AM
         3 | 2023-10-29_12:05:07_AM
        """
    )
    assert printed(capsys, t.select(d=pw.this.s.dt.strptime("%Y-%m-%d_%I:%M:%S%.f_%p"))) == dedent(
        """
        d
        2023-03-26 14:30:00.250000
        2023-10-29 00:05:07
        2023-10-29 11:05:07.000001
        """
    )
    t = T(
        """
           | s
         1 | 15/Mar/2023:10:20:30
         2 | 01/Dec/1999:00:00:01
        """
    )
    r = t.select(d=pw.this.s.dt.strptime("%d/%b/%Y:%H:%M:%S"))
    assert printed(capsys, r.select(r.d, w=r.d.dt.weekday(), s=r.d.dt.strftime("%A %B %-d"))) == dedent(
        """
        d                   | w | s
        1999-12-01 00:00:01 | 2 | Wednesday December 1
        2023-03-15 10:20:30 | 2 | Wednesday March 15
        """
    )
    v = T(
        """
           | s
         1 | 2023-03-26T01:30:15+0100
         2 | 2023-10-29T02:30:00+0200
        """
    )
    assert printed(capsys, v.select(d=v.s.dt.strptime("%Y-%m-%dT%H:%M:%S%z"))) == dedent(
        """
        d
        2023-03-26 00:30:15+00:00
        2023-10-29 00:30:00+00:00
        """
    )


def test_errors_name_the_row_and_format():
    t = T(
        """
           | s
         1 | 2023-03-26
         2 | 26/03/2023
        """
    )
    with pytest.raises(Exception, match=r'cannot parse "26/03/2023" with format "%Y-%m-%d"'):
        pw.debug.compute_and_print(t.select(d=pw.this.s.dt.strptime("%Y-%m-%d")))
    u = t.select(d=pw.this.s.dt.strptime("%Y-%m-%d", contains_timezone=False))
    with pytest.raises(TypeError, match="dt.to_naive_in_timezone needs"):
        u.select(x=u.d.dt.to_naive_in_timezone("UTC"))
    with pytest.raises(TypeError, match="dt.hour needs"):
        t.select(x=t.s.dt.hour())
    p = T(
        """
           | s
         1 | 2023-03-26
        """
    ).select(d=pw.this.s.dt.strptime("%Y-%m-%d"))
    with pytest.raises(Exception, match="unknown time zone Mars/Base"):
        pw.debug.compute_and_print(p.select(z=p.d.dt.to_utc("Mars/Base")))
    with pytest.raises(Exception, match="%z needs a datetime with a time zone"):
        pw.debug.compute_and_print(p.select(z=p.d.dt.strftime("%z")))
