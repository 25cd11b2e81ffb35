"""The market session on the in-memory transport: lifecycle, outages, connect failures, bad frames, stop."""

from __future__ import annotations

import logging
import time
from typing import Any, List

import pytest
from _market_helpers import Market, make_market, refused, scaled, start, stop, trade, wait_until

from binance_conn._io.transport import OP_PING
from binance_conn._market.session import MarketSession
from binance_conn.enums import ConnectionState
from binance_conn.errors import ConnectionError

S = ConnectionState


def _up(m: Market) -> bool:
    return m.session.ready.is_set() and m.session.status.state is S.CONNECTED


def test_events_flow_without_sockets(market: Market) -> None:
    market.subscribe()
    start(market)
    link = market.link()
    assert "btcusdt@trade" in link.url
    assert wait_until(lambda: _up(market))
    assert market.flows(link, 1)
    assert market.session.stats()["connections"][0]["link_state"] == "ready"


def test_zombie_replacement_is_an_outage(market: Market) -> None:
    market.subscribe()
    start(market)
    link = market.link()
    assert wait_until(lambda: _up(market))
    market.net.refuse_all = refused()  # keep the replacement from connecting for a while
    link.freeze()  # TCP open, nothing answered
    assert wait_until(lambda: not market.session.ready.is_set(), 4)
    # while condemned and replaced: ready clear, state not CONNECTED, an event says "zombie: ..."
    assert market.session.status.state is not S.CONNECTED
    assert market.session.stats()["connections"][0]["link_state"] in ("zombie", "lost", "connecting")
    events = []
    assert wait_until(lambda: bool(events.extend(market.drain(market.connection)) or any(
        e.state is S.DISCONNECTED and e.reason.startswith("zombie: ") for e in events)), 3), events
    market.net.refuse_all = None
    fresh = market.link()
    assert wait_until(lambda: _up(market), 4)
    assert market.flows(fresh, 2)
    assert market.session.stats()["zombies_replaced"] == 1


def test_zombie_outage_is_debounced_like_a_drop() -> None:
    m = make_market(debounce=30.0)
    try:
        m.subscribe()
        start(m)
        link = m.link()
        assert wait_until(lambda: _up(m))
        first = [e.state for e in m.drain(m.connection)]
        m.net.refuse_next(refused())
        link.freeze()
        assert wait_until(lambda: not m.session.ready.is_set(), 4)
        fresh = m.link()
        assert wait_until(lambda: _up(m), 4)
        assert m.flows(fresh, 1)
        # inside the settle window: the blip is not reported (same rule as a drop)
        assert [e.state for e in m.drain(m.connection)] == [] and first == [S.CONNECTED]
    finally:
        stop(m)


def test_connect_failures_are_reported(market: Market, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="binance_conn")
    market.net.refuse_all = refused("certificate", "certificate verify failed: self-signed")
    market.subscribe()
    start(market)
    err = market.wait_error(lambda e: isinstance(e, ConnectionError))
    assert "certificate" in str(err)
    assert wait_until(lambda: market.net.attempts >= 3)
    # on_connection tells why the first connection is not up
    first = market.connection.get(timeout=scaled(10))
    assert first.state is S.DISCONNECTED and "certificate" in first.reason, first
    stats = market.session.stats()
    assert "certificate" in stats["last_connect_error"]
    assert "certificate" in stats["connections"][0]["last_connect_error"]
    assert stats["state"] == "CONNECTING" and not stats["ready"]
    market.net.refuse_all = None
    link = market.link()
    assert wait_until(lambda: _up(market))
    assert wait_until(lambda: any(e.state is S.CONNECTED for e in market.drain(market.connection)))
    # one error per reason kind, not one per attempt
    assert not any(isinstance(e, ConnectionError) for e in market.drain(market.errors))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "certificate" in r.getMessage()]
    assert warnings, [r.getMessage() for r in caplog.records]
    # after a drop: a new reason kind is published again, and on_connection carries it
    market.drain(market.connection)
    market.net.refuse_all = refused("proxy_auth", "proxy answered 407 Proxy Authentication Required")
    link.drop()
    assert wait_until(lambda: any(
        e.state is S.RECONNECTING and "proxy_auth" in e.reason for e in market.drain(market.connection)), 4)
    err = market.wait_error(lambda e: isinstance(e, ConnectionError) and "407" in str(e))
    market.net.refuse_all = None
    fresh = market.link()
    assert wait_until(lambda: _up(market), 4)
    assert market.flows(fresh, 1)


def test_rollover_that_cannot_connect_does_not_spin(monkeypatch: Any) -> None:
    m = make_market(max_lifetime=0.3, ping_interval=5.0, pong_timeout=4.0, silence_timeout=6.0)
    ticks: List[float] = []
    original = MarketSession._tick

    def counting(self: MarketSession) -> float:
        ticks.append(time.monotonic())
        return original(self)

    monkeypatch.setattr(MarketSession, "_tick", counting)
    try:
        m.subscribe()
        start(m)
        link = m.link()
        assert wait_until(lambda: _up(m))
        m.net.refuse_all = refused()  # every new handshake (the replacement's) is refused
        assert wait_until(lambda: m.session.stats()["rollovers"] >= 1, 3)
        cpu0, n0, t0, a0 = time.process_time(), len(ticks), time.monotonic(), m.net.attempts
        wait_until(lambda: False, 1.0)
        cpu, n, wall = time.process_time() - cpu0, len(ticks) - n0, time.monotonic() - t0
        attempts = m.net.attempts - a0
        assert attempts < 15, f"{attempts} handshakes in {wall:.2f} s: the replacement does not back off"
        print(f"rollover on refused handshakes: {n} ticks, {attempts} handshakes, {cpu:.3f} CPU-s in {wall:.2f} s")
        assert n < 30, f"{n} supervisor ticks in {wall:.2f} s"
        assert cpu < 0.5 * wall, f"{cpu:.2f} CPU-s in {wall:.2f} s"
        assert m.flows(link, 1)  # the old link still serves
        m.net.refuse_all = None
        assert wait_until(lambda: len(m.net.transports) >= 2, 3)
    finally:
        stop(m)


def test_rollover_overlap_drain_and_dedupe() -> None:
    m = make_market(max_lifetime=0.5, ping_interval=5.0, pong_timeout=4.0, silence_timeout=6.0)
    try:
        m.subscribe()
        m.session.links[0].links.overlap = 30.0  # switch on the new link's first data only (deterministic)
        start(m)
        old = m.link()
        assert wait_until(lambda: _up(m))
        new = m.link(3)  # the replacement (make-before-break)
        assert not old.close_sent
        # both links carry the same trades during the overlap: each is delivered once
        old.feed_text(trade(10), trade(11))
        got = [m.next_event().trade_id for _ in range(2)]
        new.feed_text(trade(10), trade(11), trade(12))
        got.append(m.next_event().trade_id)
        assert sorted(got) == [10, 11, 12]
        assert wait_until(lambda: old.close_sent, 3), "the old link is closed (after its drain) with a close frame"
        assert m.session.stats()["connections"][0]["duplicates_dropped"] >= 2
        assert m.session.ready.is_set() and m.session.status.state is S.CONNECTED
        assert m.flows(new, 13)
    finally:
        stop(m)


def test_bad_frames_logged_rate_limited_counted_across_reconnects(market: Market,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="binance_conn")
    market.subscribe()
    start(market)
    link = market.link()
    assert wait_until(lambda: _up(market))
    for i in range(100):
        link.feed_text('{"stream": "btcusdt@trade", "data": {broken' + str(i))
    for _ in range(10):
        link.feed_frame(1, b"\xff\xfe not utf-8")
    link.feed_frame(2, b"\x00\x01binary")
    assert market.flows(link, 1)
    records = [r for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "last: binary: " in records[0].getMessage() and "111 bad frame" in records[0].getMessage()
    stats = market.session.stats()
    assert stats["bad_frames"]["malformed"] == 110 and stats["bad_frames"]["binary"] == 1
    assert stats["last_bad_frame"] is not None
    link.drop()
    fresh = market.link()
    assert wait_until(lambda: _up(market), 4)
    assert market.session.stats()["bad_frames"]["malformed"] == 110  # totals survive the reconnect
    fresh.feed_text("not json at all")
    assert market.flows(fresh, 2)
    assert market.session.stats()["bad_frames"]["malformed"] == 111
    assert len([r for r in caplog.records if "bad frame" in r.getMessage()]) == 1  # still rate-limited


def test_stop_closes_stream_sockets_with_a_close_frame_in_time(market: Market) -> None:
    market.subscribe()
    start(market)
    link = market.link()
    assert wait_until(lambda: _up(market))
    t0 = time.monotonic()
    assert stop(market, timeout=scaled(10))
    assert time.monotonic() - t0 < scaled(3)
    assert link.close_sent and link.released
    assert market.session.status.state is S.STOPPED and not market.session.ready.is_set()


def test_server_ping_counts_as_liveness(market: Market) -> None:
    market.subscribe()
    start(market)
    link = market.link()
    assert wait_until(lambda: _up(market))
    link.feed_frame(OP_PING, b"x")
    assert market.flows(link, 1)


def test_old_link_still_delivers_while_it_drains() -> None:
    """The old link is not closed at the switch: what it reads while draining is delivered."""
    m = make_market(max_lifetime=0.5, ping_interval=5.0, pong_timeout=4.0, silence_timeout=6.0)
    try:
        m.subscribe()
        link = m.session.links[0]
        link.links.overlap, link.links.quiet = 30.0, 1.5  # a drain window wide enough for a loaded machine
        start(m)
        old = m.link()
        assert wait_until(lambda: _up(m))
        new = m.link(3)
        assert wait_until(lambda: link.links.state.value == "overlap", 3)
        new.feed_text(trade(20))  # the new link demonstrably carries data: the switch is due
        assert wait_until(lambda: link.links.state.value == "draining", 3)
        old.feed_text(trade(21))  # in flight on the old link only
        got = {m.next_event().trade_id for _ in range(2)}
        assert got == {20, 21}
        assert wait_until(lambda: old.close_sent, 5)
    finally:
        stop(m)


def test_liveness_resumes_after_a_block_wait() -> None:
    """A BLOCK subscriber stalls the reader (liveness paused, no zombie verdict); once it is free the
    health timers run again, so a link that freezes afterwards is still found and replaced."""
    import threading

    m = make_market()
    release = threading.Event()
    try:
        m.dispatcher.subscribe("btcusdt@trade", lambda ev: release.wait(10), buffer=1, overflow="block")
        m.session.add_stream("btcusdt@trade")
        start(m)
        link = m.link()
        assert wait_until(lambda: _up(m))
        link.feed_text(trade(1), trade(2), trade(3), trade(4))
        conn = m.session.links[0].primary
        assert conn is not None
        assert wait_until(lambda: conn.life.liveness.value == "paused", 3)
        wait_until(lambda: False, 1.2)  # blocked longer than ping_interval + pong_timeout
        assert m.session.stats()["zombies_replaced"] == 0  # a blocked reader is no zombie
        release.set()
        assert wait_until(lambda: conn.life.liveness.value == "tracking", 3)
        link.freeze()
        assert wait_until(lambda: m.session.stats()["zombies_replaced"] == 1, 4)
    finally:
        release.set()
        stop(m)
