"""Shared test helpers: waits scale with BINANCE_CONN_TEST_SLOWDOWN (default 1)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Iterator, List

import pytest
from hypothesis import HealthCheck, settings

# The suite runs on a shared 2-core machine next to other work: timing-based health checks
# and per-example deadlines would make property tests flaky, and CI wants the same examples
# every run (derandomize); `HYPOTHESIS_PROFILE=explore` searches with fresh randomness.
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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
