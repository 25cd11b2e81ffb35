from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest
from _helpers import scaled, wait_until  # noqa: F401  (re-exported: `from conftest import` may resolve here)

from binance_conn.testing import FakeBinance


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Every test of the fake must leave no thread behind once its fake is stopped."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)  # websocket-client's sockets may still be finishing on the client side
    assert not leaked, f"leaked threads: {leaked}"


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f
