"""Per-host request-weight limiter shared by every REST client of a process.

Binance counts ``REQUEST_WEIGHT`` per IP (reference section 4.1), so two
``RestClient`` objects talking to the same host must spend one budget.  A
:class:`WeightLimiterRegistry` maps a host (``scheme://netloc``) to one
:class:`HostLimiter`: the pure :class:`~binance_conn._core.ratelimit.WeightLimiter`
and :class:`~binance_conn._core.ratelimit.BanGate` behind one lock.

There is no hidden global: :data:`DEFAULT_REGISTRY` is the documented default a
``RestClient`` uses when none is injected (``RestClient(cfg,
limiter_registry=WeightLimiterRegistry())`` isolates a client, e.g. in tests).
The WebSocket API shares the same IP budget and may use the same registry.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from .._core.ratelimit import BanGate, WeightLimiter
from ..errors import IPBannedError, RateLimitError

__all__ = ["HostLimiter", "WeightLimiterRegistry", "DEFAULT_REGISTRY"]


class HostLimiter:
    """The weight budget and ban gate of one host; thread-safe.

    Every method may be called from any thread.  Only :meth:`acquire` blocks
    (up to its ``max_wait``); the others hold the lock for a few dict updates.

    Args:
        host: ``scheme://netloc`` key, for messages.
        limits: initial window limits, e.g. ``{"1M": 6000}`` (None: Binance's default).
    """

    def __init__(self, host: str, limits: Optional[Mapping[str, int]] = None) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._weights = WeightLimiter(limits)
        self._gate = BanGate()
        self._pinned = False

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()

    def set_limits(self, limits: Mapping[str, int], *, pin: bool = False) -> None:
        """Replace the limits; ``pin`` keeps them against later exchangeInfo seeding."""
        with self._lock:
            self._weights.set_limits(limits)
            self._pinned = self._pinned or pin

    def configure_from_exchange_info(self, rate_limits: Iterable[Mapping[str, Any]]) -> bool:
        """Seed from ``exchangeInfo["rateLimits"]`` unless limits were pinned by config."""
        with self._lock:
            if self._pinned:
                return False
            return self._weights.configure_from_exchange_info(rate_limits)

    @property
    def limits(self) -> Dict[str, int]:
        """Current limits per window key (a copy)."""
        with self._lock:
            return self._weights.limits

    def acquire(
        self,
        weight: int,
        *,
        max_wait: float,
        now: Callable[[], float],
        wait: Callable[[float], bool],
        exchange: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> float:
        """Book ``weight`` or wait for it (at most ``max_wait`` s); returns the booking time.

        Blocks the calling thread while waiting, via ``wait`` (an interruptible
        sleep that returns True when the owner is stopping).

        Raises:
            RateLimitError: the weight cannot be had within ``max_wait`` (or the
                wait was interrupted); ``retry_after`` says when it could.
        """
        deadline: Optional[float] = None
        while True:
            with self._lock:
                at = now()
                delay = self._weights.reserve(weight, at)
            if delay <= 0.0:
                return at
            mono = time.monotonic()
            if deadline is None:
                deadline = mono + max_wait
            remaining = deadline - mono
            if delay > remaining or wait(delay):
                raise RateLimitError(
                    f"client-side request-weight limit reached for {self.host}; "
                    f"weight {weight} would fit in {delay:.3f}s, more than max_wait {max_wait}s",
                    retry_after=round(delay, 3),
                    exchange=exchange,
                    request_id=request_id,
                    details={"client_side": True},
                )

    def complete(self, weight: int, reserved_at: float, now: float, used: Optional[Mapping[str, int]]) -> None:
        """Release a booking and fold in the response's used-weight headers."""
        with self._lock:
            self._weights.complete(weight, reserved_at, now, used)

    def observe(self, used: Mapping[str, int], sent_at: float, now: float) -> None:
        """Fold in headers of a call that was not booked (rate limiting disabled)."""
        with self._lock:
            self._weights.observe(used, sent_at, now)

    def used_weight(self, now: float) -> Dict[str, int]:
        """Snapshot of the weight used in each current window."""
        with self._lock:
            return self._weights.used_weight(now)

    def trip(
        self,
        now: float,
        retry_after: Optional[float],
        *,
        banned: bool,
        message: str,
        binance_code: Optional[int],
        http_status: Optional[int],
    ) -> None:
        """Close the gate after a 429 (``banned=False``) or 418 (``banned=True``)."""
        with self._lock:
            self._gate.trip(
                now,
                retry_after,
                kind="ip_banned" if banned else "rate_limited",
                message=message,
                binance_code=binance_code,
                http_status=http_status,
            )

    def gate_error(
        self, now: float, *, exchange: Optional[str] = None, request_id: Optional[str] = None
    ) -> Optional[RateLimitError]:
        """The error to raise at once while the gate is closed, else None."""
        gate = self._gate
        if gate.until <= now:  # unlocked fast path: a float read is atomic
            return None
        with self._lock:
            remaining = gate.check(now)
            if remaining is None:
                return None
            cls = IPBannedError if gate.kind == "ip_banned" else RateLimitError
            message = gate.message or ("IP banned" if cls is IPBannedError else "rate limited")
            binance_code, http_status = gate.binance_code, gate.http_status
        return cls(
            f"{message} (failing fast for {remaining:.1f}s more without contacting {self.host})",
            retry_after=round(remaining, 3),
            binance_code=binance_code,
            http_status=http_status,
            exchange=exchange,
            request_id=request_id,
            details={"fail_fast": True},
        )

    def gate_state(self, now: float) -> Tuple[str, float]:
        """``(kind, seconds left)`` of the ban gate at ``now`` (server epoch s): kind ``"ip_banned"``
        (a 418), ``"rate_limited"`` (a 429) or ``""`` with 0.0 while calls may go out.  Never blocks."""
        gate = self._gate
        left = gate.until - now  # unlocked: two attribute reads, a stale pair only lags one trip
        return (gate.kind, left) if left > 0 else ("", 0.0)

    def clear_gate(self) -> None:
        """Open the ban gate at once."""
        with self._lock:
            self._gate.clear()


class WeightLimiterRegistry:
    """Host -> :class:`HostLimiter`; create one per process (or per isolated test).

    Thread-safe; :meth:`get` never blocks for long.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: Dict[str, HostLimiter] = {}

    def get(self, host: str, limits: Optional[Mapping[str, int]] = None) -> HostLimiter:
        """The limiter for ``host`` (created with ``limits`` on first use)."""
        key = host.lower()
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = HostLimiter(key, limits)
            return limiter

    def forget(self, host: str) -> None:
        """Drop ``host``'s limiter (its windows and ban gate): a server that is gone for good, such as a
        stopped ``FakeBinance`` whose port a later one may get. Clients holding it keep their copy."""
        with self._lock:
            self._limiters.pop(host.lower(), None)

    def hosts(self) -> Tuple[str, ...]:
        """Hosts with a limiter."""
        with self._lock:
            return tuple(self._limiters)

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        for limiter in self._limiters.values():
            limiter._reset_after_fork()


DEFAULT_REGISTRY = WeightLimiterRegistry()
"""The process-wide registry used when a ``RestClient`` is given none."""

if hasattr(os, "register_at_fork"):  # a lock held by another thread at fork time would never be released
    os.register_at_fork(after_in_child=DEFAULT_REGISTRY._reset_after_fork)
