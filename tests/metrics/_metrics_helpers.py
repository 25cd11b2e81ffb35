"""Helpers of the metrics tests: a connector on FakeBinance with short timings."""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

from _helpers import wait_until

import binance_conn as bc
from binance_conn.testing import FakeBinance

__all__ = ["Recorder", "conn_threads", "fast_conn", "wait_synced"]


def conn_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()]


def fast_conn(fake: FakeBinance, **rest: Any) -> bc.Connector:
    """A connector with a 0.5 s health check (prober, hence clock sync) and quick reconnects."""
    b = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(0.5)
         .with_debounce(0.0))
    if "time_sync" in rest:
        b = b.with_time_sync(rest["time_sync"])
    return bc.Connector(b.build())


def wait_synced(conn: bc.Connector, near_ms: Optional[int] = None, timeout: float = 5.0) -> bool:
    """Until the connector measured the server-clock offset (within 100 ms of ``near_ms`` if given)."""
    def ok() -> bool:
        lag = conn.stats()["lag"]
        if not lag["clock_synced"]:
            return False
        return near_ms is None or abs(lag["clock_offset_ms"] - near_ms) < 100
    return wait_until(ok, timeout=timeout)


class Recorder:
    """A callback recording events; ``gate`` (an Event) holds every call until set, if given."""

    def __init__(self, gate: Optional[threading.Event] = None, on_event: Optional[Callable[[Any], Any]] = None
                 ) -> None:
        self.items: List[Any] = []
        self.gate = gate
        self.entered = threading.Event()  # set when a call begins (a gated one is then holding its event)
        self._on_event = on_event

    def __call__(self, event: Any) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.items.append(event)
        if self._on_event is not None:
            self._on_event(event)
