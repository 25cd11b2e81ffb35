"""The REST limiter of a fleet: one request-weight budget and ban gate for every process
that uses the same Redis and egress key (``Config.builder().with_shared_limits(url, key=)``).

:class:`SharedHostLimiter` is a :class:`~.limiter.HostLimiter` (same methods, same errors)
whose decisions are Redis scripts (:mod:`binance_conn._redis.limits`); the base class it
extends is its local copy:

* it mirrors the fleet's ban gate (so :meth:`gate_error` fails fast without a round trip;
  the mirror is refreshed from Redis when older than :data:`BAN_CHECK_INTERVAL`, and every
  reservation checks the fleet's gate in the same script that books the weight: a ban seen
  by one process stops every other on its next call);
* it folds in every response's ``X-MBX-USED-WEIGHT-*`` headers, so that
* when Redis is unusable it limits locally at once, from what Binance last reported
  (``mode`` ``"fallback"``; :mod:`binance_conn._redis.link` logs one WARNING per outage
  and reconnects lazily).  When Redis answers again, the local gate and the local
  estimates are folded back in before the next shared decision.

No call waits longer than ``max_wait``: every Redis command has a socket timeout of at
most a quarter of it, a wait for weight is only started when the wait plus one more
command still fits, and a fallback gets only what is left.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from .._core.ratelimit import window_seconds
from .._redis.limits import SharedWindows, key_prefix, order_counter, shared_key
from .._redis.link import link_for, op_timeout
from ..errors import IPBannedError, RateLimitError
from .limiter import DEFAULT_REGISTRY, HostLimiter, WeightLimiterRegistry

__all__ = ["SharedHostLimiter", "SharedLimiterRegistry", "SHARED_REGISTRY", "BAN_CHECK_INTERVAL",
           "limiter_for", "order_counter", "LimiterInfo"]

_monotonic = time.monotonic
_time = time.time
_NEVER = float("-inf")

BAN_CHECK_INTERVAL = 0.05
"""Seconds :meth:`SharedHostLimiter.gate_error` trusts its mirror of the fleet's gate
(reservations check the fleet's gate every time)."""


class SharedHostLimiter(HostLimiter):
    """The weight budget and ban gate of one egress key, shared through Redis; thread-safe.

    Any thread may call any method.  :meth:`acquire` blocks up to its ``max_wait``; the
    others block at most one Redis command (the link's timeout), and not at all while Redis
    is known to be down.

    Args:
        host: ``scheme://netloc`` of the REST API, for messages.
        limits: initial window limits (None: Binance's default).
        windows: the Redis side (:class:`~binance_conn._redis.limits.SharedWindows`).
        key: the egress key, for :attr:`mode` reports.
    """

    def __init__(self, host: str, limits: Optional[Mapping[str, int]], windows: SharedWindows, key: str) -> None:
        super().__init__(host, limits)
        self.shared = windows
        self.key = key
        self._spec: Tuple[Tuple[str, int, int], ...] = ()
        self._set_spec()
        self._tls = threading.local()  # .local: the calling thread's last booking fell back to the local copy
        self._degraded = False  # a shared operation failed: fold the local state back in first
        self._gate_checked = _NEVER
        self._tripped_at = _NEVER

    def __repr__(self) -> str:
        return f"SharedHostLimiter({self.host!r}, key={self.key!r}, {self.mode}, redis={self.shared.link.safe_url!r})"

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._tls = threading.local()

    @property
    def mode(self) -> str:
        """``"shared"`` while Redis decides, ``"fallback"`` while this process limits alone."""
        return "fallback" if self._degraded or self.shared.link.is_down else "shared"

    def _set_spec(self) -> None:
        self._spec = tuple((name, window_seconds(name), limit) for name, limit in super().limits.items())

    def set_limits(self, limits: Mapping[str, int], *, pin: bool = False) -> None:
        super().set_limits(limits, pin=pin)
        self._set_spec()

    def configure_from_exchange_info(self, rate_limits: Iterable[Mapping[str, Any]]) -> bool:
        changed = super().configure_from_exchange_info(rate_limits)
        if changed:
            self._set_spec()
        return changed

    # ------------------------------------------------------------------ the shared path
    def _shared(self, now: float, op: Callable[..., Any], *args: Any) -> Any:
        """``op(*args)`` against Redis, after folding the local state back in if an earlier
        operation failed; None when Redis is unusable (then the local copy decides)."""
        if self._degraded and not self._resync(now):
            return None
        result = op(*args)
        if result is None:
            self._degraded = True
        return result

    def _resync(self, now: float) -> bool:
        """After an outage: the fleet learns this process's gate and local estimates (max-folded,
        as headers are).  False while Redis is still unusable."""
        gate = self._gate
        remaining = gate.until - _time()
        if remaining > 0.0 and self.shared.trip(int(remaining * 1000.0), gate.kind, gate.message, gate.binance_code,
                                                gate.http_status) is None:
            return False
        used = {name: value for name, value in super().used_weight(now).items() if value > 0}
        if used and self.shared.complete(0, now, now, self._spec, used, False) is None:
            return False
        self._degraded = False
        return True

    def _mirror(self, answer: Any, exchange: Optional[str] = None, request_id: Optional[str] = None
                ) -> RateLimitError:
        """Copy a banned answer into the local gate; the error to raise for it."""
        remaining, kind, message, binance_code, http_status = SharedWindows.ban_fields(answer)
        until = _time() + remaining
        gate = self._gate
        if abs(gate.until - until) > 0.02 or gate.kind != kind:
            with self._lock:
                gate.until, gate.kind, gate.message = until, kind, message
                gate.binance_code, gate.http_status = binance_code, http_status
        cls = IPBannedError if kind == "ip_banned" else RateLimitError
        text = message or ("IP banned" if cls is IPBannedError else "rate limited")
        return cls(f"{text} (failing fast for {remaining:.1f}s more without contacting {self.host})",
                   retry_after=round(remaining, 3), binance_code=binance_code, http_status=http_status,
                   exchange=exchange, request_id=request_id, details={"fail_fast": True, "shared": True})

    # ------------------------------------------------------------------ HostLimiter
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
        """Book ``weight`` in the fleet's windows (checking the fleet's ban gate in the same
        script) or wait for it, at most ``max_wait`` s in all; returns the booking time.

        Raises:
            IPBannedError / RateLimitError: the fleet's gate is closed (``details["fail_fast"]``),
                or the weight cannot be had within ``max_wait`` (``details["client_side"]``).
        """
        deadline = _monotonic() + max_wait
        tls = self._tls
        while True:
            at = now()
            answer = self._shared(at, self.shared.reserve, weight, at, self._spec)
            if answer is None:
                tls.local = True
                return super().acquire(weight, max_wait=max(0.0, deadline - _monotonic()), now=now, wait=wait,
                                       exchange=exchange, request_id=request_id)
            tls.local = False
            self._gate_checked = _monotonic()
            status = int(answer[0])
            if status == 1:
                raise self._mirror(answer, exchange, request_id)
            # the fleet's figures, kept by the local copy: a fallback starts from them, not from zero
            estimates = answer[1:] if status == 0 else answer[2:]
            super().observe({spec[0]: int(v) for spec, v in zip(self._spec, estimates)}, at, at)
            if status == 0:
                return at
            delay = int(answer[1]) / 1000.0
            # the wait plus one more Redis command must fit: no call waits longer than max_wait
            if delay + self.shared.link.timeout > deadline - _monotonic() or wait(delay):
                raise RateLimitError(
                    f"client-side request-weight limit reached for {self.host} (shared by the fleet of "
                    f"{self.key!r}); weight {weight} would fit in {delay:.3f}s, more than max_wait {max_wait}s "
                    "allows",
                    retry_after=round(delay, 3), exchange=exchange, request_id=request_id,
                    details={"client_side": True, "shared": True},
                )

    def complete(self, weight: int, reserved_at: float, now: float, used: Optional[Mapping[str, int]]) -> None:
        """Release a booking and fold in the response's used-weight headers (fleet and local copy)."""
        if getattr(self._tls, "local", False):
            super().complete(weight, reserved_at, now, used)
            return
        if used:
            super().observe(used, reserved_at, now)
        self._shared(now, self.shared.complete, weight, reserved_at, now, self._spec, used, True)

    def observe(self, used: Mapping[str, int], sent_at: float, now: float) -> None:
        """Fold in headers of a call that was not booked (rate limiting disabled)."""
        super().observe(used, sent_at, now)
        self._shared(now, self.shared.complete, 0, sent_at, now, self._spec, used, False)

    def used_weight(self, now: float) -> Dict[str, int]:
        """The fleet's weight in each current window (this process's estimate while Redis is down)."""
        local = super().used_weight(now)
        limited = {name for name, _s, _l in self._spec}
        names = [(name, window_seconds(name), name in limited) for name in local]
        answer = self._shared(now, self.shared.read, now, names)
        return local if answer is None else dict(answer)

    def trip(self, now: float, retry_after: Optional[float], *, banned: bool, message: str,
             binance_code: Optional[int], http_status: Optional[int]) -> None:
        """Close the fleet's gate after a 429 (``banned=False``) or 418 (``banned=True``)."""
        super().trip(now, retry_after, banned=banned, message=message, binance_code=binance_code,
                     http_status=http_status)
        self._tripped_at = _monotonic()
        gate = self._gate
        remaining = gate.until - now
        if remaining > 0.0:
            self._shared(now, self.shared.trip, int(remaining * 1000.0 + 0.5), gate.kind, gate.message,
                         gate.binance_code, gate.http_status)

    def gate_error(
        self, now: float, *, exchange: Optional[str] = None, request_id: Optional[str] = None
    ) -> Optional[RateLimitError]:
        """The error to raise at once while the fleet's gate is closed, else None."""
        self._refresh_gate(now)
        return super().gate_error(now, exchange=exchange, request_id=request_id)

    def gate_state(self, now: float) -> Tuple[str, float]:
        """The fleet's gate (``ban_state``, ``health()``, metrics), also in a process that makes no
        calls: the mirror is refreshed when older than :data:`BAN_CHECK_INTERVAL` (one Redis
        command at most, none while Redis is known down)."""
        self._refresh_gate(now)
        return super().gate_state(now)

    def _refresh_gate(self, now: float) -> None:
        mono = _monotonic()
        if mono - self._gate_checked >= BAN_CHECK_INTERVAL:
            self._gate_checked = mono
            answer = self._shared(now, self.shared.gate)
            if answer is not None:
                if int(answer[0]) == 1:
                    self._mirror(answer)
                elif self._gate.until > now and mono - self._tripped_at > 0.5:
                    # the fleet's gate opened (it expired, or was cleared); a trip of our own that
                    # may still be on its way to Redis is left alone
                    with self._lock:
                        self._gate.clear()

    def clear_gate(self) -> None:
        """Open the fleet's gate at once (and this process's copy)."""
        super().clear_gate()
        self._tripped_at = _NEVER
        self._shared(_time(), self.shared.clear)


class SharedLimiterRegistry:
    """(Redis URL, egress key, host) -> :class:`SharedHostLimiter`: the clients of one process
    share one.  Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: Dict[Tuple[str, str, str], SharedHostLimiter] = {}

    def get(self, config: Any, host: str, limits: Optional[Mapping[str, int]] = None) -> SharedHostLimiter:
        """The limiter of ``config``'s ``with_shared_limits`` for ``host`` (created on first use)."""
        url, key, host = config.rate_limit.shared_redis_url, shared_key(config), host.lower()
        with self._lock:
            limiter = self._limiters.get((url, key, host))
            if limiter is None:
                link = link_for(url, op_timeout(config.rate_limit.max_wait))
                windows = SharedWindows(link, key_prefix(key, host))
                limiter = self._limiters[(url, key, host)] = SharedHostLimiter(host, limits, windows, key)
            return limiter

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        for limiter in self._limiters.values():
            limiter._reset_after_fork()


SHARED_REGISTRY = SharedLimiterRegistry()
"""The process-wide registry of shared limiters."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SHARED_REGISTRY._reset_after_fork)


def limiter_for(config: Any, registry: Optional[WeightLimiterRegistry], host: str, spec: Any) -> HostLimiter:
    """The limiter a REST client of ``config`` uses for ``host`` (``spec``: its product, for the
    default limits): the fleet's under ``with_shared_limits``, else ``registry``'s (default: the
    process's)."""
    limits: Optional[Mapping[str, int]] = spec.weight_limits
    if config.rate_limit.shared_redis_url:
        return SHARED_REGISTRY.get(config, host, limits)
    return (registry if registry is not None else DEFAULT_REGISTRY).get(host, limits)


class LimiterInfo:
    """RestClient mixin: how its request weight is limited."""

    _limiter: HostLimiter

    @property
    def limiter_mode(self) -> str:
        """``"local"`` (this process alone), ``"shared"`` (``with_shared_limits``: through Redis)
        or ``"fallback"`` (shared, but Redis is unusable right now: limiting locally). Never blocks."""
        return str(getattr(self._limiter, "mode", "local"))
