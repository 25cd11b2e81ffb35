"""Shared test helpers: waits scale with BINANCE_CONN_TEST_SLOWDOWN (default 1)."""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

import pytest

SLOWDOWN = float(os.environ.get("BINANCE_CONN_TEST_SLOWDOWN", "1"))


def scaled(seconds: float) -> float:
    """A timeout scaled by the environment's slowdown factor."""
    return seconds * SLOWDOWN


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` (scaled) passes. Returns the last value."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)


@pytest.fixture
def no_thread_leak() -> "object":
    """Fails the test if it leaves non-daemon or binance_conn threads behind."""
    before = set(threading.enumerate())
    yield None
    def leaked() -> list:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert wait_until(lambda: not leaked(), timeout=5.0), f"leaked threads: {leaked()}"
