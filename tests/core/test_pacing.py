from __future__ import annotations

import pytest

from binance_conn._core.pacing import ConnectionBudget, TokenBucket


def test_bucket_default_four_per_second_evenly() -> None:
    b = TokenBucket()
    assert b.try_acquire(100.0) == 0.0
    assert b.try_acquire(100.0) == pytest.approx(0.25)
    assert b.try_acquire(100.1) == pytest.approx(0.15)
    assert b.try_acquire(100.25) == 0.0


def test_bucket_never_exceeds_five_per_second_window() -> None:
    b = TokenBucket()
    sent = []
    t = 0.0
    while t < 10.0:
        if b.try_acquire(t) == 0.0:
            sent.append(t)
        t = round(t + 0.01, 2)
    for start in sent:
        in_window = [x for x in sent if start <= x < start + 1.0]
        assert len(in_window) <= 4
    assert len(sent) >= 39


def test_bucket_delay_does_not_consume_and_reset() -> None:
    b = TokenBucket(rate=2.0, burst=2.0)
    assert b.delay(0.0) == 0.0
    assert b.try_acquire(0.0) == 0.0 and b.try_acquire(0.0) == 0.0
    assert b.delay(0.0) == pytest.approx(0.5)
    b.reset()
    assert b.try_acquire(0.0) == 0.0
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5)


def test_budget_only_throttles_when_exceeded() -> None:
    b = ConnectionBudget(limit=3, window=10.0)
    assert [b.try_acquire(t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
    assert b.try_acquire(3.0) == pytest.approx(7.0)
    assert b.used(3.0) == 3  # a refused attempt is not recorded
    assert b.try_acquire(10.0) == 0.0  # the t=0 attempt left the window
    assert b.delay(10.5) == pytest.approx(0.5)


def test_budget_defaults_300_per_300s() -> None:
    b = ConnectionBudget()
    for i in range(300):
        assert b.try_acquire(i * 0.1) == 0.0
    assert b.try_acquire(30.0) == pytest.approx(270.0)
    with pytest.raises(ValueError):
        ConnectionBudget(0)

