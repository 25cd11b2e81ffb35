"""Event delivery against FakeBinance: per-subscriber workers (a slow one never delays a fast one),
order over 10,000 events, BLOCK and DROP_OLDEST, a blocked BLOCK subscriber is not a zombie,
raising callbacks, queue= delivery, handles, one shared event object."""

from __future__ import annotations

import logging
import queue
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
from _connector_helpers import FakeBinance, Recorder, fast_builder, scaled, stream_conns, wait_live, wait_until

import binance_conn as bc

pytestmark = pytest.mark.usefixtures("no_conn_threads")


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    yield c
    c.stop(timeout=2.0)


def test_slow_subscriber_does_not_delay_a_fast_one(fake: FakeBinance, conn: bc.Connector) -> None:
    release = threading.Event()
    slow = Recorder(on_event=lambda e: release.wait(scaled(5)))
    fast = Recorder()
    conn.on_trade("BTCUSDT", slow)
    conn.on_trade("BTCUSDT", fast)
    conn.start()
    wait_live(conn, fake)
    ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(50)]
    t0 = time.monotonic()
    assert fast.wait_for(lambda items: [e.trade_id for e in items] == ids, 2)
    assert time.monotonic() - t0 < 1.0
    assert len(slow) <= 1  # still stuck in its first callback
    release.set()
    assert slow.wait_for(lambda items: [e.trade_id for e in items] == ids)


def test_ten_thousand_events_in_order_per_subscriber(fake: FakeBinance, conn: bc.Connector) -> None:
    n = 10_000
    a = Recorder()
    b = Recorder()
    q: "queue.Queue[Any]" = queue.Queue()
    conn.on_trade("BTCUSDT", a, overflow=bc.OverflowPolicy.BLOCK, buffer=256)
    conn.on_trade("BTCUSDT", b, buffer=n)
    conn.on_trade("BTCUSDT", queue=q, buffer=n)
    conn.start()
    wait_live(conn, fake)
    ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(n)]
    assert a.wait_count(n, 20) and b.wait_count(n, 20)
    assert [e.trade_id for e in a.snapshot()] == ids
    assert [e.trade_id for e in b.snapshot()] == ids
    got = [q.get(timeout=scaled(5)).trade_id for _ in range(n)]
    assert got == ids
    assert len(stream_conns(fake)) == 1


def test_blocked_block_subscriber_is_not_a_zombie(fake: FakeBinance, conn: bc.Connector) -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck(e: Any) -> None:
        entered.set()
        release.wait(scaled(10))

    rec = Recorder(on_event=stuck)
    sub = conn.on_trade("BTCUSDT", rec, overflow=bc.OverflowPolicy.BLOCK, buffer=1)
    conn.start()
    wait_live(conn, fake)
    for _ in range(5):  # 1 in the callback, 1 queued, the reader blocks on the 3rd
        fake.publish_trade("BTCUSDT", "100", "1")
    assert entered.wait(scaled(3))
    # ping_interval + pong_timeout is 1 s: stay blocked for several of those
    cpu0 = time.process_time()
    assert not wait_until(lambda: conn.stats()["market"]["zombies_replaced"] > 0 or len(stream_conns(fake)) > 1,
                          2.5)
    cpu = time.process_time() - cpu0
    assert cpu < 0.8, f"{cpu:.2f} s CPU while blocked: the supervisor spins"
    release.set()
    assert rec.wait_count(5)
    assert sub.dropped == 0
    assert conn.stats()["market"]["zombies_replaced"] == 0
    assert len(stream_conns(fake)) == 1 and stream_conns(fake)[0]["closed_at"] is None
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    assert rec.wait_for(lambda items: items[-1].trade_id == tid), (conn.stats(), stream_conns(fake))


def test_drop_oldest_counts_drops_and_keeps_the_newest(fake: FakeBinance, conn: bc.Connector) -> None:
    release = threading.Event()
    rec = Recorder(on_event=lambda e: release.wait(scaled(5)))
    sub = conn.on_trade("BTCUSDT", rec, buffer=3)
    conn.start()
    wait_live(conn, fake)
    ids = [fake.publish_trade("BTCUSDT", "100", "1")]
    assert rec.wait_count(1)  # the worker holds the first one
    ids += [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(9)]
    assert wait_until(lambda: sub.dropped == 6, 3)
    release.set()
    assert rec.wait_count(4)
    assert not rec.wait_for(lambda items: len(items) > 4, 0.3)
    assert [e.trade_id for e in rec.snapshot()] == [ids[0]] + ids[-3:]
    assert sub.delivered == 4


def test_raising_callback_reaches_on_error_and_log_and_worker_goes_on(fake: FakeBinance, conn: bc.Connector,
                                                                      caplog: Any) -> None:
    errors = Recorder()
    conn.on_error(errors)
    seen: List[int] = []

    def bad(e: Any) -> None:
        seen.append(e.trade_id)
        if len(seen) == 1:
            raise ValueError("boom")

    sub = conn.on_trade("BTCUSDT", bad)
    conn.start()
    wait_live(conn, fake)
    with caplog.at_level(logging.WARNING, logger="binance_conn"):
        ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(3)]
        assert wait_until(lambda: seen == ids, 3)
        assert errors.wait_count(1)
    err = errors.snapshot()[0]
    assert isinstance(err, bc.BinanceError)
    assert isinstance(err.__cause__, ValueError)
    assert sub.errors == 1 and sub.delivered == 2 and sub.active  # delivered: callbacks that returned
    recs = [r for r in caplog.records if r.levelno == logging.WARNING and r.exc_info]
    assert recs and "ValueError" in recs[0].getMessage() + str(recs[0].exc_info)


def test_none_callback_gives_an_inactive_handle(fake: FakeBinance, conn: bc.Connector) -> None:
    h = conn.on_trade("BTCUSDT", None)
    assert not h.active
    h()  # still callable
    conn.start()
    wait_live(conn, fake)
    assert fake.connection_log == []


def test_one_event_object_shared_by_all_subscribers(fake: FakeBinance, conn: bc.Connector) -> None:
    a, b = Recorder(), Recorder()
    q: "queue.Queue[Any]" = queue.Queue()
    conn.on_trade("BTCUSDT", a)
    conn.on_trade("BTCUSDT", b)
    conn.on_trade("BTCUSDT", queue=q)
    conn.start()
    wait_live(conn, fake)
    fake.publish_trade("BTCUSDT", "100.5", "2")
    assert a.wait_count(1) and b.wait_count(1)
    ev = q.get(timeout=scaled(2))
    assert a.snapshot()[0] is b.snapshot()[0] is ev
    with pytest.raises((AttributeError, TypeError)):
        ev.price = 1  # immutable
    assert ev.price == Decimal("100.5")


def test_queue_block_waits_on_the_callers_queue(fake: FakeBinance, conn: bc.Connector) -> None:
    q: "queue.Queue[Any]" = queue.Queue(maxsize=2)
    sub = conn.on_trade("BTCUSDT", queue=q, overflow=bc.OverflowPolicy.BLOCK)
    conn.start()
    wait_live(conn, fake)
    ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(6)]
    got = [q.get(timeout=scaled(3)).trade_id for _ in range(6)]
    assert got == ids and sub.dropped == 0


def test_queue_drop_oldest_removes_the_callers_oldest(fake: FakeBinance, conn: bc.Connector) -> None:
    q: "queue.Queue[Any]" = queue.Queue(maxsize=2)
    sub = conn.on_trade("BTCUSDT", queue=q)
    conn.start()
    wait_live(conn, fake)
    ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(6)]
    assert wait_until(lambda: sub.dropped == 4, 3)
    assert [q.get_nowait().trade_id for _ in range(2)] == ids[-2:]


def test_stop_delivers_queued_events_until_the_deadline(fake: FakeBinance, conn: bc.Connector) -> None:
    gate = threading.Event()
    rec = Recorder(on_event=lambda e: gate.wait(scaled(5)))
    conn.on_trade("BTCUSDT", rec, buffer=100)
    conn.start()
    wait_live(conn, fake)
    ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(5)]
    assert rec.wait_count(1)
    assert wait_until(lambda: conn.stats()["subscribers"]["btcusdt@trade"][0].get("pending", 4) == 4, 2)
    threading.Timer(0.1, gate.set).start()
    assert conn.stop(timeout=3.0) is True
    assert [e.trade_id for e in rec.snapshot()] == ids


def test_stop_with_a_stuck_block_subscriber_is_bounded(fake: FakeBinance, conn: bc.Connector) -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck(e: Any) -> None:
        entered.set()
        release.wait(scaled(10))

    conn.on_trade("BTCUSDT", stuck, overflow=bc.OverflowPolicy.BLOCK, buffer=1)
    conn.start()
    wait_live(conn, fake)
    for _ in range(5):  # the reader ends up blocked on the full buffer
        fake.publish_trade("BTCUSDT", "100", "1")
    assert entered.wait(scaled(3))
    assert wait_until(lambda: conn.stats()["subscribers"]["btcusdt@trade"][0].get("blocked_since") is not None, 2)
    t0 = time.monotonic()
    ok = conn.stop(timeout=0.5)
    took = time.monotonic() - t0
    assert took < 1.0, took
    assert ok is False  # the stuck callback could not finish in time
    assert not any(t.name.startswith("binance_conn-market-reader") for t in threading.enumerate())
    assert conn.stats()["dropped_at_stop"] >= 1
    release.set()
    assert conn.stop(timeout=2.0) is True  # a second stop() collects the worker
