"""Connector lifecycle against FakeBinance: start/ready/state, stop (fast, idempotent, from a
callback, during backoff), restart with a new config, no thread left behind, REST while streams
are down, no socket without subscriptions, several connectors side by side, stats() shape."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, List

import pytest
from _connector_helpers import (
    FakeBinance,
    Recorder,
    conn_threads,
    fast_builder,
    scaled,
    stream_conns,
    wait_live,
    wait_until,
)

import binance_conn as bc

S = bc.ConnectionState
pytestmark = pytest.mark.usefixtures("no_conn_threads")


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    yield c
    c.stop(timeout=2.0)


def test_start_returns_at_once_and_becomes_ready_with_trades(fake: FakeBinance, conn: bc.Connector) -> None:
    rec = Recorder()
    sub = conn.on_trade("BTCUSDT", rec)
    assert conn.state is S.STOPPED and not conn.ready.is_set() and not conn.is_connected()
    t0 = time.monotonic()
    conn.start()
    assert time.monotonic() - t0 < 0.2
    assert conn.state in (S.CONNECTING, S.CONNECTED)
    wait_live(conn, fake)
    assert conn.state is S.CONNECTED and conn.is_connected() and conn.ready.is_set()
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(2))
    ids = [fake.publish_trade("BTCUSDT", "100", "1") for _ in range(3)]
    assert rec.wait_count(3)
    assert [t.trade_id for t in rec.snapshot()] == ids
    assert sub.delivered == 3 and sub.active


def test_no_subscriptions_opens_no_socket_and_ready_means_rest(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.start()
    wait_live(conn, fake)
    assert conn.state is S.CONNECTED
    assert fake.wait_for_requests("/api/v3/ping", 1, scaled(2))
    assert fake.connection_log == []


def test_state_is_connecting_while_handshakes_are_refused(fake: FakeBinance, conn: bc.Connector) -> None:
    fake.refuse_handshakes(0.6)
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    assert wait_until(lambda: conn.stats()["market"]["connections"][0]["failed_attempts"] >= 2, 3)
    assert conn.state is S.CONNECTING and not conn.ready.is_set() and not conn.is_connected()
    wait_live(conn, fake)
    assert conn.state is S.CONNECTED


def test_ready_is_level_triggered(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    wait_live(conn, fake)
    fake.refuse_handshakes(1.0)
    fake.drop_connections()
    assert wait_until(lambda: not conn.ready.is_set(), 2)
    assert not conn.is_connected()
    assert conn.state in (S.RECONNECTING, S.DISCONNECTED)
    wait_live(conn, fake)
    assert conn.is_connected()


def test_rest_works_while_streams_are_down(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.on_trade("BTCUSDT", lambda e: None)
    fake.refuse_handshakes(30.0)
    conn.start()
    assert wait_until(lambda: conn.stats()["market"]["connections"][0]["failed_attempts"] >= 1, 3)
    assert not conn.ready.is_set()
    t = conn.rest.request("GET", "/api/v3/time")
    assert "serverTime" in t
    assert wait_until(lambda: conn.stats()["market"]["rest_reachable"], 3)
    assert conn.state is S.CONNECTING


def test_stop_is_fast_idempotent_and_leaves_no_thread(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.on_trade(["BTCUSDT", "ETHUSDT"], lambda e: None)
    conn.on_connection(lambda e: None)
    conn.start()
    wait_live(conn, fake)
    assert conn_threads()
    t0 = time.monotonic()
    assert conn.stop() is True
    took = time.monotonic() - t0
    print(f"stop() with 2 streams and 3 subscribers: {took * 1000:.1f} ms")
    assert took < 0.5, took
    assert conn_threads() == []
    assert conn.state is S.STOPPED and not conn.ready.is_set()
    assert conn.stop() is True
    assert conn.stop(timeout=0) is True
    assert fake.wait_until(lambda: fake.open_connections() == 0, scaled(2))


def test_stop_never_started_and_negative_timeout(fake: FakeBinance) -> None:
    c = bc.Connector(fast_builder(fake).build())
    assert c.stop() is True
    assert c.stop(timeout=-1) is True
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert c.stop(timeout=-1) in (True, False)  # never raises
    assert c.stop() is True
    assert wait_until(lambda: conn_threads() == [], 2)


def test_stop_during_backoff_returns_fast(fake: FakeBinance) -> None:
    c = bc.Connector(fast_builder(fake).with_backoff(base=5.0, max=30.0, jitter=0.0).build())
    c.on_trade("BTCUSDT", lambda e: None)
    fake.refuse_handshakes(60.0)
    c.start()
    # first attempt immediate and refused, then a >= 5 s backoff wait
    assert wait_until(lambda: c.stats()["market"]["connections"][0]["failed_attempts"] >= 1, 3)
    t0 = time.monotonic()
    assert c.stop() is True
    took = time.monotonic() - t0
    print(f"stop() during a backoff wait: {took * 1000:.1f} ms")
    assert took < 0.5, took
    assert conn_threads() == []


def test_stop_during_connect_to_blackhole_is_fast(fake: FakeBinance) -> None:
    """A handshake that never completes (server accepts TCP, says nothing) is cut by stop()."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    try:
        cfg = fast_builder(fake, handshake_timeout=30.0).with_ws_url(f"ws://127.0.0.1:{port}").build()
        c = bc.Connector(cfg)
        c.on_trade("BTCUSDT", lambda e: None)
        c.start()
        accepted = srv.accept()[0]
        t0 = time.monotonic()
        assert c.stop() is True
        assert time.monotonic() - t0 < 0.5
        accepted.close()
    finally:
        srv.close()


def test_stop_from_inside_a_callback(fake: FakeBinance, conn: bc.Connector) -> None:
    result: List[Any] = []
    done = threading.Event()

    def cb(trade: Any) -> None:
        if not done.is_set():
            result.append(conn.stop(timeout=2.0))
            done.set()

    conn.on_trade("BTCUSDT", cb)
    conn.start()
    wait_live(conn, fake)
    fake.publish_trade("BTCUSDT", "100", "1")
    assert done.wait(scaled(5))
    assert result == [True]
    assert conn.state is S.STOPPED
    # the callback's own worker ends once the callback returned
    assert wait_until(lambda: conn_threads() == [], 3)


def test_restart_with_new_config_keeps_subscriptions(fake: FakeBinance, conn: bc.Connector) -> None:
    rec = Recorder()
    conn.on_trade("BTCUSDT", rec)
    conn.on_book_ticker("ETHUSDT", rec)
    conn.start()
    wait_live(conn, fake)
    assert conn.stop() is True
    cfg2 = fast_builder(fake).with_debounce(0.05).build()
    conn.start(config=cfg2)
    assert conn.config is cfg2
    wait_live(conn, fake)
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@bookTicker"], scaled(2))
    tid = fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_for(lambda items: any(getattr(e, "trade_id", None) == tid for e in items))
    assert len(stream_conns(fake)) == 2


def test_start_twice_is_a_noop_and_reconfigure_while_running_is_refused(fake: FakeBinance,
                                                                        conn: bc.Connector) -> None:
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    conn.start()
    wait_live(conn, fake)
    with pytest.raises(bc.ValidationError):
        conn.start(config=fast_builder(fake).build())
    assert fake.wait_until(lambda: len(stream_conns(fake)) == 1, scaled(1))


def test_context_manager(fake: FakeBinance) -> None:
    with bc.Connector(fast_builder(fake).build()) as c:
        c.on_trade("BTCUSDT", lambda e: None)
        wait_live(c, fake)
    assert c.state is S.STOPPED
    assert conn_threads() == []


def test_several_connectors_side_by_side(fake: FakeBinance) -> None:
    conns = [bc.Connector(fast_builder(fake).build()) for _ in range(3)]
    recs = [Recorder() for _ in conns]
    try:
        for c, r in zip(conns, recs):
            c.on_trade("BTCUSDT", r)
            c.start()
        assert all(c.wait_ready(scaled(5)) for c in conns)
        assert fake.wait_for_connections(3, scaled(2))
        tid = fake.publish_trade("BTCUSDT", "100", "1")
        assert all(r.wait_for(lambda items: [e.trade_id for e in items] == [tid]) for r in recs)
        conns[0].stop()
        assert conns[0].state is S.STOPPED
        assert conns[1].is_connected() and conns[2].is_connected()
        tid2 = fake.publish_trade("BTCUSDT", "101", "1")
        assert recs[1].wait_for(lambda items: items[-1].trade_id == tid2)
        assert recs[0].snapshot()[-1].trade_id == tid
    finally:
        for c in conns:
            c.stop()


def test_stats_shape(fake: FakeBinance, conn: bc.Connector) -> None:
    sub = conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    wait_live(conn, fake)
    fake.publish_trade("BTCUSDT", "100", "1")
    assert wait_until(lambda: sub.delivered == 1)
    st = conn.stats()
    for key in ("exchange", "state", "ready", "market", "streams", "subscribers", "dropped_at_stop", "rest"):
        assert key in st, key
    assert st["state"] == "CONNECTED" and st["ready"] is True
    s = st["streams"]["btcusdt@trade"]
    assert s["events"] == 1 and s["reconnects"] == 0 and s["last_message_age"] >= 0
    m = st["market"]
    for key in ("reconnects", "zombies_replaced", "rollovers", "subscription_errors", "connections"):
        assert key in m, key
    c0 = m["connections"][0]
    for key in ("shard", "streams", "ready", "reconnects", "malformed", "frames", "events", "pings_sent"):
        assert key in c0, key
    subs = st["subscribers"]["btcusdt@trade"]
    assert subs[0]["delivered"] == 1 if "delivered" in subs[0] else True
    import json

    json.dumps(st, default=str)  # loggable


def test_rest_down_clears_ready_without_touching_streams(fake: FakeBinance) -> None:
    c = bc.Connector(fast_builder(fake).with_health_check(0.2).with_retry(attempts=1).build())
    events = Recorder()
    try:
        c.on_connection(events)
        c.on_trade("BTCUSDT", lambda e: None)
        c.start()
        wait_live(c, fake)
        fake.fail_next(6, status=503, path="/api/v3/ping")
        assert wait_until(lambda: not c.ready.is_set(), 3)
        assert not c.is_connected()
        assert c.wait_ready(scaled(5))  # faults used up: REST reachable again
        assert events.wait_for(lambda items: items and items[-1].state is S.CONNECTED)
        assert any("REST" in e.reason for e in events.snapshot() if e.state is not S.CONNECTED), \
            [(e.state, e.reason) for e in events.snapshot()]
        assert len(stream_conns(fake)) == 1  # the stream link was never dropped for it
    finally:
        c.stop()


def test_handshake_timeout_is_retried_and_stop_cuts_it(fake: FakeBinance) -> None:
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    try:
        cfg = fast_builder(fake, handshake_timeout=0.2).with_ws_url(f"ws://127.0.0.1:{srv.getsockname()[1]}").build()
        c = bc.Connector(cfg)
        c.on_trade("BTCUSDT", lambda e: None)
        c.start()
        assert wait_until(lambda: c.stats()["market"]["connections"][0]["failed_attempts"] >= 2, 3)
        assert c.state is S.CONNECTING
        t0 = time.monotonic()
        assert c.stop() is True
        assert time.monotonic() - t0 < 0.5
    finally:
        srv.close()


def test_concurrent_stops_and_stop_from_on_connection(fake: FakeBinance, conn: bc.Connector) -> None:
    results: List[Any] = []
    stopped_in_cb = threading.Event()

    def on_conn(e: Any) -> None:
        if e.state is S.CONNECTED and not stopped_in_cb.is_set():
            stopped_in_cb.set()
            results.append(("cb", conn.stop(timeout=2.0)))

    conn.on_connection(on_conn)
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    assert stopped_in_cb.wait(scaled(5))
    threads = [threading.Thread(target=lambda: results.append(("t", conn.stop(timeout=2.0)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(5))
    assert wait_until(lambda: len(results) == 5, 3)
    assert all(ok is True for _, ok in results), results
    assert conn.state is S.STOPPED
    assert wait_until(lambda: conn_threads() == [], 3)


def test_stop_during_handshake_never_hangs_repeatedly(fake: FakeBinance) -> None:
    """Regression: stop() closed the socket under a reader blocked in the handshake; the fd got
    reused and the reader stayed blocked on someone else's socket until the timeout."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    accepted = []
    try:
        cfg = fast_builder(fake, handshake_timeout=30.0).with_ws_url(f"ws://127.0.0.1:{srv.getsockname()[1]}").build()
        for _ in range(30):
            c = bc.Connector(cfg)
            c.on_trade("BTCUSDT", lambda e: None)
            c.start()
            accepted.append(srv.accept()[0])
            t0 = time.monotonic()
            assert c.stop(timeout=2.0) is True
            assert time.monotonic() - t0 < 0.5
    finally:
        for a in accepted:
            a.close()
        srv.close()


def test_rest_works_before_start_and_after_stop_with_retries(fake: FakeBinance) -> None:
    """conn.rest is usable with no thread (before start, after stop), and a stop does not leave
    its retries cut short: a GET answered 503 once is still retried after stop()."""
    conn = bc.Connector(fast_builder(fake).build())
    before = [t for t in threading.enumerate() if t.name.startswith("binance_conn")]
    assert conn.rest.server_time() > 0
    after = [t for t in threading.enumerate() if t.name.startswith("binance_conn")]
    assert after == before, "REST use starts no thread"
    conn.start()
    assert conn.wait_ready(5)
    assert conn.stop()
    fake.fail_next(1, status=503, code=-1000, path="/api/v3/ticker/price")
    assert conn.rest.ticker_price("BTCUSDT") > 0
    assert conn.state is bc.ConnectionState.STOPPED


def test_ready_event_reference_survives_a_reconfiguring_restart(fake: FakeBinance) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    ready = conn.ready
    conn.on_trade("BTCUSDT", lambda t: None)
    conn.start()
    try:
        assert ready.wait(5)
        assert conn.stop()
        assert not ready.is_set()
        conn.start(config=fast_builder(fake).with_debounce(0.1).build())
        assert conn.ready is ready
        assert ready.wait(5), "the Event taken before the restart is the live one"
    finally:
        conn.stop()


def test_restart_after_a_timed_out_stop_leaves_no_thread_behind(fake: FakeBinance) -> None:
    """stop() with a REST probe stuck past its deadline returns False; start() then runs on fresh
    sessions, and the next stop() joins the leftovers too: no duplicate or orphaned threads."""
    fake.delay_responses(1.5, count=1000, path="/api/v3/ping")  # every probe takes 1.5 s (< its 2 s timeout)
    conn = bc.Connector(fast_builder(fake).with_health_check(2.0).with_timeout(3.0).build())
    conn.on_trade("BTCUSDT", lambda t: None)
    try:
        conn.start()
        assert conn.wait_ready(5)
        pings = sum(1 for r in fake.request_log if r["path"] == "/api/v3/ping")
        assert fake.wait_for_requests("/api/v3/ping", pings + 1, 5)  # logged before its delayed answer
        # Issue 9: stop() now cuts the prober's ping at once (RestClient.probe), so this short stop
        # may or may not time out; either way the restart below must leave exactly one prober.
        assert conn.stop(timeout=0.05) in (True, False)
        conn.start()
        assert conn.wait_ready(5)

        def probers() -> List[threading.Thread]:
            return [t for t in threading.enumerate() if t.name == "binance_conn-prober" and t.is_alive()]

        # The stuck prober of the old run must end after its ping, not carry on beside the new one.
        assert wait_until(lambda: len(probers()) == 1, 5), probers()
        assert not wait_until(lambda: len(probers()) > 1, 2.5), "a second prober came back"
    finally:
        assert conn.stop(timeout=5.0)
    assert not [t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()]
