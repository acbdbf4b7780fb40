#!/usr/bin/env python3
"""A Nexmark event generator: persons, auctions and bids of an online auction, as the
Nexmark benchmark specifies them (the model of the Apache Beam / Flink / Feldera generators).

    python benchmarks/nexmark_gen.py EVENTS OUT_DIR [--seed S] [--rate R] [--ooo G]

Writes ``persons.csv``, ``auctions.csv`` and ``bids.csv`` (the specification's fields; times in
epoch milliseconds; the person and auction ``id`` are named ``person_id`` and ``auction_id``,
as ``id`` is the row id in the Table API) to OUT_DIR, each in stream order. The event stream
follows the specification's model:

- event number ``n`` is a person, an auction or a bid by ``n % 50``: proportions 1 / 3 / 46;
- the event at stream position ``k`` is event number ``n = (k // G) * G + (k * 953) % G``
  (events shuffled within out-of-order groups of ``G``; ``G = 1``: in order), whose kind, ids
  and time (``base + n * 1e6 / rate`` microseconds; by default 10M events/s, the rate of the
  published Flink and Feldera runs) follow from ``n``;
- person and auction ids are dense, in creation order, from 1000; a new auction's seller is,
  with probability 3/4, a "hot" seller (the latest person id rounded down to a multiple of
  100), otherwise one of the 1,000 most recent people; a bid's auction is, with probability
  1/2, the hot auction (the latest auction id rounded down to a multiple of 100), otherwise
  one of the 100 auctions in flight; a bid's bidder is hot with probability 3/4 (the latest
  person id rounded down to a multiple of 100, plus one);
- prices are ``round(10 ** (u * 6) * 100)`` cents for uniform ``u``; an auction expires a
  random time within twice the span in which the next 100 auctions are created; categories
  are 10..14; persons live in one of six US states and ten cities; half the bids come from
  one of four hot channels, the others from one of 10,000, each with its URL; each record is
  padded with ``extra`` text towards the specification's average sizes (person 200 bytes,
  auction 500, bid 100).

Vectorised with numpy and seeded: the same arguments give the same files, byte for byte.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

PERSON, AUCTION, BID = 1, 3, 46
TOTAL = PERSON + AUCTION + BID
FIRST_PERSON_ID = 1000
FIRST_AUCTION_ID = 1000
FIRST_CATEGORY_ID = 10
NUM_CATEGORIES = 5
NUM_ACTIVE_PEOPLE = 1000
NUM_IN_FLIGHT_AUCTIONS = 100
PERSON_ID_LEAD = 10
AUCTION_ID_LEAD = 10
HOT_RATIO_ROUNDING = 100  # hot ids are the latest id rounded down to a multiple of this
HOT_AUCTION_RATIO, HOT_SELLER_RATIO, HOT_BIDDER_RATIO = 2, 4, 4  # 1 in N is not hot
NUM_CHANNELS = 10_000
HOT_CHANNELS_RATIO = 2
HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]
BASE_TIME_MS = 1_700_000_000_000

US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"]
US_CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"]
FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]


def last_person_id(events: np.ndarray) -> np.ndarray:
    """The base-0 id of the latest person created at or before each event."""
    epoch, offset = np.divmod(events, TOTAL)
    return epoch * PERSON + np.minimum(offset, PERSON - 1)


def last_auction_id(events: np.ndarray) -> np.ndarray:
    """The base-0 id of the latest auction created at or before each event (-1: none yet)."""
    epoch, offset = np.divmod(events, TOTAL)
    before = offset < PERSON
    offset = np.where(before, AUCTION - 1, np.where(offset >= PERSON + AUCTION, AUCTION - 1, offset - PERSON))
    return np.where(before, epoch - 1, epoch) * AUCTION + offset


def event_times_us(numbers: np.ndarray, rate: float) -> np.ndarray:
    """Event time (microseconds after the base) of event numbers, at ``rate`` events/s."""
    return (numbers * (1e6 / rate)).astype(np.int64)


def recent_person(rng: np.random.Generator, last: np.ndarray) -> np.ndarray:
    """A person among the most recent ones (a few ids ahead allowed, as the model says)."""
    people = last + 1
    active = np.minimum(people, NUM_ACTIVE_PEOPLE)
    return people - active + (rng.random(len(last)) * (active + PERSON_ID_LEAD)).astype(np.int64)


def prices(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(10.0 ** (rng.random(n) * 6.0) * 100.0).astype(np.int64)


class Strings:
    """Random text as the model draws it: letters with a space about one time in 13, cut from
    one seeded pool (cheap for millions of records)."""

    def __init__(self, rng: np.random.Generator, size: int = 1 << 20) -> None:
        letters = rng.integers(ord("a"), ord("z") + 1, size=size, dtype=np.uint8)
        letters[rng.integers(0, 13, size=size) == 0] = ord(" ")
        self.pool = letters.tobytes().decode()
        self.rng = rng

    def cut(self, lengths: np.ndarray) -> list[str]:
        starts = self.rng.integers(0, len(self.pool) - int(lengths.max(initial=0)) - 1, size=len(lengths))
        return [self.pool[a : a + k].strip() for a, k in zip(starts.tolist(), lengths.tolist())]

    def up_to(self, n: int, longest: int) -> list[str]:
        """Strings of 3 to ``longest - 1`` characters (spaces at the ends trimmed)."""
        return self.cut(3 + self.rng.integers(0, longest - 3, size=n))

    def extra(self, n: int, average: int, used: int | np.ndarray) -> list[str]:
        """``extra`` text bringing a record of ``used`` bytes to about ``average`` bytes: the
        remainder, give or take 20%."""
        room = np.maximum(average - np.asarray(used, dtype=np.int64), 0) * np.ones(n, dtype=np.int64)
        delta = np.round(room * 0.2).astype(np.int64)
        size = room - delta + (self.rng.random(n) * 2 * delta).astype(np.int64)
        return self.cut(size)


def write_csv(path: Path, header: str, columns: list) -> None:
    with open(path, "w") as f:
        f.write(header + "\n")
        chunk = 200_000
        n = len(columns[0])
        for lo in range(0, n, chunk):
            parts = [c[lo : lo + chunk] for c in columns]
            parts = [p.tolist() if isinstance(p, np.ndarray) else p for p in parts]
            f.write("".join(",".join(map(str, row)) + "\n" for row in zip(*parts)))


def generate(events: int, out: Path, seed: int = 1, rate: float = 10_000_000.0, group: int = 1) -> dict[str, int]:
    """Writes the three files for events 0..events-1 (in stream order); returns how many of
    each kind."""
    rng = np.random.default_rng(seed)
    text = Strings(rng)
    out.mkdir(parents=True, exist_ok=True)
    # The event at stream position k is event number `adjusted(k)`: its kind, ids and time.
    numbers = np.arange(events, dtype=np.int64)
    if group > 1:
        numbers = (numbers // group) * group + (numbers * 953) % group
    times = BASE_TIME_MS + event_times_us(numbers, rate) // 1000
    kind = numbers % TOTAL
    person_ev = np.flatnonzero(kind < PERSON)
    auction_ev = np.flatnonzero((kind >= PERSON) & (kind < PERSON + AUCTION))
    bid_ev = np.flatnonzero(kind >= PERSON + AUCTION)

    # Persons.
    n = len(person_ev)
    pid = last_person_id(numbers[person_ev]) + FIRST_PERSON_ID
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    names = np.char.add(np.char.add(first, " "), last)
    emails = [f"{a}@{b}.com" for a, b in zip(text.up_to(n, 7), text.up_to(n, 5))]
    cards = [" ".join(f"{x:04d}" for x in row) for row in rng.integers(0, 10_000, size=(n, 4)).tolist()]
    cities = np.array(US_CITIES)[rng.integers(0, len(US_CITIES), n)]
    states = np.array(US_STATES)[rng.integers(0, len(US_STATES), n)]
    used = 8 + np.char.str_len(names) + np.array([len(e) for e in emails], dtype=np.int64) + 19 + np.char.str_len(cities) + 2
    write_csv(
        out / "persons.csv",
        "person_id,name,email_address,credit_card,city,state,date_time,extra",
        [pid, names, emails, cards, cities, states, times[person_ev], text.extra(n, 200, used)],
    )

    # Auctions.
    n = len(auction_ev)
    number = numbers[auction_ev]
    aid = last_auction_id(number) + FIRST_AUCTION_ID
    last_p = last_person_id(number)
    hot = rng.integers(0, HOT_SELLER_RATIO, n) > 0
    seller = np.where(hot, (last_p // HOT_RATIO_ROUNDING) * HOT_RATIO_ROUNDING, recent_person(rng, last_p)) + FIRST_PERSON_ID
    category = FIRST_CATEGORY_ID + rng.integers(0, NUM_CATEGORIES, n)
    initial = prices(rng, n)
    # Expiry: within twice the time in which the next NUM_IN_FLIGHT_AUCTIONS auctions appear.
    ahead = (NUM_IN_FLIGHT_AUCTIONS * TOTAL) // AUCTION
    horizon_ms = (event_times_us(number + ahead, rate) - event_times_us(number, rate)) // 1000
    expires = times[auction_ev] + 1 + (rng.random(n) * np.maximum(2 * horizon_ms, 1)).astype(np.int64)
    items = text.up_to(n, 20)
    descriptions = text.up_to(n, 100)
    reserve = initial + prices(rng, n)
    used = 8 + np.array([len(a) + len(b) for a, b in zip(items, descriptions)], dtype=np.int64) + 40
    write_csv(
        out / "auctions.csv",
        "auction_id,item_name,description,initial_bid,reserve,date_time,expires,seller,category,extra",
        [aid, items, descriptions, initial, reserve, times[auction_ev], expires, seller, category, text.extra(n, 500, used)],
    )

    # Bids.
    n = len(bid_ev)
    number = numbers[bid_ev]
    last_a = np.maximum(last_auction_id(number), 0)
    hot = rng.integers(0, HOT_AUCTION_RATIO, n) > 0
    low = np.maximum(last_a - NUM_IN_FLIGHT_AUCTIONS, 0)
    recent = low + (rng.random(n) * (last_a - low + 1 + AUCTION_ID_LEAD)).astype(np.int64)
    auction = np.where(hot, (last_a // HOT_RATIO_ROUNDING) * HOT_RATIO_ROUNDING, recent) + FIRST_AUCTION_ID
    last_p = last_person_id(number)
    hot = rng.integers(0, HOT_BIDDER_RATIO, n) > 0
    bidder = np.where(hot, (last_p // HOT_RATIO_ROUNDING) * HOT_RATIO_ROUNDING + 1, recent_person(rng, last_p)) + FIRST_PERSON_ID
    price = prices(rng, n)
    # Channels: half the bids from a hot channel, the others from one of 10,000.
    hot = rng.integers(0, HOT_CHANNELS_RATIO, n) > 0
    which = np.where(hot, rng.integers(0, len(HOT_CHANNELS), n), rng.integers(0, NUM_CHANNELS, n))
    channels = [HOT_CHANNELS[c] if h else f"channel-{c}" for h, c in zip(hot.tolist(), which.tolist())]
    urls = [
        f"https://www.nexmark.com/{HOT_CHANNELS[c].lower()}/item.htm?query=1" if h else f"https://www.nexmark.com/shop/item.htm?query=1&channel_id={c}"
        for h, c in zip(hot.tolist(), which.tolist())
    ]
    write_csv(
        out / "bids.csv",
        "auction,bidder,price,channel,url,date_time,extra",
        [auction, bidder, price, channels, urls, times[bid_ev], text.extra(n, 100, 32)],
    )
    return {"persons": len(person_ev), "auctions": len(auction_ev), "bids": len(bid_ev)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=10_000_000.0, help="events per second of event time")
    parser.add_argument("--ooo", type=int, default=1, help="out-of-order group size")
    args = parser.parse_args()
    print(generate(args.events, args.out, args.seed, args.rate, args.ooo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
