"""Backoff policy: base first, doubling, capped at max, jitter only shortens, no overflow."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from binance_conn._core.backoff import Backoff

positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
fraction = st.floats(min_value=0.0, max_value=1.0)
retries = st.integers(min_value=0, max_value=10_000)


def test_first_retry_waits_base() -> None:
    b = Backoff(0.5, 30.0, 0.2)
    assert b.nominal(0) == 0.5
    assert b.delay(0, 0.0) == 0.5


def test_doubling_then_cap() -> None:
    b = Backoff(0.5, 30.0, 0.0)
    assert [b.delay(n, 0.0) for n in range(9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_negative_retry_is_immediate() -> None:
    assert Backoff(1.0, 10.0, 0.5).nominal(-1) == 0.0


def test_jitter_zero_u_gives_nominal() -> None:
    b = Backoff(1.0, 60.0, 0.3)
    for n in range(8):
        assert b.delay(n, 0.0) == b.nominal(n)


def test_jitter_u_near_one_gives_nominal_times_one_minus_jitter() -> None:
    b = Backoff(1.0, 60.0, 0.3)
    u = math.nextafter(1.0, 0.0)
    for n in range(8):
        assert b.delay(n, u) == pytest.approx(b.nominal(n) * 0.7)
        assert b.delay(n, u) >= b.nominal(n) * 0.7


def test_jitter_one_can_shorten_to_almost_zero() -> None:
    b = Backoff(2.0, 8.0, 1.0)
    assert b.delay(3, 0.999) == pytest.approx(8.0 * 0.001)
    assert b.delay(3, 0.0) == 8.0


@pytest.mark.parametrize("n", [64, 100, 1023, 1024, 1025, 10_000, 10**9])
def test_huge_retry_index_does_not_overflow(n: int) -> None:
    b = Backoff(0.5, 30.0, 0.2)
    assert b.nominal(n) == 30.0
    assert b.delay(n, 0.5) == pytest.approx(30.0 * 0.9)


@given(base=positive, max_=positive, jitter=fraction, n=retries, u=unit)
def test_bounds(base: float, max_: float, jitter: float, n: int, u: float) -> None:
    assume(base <= max_)
    b = Backoff(base, max_, jitter)
    nominal = b.nominal(n)
    d = b.delay(n, u)
    assert math.isfinite(d)
    assert d <= nominal <= max_
    assert d >= nominal * (1.0 - jitter) - 1e-12
    assert nominal >= min(base, max_)
    assert d >= 0.0


@given(base=positive, max_=positive, n=st.integers(min_value=0, max_value=60))
def test_matches_formula(base: float, max_: float, n: int) -> None:
    assume(base <= max_)
    b = Backoff(base, max_, 0.0)
    assert b.nominal(n) == min(max_, base * 2**n)


@given(base=positive, max_=positive, jitter=fraction, n=st.integers(min_value=0, max_value=200))
def test_nominal_is_monotonic(base: float, max_: float, jitter: float, n: int) -> None:
    assume(base <= max_)
    b = Backoff(base, max_, jitter)
    assert b.nominal(n) <= b.nominal(n + 1)


@given(jitter=fraction, u1=unit, u2=unit)
def test_larger_u_never_lengthens(jitter: float, u1: float, u2: float) -> None:
    b = Backoff(1.0, 10.0, jitter)
    lo, hi = sorted((u1, u2))
    assert b.delay(2, hi) <= b.delay(2, lo)


def test_formula_holds_past_retry_64_for_tiny_base() -> None:
    b = Backoff(1e-30, 1.0, 0.0)
    assert b.nominal(64) == min(1.0, 1e-30 * 2.0**64)


def test_value_semantics() -> None:
    a = Backoff(0.5, 30, 0.2)
    assert a == Backoff(0.5, 30.0, 0.2) and hash(a) == hash(Backoff(0.5, 30.0, 0.2))
    assert a != Backoff(0.5, 30.0, 0.3)
    assert "0.5" in repr(a) and "30.0" in repr(a)
    assert isinstance(a.base, float) and isinstance(a.max, float)
