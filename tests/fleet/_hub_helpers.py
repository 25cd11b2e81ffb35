"""Shared by the hub tests: a recording callback, a fast config, feed probes (the thread-leak
fixture ``no_leak`` is in conftest.py)."""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

import binance_conn as bc
from binance_conn.testing import FakeBinance

SYM = "BTCUSDT"
TRADE = "btcusdt@trade"


class Rec:
    """A thread-safe recording callback (``fail_on``: raise after recording such an event)."""

    def __init__(self, fail_on: Optional[Callable[[Any], bool]] = None) -> None:
        self.items: List[Any] = []
        self._lock = threading.Lock()
        self._fail_on = fail_on

    def __call__(self, event: Any) -> None:
        with self._lock:
            self.items.append(event)
        if self._fail_on is not None and self._fail_on(event):
            raise RuntimeError("callback bug")

    def snapshot(self) -> List[Any]:
        with self._lock:
            return list(self.items)

    def __len__(self) -> int:
        return len(self.items)


def fast_config(fake: FakeBinance) -> bc.Config:
    return (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
            .with_debounce(0.0).with_websocket(ping_interval=0.5, pong_timeout=0.5, silence_timeout=1.0,
                                               handshake_timeout=2.0).build())


def positioned(feed: bc.RedisFeed, topic: str = TRADE) -> bool:
    marks = feed.stats()["positions"].get(topic)
    return bool(marks) and all(m is not None for m in marks)


def trade_ids(rec: Rec) -> List[int]:
    return [e.trade_id for e in rec.snapshot()]


def fail_once(real: Callable[..., Any], exc: BaseException) -> Callable[..., Any]:
    """``real`` whose first call raises ``exc`` (an injected failure in a library thread)."""
    armed = [True]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if armed:
            armed.pop()
            raise exc
        return real(*args, **kwargs)

    return wrapper
