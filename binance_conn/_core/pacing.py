"""Pacing of outgoing WebSocket messages and of connection attempts (reference §9, limits).

Binance allows **5 incoming messages per second per connection**, counting
pings, pongs and JSON control frames; going over disconnects and repeat
offenders get IP-banned.  :class:`TokenBucket` paces what *we* send (control
requests and client pings) at 4 msg/s with a burst of 1, so any one-second
window holds at most 4 of ours plus the pong websocket-client sends on its own
for the server's ping every 20 s.

Binance also allows **300 connection attempts per 5 minutes per IP**.
:class:`ConnectionBudget` is a sliding-window log that never slows normal
backoff: it only answers "wait" when one more attempt would exceed the budget.
"""

from __future__ import annotations

from collections import deque
from typing import Deque

__all__ = ["TokenBucket", "ConnectionBudget"]


class TokenBucket:
    """Token bucket; time comes in as ``now`` (monotonic seconds).

    Args:
        rate: tokens per second (> 0); default 4 msg/s.
        burst: bucket capacity (>= 1); default 1, i.e. evenly spaced sends.
    """

    __slots__ = ("rate", "burst", "_tokens", "_last")

    def __init__(self, rate: float = 4.0, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = self.burst
        self._last: float = float("-inf")

    def _refill(self, now: float) -> None:
        if now > self._last:
            if self._last != float("-inf"):
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def delay(self, now: float) -> float:
        """Seconds until one token is available (0.0: now); consumes nothing."""
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= 1e-12 else missing / self.rate

    def try_acquire(self, now: float) -> float:
        """Take one token if available and return 0.0; else return the seconds to wait."""
        wait = self.delay(now)
        if wait == 0.0:
            self._tokens = max(0.0, self._tokens - 1.0)
        return wait

    def reset(self) -> None:
        """A new connection: its own fresh budget."""
        self._tokens = self.burst
        self._last = float("-inf")


class ConnectionBudget:
    """At most ``limit`` connection attempts in any ``window`` seconds.

    Args:
        limit: attempts per window (Binance: 300).
        window: seconds (Binance: 300).
    """

    __slots__ = ("limit", "window", "_attempts")

    def __init__(self, limit: int = 300, window: float = 300.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = int(limit)
        self.window = float(window)
        self._attempts: Deque[float] = deque()

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        attempts = self._attempts
        while attempts and attempts[0] <= horizon:
            attempts.popleft()

    def delay(self, now: float) -> float:
        """Seconds to wait before one more attempt fits the budget (0.0: now)."""
        self._prune(now)
        if len(self._attempts) < self.limit:
            return 0.0
        return max(0.0, self._attempts[0] + self.window - now)

    def try_acquire(self, now: float) -> float:
        """Record an attempt and return 0.0 if it fits; else return the wait and record nothing."""
        wait = self.delay(now)
        if wait == 0.0:
            self._attempts.append(now)
        return wait

    def used(self, now: float) -> int:
        """Attempts inside the current window."""
        self._prune(now)
        return len(self._attempts)

