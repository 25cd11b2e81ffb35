"""Gap reports and REST backfill against FakeBinance: a link outage while trades are published."""

from __future__ import annotations

import threading
import time
from typing import Iterator, List

import pytest
from _connector_helpers import Recorder, fast_builder, wait_until

import binance_conn as bc
from binance_conn.testing import FakeBinance

SYM = "BTCUSDT"


def _publish(fake: FakeBinance, n: int) -> List[int]:
    return [fake.publish_trade(SYM, "100.0", "0.5") for _ in range(n)]


@pytest.fixture
def conn(fake: FakeBinance, no_conn_threads: None) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    yield c
    assert c.stop(5.0)


def _outage(fake: FakeBinance, n: int) -> List[int]:
    """Cut the stream link and publish ``n`` trades while no connection can come back."""
    fake.refuse_handshakes(0.4)
    fake.drop_connections()
    assert fake.wait_until(lambda: fake.open_connections("stream") == 0, 5.0)
    return _publish(fake, n)


def _start(conn: bc.Connector, fake: FakeBinance, *streams: str) -> None:
    conn.start()
    assert conn.wait_ready(10)
    assert fake.wait_for_subscriptions(list(streams), 5.0)


@pytest.mark.parametrize("kind", ["trade", "agg_trade"])
def test_backfill_after_reconnect_complete_in_order_no_duplicates(conn: bc.Connector, fake: FakeBinance,
                                                                  kind: str) -> None:
    rec, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    if kind == "trade":
        conn.on_trade(SYM, rec, backfill=True)
        stream, key = "btcusdt@trade", "trade_id"
    else:
        conn.on_agg_trade(SYM, rec, backfill=True)
        stream, key = "btcusdt@aggTrade", "agg_trade_id"
    _start(conn, fake, stream)
    before = _publish(fake, 5)
    assert rec.wait_count(5)
    missed = _outage(fake, 1500)  # two pages of history
    assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)
    assert fake.wait_for_subscriptions([stream], 5.0)
    after = _publish(fake, 5)
    assert rec.wait_count(1510, 10.0)
    ids = [getattr(e, key) for e in rec.snapshot()]
    assert ids == before + missed + after  # complete, strictly in order, no duplicates
    backfilled = {getattr(e, key) for e in rec.snapshot() if e.is_backfilled}
    assert backfilled == set(missed)
    assert gaps.wait_count(2)
    opened, closed = gaps.snapshot()[:2]
    assert (opened.state, closed.state) == (bc.GapState.OPEN, bc.GapState.FILLED)
    assert (opened.first_missing, opened.last_missing, opened.cause) == (missed[0], missed[-1], "reconnect")
    assert closed.gap_id == opened.gap_id and closed.filled == 1500
    stats = conn.stats()["gaps"]
    assert (stats["gaps"], stats["missing"], stats["backfilled"], stats["unfilled"]) == (1, 1500, 1500, 0)
    # historicalTrades: 2 pages x weight 25; aggTrades: 2 pages x weight 4
    path = "/api/v3/historicalTrades" if kind == "trade" else "/api/v3/aggTrades"
    assert len([r for r in fake.request_log if r["path"] == path]) == 2


def test_without_backfill_a_gap_event_names_the_exact_range(conn: bc.Connector, fake: FakeBinance) -> None:
    rec, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    conn.on_trade(SYM, rec)
    _start(conn, fake, "btcusdt@trade")
    _publish(fake, 3)
    assert rec.wait_count(3)
    missed = _outage(fake, 40)
    assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)
    assert fake.wait_for_subscriptions(["btcusdt@trade"], 5.0)
    _publish(fake, 2)
    assert gaps.wait_count(2)
    opened, ended = gaps.snapshot()[:2]
    assert (opened.first_missing, opened.last_missing, opened.missing) == (missed[0], missed[-1], 40)
    assert ended.state == bc.GapState.UNFILLED and opened.cause == "reconnect"
    assert not any(e.is_backfilled for e in rec.snapshot())
    assert not [r for r in fake.request_log if r["path"] == "/api/v3/historicalTrades"]


def test_overflow_of_one_subscriber_is_a_gap_for_that_subscriber_only(conn: bc.Connector,
                                                                      fake: FakeBinance) -> None:
    gate = threading.Event()
    slow = Recorder(lambda e: gate.wait(5))
    fast, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    slow_sub = conn.on_trade(SYM, slow, buffer=2, overflow="DROP_OLDEST")
    fast_sub = conn.on_trade(SYM, fast)
    _start(conn, fake, "btcusdt@trade")
    _publish(fake, 1)
    assert slow.wait_count(1)  # the baseline; its callback now waits on the gate
    _publish(fake, 19)
    assert fast.wait_count(20)
    assert wait_until(lambda: slow_sub.dropped > 0, 5.0)
    gate.set()
    _publish(fake, 1)
    assert gaps.wait_count(2)
    assert fast.wait_count(21)
    per = conn.stats()["gaps"]["subscribers"]
    assert per[slow_sub.id]["gaps"] == 1 and per[fast_sub.id]["gaps"] == 0
    opened = gaps.snapshot()[0]
    assert opened.cause == "overflow" and opened.missing == slow_sub.dropped
    assert [e.trade_id for e in fast.snapshot()] == list(range(1, 22))


def test_backfill_with_queue_is_refused(conn: bc.Connector) -> None:
    import queue

    with pytest.raises(bc.ValidationError):
        conn.on_trade(SYM, queue=queue.Queue(), backfill=True)
    with pytest.raises(bc.ValidationError):
        conn.on_ticker(SYM, print, backfill=True)


def test_stop_during_a_backfill_leaves_no_thread(conn: bc.Connector, fake: FakeBinance) -> None:
    rec = Recorder()
    conn.on_trade(SYM, rec, backfill=True)
    _start(conn, fake, "btcusdt@trade")
    _publish(fake, 2)
    assert rec.wait_count(2)
    _outage(fake, 50)
    fake.delay_responses(3.0, count=1, path="/api/v3/historicalTrades")
    assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)
    assert fake.wait_for_subscriptions(["btcusdt@trade"], 5.0)
    _publish(fake, 1)
    assert fake.wait_for_requests("/api/v3/historicalTrades", 1, 5.0)
    t0 = time.monotonic()
    assert conn.stop(5.0)
    assert time.monotonic() - t0 < 1.5  # the 3 s page is cut at once, not waited for


def test_backfill_stays_inside_the_weight_budget(fake: FakeBinance, no_conn_threads: None) -> None:
    # a 60-weight budget: pings and two 25-weight pages fit; the next page would wait past max_wait
    conn = bc.Connector(fast_builder(fake).with_rate_limit(max_wait=0.2, weight_limit=60).build())
    rec, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    conn.on_trade(SYM, rec, backfill=True)
    try:
        _start(conn, fake, "btcusdt@trade")
        _publish(fake, 2)
        assert rec.wait_count(2)
        missed = _outage(fake, 3500)
        assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)
        assert fake.wait_for_subscriptions(["btcusdt@trade"], 5.0)
        _publish(fake, 1)
        assert gaps.wait_count(2, 10.0)
        ended = gaps.snapshot()[1]
        assert ended.state == bc.GapState.UNFILLED and "RateLimitError" in (ended.reason or "")
        assert 0 < ended.filled < len(missed)
        ids = [e.trade_id for e in rec.snapshot()]
        assert ids == sorted(set(ids))  # in order, never twice, whatever was fetched
        assert not [r for r in fake.request_log if r["status"] == 429]  # the client held back, not the server
    finally:
        assert conn.stop(5.0)


def test_kline_backfill_after_reconnect(conn: bc.Connector, fake: FakeBinance) -> None:
    minute = 60_000
    t0 = (fake.now_ms() // minute - 100) * minute
    rec, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    conn.on_kline(SYM, "1m", rec, backfill=True)
    _start(conn, fake, "btcusdt@kline_1m")

    def trade_in(m: int) -> None:
        fake.set_clock(t0 + m * minute + 1000)
        fake.publish_trade(SYM, "100.0", "0.5", trade_time=t0 + m * minute + 1000)

    trade_in(0)
    trade_in(1)  # closes minute 0
    assert rec.wait_for(lambda items: any(k.is_closed for k in items))
    fake.refuse_handshakes(0.4)
    fake.drop_connections()
    assert fake.wait_until(lambda: fake.open_connections("stream") == 0, 5.0)
    for m in (2, 3, 4):  # close minutes 1, 2, 3 while down
        trade_in(m)
    assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)
    assert fake.wait_for_subscriptions(["btcusdt@kline_1m"], 5.0)
    trade_in(5)  # closes minute 4: reveals the gap
    assert rec.wait_for(lambda items: sum(k.is_closed for k in items) >= 5, 10.0)
    closed = [k for k in rec.snapshot() if k.is_closed]
    assert [(k.open_time - t0) // minute for k in closed] == [0, 1, 2, 3, 4]
    assert [k.is_backfilled for k in closed] == [False, True, True, True, False]
    assert gaps.wait_count(2)
    opened, ended = gaps.snapshot()[:2]
    assert (opened.first_missing, opened.last_missing) == (t0 + minute, t0 + 3 * minute)
    assert ended.state == bc.GapState.FILLED and ended.filled == 3


def test_zombie_replacement_gap_is_named_and_filled(conn: bc.Connector, fake: FakeBinance) -> None:
    rec, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    conn.on_trade(SYM, rec, backfill=True)
    _start(conn, fake, "btcusdt@trade")
    before = _publish(fake, 3)
    assert rec.wait_count(3)
    fake.freeze()  # the link stays open and carries nothing: replaced after the zombie verdict
    missed = _publish(fake, 30)
    assert wait_until(lambda: conn.stats()["market"]["zombies_replaced"] >= 1, 10.0)
    assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)  # the frozen one closed
    assert conn.wait_ready(5.0)
    assert fake.wait_for_subscriptions(["btcusdt@trade"], 5.0)
    after = _publish(fake, 2)
    assert rec.wait_count(35, 10.0)
    assert [e.trade_id for e in rec.snapshot()] == before + missed + after
    assert gaps.wait_count(2)
    assert gaps.snapshot()[0].cause == "zombie" and gaps.snapshot()[1].state == bc.GapState.FILLED


def test_overflow_with_backfill_gives_the_slow_subscriber_everything(conn: bc.Connector, fake: FakeBinance) -> None:
    gate = threading.Event()
    slow = Recorder(lambda e: gate.wait(5))
    gaps = Recorder()
    conn.on_gap(gaps)
    sub = conn.on_trade(SYM, slow, buffer=2, overflow="DROP_OLDEST", backfill=True)
    _start(conn, fake, "btcusdt@trade")
    ids = _publish(fake, 1)
    assert slow.wait_count(1)
    ids += _publish(fake, 30)
    assert wait_until(lambda: sub.dropped > 0, 5.0)
    gate.set()
    assert slow.wait_count(31)
    assert [e.trade_id for e in slow.snapshot()] == ids
    assert gaps.wait_count(2)
    assert gaps.snapshot()[0].cause == "overflow" and gaps.snapshot()[1].state == bc.GapState.FILLED


def test_server_shutdown_rollover_makes_no_gap(conn: bc.Connector, fake: FakeBinance) -> None:
    rec, gaps = Recorder(), Recorder()
    conn.on_gap(gaps)
    conn.on_trade(SYM, rec)
    _start(conn, fake, "btcusdt@trade")
    ids = _publish(fake, 5)
    assert rec.wait_count(5)
    fake.send_server_shutdown()
    for _ in range(40):  # trades published across the make-before-break switch
        ids += _publish(fake, 1)
    assert wait_until(lambda: conn.stats()["market"]["rollovers"] >= 1, 5.0)
    assert fake.wait_until(lambda: fake.open_connections("stream") == 1, 5.0)
    ids += _publish(fake, 3)
    assert rec.wait_count(len(ids))
    assert [e.trade_id for e in rec.snapshot()] == ids
    assert gaps.snapshot() == [] and conn.stats()["gaps"]["gaps"] == 0
