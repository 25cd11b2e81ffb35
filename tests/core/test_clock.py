"""_core.clock: round-trip midpoint offset and resync schedule."""

from __future__ import annotations

from binance_conn._core.clock import ServerClock


def test_midpoint_offset() -> None:
    c = ServerClock(interval=300.0)
    assert c.needs_sync(1_000)
    # sent at 1000, answered at 1100 -> midpoint 1050; server says 4050 -> +3000
    assert c.update(1_000, 4_050, 1_100) == 3_000
    assert c.rtt_ms == 100
    assert c.server_time(2_000) == 5_000
    assert not c.needs_sync(1_100)


def test_negative_offset() -> None:
    c = ServerClock()
    c.update(10_000, 7_010, 10_020)
    assert c.offset_ms == -3_000


def test_needs_sync_after_interval() -> None:
    c = ServerClock(interval=1.0)
    c.update(0, 0, 10)
    assert not c.needs_sync(1_009)
    assert c.needs_sync(1_010)


def test_invalidate_and_clock_step_back() -> None:
    c = ServerClock(interval=300.0)
    c.update(5_000, 5_000, 5_000)
    assert not c.needs_sync(5_001)
    c.invalidate()
    assert c.needs_sync(5_001)
    c.update(5_000, 5_000, 5_000)
    assert c.needs_sync(4_000)  # local clock went backwards


def test_received_before_sent_is_tolerated() -> None:
    c = ServerClock()
    c.update(2_000, 2_500, 1_000)
    assert c.offset_ms == 1_500
    assert c.rtt_ms == 0
    assert "offset_ms=1500" in repr(c)
