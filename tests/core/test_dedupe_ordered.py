"""Deduplicator.admit: first arrival wins, exactly once and in order over several links (redundancy)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, List

import pytest

from binance_conn._core.dedupe import Deduplicator
from binance_conn.events import AggTrade, BookTicker, DepthUpdate, Kline, MiniTicker, Trade

D = Decimal("1")
S = "btcusdt@trade"
A, B = object(), object()  # two links


def trade(i: int) -> Trade:
    return Trade("binance", "BTCUSDT", i, D, D, 1000 + i, False, 1000 + i)


def ids(events: List[Any]) -> List[int]:
    return [e.trade_id for e in events]


def test_first_arrival_wins_no_wait() -> None:
    d = Deduplicator()
    assert ids(d.admit(S, trade(1), A, True, 0.0)) == [1]
    assert ids(d.admit(S, trade(2), B, True, 0.0)) == [2]  # B first for 2: delivered at once
    assert d.admit(S, trade(2), A, True, 0.0) == [] and d.admit(S, trade(1), B, True, 0.0) == []
    assert d.dropped == 2


def test_rejoining_link_ahead_is_held_until_the_other_fills_the_hole() -> None:
    d = Deduplicator()
    out: List[Any] = []
    for i in range(1, 11):
        out += d.admit(S, trade(i), B, True, 0.0)
    # A reconnected and reads 13, 14 before B reads 11, 12
    out += d.admit(S, trade(13), A, True, 0.01)
    out += d.admit(S, trade(14), A, True, 0.02)
    assert ids(out) == list(range(1, 11)) and d.held_total == 2
    out += d.admit(S, trade(11), B, True, 0.03)
    out += d.admit(S, trade(12), B, True, 0.04)  # fills the hole: 13, 14 released behind it
    for i in range(13, 16):
        out += d.admit(S, trade(i), B, True, 0.05)
    out += d.admit(S, trade(15), A, True, 0.05)
    assert ids(out) == list(range(1, 16))


def test_holds_from_two_rejoining_links_are_released_in_id_order() -> None:
    """Primary, rollover replacement and a peer: two links hold events ahead of the mark."""
    c = object()
    d = Deduplicator()
    d.admit(S, trade(10), B, True, 0.0)
    assert d.admit(S, trade(16), A, True, 0.0) == [] and d.admit(S, trade(17), A, True, 0.0) == []
    assert d.admit(S, trade(13), c, True, 0.0) == []
    assert ids(d.admit(S, trade(11), B, True, 0.0)) == [11]
    assert ids(d.admit(S, trade(12), B, True, 0.0)) == [12, 13]  # 13 at once, 16.. still wait for 14, 15
    assert ids(d.admit(S, trade(14), c, True, 0.0) + d.admit(S, trade(15), c, True, 0.0)) == [14, 15, 16, 17]


def test_real_hole_is_not_held() -> None:
    d = Deduplicator()
    d.admit(S, trade(1), A, True, 0.0)
    assert ids(d.admit(S, trade(5), A, True, 0.0)) == [5]  # same link skipped: server-side hole
    assert ids(d.admit(S, trade(9), B, False, 0.0)) == [9]  # no other live link
    assert d.admit(S, trade(12), A, True, 1.0) == []  # held: B might fill 10, 11
    assert ids(d.admit(S, trade(13), A, True, 1.0 + d.hold)) == [12, 13]  # waited `hold`: released in order
    assert d.admit(S, trade(10), B, True, 2.0) == []  # too late: the hole stays (the gap tracker reports it)


def test_hold_is_bounded() -> None:
    d = Deduplicator(capacity=10)
    d.admit(S, trade(1), B, True, 0.0)
    out: List[Any] = []
    for i in range(100, 111):
        out += d.admit(S, trade(i), A, True, 0.0)
    assert ids(out) == list(range(100, 111)) and d.size() == (1, 0)


def test_release_due() -> None:
    d = Deduplicator()
    d.admit(S, trade(1), B, True, 0.0)
    d.admit(S, trade(3), A, True, 0.0)
    assert not d.due(0.1) and d.due(d.hold)
    assert [(s, e.trade_id) for s, e in d.release_due(d.hold)] == [(S, 3)]


@pytest.mark.parametrize("seed", range(20))
def test_two_lagging_links_with_an_outage_exactly_once_in_order(seed: int) -> None:
    """2,000 trades/s read by two links, each with its own random lag (up to 20 ms), one
    down for a while and rejoining (maybe ahead of the other): 1..N once, in order."""
    rnd = random.Random(seed)
    n = 4000
    down_from, down_to = rnd.randrange(500, 1500), rnd.randrange(1600, 2500)
    outage = (down_from * 0.0005, down_to * 0.0005)
    arrivals = []
    for link, missing in ((A, range(down_from, down_to)), (B, range(0))):
        t_prev = 0.0
        for i in range(1, n + 1):
            t = max(t_prev, i * 0.0005 + rnd.random() * 0.02)
            t_prev = t
            if i not in missing:
                arrivals.append((t, link is A, i, link))
    arrivals.sort(key=lambda x: (x[0], x[1]))
    d = Deduplicator()
    out: List[Any] = []
    for t, _, i, link in arrivals:
        other_live = link is A or not outage[0] <= t < outage[1]
        out += d.admit(S, trade(i), link, other_live, t)
    assert ids(out) == list(range(1, n + 1))
    assert d.dropped == n - (down_to - down_from)


def test_agg_trade_and_depth_diffs_are_sequenced() -> None:
    d = Deduplicator()
    agg = [AggTrade("b", "X", i, D, D, 1, 2, 3, True, 4) for i in (7, 8, 8, 9)]
    assert [e.agg_trade_id for e in (x for a in agg for x in d.admit("x@aggTrade", a, A, True, 0))] == [7, 8, 9]
    st = "x@depth@100ms"
    assert d.admit(st, DepthUpdate("b", "X", 100, 110, (), ()), A, True, 0)
    assert not d.admit(st, DepthUpdate("b", "X", 100, 110, (), ()), B, True, 0)  # duplicate
    assert not d.admit(st, DepthUpdate("b", "X", 120, 130, (), ()), B, True, 0)  # ahead of a hole: held
    out = d.admit(st, DepthUpdate("b", "X", 111, 119, (), ()), A, True, 0)
    assert [(e.first_update_id, e.final_update_id) for e in out] == [(111, 119), (120, 130)]


def test_other_kinds_use_the_exact_set() -> None:
    d = Deduplicator()
    d.begin()
    snap = DepthUpdate("b", "X", 160, 160, (), ())  # partial book: lastUpdateId, not a sequence
    assert d.admit("x@depth5@100ms", snap, A, True, 0) == [snap]
    assert d.admit("x@depth5@100ms", snap, B, True, 0) == []
    older = DepthUpdate("b", "X", 150, 150, (), ())
    assert d.admit("x@depth5@100ms", older, B, True, 0) == [older]  # never dropped by a high-water mark
    bt = BookTicker("b", "X", 400900217, D, D, D, D)
    assert d.admit("x@bookTicker", bt, A, True, 0) == [bt] and d.admit("x@bookTicker", bt, B, True, 0) == []
    kl = Kline("b", "X", "1m", 60000, 119999, D, D, D, D, D, True, event_time=120000)
    assert d.admit("x@kline_1m", kl, A, True, 0) == [kl] and d.admit("x@kline_1m", kl, B, True, 0) == []
    # array stream: every element is its own event (symbol, E)
    arr = [MiniTicker("b", s, D, D, D, D, D, D, 6000) for s in ("X", "Y", "Z")]
    got = [e for m in arr for e in d.admit("!miniTicker@arr", m, A, True, 0)]
    assert got == arr and all(d.admit("!miniTicker@arr", m, B, True, 0) == [] for m in arr)


def test_forget_frees_a_stream() -> None:
    d = Deduplicator()
    d.admit(S, trade(1), A, True, 0)
    d.forget(S)
    assert d.size() == (0, 0)
