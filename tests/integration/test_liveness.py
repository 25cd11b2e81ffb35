"""Liveness from one place (issue 9): ``with_health_check(interval)`` alone governs zombie detection.

Against FakeBinance, with only ``with_health_check(1.0)`` (no ``with_websocket`` timings): a frozen
link (no data, no pings, no pongs, TCP open) is replaced within ``3 * 1.0 + 2`` = 5 s, idle or busy;
a quiet link that answers pings is kept for more than three intervals.
"""

from __future__ import annotations

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
    assert conn.stats()["market"]["zombies_replaced"] == 1
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
