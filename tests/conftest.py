"""Shared test helpers: waits scale with BINANCE_CONN_TEST_SLOWDOWN (default 1)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import scaled, wait_until  # noqa: E402

__all__ = ["scaled", "wait_until"]

@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fails the test if it leaves non-daemon or binance_conn threads behind."""
    before = set(threading.enumerate())
    yield None

    def leaked() -> List[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert wait_until(lambda: not leaked(), timeout=5.0), f"leaked threads: {leaked()}"
