from __future__ import annotations

from typing import Optional

import pytest

from binance_conn._core.health import (
    DEFAULT_DETECTION_BOUND,
    DEFAULT_HEALTH_CHECK_INTERVAL,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PONG_TIMEOUT,
    DEFAULT_PROBE_INTERVAL,
    DEFAULT_SILENCE_TIMEOUT,
    MAX_DERIVED_PONG_TIMEOUT,
    HealthMonitor,
    detection_bound,
    liveness_timings,
    worst_case_detection,
)


def drive(h: HealthMonitor, until: float, *, pong_delay: Optional[float], data_every: Optional[float] = None,
          data_until: float = 0.0, step: float = 0.05, start: float = 0.0) -> Optional[float]:
    """Simulate a link; returns the time the monitor declared it a zombie (or None)."""
    t = start
    pong_at: Optional[float] = None
    next_data = start
    while t <= until:
        if data_every is not None and t >= next_data and t < data_until:
            h.on_data(t)
            next_data = t + data_every
        if pong_at is not None and t >= pong_at:
            h.on_pong(t)
            pong_at = None
        due = h.next_ping_due(t)
        if due == 0.0:
            h.on_ping_sent(t)
            if pong_delay is not None:
                pong_at = t + pong_delay
        if h.wants_probe(t):
            h.probe_started(t)
            h.probe_result(t, ok=True)  # REST fine: market quiet
        if h.is_zombie(t):
            return t
        t = round(t + step, 6)
    return None


def test_defaults_frozen_link_dead_within_10s() -> None:
    h = HealthMonitor()
    h.on_connected(0.0)
    # busy stream until t=100, then the link freezes: no data, no pongs
    dead = drive(h, 200.0, pong_delay=None, data_every=0.1, data_until=100.0)
    assert dead is not None
    assert dead - 100.0 <= 10.0
    assert worst_case_detection(h.ping_interval, h.pong_timeout) <= 10.0


def test_frozen_quiet_link_also_dead_within_10s() -> None:
    h = HealthMonitor()
    h.on_connected(0.0)
    dead = drive(h, 60.0, pong_delay=None)  # nothing ever arrives
    assert dead is not None and dead <= 10.0


def test_quiet_healthy_link_never_dead() -> None:
    h = HealthMonitor()
    h.on_connected(0.0)
    # traffic first (arms the watchdog), then a quiet market for an hour; pongs come back in 50 ms
    assert drive(h, 3600.0, pong_delay=0.05, data_every=0.5, data_until=30.0, step=0.1) is None


def test_silence_requests_probe_and_failed_probe_condemns() -> None:
    h = HealthMonitor(silence_timeout=6.0, probe_interval=5.0)
    h.on_connected(0.0)
    for i in range(5):
        h.on_data(float(i))
    assert h.is_armed
    assert not h.wants_probe(9.0)
    assert h.wants_probe(10.0)
    h.probe_started(10.0)
    assert not h.wants_probe(10.5)  # one at a time
    h.on_pong(10.1)  # pongs prove nothing about the data path
    h.probe_result(10.6, ok=False, reason="REST shows newer trades")
    reason = h.is_zombie(10.7)
    assert reason is not None and "REST shows newer trades" in reason


def test_probe_ok_or_data_clears() -> None:
    h = HealthMonitor()
    h.on_connected(0.0)
    for i in range(5):
        h.on_data(float(i))
    h.probe_started(10.0)
    h.probe_result(10.1, ok=True)
    assert h.is_zombie(10.2) is None
    assert not h.wants_probe(12.0) and h.wants_probe(15.0)
    h.probe_started(15.0)
    h.on_data(15.5)  # data came back while the probe ran
    h.probe_result(16.0, ok=False, reason="x")
    assert h.is_zombie(16.0) is None


def test_unarmed_silence_never_probes() -> None:
    h = HealthMonitor(arm_after=3)
    h.on_connected(0.0)
    h.on_data(0.5)
    assert not h.is_armed
    assert not h.wants_probe(100.0)


def test_silence_triggers_early_ping_when_armed() -> None:
    h = HealthMonitor(ping_interval=5.0, silence_timeout=3.0)
    h.on_connected(0.0)
    for i in range(3):
        h.on_data(i * 0.1)
    # last data at 0.2: silence ping due at 3.2, before the idle ping at 5.2
    assert h.next_ping_due(1.0) == pytest.approx(2.2)


def test_any_frame_answers_a_ping() -> None:
    h = HealthMonitor(ping_interval=5.0, pong_timeout=4.0)
    h.on_connected(0.0)
    assert h.next_ping_due(0.0) == pytest.approx(5.0)
    h.on_ping_sent(5.0)
    assert h.ping_outstanding and h.next_ping_due(6.0) is None
    assert h.next_deadline(6.0) == pytest.approx(9.0)
    h.on_frame(6.0)  # e.g. a subscription ack
    assert not h.ping_outstanding
    assert h.is_zombie(20.0) is None
    assert h.next_ping_due(20.0) == 0.0


def test_pong_timeout_reason() -> None:
    h = HealthMonitor(ping_interval=5.0, pong_timeout=4.0)
    h.on_connected(0.0)
    h.on_ping_sent(5.0)
    assert h.is_zombie(8.9) is None
    reason = h.is_zombie(9.0)
    assert reason is not None and "pong" in reason


def test_paused_time_is_not_silence() -> None:
    h = HealthMonitor(ping_interval=5.0, pong_timeout=4.0)
    h.on_connected(0.0)
    h.on_ping_sent(5.0)
    h.pause(6.0)  # reader blocked on a BLOCK subscriber for 60 s
    assert h.is_paused and h.is_zombie(30.0) is None and h.next_ping_due(30.0) is None
    assert h.next_deadline(30.0) is None
    h.resume(66.0)
    assert h.paused_total == pytest.approx(60.0)
    assert h.is_zombie(66.5) is None  # 1.5 s of the 4 s pong window used
    assert h.is_zombie(69.0) is not None
    h.resume(70.0)  # no-op when not paused


def test_next_deadline_idle() -> None:
    h = HealthMonitor()
    h.on_connected(100.0)
    assert h.next_deadline(100.0) == pytest.approx(105.0)
    with pytest.raises(ValueError):
        HealthMonitor(ping_interval=0)


# ---------------------------------------------------------------- liveness from one place (issue 9)

INTERVALS = [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0]


def monitor(interval: float) -> HealthMonitor:
    return HealthMonitor(*liveness_timings(interval))


@pytest.mark.parametrize("interval", INTERVALS)
@pytest.mark.parametrize("busy", [True, False], ids=["busy", "idle"])
def test_frozen_link_condemned_within_the_interval_bound(interval: float, busy: bool) -> None:
    """Made-up time: traffic (or only pongs) until t=100, then nothing at all. The monitor's verdict
    must leave 2 s of the ``3 * interval + 2`` promise for pacing, the wake-up and the reconnect."""
    h = monitor(interval)
    h.on_connected(0.0)
    freeze = 100.0
    step = 0.01 if interval < 5 else 0.05
    # Pongs answer in 50 ms until the freeze; a busy link also carries data every 0.1 s.
    t, pong_at, dead = 0.0, None, None
    while t <= freeze + 10 * interval:
        alive = t < freeze
        if busy and alive and round(t * 100) % 10 == 0:
            h.on_data(t)
        if pong_at is not None and t >= pong_at:
            if alive:
                h.on_pong(t)
            pong_at = None
        if h.next_ping_due(t) == 0.0:
            h.on_ping_sent(t)
            pong_at = t + 0.05
        if h.wants_probe(t):
            h.probe_started(t)
            h.probe_result(t, ok=True)  # REST fine: the probe never condemns here
        if h.is_zombie(t):
            dead = t
            break
        t = round(t + step, 6)
    assert dead is not None, "a frozen link was never condemned"
    took = dead - freeze
    assert took <= detection_bound(interval) - 2.0 + step, (interval, took)
    assert took <= worst_case_detection(h.ping_interval, h.pong_timeout) + step
    if interval == DEFAULT_HEALTH_CHECK_INTERVAL:
        assert took <= DEFAULT_DETECTION_BOUND - 2.0


@pytest.mark.parametrize("interval", INTERVALS)
@pytest.mark.parametrize("pong_delay", [0.05, 0.5])
def test_quiet_link_that_answers_pings_is_never_condemned(interval: float, pong_delay: float) -> None:
    """Traffic first (arms the silence watchdog), then a quiet market for 50 intervals: every ping
    is answered (also slowly, 0.5 s), the REST probe finds no newer trade: never a zombie."""
    h = monitor(interval)
    h.on_connected(0.0)
    until = 30.0 + 50 * interval
    assert drive(h, until, pong_delay=pong_delay, data_every=0.5, data_until=30.0,
                 step=0.05 if interval < 5 else 0.1) is None


def test_timings_follow_the_interval_and_explicit_values_win() -> None:
    assert liveness_timings(DEFAULT_HEALTH_CHECK_INTERVAL) == (
        DEFAULT_PING_INTERVAL, DEFAULT_PONG_TIMEOUT, DEFAULT_SILENCE_TIMEOUT, DEFAULT_PROBE_INTERVAL)
    t = liveness_timings(1.0)
    assert (t.ping_interval, t.pong_timeout, t.silence_timeout, t.probe_interval) == (1.0, 2.0, 1.2, 1.0)
    t = liveness_timings(1.0, pong_timeout=0.5)
    assert (t.ping_interval, t.pong_timeout, t.silence_timeout) == (1.0, 0.5, 1.2)
    t = liveness_timings(30.0)
    assert t.pong_timeout == MAX_DERIVED_PONG_TIMEOUT and t.ping_interval == 30.0
    with pytest.raises(ValueError):
        liveness_timings(0.0)
    # The monitor's own defaults are the same single set.
    h = HealthMonitor()
    assert (h.ping_interval, h.pong_timeout, h.silence_timeout, h.probe_interval) == tuple(
        liveness_timings(DEFAULT_HEALTH_CHECK_INTERVAL))
