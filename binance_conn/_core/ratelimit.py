"""Request-weight accounting, order counts and the ban gate (sans-I/O).

Theory of operation (reference section 4):

* ``REQUEST_WEIGHT`` is per **IP** and counted in fixed, aligned windows (a
  1-MINUTE window resets at each whole minute).  :class:`WeightLimiter` keeps,
  per window (``"1M"``, ``"10S"`` ...): the weight this process reserved in the
  current window, the weight still in flight, and the highest
  ``X-MBX-USED-WEIGHT-*`` value Binance reported for the window.  The estimate is
  ``max(reserved, reported + in_flight)``: the header is the truth about what
  *other* processes on the same IP spent, and server usage never decreases
  within a window, so taking the maximum is always on the safe side.
  A header from a request sent in an earlier window is ignored (it describes
  the old window).
* :meth:`WeightLimiter.reserve` either books the weight (returns 0.0) or says
  how long to wait until the window that is full resets; the I/O layer waits up
  to its ``max_wait`` and then raises ``RateLimitError``.
* :class:`BanGate`: after a 429/418 every call fails fast, without touching the
  server, until ``Retry-After`` has passed.
* :class:`OrderCounter`: the latest ``X-MBX-ORDER-COUNT-*`` values per window.

Every method takes ``now`` (epoch seconds, ideally server-aligned) from the
caller.  Nothing here locks: the shared owner (``binance_conn._limiter``) holds
a lock around each call.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from . import catalog as _catalog

__all__ = [
    "INTERVAL_SECONDS",
    "window_seconds",
    "header_key",
    "parse_count_headers",
    "endpoint_weight",
    "WeightLimiter",
    "BanGate",
    "OrderCounter",
    "DEFAULT_WEIGHT_LIMITS",
    "landing_guard",
]

# Interval letters of the X-MBX-* headers (section 4.1): SECOND=S, MINUTE=M, HOUR=H, DAY=D.
INTERVAL_SECONDS: Dict[str, int] = {"S": 1, "M": 60, "H": 3600, "D": 86400}
_INTERVAL_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}

DEFAULT_WEIGHT_LIMITS: Dict[str, int] = {"1M": 6000}
"""Spot REQUEST_WEIGHT until exchangeInfo says otherwise (6000 / 1 MINUTE, section 4.1)."""

_WEIGHT_PREFIX = "x-mbx-used-weight-"
_ORDER_PREFIX = "x-mbx-order-count-"


def window_seconds(key: str) -> int:
    """Length of a window named like the header suffix (``"1M"`` -> 60, ``"10S"`` -> 10)."""
    key = key.upper()
    return int(key[:-1] or "1") * INTERVAL_SECONDS[key[-1]]


def header_key(interval: str, interval_num: int) -> str:
    """``("MINUTE", 1)`` -> ``"1M"``: the exchangeInfo rateLimit as a header suffix."""
    return f"{int(interval_num)}{_INTERVAL_LETTER[interval.upper()]}"


def parse_count_headers(headers: Mapping[str, str], prefix: str = _WEIGHT_PREFIX) -> Dict[str, int]:
    """``{"1M": 123}`` from ``X-MBX-USED-WEIGHT-1M: 123`` (names case-insensitive).

    Args:
        headers: response headers.
        prefix: lower-case header prefix; ``"x-mbx-order-count-"`` for order counts.
    """
    out: Dict[str, int] = {}
    plen = len(prefix)
    for name, value in headers.items():
        if len(name) > plen and name[:plen].lower() == prefix:
            key = name[plen:].upper()
            if key[-1:] in INTERVAL_SECONDS and key[:-1].isdigit():
                try:
                    out[key] = int(value)
                except (TypeError, ValueError):
                    continue
    if not out and prefix == _WEIGHT_PREFIX:
        # Legacy un-suffixed header = the 1-minute value (section 4.2).
        for name, value in headers.items():
            if name.lower() == "x-mbx-used-weight":
                try:
                    out["1M"] = int(value)
                except (TypeError, ValueError):
                    pass
    return out


def _window(now: float, seconds: int) -> int:
    return int(now // seconds)


def landing_guard(seconds: int) -> float:
    """How far (seconds) our estimate of a window boundary may be from Binance's: the clock offset
    is measured, not known. A wait for a full window to reset lasts this much past the boundary,
    and the used-weight headers of a request sent within this much after a boundary are not
    taken for the new window (Binance may have counted it in the old, full one); requests that
    end this close before a boundary are booked in the next window too (shared limits)."""
    return min(0.1, seconds / 20.0)


def endpoint_weight(method: str, path: str, params: Optional[Mapping[str, Any]] = None) -> int:
    """Request weight of a spot REST call (reference sections 6 and 7). Unknown paths: 1.

    Successful order placement/cancel costs 0 since 2026-04-02, but a failed one
    pays 1; 1 is reserved (the conservative side) and the header corrects it.
    """
    p = params or {}
    ep = _catalog.lookup(method, path)
    if ep is not None:  # the endpoint table (spec_*.py) is the source of truth
        return ep.weight_of(p)
    if path.startswith("/api/v3/"):
        name = path[8:]
    else:
        return 1
    if name == "order/test":
        return 20 if str(p.get("computeCommissionRates", "")).lower() == "true" else 1
    return _WEIGHTS.get(name, 1)


_WEIGHTS: Dict[str, int] = {
}


class _Window:
    __slots__ = ("limit", "seconds", "index", "reserved", "in_flight", "reported")

    def __init__(self, limit: int, seconds: int) -> None:
        self.limit = limit
        self.seconds = seconds
        self.index = -1
        self.reserved = 0
        self.in_flight = 0
        self.reported = 0

    def roll(self, now: float) -> int:
        idx = _window(now, self.seconds)
        if idx != self.index:
            self.index = idx
            self.reserved = 0
            self.in_flight = 0
            self.reported = 0
        return idx

    def estimate(self) -> int:
        return max(self.reserved, self.reported + self.in_flight)


class WeightLimiter:
    """Client-side REQUEST_WEIGHT budget for one host (one IP), in aligned windows.

    Args:
        limits: window key -> weight limit, e.g. ``{"1M": 6000}``.
    """

    __slots__ = ("_windows", "_seen")

    def __init__(self, limits: Optional[Mapping[str, int]] = None) -> None:
        self._windows: Dict[str, _Window] = {}
        self._seen: Dict[str, _Window] = {}
        self.set_limits(limits if limits is not None else DEFAULT_WEIGHT_LIMITS)

    def set_limits(self, limits: Mapping[str, int]) -> None:
        """Replace the limits (keeps the counts of windows that stay)."""
        windows: Dict[str, _Window] = {}
        for key, limit in limits.items():
            k = key.upper()
            old = self._windows.get(k) or self._seen.get(k)
            if old is not None:
                old.limit = int(limit)
                windows[k] = old
            else:
                windows[k] = _Window(int(limit), window_seconds(k))
        self._windows = windows

    def configure_from_exchange_info(self, rate_limits: Iterable[Mapping[str, Any]]) -> bool:
        """Seed limits from ``exchangeInfo["rateLimits"]`` (REQUEST_WEIGHT entries only).

        Returns True when at least one REQUEST_WEIGHT limit was found.
        """
        limits: Dict[str, int] = {}
        for item in rate_limits:
            if item.get("rateLimitType") != "REQUEST_WEIGHT":
                continue
            try:
                limits[header_key(str(item["interval"]), int(item["intervalNum"]))] = int(item["limit"])
            except (KeyError, ValueError, TypeError):
                continue
        if limits:
            self.set_limits(limits)
        return bool(limits)

    @property
    def limits(self) -> Dict[str, int]:
        """The current limits per window key."""
        return {k: w.limit for k, w in self._windows.items()}

    def reserve(self, weight: int, now: float) -> float:
        """Book ``weight`` in every window, or return the seconds until it could fit.

        Returns:
            0.0 when booked (call :meth:`complete` with the same ``weight`` and
            ``now`` later); otherwise the delay until the earliest full window
            resets (nothing is booked).
        """
        delay = 0.0
        for w in self._windows.values():
            w.roll(now)
            if w.estimate() + weight > w.limit:
                delay = max(delay, (w.index + 1) * w.seconds - now + landing_guard(w.seconds))
        if delay > 0.0:
            return max(delay, 1e-3)
        for w in self._windows.values():
            w.reserved += weight
            w.in_flight += weight
        return 0.0

    def complete(self, weight: int, reserved_at: float, now: float, used: Optional[Mapping[str, int]]) -> None:
        """A booked request finished (successfully or not).

        Args:
            weight: what :meth:`reserve` booked.
            reserved_at: the ``now`` passed to :meth:`reserve`.
            now: the current time.
            used: parsed ``X-MBX-USED-WEIGHT-*`` headers of the response, if any.
        """
        for key, w in self._windows.items():
            idx = w.roll(now)
            same = _window(reserved_at, w.seconds) == idx
            if same and w.in_flight >= weight:
                w.in_flight -= weight
            if used and same and key in used and reserved_at - idx * w.seconds >= landing_guard(w.seconds):
                w.reported = max(w.reported, used[key])
        if used:
            # Windows reported by the server that we do not limit on: keep for used_weight.
            for key, value in used.items():
                if key in self._windows:
                    continue
                try:
                    seen = self._seen.get(key) or _Window(0, window_seconds(key))
                except (KeyError, ValueError):
                    continue
                self._seen[key] = seen
                idx = seen.roll(now)
                if _window(reserved_at, seen.seconds) == idx:
                    seen.reported = max(seen.reported, value)

    def observe(self, used: Mapping[str, int], sent_at: float, now: float) -> None:
        """Fold in headers of a response that was not booked through :meth:`reserve`."""
        for key, value in used.items():
            w = self._windows.get(key) or self._seen.get(key)
            if w is None:
                try:
                    w = self._seen[key] = _Window(0, window_seconds(key))
                except (KeyError, ValueError):
                    continue
            idx = w.roll(now)
            if _window(sent_at, w.seconds) == idx and sent_at - idx * w.seconds >= landing_guard(w.seconds):
                w.reported = max(w.reported, value)

    def used_weight(self, now: float) -> Dict[str, int]:
        """Snapshot ``{"1M": n}``: the highest weight Binance reported in each current window,
        or this process's own estimate when that is higher."""
        out: Dict[str, int] = {}
        for key, w in list(self._windows.items()) + list(self._seen.items()):
            w.roll(now)
            if key in out:
                continue
            out[key] = w.estimate() if key in self._windows else w.reported
        return out


class BanGate:
    """Fail fast while a 429/418 back-off is in force.

    :meth:`trip` records the back-off; :meth:`check` returns the remaining
    seconds (> 0) while it lasts, else None.  ``kind`` and ``message`` let the
    I/O layer raise the same error class (``RateLimitError`` or
    ``IPBannedError``) every time.
    """

    __slots__ = ("until", "kind", "message", "binance_code", "http_status")

    def __init__(self) -> None:
        self.until = 0.0
        self.kind = ""
        self.message = ""
        self.binance_code: Optional[int] = None
        self.http_status: Optional[int] = None

    def trip(
        self,
        now: float,
        retry_after: Optional[float],
        *,
        kind: str,
        message: str = "",
        binance_code: Optional[int] = None,
        http_status: Optional[int] = None,
    ) -> float:
        """Start (or extend) a back-off; returns its end.

        Without ``Retry-After`` the gate stays closed until the next whole minute
        (when the 1-minute weight window resets), at least one second.
        """
        if retry_after is None or retry_after <= 0:
            retry_after = max(1.0, math.ceil(now / 60.0) * 60.0 - now)
        until = now + retry_after
        if until >= self.until or kind == "ip_banned":
            self.until = max(until, self.until)
            self.kind = kind
            self.message = message
            self.binance_code = binance_code
            self.http_status = http_status
        return self.until

    def check(self, now: float) -> Optional[float]:
        """Remaining back-off seconds, or None when calls may go out."""
        remaining = self.until - now
        return remaining if remaining > 0 else None

    def clear(self) -> None:
        """Open the gate (tests, or an operator who knows better)."""
        self.until = 0.0


class OrderCounter:
    """Latest ``X-MBX-ORDER-COUNT-*`` value per window (unfilled order count, per account).

    The count can go down within a window (orders that fill stop counting), so
    the most recent response wins rather than the maximum.
    """

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: Dict[str, Tuple[int, float, int]] = {}  # key -> (window index, at, count)

    def observe(self, counts: Mapping[str, int], now: float) -> None:
        """Record the counts of a response received at ``now``."""
        for key, value in counts.items():
            try:
                seconds = window_seconds(key)
            except (KeyError, ValueError):
                continue
            idx = _window(now, seconds)
            old = self._values.get(key)
            if old is None or (idx, now) >= (old[0], old[1]):
                self._values[key] = (idx, now, value)

    def snapshot(self, now: float) -> Dict[str, int]:
        """``{"10S": 3, "1D": 120}`` for the current windows (0 once a window rolled)."""
        out: Dict[str, int] = {}
        for key, (idx, _at, value) in self._values.items():
            out[key] = value if _window(now, window_seconds(key)) == idx else 0
        return out
