"""`.str.upper/lower/title/swapcase` map case over all of Unicode exactly as Python's `str`
methods do: full mappings ("ß" -> "SS", "ﬁ" -> "FI"), title-case letters, and the final sigma
of lower()."""

import random

import pandas as pd

import deltaflow as pw


def mapped(strings: list[str]) -> list[tuple]:
    t = pw.debug.table_from_pandas(pd.DataFrame({"s": strings}))
    out = t.select(
        s=pw.this.s,
        upper=pw.this.s.str.upper(),
        lower=pw.this.s.str.lower(),
        title=pw.this.s.str.title(),
        swapcase=pw.this.s.str.swapcase(),
    )
    _, columns = pw.debug.table_to_dicts(out)
    return [tuple(columns[c][k] for c in ("s", "upper", "lower", "title", "swapcase")) for k in columns["s"]]


def test_known_cases():
    strings = [
        "straße", "École", "ΣΟΦΟΣ", "ΌΣΟΣ Σ", "ς σ Σ", "ǆemal ǅ", "ﬁnance", "İstanbul", "ŉ",
        "hello world", "they're bill's friends", "ΑΣ.", "Σ'Σ", "groß-STRASSE", "",
    ]
    for s, upper, lower, title, swapcase in mapped(strings):
        assert (upper, lower, title, swapcase) == (s.upper(), s.lower(), s.title(), s.swapcase()), s


def test_random_strings_match_python():
    rng = random.Random(7)
    # Letters from many scripts, with spaces, marks and punctuation between them.
    alphabet = [chr(c) for c in range(0x20, 0x2FF) if chr(c).isprintable()]
    alphabet += list("ΑΒΓΔΣσςαβγάέΰΐ ԱաႠⴀᏸ ǄǅǆǇǈǉ ﬀﬁﬂﬃ ẞß İıi Ⅻⅻ ⓐⒶ 𐐀𐐨 ̀ ́ ' . : - ")
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(2000)]
    mismatches = [
        row for row in mapped(strings) if row[1:] != (row[0].upper(), row[0].lower(), row[0].title(), row[0].swapcase())
    ]
    assert mismatches == []
