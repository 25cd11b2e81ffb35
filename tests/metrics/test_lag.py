"""Event lag: the pure histogram (_core/lag.py) and the offset-corrected figure against the fake."""

from __future__ import annotations

import math
import time
from typing import Iterator

import pytest
from _helpers import wait_until
from _metrics_helpers import Recorder, conn_threads, fast_conn, wait_synced

from binance_conn._core.lag import BUCKETS_MS, ClockOffset, LagHistogram, merge, summary
from binance_conn.testing import FakeBinance

# ---------------------------------------------------------------------------------- pure histogram


def test_buckets_sum_count_max() -> None:
    h = LagHistogram()
    for lag in (0.5, 1.0, 1.5, 7.0, 120.0, 70_000.0):
        h.add(lag)
    assert h.count == 6 and h.sum_ms == pytest.approx(70_130.0) and h.max_ms == 70_000.0
    assert h.counts[0] == 2  # <= 1 ms, bound inclusive
    assert h.counts[1] == 1 and h.counts[BUCKETS_MS.index(10.0)] == 1 and h.counts[BUCKETS_MS.index(200.0)] == 1
    assert h.counts[-1] == 1  # above the last bound
    cum = h.cumulative()
    assert cum[-1] == (math.inf, 6) and cum[0] == (1.0, 2)
    assert [n for _, n in cum] == sorted(n for _, n in cum)
    assert h.last_ms == 70_000.0


def test_negative_lag_counts_as_zero() -> None:
    h = LagHistogram()
    h.add(-30.0)
    h.record(1_000.0, 1_050)
    assert h.count == 2 and h.sum_ms == 0.0 and h.counts[0] == 2 and h.max_ms == 0.0


def test_record_reads_microsecond_event_times() -> None:
    h = LagHistogram()
    now_ms = 1_700_000_000_500.0
    h.record(now_ms, 1_700_000_000_000)  # ms
    h.record(now_ms, 1_700_000_000_000_000)  # µs, same instant
    assert h.count == 2 and h.max_ms == pytest.approx(500.0) and h.sum_ms == pytest.approx(1000.0)


def test_quantiles_from_buckets() -> None:
    h = LagHistogram()
    assert h.quantile(0.5) is None and summary(h)["p50_ms"] is None and summary(h)["count"] == 0
    for _ in range(90):
        h.add(3.0)  # bucket (2, 5]
    for _ in range(10):
        h.add(400.0)  # bucket (200, 500]
    assert h.quantile(0.5) == pytest.approx(2.0 + 3.0 * 50 / 90)  # interpolated inside (2, 5]
    p99 = h.quantile(0.99)
    assert p99 is not None and 200.0 < p99 <= 400.0  # capped by the max seen
    assert h.quantile(1.0) == 400.0
    s = summary(h)
    assert s["count"] == 100 and s["max_ms"] == 400.0 and s["mean_ms"] == pytest.approx(42.7)


def test_quantile_in_the_overflow_bucket_is_the_max() -> None:
    h = LagHistogram()
    h.add(90_000.0)
    assert h.quantile(0.5) == 90_000.0


def test_merge() -> None:
    a, b = LagHistogram(), LagHistogram()
    a.add(1.0)
    b.add(100.0)
    b.add(3.0)
    m = merge([a, b])
    assert m.count == 3 and m.max_ms == 100.0 and m.sum_ms == 104.0 and sum(m.counts) == 3
    assert m.last_ms == 3.0  # the worst of the latest lags (a: 1.0, b: 3.0)
    assert merge([]).count == 0 and a.copy().counts == a.counts


def test_clock_offset_states() -> None:
    off = ClockOffset()
    assert off.ms is None and not off.is_synced
    off.set(None)  # a failed first measurement: best effort with 0
    assert off.ms == 0 and not off.is_synced
    off.set(-2000)
    assert off.ms == -2000 and off.is_synced
    off.set(None)  # a later failure keeps the last good offset
    assert off.ms == -2000 and not off.is_synced


# ---------------------------------------------------------------------------------- against the fake

@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f


@pytest.mark.parametrize("skew_ms", [2000, -2000, 0])
def test_lag_stays_true_with_a_skewed_server_clock(fake: FakeBinance, skew_ms: int) -> None:
    """A ticker stamped 500 ms ago (server clock) shows a lag of ~500 ms whatever the skew: without
    the offset it would read 0 (+2 s: clamped) or ~2500 ms (-2 s)."""
    before = set(conn_threads())
    fake.skew_clock(skew_ms)
    conn = fast_conn(fake)
    rec = Recorder()
    conn.on_ticker("BTCUSDT", rec)
    try:
        conn.start()
        assert conn.wait_ready(10)
        assert wait_synced(conn, skew_ms)
        payload = dict(fake.publish_ticker("BTCUSDT"))  # one current ticker (lag ~ delivery time)
        assert wait_until(lambda: len(rec.items) == 1)
        payload["E"] = fake.now_ms() - 500
        fake.publish("btcusdt@ticker", payload)
        assert wait_until(lambda: len(rec.items) == 2)
        lag = conn.stats()["lag"]
        s = lag["streams"]["btcusdt@ticker"]
        assert s["count"] == 2
        assert 450 <= s["max_ms"] < 800, lag
        assert s["last_ms"] == s["max_ms"]
        assert lag["overall"]["count"] == 2
        assert abs(lag["clock_offset_ms"] - skew_ms) < 100
        assert conn.health()["worst_lag_ms"] == pytest.approx(s["last_ms"], abs=0.1)
    finally:
        assert conn.stop(5)
    assert wait_until(lambda: not (set(conn_threads()) - before))


def test_offset_is_refreshed_after_the_server_clock_moves(fake: FakeBinance) -> None:
    conn = fast_conn(fake, time_sync=0.5)
    conn.on_ticker("BTCUSDT", Recorder())
    try:
        conn.start()
        assert conn.wait_ready(10) and wait_synced(conn, 0)
        fake.skew_clock(-2000)
        assert wait_synced(conn, -2000, timeout=5.0), conn.stats()["lag"]
    finally:
        conn.stop(5)


def test_no_lag_recorded_before_the_offset_is_known() -> None:
    """Before any measurement (None) a worker records nothing: the skew would be taken for lag."""
    from binance_conn._io.dispatch import Dispatcher
    from binance_conn.events import Ticker  # noqa: F401 - any event with event_time works

    class Ev:
        __slots__ = ("event_time",)

        def __init__(self, t: int) -> None:
            self.event_time = t

    d = Dispatcher()
    got: list = []
    sub = d.subscribe("x", got.append)
    d.start()
    try:
        d.publish("x", Ev(0))
        assert wait_until(lambda: len(got) == 1)
        assert sub.lag is not None and sub.lag.count == 0
        assert d.clock_offset is not None
        d.clock_offset.set(-1000)  # the server is 1 s behind this host
        now_ms = int(time.time() * 1000)
        d.publish("x", Ev(now_ms - 1000 - 300))  # stamped 300 ms ago on the server's clock
        d.publish("x", object())  # no event_time: not recorded
        d.publish("x", Ev((now_ms - 1000 - 300) * 1000))  # the same instant in microseconds
        d.publish("x", Ev(now_ms - 1000 + 5000))  # "from the future" (an offset a bit off): counts as 0
        assert wait_until(lambda: len(got) == 5)
        assert sub.lag.count == 3 and sub.lag.counts[0] == 1 and sub.lag.last_ms == 0.0
        assert 290 <= sub.lag.max_ms < 800 and 580 <= sub.lag.sum_ms < 1600
    finally:
        d.stop(time.monotonic() + 5)
    off = Dispatcher(measure_lag=False)
    assert off.clock_offset is None and off.subscribe("y", got.append).lag is None


def test_backfilled_events_are_not_lag() -> None:
    """A trade backfilled over REST after a 30 s outage is 30 s "late": that is the outage (the gap
    figures count it), not the stream's lag."""
    from binance_conn._io.dispatch import Dispatcher

    class Ev:
        __slots__ = ("event_time", "is_backfilled")

        def __init__(self, t: int, backfilled: bool) -> None:
            self.event_time, self.is_backfilled = t, backfilled

    d = Dispatcher()
    got: list = []
    sub = d.subscribe("x", got.append)
    d.start()
    try:
        assert d.clock_offset is not None
        d.clock_offset.set(0)
        now_ms = int(time.time() * 1000)
        d.publish("x", Ev(now_ms - 30_000, True))
        d.publish("x", Ev(now_ms - 5, False))
        assert wait_until(lambda: len(got) == 2)
        assert sub.lag is not None and sub.lag.count == 1 and sub.lag.max_ms < 1000
    finally:
        d.stop(time.monotonic() + 5)
