"""Helpers of the recording tests: an event collector and a fast connector config."""

from __future__ import annotations

import threading
from typing import Any, List

from _helpers import scaled

from binance_conn.testing import FakeBinance

__all__ = ["Events", "binance_threads", "fast_builder"]


class Events:
    """A thread-safe callback that keeps every event it receives."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def snapshot(self) -> List[Any]:
        with self._cond:
            return list(self.items)

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.items) >= n, scaled(timeout))


def fast_builder(fake: FakeBinance) -> Any:
    """Short timings: reconnects in ~50 ms."""
    return (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
            .with_debounce(0.0)
            .with_websocket(ping_interval=0.5, pong_timeout=0.5, silence_timeout=2.0, handshake_timeout=2.0))


def binance_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()]
