"""conn.health(): a small JSON-able dict for a web health route."""

from __future__ import annotations

import json
import threading
from typing import Iterator

import pytest
from _helpers import wait_until
from _metrics_helpers import Recorder, conn_threads, fast_conn, wait_synced

from binance_conn.testing import FakeBinance

KEYS = {"ready", "state", "sessions", "worst_lag_ms", "clock_synced", "open_gaps", "books_out_of_sync", "rest_ban",
        "callback_errors", "dropped"}


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f


def test_health_before_start_and_when_running(fake: FakeBinance) -> None:
    before = set(conn_threads())
    conn = fast_conn(fake)
    rec = Recorder()
    conn.on_ticker("BTCUSDT", rec)
    h = conn.health()
    assert set(h) == KEYS and json.loads(json.dumps(h)) == h
    assert h["ready"] is False and h["worst_lag_ms"] is None and h["clock_synced"] is False
    assert set(h["sessions"]) == {"market", "user_data"}
    try:
        conn.start()
        assert conn.wait_ready(10) and wait_synced(conn)
        fake.publish_ticker("BTCUSDT")
        assert wait_until(lambda: len(rec.items) == 1)
        h = conn.health()
        assert json.loads(json.dumps(h)) == h
        assert h["ready"] is True and h["state"] == "CONNECTED" and h["clock_synced"] is True
        assert h["sessions"]["market"] == {"state": "CONNECTED", "ready": True, "reconnects": 0}
        assert h["sessions"]["user_data"]["wanted"] is False
        assert h["worst_lag_ms"] is not None and 0 <= h["worst_lag_ms"] < 500
        assert (h["open_gaps"], h["books_out_of_sync"], h["rest_ban"], h["callback_errors"], h["dropped"]) == (
            0, 0, None, 0, 0)
        fake.drop_connections()
        assert wait_until(lambda: conn.health()["sessions"]["market"]["reconnects"] >= 1)
    finally:
        assert conn.stop(5)
    h = conn.health()
    assert h["ready"] is False and h["state"] == "STOPPED"
    assert wait_until(lambda: not (set(conn_threads()) - before))


def test_open_gap_while_it_is_backfilled(fake: FakeBinance) -> None:
    conn = fast_conn(fake)
    rec = Recorder()
    conn.on_trade("BTCUSDT", rec, backfill=True)
    try:
        conn.start()
        assert conn.wait_ready(10) and fake.wait_for_subscriptions(["btcusdt@trade"], 5.0)
        fake.publish_trade("BTCUSDT", "100", "1")
        assert wait_until(lambda: len(rec.items) == 1)
        fake.refuse_handshakes(0.3)
        fake.drop_connections()
        assert fake.wait_until(lambda: fake.open_connections("stream") == 0, 5.0)
        for _ in range(3):
            fake.publish_trade("BTCUSDT", "100", "1")  # missed while down
        fake.delay_responses(1.0, 1, path="/api/v3/historicalTrades")
        assert fake.wait_for_subscriptions(["btcusdt@trade"], 5.0) and wait_until(
            lambda: fake.open_connections("stream") == 1)
        fake.publish_trade("BTCUSDT", "100", "1")  # reveals the gap
        assert wait_until(lambda: conn.health()["open_gaps"] == 1)
        assert wait_until(lambda: len(rec.items) == 5, timeout=5)
        h = conn.health()
        assert h["open_gaps"] == 0
        g = conn.stats()["gaps"]
        assert (g["gaps"], g["filled"], g["unfilled"], g["backfilled"]) == (1, 1, 0, 3)
    finally:
        assert conn.stop(5)


def test_slow_subscriber_drops_show_in_health(fake: FakeBinance) -> None:
    conn = fast_conn(fake)
    gate = threading.Event()
    conn.on_ticker("BTCUSDT", Recorder(gate), buffer=2)
    try:
        conn.start()
        assert conn.wait_ready(10)
        for _ in range(10):
            fake.publish_ticker("BTCUSDT")
        assert wait_until(lambda: conn.health()["dropped"] > 0)
    finally:
        gate.set()
        assert conn.stop(5)


def test_futures_connector_measures_its_clock_and_lag() -> None:
    with FakeBinance(product="usdm", seed=7) as fake:
        fake.skew_clock(-2000)
        conn = fast_conn(fake)
        rec = Recorder()
        conn.on_agg_trade("BTCUSDT", rec)
        try:
            conn.start()
            assert conn.wait_ready(10) and wait_synced(conn, -2000)
            fake.publish_trade("BTCUSDT", "100", "1")
            assert wait_until(lambda: len(rec.items) == 1)
            h = conn.health()
            assert h["ready"] and h["clock_synced"] and h["worst_lag_ms"] is not None and h["worst_lag_ms"] < 500
            calls = conn.rest.call_counts  # type: ignore[attr-defined]
            assert calls.get(("/fapi/v1/time", "200"), 0) >= 1 and calls.get(("/fapi/v1/ping", "200"), 0) >= 1
        finally:
            assert conn.stop(5)
