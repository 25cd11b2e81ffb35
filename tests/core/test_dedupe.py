from __future__ import annotations

from decimal import Decimal

import pytest

from binance_conn._core.dedupe import Deduplicator, natural_key
from binance_conn.events import (
    AggTrade,
    BookTicker,
    ConnectionEvent,
    DepthUpdate,
    Kline,
    MiniTicker,
    Ticker,
    Trade,
)

D = Decimal("1")


def trade(i: int) -> Trade:
    return Trade("binance", "BTCUSDT", i, D, D, 1000 + i, False, 1000 + i)


def test_natural_keys() -> None:
    assert natural_key(trade(7)) == 7
    assert natural_key(AggTrade("b", "X", 9, D, D, 1, 2, 3, True, 4)) == 9
    assert natural_key(DepthUpdate("b", "X", 157, 160, (), ())) == 160
    assert natural_key(BookTicker("b", "X", 400900217, D, D, D, D)) == 400900217
    assert natural_key(Kline("b", "X", "1m", 60000, 119999, D, D, D, D, D, False, event_time=61000)) == (60000, 61000)
    assert natural_key(Ticker("b", "X", D, D, D, D, D, D, D, 5000)) == 5000
    assert natural_key(MiniTicker("b", "X", D, D, D, D, D, D, 6000)) == ("X", 6000)  # arrays share E
    assert natural_key(ConnectionEvent("b", "market", "CONNECTED", "", 1)) is None


def test_inactive_passes_everything() -> None:
    d = Deduplicator()
    assert d.accept("btcusdt@trade", trade(1)) and d.accept("btcusdt@trade", trade(1))
    assert d.size() == (0, 0)


def test_overlap_no_loss_no_double() -> None:
    d = Deduplicator()
    d.begin()
    delivered = []
    # old connection lags behind the new one: events interleave out of order
    old = [trade(i) for i in range(100, 110)]
    new = [trade(i) for i in range(104, 115)]
    for a, b in zip(old, new):
        for ev in (b, a):
            if d.accept("btcusdt@trade", ev):
                delivered.append(ev.trade_id)
    for ev in new[len(old):]:
        if d.accept("btcusdt@trade", ev):
            delivered.append(ev.trade_id)
    assert sorted(delivered) == list(range(100, 115))
    assert len(delivered) == len(set(delivered))
    assert d.dropped == 6
    d.end()
    assert not d.active and d.size() == (0, 0)


def test_per_stream_keys() -> None:
    d = Deduplicator()
    d.begin()
    assert d.accept("btcusdt@trade", trade(1))
    assert d.accept("ethusdt@trade", trade(1))
    assert not d.accept("btcusdt@trade", trade(1))
    kl = Kline("b", "X", "1m", 60000, 119999, D, D, D, D, D, False, event_time=61000)
    assert d.accept("x@kline_1m", kl)
    assert d.accept("x@kline_1m", kl.replace(event_time=62000))  # same candle, newer update
    assert not d.accept("x@kline_1m", kl)
    ce = ConnectionEvent("b", "market", "CONNECTED", "", 1)
    assert d.accept("x", ce) and d.accept("x", ce)  # no key: never a duplicate


def test_bounded_memory() -> None:
    d = Deduplicator(capacity=100)
    d.begin()
    for i in range(10_000):
        d.accept("s", trade(i))
    assert d.size() == (1, 100)
    assert d.accept("s", trade(0))  # forgotten long ago
    assert not d.accept("s", trade(9_999))
    with pytest.raises(ValueError):
        Deduplicator(0)
