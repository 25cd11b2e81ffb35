"""Reconnects and zombies against FakeBinance: drop/close -> reconnect -> resubscribe -> events flow;
frozen links replaced (short timings, and once with the default timings within 10 s); a quiet but
healthy market never reconnects; refused handshakes back off exponentially up to the cap; 50
reconnect cycles without thread or memory growth; debounced connection events; malformed frames."""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
import tracemalloc
from typing import Any, List, Tuple

import pytest
from _connector_helpers import (
    FakeBinance,
    Recorder,
    conn_threads,
    fast_builder,
    open_stream_conns,
    scaled,
    stream_conns,
    wait_live,
    wait_until,
)

import binance_conn as bc

S = bc.ConnectionState
pytestmark = pytest.mark.usefixtures("no_conn_threads")


def start(started: List[bc.Connector], cfg: bc.Config, **subs: Any) -> bc.Connector:
    c = bc.Connector(cfg)
    started.append(c)
    return c


def warm_trades(c: bc.Connector, fake: FakeBinance) -> Recorder:
    """Subscribe BTCUSDT trades, start, and let 5 trades through (arms the silence watchdog)."""
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    wait_live(c, fake)
    for _ in range(5):
        fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_count(5)
    return rec


def warm_book_tickers(fake: FakeBinance, started: List[bc.Connector]) -> Tuple[bc.Connector, Recorder]:
    """A bookTicker-only connector with quick probes, started, with 5 book tickers through."""
    c = start(started, fast_builder(fake, ping_interval=0.3, pong_timeout=0.3, silence_timeout=0.5)
              .with_health_check(0.3).build())
    rec = Recorder()
    c.on_book_ticker("BTCUSDT", rec)
    c.start()
    wait_live(c, fake)
    for i in range(5):
        fake.publish_book_ticker("BTCUSDT", bid=str(100 + i), bid_qty="1", ask=str(101 + i), ask_qty="1")
    assert rec.wait_count(5)
    return c, rec


def stall_stream_links(fake: FakeBinance) -> None:
    """The server silently stops routing data to the open stream links (pongs still answered)."""
    for s in fake._open_sessions("stream"):
        with s.lock:
            s.streams.clear()


def market(c: bc.Connector) -> Any:
    return c.stats()["market"]


def test_drop_reconnects_resubscribes_and_events_flow_again(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).build())
    trades, books = Recorder(), Recorder()
    c.on_trade("BTCUSDT", trades)
    c.on_book_ticker("ETHUSDT", books)
    c.start()
    wait_live(c, fake)
    first = stream_conns(fake)
    assert len(first) == 1
    want = {"btcusdt@trade", "ethusdt@bookTicker"}
    assert fake.wait_for_subscriptions(want, scaled(2))
    t1 = fake.publish_trade("BTCUSDT", "100", "1")
    assert trades.wait_for(lambda items: items and items[-1].trade_id == t1)

    t0 = time.monotonic()
    assert fake.drop_connections() == 1
    assert wait_until(lambda: len(open_stream_conns(fake)) == 1 and open_stream_conns(fake)[0]["id"] != first[0]["id"],
                      3)
    assert c.wait_ready(scaled(3))
    took = time.monotonic() - t0
    print(f"reconnect after a drop: {took * 1000:.0f} ms")
    assert took < 1.0, f"reconnect took {took:.3f} s"
    assert fake.wait_for_subscriptions(want, scaled(2))
    new = open_stream_conns(fake)[0]
    assert set(new["streams"]) == want
    t2 = fake.publish_trade("BTCUSDT", "101", "1")
    fake.publish_book_ticker("ETHUSDT", bid="1999", ask="2001")
    assert trades.wait_for(lambda items: items[-1].trade_id == t2)
    assert books.wait_count(1)
    assert market(c)["reconnects"] == 1
    assert c.stats()["streams"]["btcusdt@trade"]["reconnects"] == 1


def test_clean_server_close_reconnects(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    wait_live(c, fake)
    assert fake.close_connections(1001, "going away") == 1
    assert wait_until(lambda: len(stream_conns(fake)) == 2 and len(open_stream_conns(fake)) == 1, 3)
    assert c.wait_ready(scaled(3))
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(2))
    tid = fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_for(lambda items: [e.trade_id for e in items] == [tid])


def test_frozen_link_is_replaced_quickly(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake, ping_interval=0.5, pong_timeout=0.5).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    wait_live(c, fake)
    first = stream_conns(fake)[0]["id"]
    t0 = time.monotonic()
    fake.freeze()
    assert wait_until(lambda: any(r["id"] != first for r in open_stream_conns(fake)), 4)
    took = time.monotonic() - t0
    assert took < 2.0, f"zombie replaced after {took:.2f} s"
    assert c.wait_ready(scaled(3))
    assert wait_until(lambda: market(c)["zombies_replaced"] == 1, 3), market(c)  # counted by the watchdog
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(2))
    tid = fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_for(lambda items: items and items[-1].trade_id == tid)


def test_frozen_busy_link_is_replaced_quickly(fake: FakeBinance, started: List[bc.Connector]) -> None:
    """The silence watchdog armed (data was flowing) then the link freezes."""
    c = start(started, fast_builder(fake, ping_interval=1.0, pong_timeout=0.5, silence_timeout=0.5).build())
    warm_trades(c, fake)
    first = stream_conns(fake)[0]["id"]
    t0 = time.monotonic()
    fake.freeze()
    assert wait_until(lambda: any(r["id"] != first for r in open_stream_conns(fake)), 4)
    assert time.monotonic() - t0 < 2.0
    assert c.wait_ready(scaled(3))


def test_frozen_link_replaced_within_10s_with_default_timings(fake: FakeBinance,
                                                             started: List[bc.Connector]) -> None:
    c = start(started, fake.config_builder().build())  # default timings, on purpose
    warm_trades(c, fake)
    first = stream_conns(fake)[0]["id"]
    t0 = time.monotonic()
    fake.freeze()
    assert wait_until(lambda: any(r["id"] != first for r in open_stream_conns(fake)), 12)
    took = time.monotonic() - t0
    print(f"default-timings zombie replaced after {took:.2f} s")
    assert took < 10.0, f"zombie replaced after {took:.2f} s"
    assert c.wait_ready(scaled(3))
    assert wait_until(lambda: market(c)["zombies_replaced"] == 1, 3), market(c)  # counted by the watchdog


def test_quiet_but_healthy_market_never_reconnects(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake, ping_interval=0.3, pong_timeout=0.3, silence_timeout=0.3)
              .with_health_check(0.3).build())
    events = Recorder()
    c.on_connection(events)
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    wait_live(c, fake)
    for _ in range(5):  # arm the data-silence watchdog, then go quiet
        fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_count(5)
    assert wait_until(lambda: market(c)["connections"][0]["pings_sent"] >= 8, 6)
    assert len(stream_conns(fake)) == 1 and stream_conns(fake)[0]["closed_at"] is None
    m = market(c)
    assert m["reconnects"] == 0 and m["zombies_replaced"] == 0
    assert c.is_connected()
    assert all(s is S.CONNECTED for s in events.states())
    assert fake.rate_violations == 0


def test_refused_handshakes_back_off_exponentially_up_to_the_cap(fake: FakeBinance,
                                                               started: List[bc.Connector]) -> None:
    """Attempt times from a listener that logs every TCP connect and answers HTTP 503."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.1)
    times: List[float] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                s, _ = srv.accept()
            except OSError:
                continue
            times.append(time.monotonic())
            try:
                s.settimeout(1.0)
                s.recv(4096)
                s.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        cfg = (fast_builder(fake).with_ws_url(f"ws://127.0.0.1:{srv.getsockname()[1]}")
               .with_backoff(base=0.04, max=0.32, jitter=0.0).build())
        c = start(started, cfg)
        c.on_trade("BTCUSDT", lambda e: None)
        c.start()
        assert wait_until(lambda: len(times) >= 8, 5)
        c.stop()
    finally:
        done.set()
        t.join(2)
        srv.close()
    gaps = [b - a for a, b in zip(times, times[1:])][:7]
    expected = [0.04, 0.08, 0.16, 0.32, 0.32, 0.32, 0.32]
    for gap, want in zip(gaps, expected):
        assert want * 0.9 <= gap <= want + 0.15, (gaps, expected)
    assert c.state is S.STOPPED


def test_fifty_reconnect_cycles_no_thread_or_memory_growth(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.on_connection(lambda e: None)
    c.start()
    wait_live(c, fake)

    def cycle() -> None:
        # the fake unregisters a dropped connection on its own thread: wait until it has
        assert wait_until(lambda: len(open_stream_conns(fake)) == 1, 3), open_stream_conns(fake)
        before = {r["id"] for r in stream_conns(fake)}
        assert fake.drop_connections() == 1, stream_conns(fake)[-3:]
        assert wait_until(lambda: any(r["id"] not in before for r in open_stream_conns(fake)), 3)
        assert wait_until(lambda: c.is_connected() and market(c)["connections"][0]["ready"], 3)

    for _ in range(5):  # warm-up
        cycle()
    threads = len(conn_threads())
    # Captured log records (each drop logs WARNING lines) would count as growth: quiet the
    # library's loggers while measuring.
    quiet = logging.getLogger("binance_conn")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    tracemalloc.start(5)
    try:
        gc.collect()
        snap0 = tracemalloc.take_snapshot()
        for _ in range(50):
            cycle()
            assert len(conn_threads()) <= threads
        gc.collect()
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        quiet.setLevel(level)
    # One in-flight 64 KiB read buffer per reader is not growth: leave that line out.
    import binance_conn._io.transport as tr

    with open(tr.__file__, encoding="utf-8") as fh:
        src = fh.read().splitlines()
    recv_line = next(i for i, line in enumerate(src, 1) if "sock.recv(_READ_SIZE)" in line)
    flt = [tracemalloc.Filter(True, "*binance_conn*"), tracemalloc.Filter(False, "*binance_conn/testing*"),
           tracemalloc.Filter(False, tr.__file__, recv_line)]
    stats = snap1.filter_traces(flt).compare_to(snap0.filter_traces(flt), "lineno")
    growth = sum(s.size_diff for s in stats)
    print([str(s) for s in stats[:6]])
    print(f"50 cycles: thread count {threads} -> {len(conn_threads())}, binance_conn memory growth {growth} B")
    assert growth < 16 * 1024, [str(s) for s in stats[:5]]
    assert len(conn_threads()) == threads
    # every drop was reconnected (per connection; the session-level count folds drops that
    # land before the supervisor saw the previous reconnection into one outage)
    assert market(c)["connections"][0]["reconnects"] >= 55
    tid = fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_for(lambda items: items and items[-1].trade_id == tid)


def test_debounce_short_drop_emits_nothing(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).with_debounce(0.5).build())
    events = Recorder()
    c.on_connection(events)
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert events.wait_for(lambda items: [e.state for e in items] == [S.CONNECTED])
    fake.drop_connections()
    assert wait_until(lambda: market(c)["reconnects"] == 1, 3)
    assert c.is_connected()
    # nothing may follow within (and after) the settle window
    assert not events.wait_for(lambda items: len(items) > 1, 1.0), events.states()
    e = events.snapshot()[0]
    assert e.session == "market" and e.reason


def test_debounce_real_outage_emits_disconnected_reconnecting_connected(fake: FakeBinance,
                                                                        started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).with_debounce(0.2).build())
    events = Recorder()
    c.on_connection(events)
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert events.wait_for(lambda items: [e.state for e in items] == [S.CONNECTED])
    fake.refuse_handshakes(1.0)
    fake.drop_connections()
    want = [S.CONNECTED, S.DISCONNECTED, S.RECONNECTING, S.CONNECTED]
    assert events.wait_for(lambda items: len(items) >= 4, 4), events.states()
    assert events.states() == want
    assert all(e.reason and e.session == "market" for e in events.snapshot())
    assert not events.wait_for(lambda items: len(items) > 4, 0.5), events.states()


def test_no_debounce_emits_every_transition(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).with_debounce(0.0).build())
    events = Recorder()
    c.on_connection(events)
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert events.wait_for(lambda items: len(items) == 1)
    fake.drop_connections()
    assert events.wait_for(lambda items: len(items) >= 4, 3), events.states()
    assert events.states()[:4] == [S.CONNECTED, S.DISCONNECTED, S.RECONNECTING, S.CONNECTED]


def test_malformed_frames_are_counted_and_never_kill_the_reader(fake: FakeBinance,
                                                               started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    wait_live(c, fake)
    assert fake.send_malformed() == 1
    fake.send_malformed('{"stream":"btcusdt@trade","data":{"e":"trade","t":"x"}}')
    fake.send_malformed("\u00ff not json")
    fake.send_malformed('{"stream":"btcusdt@trade","data":{"e":"mystery"}}')
    tid = fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_for(lambda items: [e.trade_id for e in items] == [tid])
    conn0 = market(c)["connections"][0]
    assert conn0["malformed"] + conn0["unknown"] >= 3, conn0
    assert conn0["malformed"] >= 1
    assert len(stream_conns(fake)) == 1 and market(c)["reconnects"] == 0


def test_connection_budget_caps_attempts_per_window(fake: FakeBinance, started: List[bc.Connector]) -> None:
    import dataclasses

    from _connector_helpers import RefusingServer

    with RefusingServer() as srv:
        cfg = fast_builder(fake).with_ws_url(srv.url).with_backoff(base=0.01, max=0.02, jitter=0.0).build()
        cfg = dataclasses.replace(cfg, websocket=dataclasses.replace(
            cfg.websocket, connection_budget=4, connection_budget_window=1.0))
        c = start(started, cfg)
        c.on_trade("BTCUSDT", lambda e: None)
        c.start()
        t_start = time.monotonic()
        assert wait_until(lambda: len(srv.times) >= 10, 5)
        t0 = time.monotonic()
        assert c.stop() is True
        assert time.monotonic() - t0 < 0.5  # also while waiting for budget
    times = list(srv.times)
    for i, t in enumerate(times):
        in_window = [u for u in times[i:] if u < t + 0.95]  # accept times jitter a little
        assert len(in_window) <= 4, (i, [round(u - times[0], 3) for u in times])
    # without the budget 10 attempts would take ~0.2 s
    assert times[9] - t_start >= 2.0 * 0.9


def test_attempts_recover_after_refusals_end(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = start(started, fast_builder(fake).build())
    c.on_trade("BTCUSDT", lambda e: None)
    fake.refuse_handshakes(0.8)
    c.start()
    wait_live(c, fake)
    assert c.stats()["market"]["connections"][0]["failed_attempts"] >= 3
    # backoff restarts from base once connected: a later drop reconnects at once
    t0 = time.monotonic()
    fake.drop_connections()
    assert wait_until(lambda: len(open_stream_conns(fake)) == 1 and len(stream_conns(fake)) == 2, 2)
    assert time.monotonic() - t0 < 0.3


def test_stalled_stream_with_live_pongs_is_replaced(fake: FakeBinance, started: List[bc.Connector]) -> None:
    """Issue 5's first pain: a stream that stops delivering while pongs still come back. The REST
    activity probe (last aggTrade of the link's busiest trade stream) condemns it."""
    c = start(started, fast_builder(fake, ping_interval=0.3, pong_timeout=0.3, silence_timeout=0.5)
              .with_health_check(0.3).build())
    rec = warm_trades(c, fake)
    stall_stream_links(fake)
    stop = threading.Event()

    def trade_on() -> None:
        while not stop.wait(0.05):
            fake.publish_trade("BTCUSDT", "100", "1")

    t = threading.Thread(target=trade_on, daemon=True)
    t.start()
    try:
        assert wait_until(lambda: len(stream_conns(fake)) > 1, 6)
        assert c.wait_ready(scaled(3))
        assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(3))
        n = len(rec)
        assert rec.wait_for(lambda items: len(items) > n + 3, 3)  # trades flow again
        assert wait_until(lambda: c.stats()["market"]["zombies_replaced"] == 1, 3), c.stats()["market"]
    finally:
        stop.set()
        t.join(2)


def test_stalled_book_ticker_link_with_live_pongs_is_replaced(fake: FakeBinance, started: List[bc.Connector]) -> None:
    """The activity probe is not limited to trade streams: a bookTicker-only link that stops
    delivering while trades happen on its symbol (and pongs come back) is replaced too."""
    c, rec = warm_book_tickers(fake, started)
    stall_stream_links(fake)
    stop = threading.Event()

    def market_moves() -> None:
        while not stop.wait(0.05):
            fake.publish_trade("BTCUSDT", "100", "1")
            fake.publish_book_ticker("BTCUSDT", bid="99", bid_qty="2", ask="100", ask_qty="1")

    t = threading.Thread(target=market_moves, daemon=True)
    t.start()
    try:
        assert wait_until(lambda: len(stream_conns(fake)) > 1, 6)
        assert c.wait_ready(scaled(3))
        n = len(rec)
        assert rec.wait_for(lambda items: len(items) > n + 3, 3)  # book tickers flow again
        assert wait_until(lambda: c.stats()["market"]["zombies_replaced"] == 1, 3), c.stats()["market"]
    finally:
        stop.set()
        t.join(2)


def test_quiet_book_ticker_market_is_not_condemned(fake: FakeBinance, started: List[bc.Connector]) -> None:
    """Silence on a bookTicker link while the symbol does not trade: probes pass, no reconnect."""
    c, rec = warm_book_tickers(fake, started)
    # Several silence windows and probe rounds pass without any trade on the symbol.
    assert not wait_until(lambda: c.stats()["market"]["zombies_replaced"] > 0, timeout=3.0)
    assert len(stream_conns(fake)) == 1
