"""Rate limits of reference section 4: request weight per IP in fixed 1-minute windows (429, then
418 bans when the client keeps going), unfilled order counts (10 s and 1 day), and WebSocket
connection attempts per window."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable, Deque, Tuple

from ._util import BinanceFault

__all__ = ["WeightLimiter", "OrderCounter", "AttemptLimiter"]


class WeightLimiter:
    """REQUEST_WEIGHT per 1 MINUTE, shared by REST and the WebSocket API (one IP: loopback)."""

    def __init__(self, limit: int, ban_seconds: float, ban_after: int,
                 now: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.ban_seconds = ban_seconds
        self.ban_after = ban_after
        self._now = now
        self._lock = threading.Lock()
        self._window = 0
        self._used = 0
        self._limited = False
        self._strikes = 0
        self._banned_until = 0.0

    def _roll(self, now: float) -> None:
        window = int(now // 60)
        if window != self._window:
            self._window, self._used, self._limited, self._strikes = window, 0, False, 0

    def used(self) -> int:
        with self._lock:
            self._roll(self._now())
            return self._used

    def reset(self) -> None:
        with self._lock:
            self._used, self._limited, self._strikes, self._banned_until = 0, False, 0, 0.0

    def refund(self, weight: int) -> None:
        with self._lock:
            self._used = max(0, self._used - weight)

    def charge(self, weight: int) -> int:
        """Add ``weight``; return the window's usage, or raise 429 / 418 BinanceFault."""
        with self._lock:
            now = self._now()
            self._roll(now)
            if self._banned_until > now:
                raise self._ban_fault(now)
            self._used += weight
            if self._used <= self.limit:
                return self._used
            if self._limited:
                self._strikes += 1
                if self._strikes >= self.ban_after:
                    self._banned_until = now + self.ban_seconds
                    raise self._ban_fault(now)
            self._limited = True
            retry = max(1, math.ceil((self._window + 1) * 60 - now))
            raise BinanceFault(-1003, f"Too much request weight used; current limit is {self.limit} request weight "
                                      "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
                                      "the API.", status=429, retry_after=retry)

    def _ban_fault(self, now: float) -> BinanceFault:
        until_ms = int(self._banned_until * 1000)
        return BinanceFault(-1003, f"Way too much request weight used; IP banned until {until_ms}. Please use "
                                   "WebSocket Streams for live updates to avoid bans.", status=418,
                            retry_after=max(1, math.ceil(self._banned_until - now)))


class OrderCounter:
    """Unfilled order count per 10 SECOND and per 1 DAY (fixed windows, reference 4.1)."""

    def __init__(self, limit_10s: int, limit_1d: int, now: Callable[[], float] = time.time) -> None:
        self.limit_10s, self.limit_1d = limit_10s, limit_1d
        self._now = now
        self._lock = threading.Lock()
        self._w10 = self._wd = -1
        self._c10 = self._cd = 0

    def _roll(self) -> None:
        now = self._now()
        w10, wd = int(now // 10), int(now // 86400)
        if w10 != self._w10:
            self._w10, self._c10 = w10, 0
        if wd != self._wd:
            self._wd, self._cd = wd, 0

    def counts(self) -> Tuple[int, int]:
        with self._lock:
            self._roll()
            return self._c10, self._cd

    def add(self) -> Tuple[int, int]:
        with self._lock:
            self._roll()
            if self._cd >= self.limit_1d:
                raise BinanceFault(-1015, f"Too many new orders; current limit is {self.limit_1d} orders per DAY.",
                                   status=429, retry_after=max(1, math.ceil((self._wd + 1) * 86400 - self._now())))
            if self._c10 >= self.limit_10s:
                raise BinanceFault(-1015, f"Too many new orders; current limit is {self.limit_10s} orders per "
                                          "10 SECOND.", status=429,
                                   retry_after=max(1, math.ceil((self._w10 + 1) * 10 - self._now())))
            self._c10 += 1
            self._cd += 1
            return self._c10, self._cd

    def filled(self) -> None:
        """An order that traded stops counting (reference 4.1, ocd)."""
        with self._lock:
            self._c10 = max(0, self._c10 - 1)
            self._cd = max(0, self._cd - 1)


class AttemptLimiter:
    """Connection attempts per sliding window (300 per 5 minutes per IP on Binance)."""

    def __init__(self, limit: int, window: float, now: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window = limit, window
        self._now = now
        self._lock = threading.Lock()
        self._times: Deque[float] = deque()

    def attempt(self) -> bool:
        with self._lock:
            now = self._now()
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if len(self._times) >= self.limit:
                return False
            self._times.append(now)
            return True
