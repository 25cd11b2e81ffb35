"""Liveness from one place (issue 9): ``with_health_check(interval)`` alone governs zombie detection.

Against FakeBinance, with only ``with_health_check(1.0)`` (no ``with_websocket`` timings): a frozen
link (no data, no pings, no pongs, TCP open) is replaced within ``3 * 1.0 + 2`` = 5 s, idle or busy;
a quiet link that answers pings is kept for more than three intervals.  And the REST prober never
holds up ``stop()``: a server that trickles its headers (one byte per second) or never answers.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator, List

import pytest
from _connector_helpers import (
    FakeBinance,
    Recorder,
    open_stream_conns,
    scaled,
    stream_conns,
    wait_live,
    wait_until,
)
from _rest_loopback import SlowServer

import binance_conn as bc
from binance_conn._core.health import detection_bound

pytestmark = pytest.mark.usefixtures("no_conn_threads")

INTERVAL = 1.0


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=11) as f:
        yield f


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:
    cfg = (fake.config_builder()
           .with_backoff(base=0.05, max=0.5, jitter=0.0)
           .with_debounce(0.0)
           .with_health_check(INTERVAL)  # the only liveness setting: ping, pong and silence follow it
           .build())
    c = bc.Connector(cfg)
    yield c
    c.stop(timeout=2.0)


def _start(conn: bc.Connector, fake: FakeBinance, trades: int) -> Recorder:
    rec = Recorder()
    conn.on_trade("BTCUSDT", rec)
    conn.start()
    wait_live(conn, fake)
    for _ in range(trades):
        fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_count(trades)
    return rec


@pytest.mark.parametrize("trades", [0, 5], ids=["idle", "busy"])
def test_frozen_link_replaced_within_three_intervals_plus_two(fake: FakeBinance, conn: bc.Connector,
                                                              trades: int) -> None:
    rec = _start(conn, fake, trades)
    first = stream_conns(fake)[0]["id"]
    t0 = time.monotonic()
    fake.freeze()
    bound = detection_bound(INTERVAL)
    assert wait_until(lambda: any(r["id"] != first for r in open_stream_conns(fake)), bound + 3)
    took = time.monotonic() - t0
    print(f"with_health_check({INTERVAL}): frozen link replaced after {took:.2f} s (bound {bound:.0f} s)")
    assert took <= bound, f"frozen link replaced after {took:.2f} s, promised {bound:.0f} s"
    assert wait_until(lambda: conn.stats()["market"]["zombies_replaced"] == 1, 3), conn.stats()["market"]
    assert conn.wait_ready(scaled(3))
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(2))
    tid = fake.publish_trade("BTCUSDT", "101", "1")
    assert rec.wait_for(lambda items: bool(items) and items[-1].trade_id == tid)


def test_quiet_link_that_answers_pings_is_kept(fake: FakeBinance, conn: bc.Connector) -> None:
    events = Recorder()
    conn.on_connection(events)
    _start(conn, fake, 5)  # arms the silence watchdog, then the market goes quiet
    pings: List[int] = []

    def pings_sent() -> int:
        pings.append(conn.stats()["market"]["connections"][0]["pings_sent"])
        return pings[-1]

    before = pings_sent()
    t0 = time.monotonic()
    # More than three intervals of silence, answered pings and passing probes.
    assert not wait_until(lambda: conn.stats()["market"]["zombies_replaced"] > 0 or len(stream_conns(fake)) > 1,
                          3.5 * INTERVAL)
    assert time.monotonic() - t0 >= 3.5 * INTERVAL
    assert pings_sent() - before >= 2, pings  # the ping cadence follows the interval too
    m = conn.stats()["market"]
    assert m["zombies_replaced"] == 0 and m["reconnects"] == 0
    assert len(stream_conns(fake)) == 1 and stream_conns(fake)[0]["closed_at"] is None
    assert conn.is_connected() and conn.ready.is_set()
    assert all(s is bc.ConnectionState.CONNECTED for s in events.states())
    assert fake.rate_violations == 0


def _probers() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "binance_conn-prober" and t.is_alive()]


@pytest.mark.parametrize("mode", ["trickle_headers", "silent"])
def test_stop_keeps_its_deadline_while_the_prober_is_stuck(fake: FakeBinance, mode: str) -> None:
    with SlowServer(mode, byte_delay=1.0) as rest:
        # Default health interval (5 s) and REST timeout (10 s): the probe may take 5 s.
        conn = bc.Connector(fake.config_builder().with_rest_url(rest.url).build())
        conn.start()
        try:
            assert rest.wait_requests(1, scaled(5)), "the prober never called REST"
            assert _probers()
            assert wait_until(lambda: conn.rest.inflight == 1, 2), "the probe is under way"
            assert not wait_until(lambda: conn.rest.inflight == 0, 0.3), "the probe is stuck"
            t0 = time.monotonic()
            ok = conn.stop(timeout=5.0)
            took = time.monotonic() - t0
            print(f"{mode}: stop() with the prober stuck in GET /api/v3/ping -> {ok} after {took:.2f} s")
            assert ok is True
            assert took < 1.0, took
            assert not _probers(), "the prober outlived stop()"
            assert not [t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()]
        finally:
            conn.stop(timeout=2.0)
