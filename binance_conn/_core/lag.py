"""Event lag: Binance event time -> callback, as a fixed-bucket histogram (sans-I/O).

Theory of operation.  The lag of one event is how long after Binance stamped it (``E``,
``event_time``) its callback starts: ``local_now_ms + clock_offset_ms - event_time``.  The
local clock alone would be wrong by the skew between this host and Binance's servers (a
host 2 s behind would report every event 2 s "early"); the offset is the REST client's
measured ``serverTime - local midpoint`` (:mod:`._core.clock`), which the connector takes
at start and refreshes (``rest.time_sync_interval``).  :class:`ClockOffset` carries it to
the callback workers: ``ms`` is None until the first measurement was attempted, and no lag
is recorded before (an unknown offset would record the skew as lag).

:class:`LagHistogram` is written by ONE thread (a subscriber's worker), read by any: counts
per bucket, sum, count and max, no lock.  A reader may see a count one ahead of the sum (a
torn read of a few ints): harmless for a figure on a dashboard.  Quantiles come from the
buckets, interpolated linearly inside the bucket as Prometheus' ``histogram_quantile``
does, and capped by the max seen.  Negative lags (an offset measured a few ms off) count
as 0.  Event times in microseconds (``X-MBX-TIME-UNIT: MICROSECOND``) are told apart by
magnitude, as :func:`._core.timing.epoch_ms` does.

Nothing here reads a clock: ``now_ms`` comes in from the caller.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["BUCKETS_MS", "MICROS_EPOCH", "ClockOffset", "LagHistogram", "merge", "summary"]

BUCKETS_MS: Tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
                                 10000.0, 30000.0, 60000.0)
"""Upper bounds (ms, inclusive) of the lag buckets; one more bucket catches everything above."""

MICROS_EPOCH = 100_000_000_000_000
"""An epoch above this (year 5138 in ms) is in microseconds."""


class ClockOffset:
    """The server-clock offset the workers apply: ``ms`` (server - local) or None while unknown.

    ``is_synced``: the last measurement succeeded (False after a failed one: ``ms`` then keeps
    the last good value, or 0 when none was ever taken, so lag is recorded best effort)."""

    __slots__ = ("ms", "is_synced")

    def __init__(self) -> None:
        self.ms: Optional[int] = None
        self.is_synced = False

    def set(self, ms: Optional[int]) -> None:
        """A measurement finished: the offset (ms), or None when it failed."""
        if ms is None:
            if self.ms is None:
                self.ms = 0
            self.is_synced = False
        else:
            self.ms = int(ms)
            self.is_synced = True


class LagHistogram:
    """Counts of lags (ms) per bucket of :data:`BUCKETS_MS`, with sum, count and max.

    ``record`` / ``add``: the owning worker thread only (the dispatch worker inlines ``record``:
    keep the two alike).  Every read: any thread."""

    __slots__ = ("counts", "sum_ms", "max_ms", "last_ms")

    def __init__(self) -> None:
        self.counts: List[int] = [0] * (len(BUCKETS_MS) + 1)
        self.sum_ms = 0.0
        self.max_ms = 0.0
        self.last_ms: Optional[float] = None  # the latest event's lag: what a health check wants now

    def record(self, now_ms: float, event_time: int) -> None:
        """One event stamped ``event_time`` (server epoch ms or µs) seen at server time ``now_ms``."""
        if event_time > MICROS_EPOCH:
            event_time = event_time // 1000
        lag = now_ms - event_time
        if lag < 0.0:
            lag = 0.0
        self.counts[bisect.bisect_left(BUCKETS_MS, lag)] += 1
        self.sum_ms += lag
        self.last_ms = lag
        if lag > self.max_ms:
            self.max_ms = lag

    def add(self, lag_ms: float) -> None:
        """One lag in ms (negative counts as 0)."""
        lag = lag_ms if lag_ms > 0.0 else 0.0
        self.counts[bisect.bisect_left(BUCKETS_MS, lag)] += 1
        self.sum_ms += lag
        self.last_ms = lag
        if lag > self.max_ms:
            self.max_ms = lag

    @property
    def count(self) -> int:
        """Lags recorded (the sum of the bucket counts)."""
        return sum(list(self.counts))

    def quantile(self, q: float) -> Optional[float]:
        """The ``q`` quantile (0..1) in ms from the buckets, or None when nothing was recorded."""
        return _quantile(list(self.counts), self.max_ms, q)

    def cumulative(self) -> List[Tuple[float, int]]:
        """``[(upper bound ms, count of lags <= it), ...]`` ending with ``(inf, count)`` (Prometheus' shape)."""
        out: List[Tuple[float, int]] = []
        total = 0
        for bound, n in zip(BUCKETS_MS + (math.inf,), list(self.counts)):
            total += n
            out.append((bound, total))
        return out

    def copy(self) -> "LagHistogram":
        h = LagHistogram()
        h.counts = list(self.counts)
        h.sum_ms, h.max_ms, h.last_ms = self.sum_ms, self.max_ms, self.last_ms
        return h


def merge(hists: Iterable[LagHistogram]) -> LagHistogram:
    """One histogram holding every observation of ``hists``."""
    out = LagHistogram()
    counts = out.counts
    for h in hists:
        for i, n in enumerate(list(h.counts)):
            counts[i] += n
        out.sum_ms += h.sum_ms
        out.max_ms = max(out.max_ms, h.max_ms)
        last = h.last_ms
        if last is not None and (out.last_ms is None or last > out.last_ms):
            out.last_ms = last  # the worst latest lag of the merged subscribers
    return out


def summary(h: LagHistogram) -> Dict[str, Any]:
    """``{"count", "mean_ms", "p50_ms", "p99_ms", "max_ms", "last_ms"}`` (ms rounded to 0.1; None when
    empty; ``last_ms``: the latest event's lag, the worst of several subscribers)."""
    counts = list(h.counts)
    n = sum(counts)
    if not n:
        return {"count": 0, "mean_ms": None, "p50_ms": None, "p99_ms": None, "max_ms": None, "last_ms": None}
    return {"count": n, "mean_ms": round(h.sum_ms / n, 1),
            "p50_ms": _round(_quantile(counts, h.max_ms, 0.5)), "p99_ms": _round(_quantile(counts, h.max_ms, 0.99)),
            "max_ms": round(h.max_ms, 1), "last_ms": _round(h.last_ms)}


def _round(v: Optional[float]) -> Optional[float]:
    return None if v is None else round(v, 1)


def _quantile(counts: Sequence[int], max_ms: float, q: float) -> Optional[float]:
    total = sum(counts)
    if not total:
        return None
    rank = min(max(q, 0.0), 1.0) * total
    seen = 0
    lower = 0.0
    for bound, n in zip(BUCKETS_MS + (math.inf,), counts):
        if n and seen + n >= rank:
            if math.isinf(bound):  # above the last bound: all we know is the max
                return max_ms
            upper = min(bound, max_ms)
            return min(lower + (upper - lower) * ((rank - seen) / n), max_ms)
        seen += n
        lower = bound
    return max_ms
