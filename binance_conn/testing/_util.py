"""Small shared pieces of the fake: the Binance-shaped error, the server clock, JSON helpers."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, Optional

__all__ = ["BinanceFault", "Clock", "dumps", "fmt", "Waiter", "JSON", "FaultRule"]

JSON = Dict[str, Any]


class BinanceFault(Exception):
    """An error the fake answers with: ``{"code": code, "msg": msg}`` and an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400, retry_after: Optional[int] = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.retry_after = retry_after

    def body(self) -> JSON:
        return {"code": self.code, "msg": self.msg}


def dumps(obj: Any) -> str:
    """Compact JSON, as Binance sends it."""
    return json.dumps(obj, separators=(",", ":"))


def fmt(value: Decimal, places: int = 8) -> str:
    """A decimal as Binance prints it: fixed point, ``places`` decimals, never an exponent."""
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q):f}"


class Clock:
    """The fake's server clock: wall time plus a skew, or a pinned instant (for the doc vectors)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._skew_ms = 0
        self._pinned: Optional[int] = None

    def now_ms(self) -> int:
        with self._lock:
            if self._pinned is not None:
                return self._pinned
            return int(time.time() * 1000) + self._skew_ms

    def now_us(self) -> int:
        """The server time in epoch microseconds (a pinned instant: its ms * 1000)."""
        with self._lock:
            if self._pinned is not None:
                return self._pinned * 1000
            return int(time.time() * 1_000_000) + self._skew_ms * 1000

    def skew(self, ms: int) -> None:
        with self._lock:
            self._skew_ms = int(ms)

    def pin(self, ms: Optional[int]) -> None:
        with self._lock:
            self._pinned = None if ms is None else int(ms)


class Waiter:
    """A condition variable that tests can wait on with a deadline (never a bare sleep)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                # Short slices so predicates that read state changed without notify() still resolve.
                self._cond.wait(min(remaining, 0.05))


@dataclass
class FaultRule:
    remaining: int
    status: int = 500
    code: int = -1000
    msg: str = "An unknown error occurred while processing the request."
    retry_after: Optional[int] = None
    path: Optional[str] = None
    method: Optional[str] = None
    raw_body: Optional[bytes] = None
    drop: bool = False
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and (self.path is None or self.path == path) and \
            (self.method is None or self.method.upper() == method)
