"""Shared test helpers: waits scale with BINANCE_CONN_TEST_SLOWDOWN (default 1)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List

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

if TYPE_CHECKING:
    from _redis import RedisServer

__all__ = ["scaled", "wait_until"]

@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fails the test if it leaves non-daemon or binance_conn threads behind."""
    before = set(threading.enumerate())
    yield None

    def leaked() -> List[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert wait_until(lambda: not leaked(), timeout=5.0), f"leaked threads: {leaked()}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator["RedisServer"]:
    """One real redis-server for the session (tests use their own keys: see ``redis_url``)."""
    from _redis import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: "RedisServer") -> Iterator[str]:
    """The session's Redis URL, flushed before each test (tests never share keys)."""
    if not redis_server.ping():  # a test killed it: bring it back
        redis_server.start()
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def private_redis() -> Iterator["RedisServer"]:
    """A redis-server of the test's own, for killing and restarting mid-run."""
    from _redis import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()
