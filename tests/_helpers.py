"""Shared test helpers (import as ``from _helpers import wait_until, scaled``).

Waits scale with BINANCE_CONN_TEST_SLOWDOWN (default 1) so a slow machine can stretch
every timeout with one factor instead of editing tests.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

SLOWDOWN = float(os.environ.get("BINANCE_CONN_TEST_SLOWDOWN", "1"))


def sigint_default() -> None:
    """``preexec_fn`` for a child that must take Ctrl-C as a terminal gives it: a test run started in
    the background of a non-interactive shell ignores SIGINT, and a Python child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
