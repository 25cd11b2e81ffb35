"""User-data connects are never silent and go through the connector's attempt budget (issue 9)."""

from __future__ import annotations

import logging
import threading
from typing import List

import pytest
from _harness import Harness, balance_event
from _helpers import scaled, wait_until

import binance_conn as bc

S = bc.ConnectionState


def test_connect_failures_are_reported_with_their_reason(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    try:
        cert = bc.TLSError("certificate verify failed: self-signed certificate", details={"reason": "certificate"})
        for _ in range(3):
            h.net.refuse_next(cert)
        h.net.refuse_next(bc.ProxyError("proxy answered 407", details={"reason": "proxy_auth"}))
        caplog.set_level(logging.INFO, "binance_conn.user_data")
        t = h.start()
        # on_error: once per reason kind (certificate, then proxy_auth), typed
        first, second = h.error(), h.error()
        assert isinstance(first, bc.TLSError) and isinstance(second, bc.ProxyError)
        assert h.errors.empty()
        # WARNING with the reason in the text
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("connect failed (certificate)" in m and "self-signed" in m for m in warnings), warnings
        assert any("connect failed (proxy_auth)" in m for m in warnings), warnings
        # the connection events carry the reason while it never connected
        ev = h.conn_event(lambda e: e.state is S.RECONNECTING and "certificate" in e.reason)
        assert ev.session == "user_data"
        h.conn_event(lambda e: e.state is S.RECONNECTING and "proxy_auth" in e.reason)
        h.conn_event(lambda e: e.state is S.CONNECTED)
        stats = h.link.stats()
        assert "proxy_auth" in stats["last_connect_error"] and stats["connect_failures"] == 4
        # and after a later drop, the DISCONNECTED/RECONNECTING reason is the connect failure's
        h.net.refuse_next(bc.ConnectionError("connection refused", details={"reason": "refused"}))
        t.drop()
        h.net.wait_for_connection(scaled(10))
        assert h.link.ready.wait(scaled(10))
        assert "refused" in h.link.stats()["last_connect_error"]
    finally:
        h.stop()


def test_every_connect_attempt_takes_a_budget_slot() -> None:
    calls: List[str] = []
    gate = threading.Event()

    def acquire() -> None:
        calls.append(threading.current_thread().name)
        gate.wait(scaled(10))

    h = Harness(acquire_slot=acquire)
    try:
        h.dispatcher.start()
        h.link.topic_changed("__balance__", True)
        h.link.start()
        assert wait_until(lambda: len(calls) == 1, timeout=10)
        assert h.net.attempts == 0  # held by the budget: no connect attempt yet
        gate.set()
        t = h.net.wait_for_connection(scaled(10))
        assert h.link.ready.wait(scaled(10))
        t.drop()
        h.net.wait_for_connection(scaled(10))
        assert wait_until(lambda: len(calls) == 2, timeout=10)
        assert all("user_data" in name for name in calls)
    finally:
        gate.set()
        h.stop()


def test_stop_ends_a_wait_for_a_budget_slot() -> None:
    entered, stop_seen = threading.Event(), threading.Event()
    h = Harness()

    def acquire() -> None:  # the market session's loop returns once the connector stops
        entered.set()
        h.link.stop_event.wait(scaled(5))
        stop_seen.set()

    h.link._acquire_slot = acquire
    h.dispatcher.start()
    h.link.topic_changed("__balance__", True)
    h.link.start()
    assert entered.wait(scaled(10))
    h.stop()
    assert stop_seen.is_set() and h.net.attempts == 0
    assert not any(t.is_alive() for t in h.link.threads())


def test_events_flow_on_the_memory_transport() -> None:
    h = Harness()
    try:
        t = h.start()
        assert t.url.endswith("/ws-api/v3")
        assert any("userDataStream.subscribe.signature" in x for x in t.sent)
        t.feed_text(balance_event(1, h.api.sub_id(t)), balance_event(2, h.api.sub_id(t)))
        assert h.wait_deltas(2) == [1, 2]
    finally:
        h.stop()


def test_bad_frames_are_logged_rate_limited_with_a_sample_and_counted_across_reconnects(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    try:
        caplog.set_level(logging.WARNING, "binance_conn.user_data")
        t = h.start()
        assert h.link.ready.wait(scaled(10))
        for _ in range(50):
            t.feed_text("{not json")
        t.feed_frame(0x2, b"\x00\x01binary")
        t.feed_frame(0x1, b"\xff\xfe")
        t.feed_text(balance_event(1))
        h.wait_deltas(1)
        lines = [r.getMessage() for r in caplog.records if "bad frame" in r.getMessage()]
        assert len(lines) == 1, lines  # rate-limited: one line for 52 bad frames
        assert "{not json" in lines[0]
        stats = h.link.stats()
        assert stats["malformed"] == 52 and stats["last_bad_frame"].startswith("invalid UTF-8")
        t.drop()  # the totals survive a reconnect
        t2 = h.net.wait_for_connection(scaled(10))
        assert wait_until(lambda: h.link.ready.is_set(), scaled(10))
        t2.feed_text("[]]")
        assert wait_until(lambda: h.link.stats()["malformed"] == 53, scaled(10))
    finally:
        h.stop()
