"""Gap detection at the point of delivery, GapEvents, and REST backfill (README "No silent holes:
gaps and backfill").

Theory of operation.  A :class:`GapGuard` wraps one callback subscriber's callback on a tracked
stream (``@trade``, ``@aggTrade``, ``@kline_*``, ``@depth*``): it runs on that subscriber's own
worker thread, so it sees exactly what that subscriber would have seen, and one mechanism covers
every cause of a hole (a reconnect, a zombie replacement, a rollover, a server-side skip, a
``DROP_OLDEST`` overflow of that subscriber).  Per event it asks the stream's tracker
(``_core/continuity.py``): in order -> deliver; duplicate or older -> drop (counted, never
delivered twice); gap -> publish a :class:`~binance_conn.GapEvent` ``OPEN`` on ``GAP_TOPIC``,
backfill when asked, publish ``FILLED``/``UNFILLED`` with the same ``gap_id``, then deliver the
live event that revealed the gap.  Only that subscriber waits while its hole is filled.

``cause`` is derived cheaply when a gap is seen, from snapshots taken at subscribe time and
after each gap: the subscriber's ``dropped`` counter grew -> ``"overflow"``; the stream's shard
lost its connection -> ``"zombie"`` (a zombie verdict) or ``"reconnect"``; a rollover started ->
``"rollover"``; else ``"server_skip"``.  It is a label, not proof: a reconnect that lost nothing
followed later by a server skip is reported as ``"reconnect"``.

Backfill (``backfill=True``; trades, aggregate trades, klines): pages of at most 1000 rows from
``historicalTrades?fromId=`` (weight 25), ``aggTrades?fromId=`` (4), ``klines?startTime=&endTime=``
(2), through the connector's REST client and so inside its weight budget (the limiter's
``max_wait``).  Rows are trimmed to the missing range (a page running into events already
delivered live never delivers them twice), converted (``_core/history.py``) with
``is_backfilled=True``, and delivered in order before the live event.  The gap ends ``UNFILLED``
(with ``reason``) on a REST error, an exhausted weight budget, history that is gone or has a hole,
the per-gap bounds (:data:`BACKFILL_TIMEOUT`, :data:`MAX_PAGES`) or ``stop()``; whatever was fetched before is
delivered.  A REST failure (or an unexpected exception, as an InternalError) is also published on the
connector's ``on_error``.  ``stop()`` sets the REST stop event, which cuts weight waits and backoff sleeps; the
guard checks it between pages, so the worker ends promptly.

The GET is the connector's ``rest.probe(timeout, path, params)``: through the limiter and cut at
once by ``stop()`` (an in-flight request too), so stopping never waits for a slow page.

Seeding (:meth:`GapMonitor.seed`): a restarted :class:`~binance_conn.Hub` hands the newest event its
Redis stream already holds; the tracker continues after it, so the first live event after the
restart reveals what happened while no hub ran (``cause="restart"``), filled like any other gap.
A seed only moves a tracker forward (an event this process already delivered stays delivered).

``queue=`` subscribers have no worker of their own (the producer thread fills the caller's
queue): they are not tracked here and ``backfill=True`` with ``queue=`` is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._core import continuity as cont
from .._core import history
from .._core import streams as stream_names
from .._io.dispatch import Dispatcher, Subscription
from .._io.topics import ERROR_TOPIC, GAP_TOPIC, next_gap_id
from ..enums import GapState
from ..errors import BinanceError, InternalError, ValidationError
from ..events import GapEvent

__all__ = ["HistoryGet", "GapGuard", "GapMonitor", "BACKFILL_TIMEOUT", "MAX_PAGES", "tracked_kind"]

_log = logging.getLogger("binance_conn.gaps")
_monotonic = time.monotonic

BACKFILL_TIMEOUT = 30.0
"""Seconds one gap's backfill may take before it ends UNFILLED."""
MAX_PAGES = 100
"""REST pages one gap may use (100,000 trades: weight 2,500 for trades, 400 for aggregate trades, 200
for klines): a hole larger than that (e.g. across a long ``stop()``) ends UNFILLED rather than
spending the whole weight budget that the program's own REST calls share."""
PAGE_TIMEOUT = 10.0
"""Seconds one page request may take (retries included)."""

Callback = Callable[[Any], Any]
Epoch = Tuple[int, int, Optional[str]]  # (shard reconnects, rollovers, last loss reason)


HistoryGet = Callable[[str, Dict[str, Any], float], Any]
"""``(path, params, timeout) -> parsed JSON``: a GET through the connector's REST client, inside its
weight budget and cut at once by ``stop()`` (``_market`` never imports ``_rest``)."""


_KINDS = {"trade": "trade", "aggTrade": "agg_trade", "kline": "kline", "depth": "depth"}
BACKFILL_KINDS = frozenset({"trade", "agg_trade", "kline"})


def tracked_kind(topic: str) -> Optional[str]:
    """The GapEvent kind of a stream whose continuity is tracked, or None."""
    if topic.startswith("__") or topic.startswith("!"):
        return None
    try:
        info = stream_names.parse(topic)
    except BinanceError:
        return None
    return _KINDS.get(info.kind)


class GapMonitor:
    """The connector's gap bookkeeping: builds guards, numbers gaps, publishes, counts."""

    def __init__(self, dispatcher: Dispatcher, exchange: str, get: HistoryGet,
                 stopping: Callable[[], bool], epoch: Callable[[str], Epoch]) -> None:
        self.dispatcher = dispatcher
        self.exchange = exchange
        self.get = get
        self.stopping = stopping
        self.epoch = epoch
        self.timeout = BACKFILL_TIMEOUT
        self.max_pages = MAX_PAGES
        self._lock = threading.Lock()
        self._guards: List[GapGuard] = []
        self._seeds: Dict[str, Any] = {}  # topic -> last event, for the next guard made for it

    def wrap(self, topic: str, callback: Callback, backfill: bool) -> Optional["GapGuard"]:
        """A guard for ``callback`` on ``topic``, or None when the stream is not tracked.

        Raises:
            ValidationError: ``backfill=True`` on a stream that cannot be backfilled.
        """
        if not callable(callback):
            raise ValidationError("callback", callback, "must be callable")
        kind = tracked_kind(topic)
        if backfill and kind not in BACKFILL_KINDS:
            raise ValidationError("backfill", True, "only trade, aggTrade and kline streams can be backfilled")
        if kind is None:
            return None
        guard = GapGuard(self, topic, kind, callback, backfill)
        with self._lock:
            seed = self._seeds.pop(topic, None)
        if seed is not None:
            guard.seed(seed)
        return guard

    def seed(self, topic: str, last: Any) -> bool:
        """Continue ``topic``'s continuity after ``last``, an event an earlier run delivered (a restarted
        hub: the newest event already in its Redis stream). The guards of ``topic`` take it now, or, when
        there is none yet, the next one made for it. Call it while no event of ``topic`` flows (before
        ``start()``, or before subscribing). False when ``topic`` is not tracked or ``last`` is no event of it.
        """
        kind = tracked_kind(topic)
        if kind is None or _seed_value(kind, last) is None:
            return False
        with self._lock:
            guards = [g for g in self._guards if g.stream == topic and g.sub is not None and g.sub.active]
            if not guards:
                self._seeds[topic] = last
        for guard in guards:
            guard.seed(last)
        return True

    def subscribe(self, topic: str, callback: Optional[Callback], q: Any, backfill: bool, buffer: Optional[int],
                  overflow: Any) -> Optional[Subscription]:
        """Subscribe ``callback`` through a guard when ``topic`` is tracked; None otherwise (the caller
        subscribes it plainly).

        Raises:
            ValidationError: ``backfill`` with ``queue=`` (no worker to wait in), or on a stream that
                cannot be backfilled.
        """
        if backfill and q is not None:
            raise ValidationError("backfill", True, "needs a callback (queue= subscribers have no worker to wait in)")
        if callback is None:
            return None
        guard = self.wrap(topic, callback, backfill)
        if guard is None:
            return None
        sub = self.dispatcher.subscribe(topic, guard.deliver, buffer=buffer, overflow=overflow)
        self.attach(guard, sub)
        return sub

    def attach(self, guard: "GapGuard", sub: Subscription) -> None:
        guard.attach(sub)
        with self._lock:
            self._guards = [g for g in self._guards if g.sub is None or g.sub.active] + [guard]

    def next_id(self) -> int:
        return next_gap_id()

    def after_fork_in_child(self) -> None:
        """In a forked child: a fresh lock (a parent thread may have held it); guards and seeds kept."""
        self._lock = threading.Lock()

    def publish(self, event: GapEvent) -> None:
        self.dispatcher.publish(GAP_TOPIC, event)

    def report(self, err: BinanceError) -> None:
        """A backfill's failure on the connector's ``on_error`` (not while stopping: that cut is no failure)."""
        if not self.stopping():
            self.dispatcher.publish(ERROR_TOPIC, err)

    def callback_failed(self, sub: Optional[Subscription], exc: Exception) -> None:
        if sub is not None:
            self.dispatcher._callback_failed(sub, exc)

    def stats(self) -> Dict[str, Any]:
        """Totals, per stream and per subscriber id: gaps, missing, backfilled, unfilled, duplicates."""
        with self._lock:
            guards = list(self._guards)
        total = dict.fromkeys(GapGuard.COUNTERS, 0)
        streams: Dict[str, Dict[str, int]] = {}
        subscribers: Dict[int, Dict[str, Any]] = {}
        for g in guards:
            counts = g.counters()
            per = streams.setdefault(g.stream, dict.fromkeys(GapGuard.COUNTERS, 0))
            for key, value in counts.items():
                total[key] += value
                per[key] += value
            if g.sub is not None:
                subscribers[g.sub.id] = dict(counts, stream=g.stream, backfill=g.backfill)
        return dict(total, streams=streams, subscribers=subscribers)


class GapGuard:
    """The wrapper of one subscriber's callback (its worker thread only): see the module doc."""

    COUNTERS = ("gaps", "missing", "backfilled", "unfilled", "duplicates", "filled")  # filled: gaps FILLED

    def __init__(self, monitor: GapMonitor, stream: str, kind: str, callback: Callback, backfill: bool) -> None:
        self.monitor = monitor
        self.stream = stream
        self.kind = kind
        self.callback = callback
        self.backfill = backfill
        info = stream_names.parse(stream)
        self.symbol = info.symbol
        self.interval: str = info.interval or ""
        self.timezone: Optional[str] = info.timezone
        self.sub: Optional[Subscription] = None
        self._dropped_seen = 0
        self._epoch: Epoch = monitor.epoch(stream)
        self._seed_first: Optional[int] = None  # a gap starting here follows a seed: cause "restart"
        self.gaps = self.missing = self.backfilled = self.unfilled = self.duplicates = self.filled = 0
        self.tracker: Any
        self.deliver: Callback
        if kind == "trade":
            self.tracker = cont.IdTracker()
            self.deliver = self._id_deliver(False)
        elif kind == "agg_trade":
            self.tracker = cont.IdTracker()
            self.deliver = self._id_deliver(True)
        elif kind == "kline":
            self.tracker = cont.KlineTracker(self.interval, self.timezone)
            self.deliver = self._on_kline
        else:
            self.tracker = cont.DepthTracker(cont.futures_depth_rule)  # the spot rule when pu is None
            self.deliver = self._on_depth

    def attach(self, sub: Subscription) -> None:
        self.sub = sub
        self._dropped_seen = sub.dropped
        self._epoch = self.monitor.epoch(self.stream)

    def seed(self, last: Any) -> None:
        """Continue after ``last`` (:meth:`GapMonitor.seed`): only forward, never before what was delivered."""
        value = _seed_value(self.kind, last)
        if value is None:
            return
        tracker = self.tracker
        if self.kind == "kline":
            # the newest kline may be still open: the closed one expected next is that one
            tracker.advance(value if last.is_closed else tracker.previous_before(value))
            self._seed_first = tracker.expected
            return
        if self.kind == "depth":
            if tracker.last is None or value > tracker.last:
                tracker.last = value
        else:
            tracker.advance(value)
        self._seed_first = tracker.last + 1

    def counters(self) -> Dict[str, int]:
        return {"gaps": self.gaps, "missing": self.missing, "backfilled": self.backfilled,
                "unfilled": self.unfilled, "duplicates": self.duplicates, "filled": self.filled}

    # ------------------------------------------------------------------ per event (hot path)
    def _id_deliver(self, agg: bool) -> Callback:
        """The in-order path as a closure (free variables, not attribute loads): one compare and
        one store per event, then the user's callback."""
        tracker, callback, slow = self.tracker, self.callback, self._slow

        if agg:
            def deliver(event: Any) -> None:
                value = event.agg_trade_id
                last = tracker.last
                if last is not None and value == last + 1:
                    tracker.last = value
                    callback(event)
                    return
                slow(tracker.check(value), event)
        else:
            def deliver(event: Any) -> None:
                value = event.trade_id
                last = tracker.last
                if last is not None and value == last + 1:
                    tracker.last = value
                    callback(event)
                    return
                slow(tracker.check(value), event)
        return deliver

    def _on_kline(self, event: Any) -> None:
        if not event.is_closed:
            self.callback(event)
            return
        self._slow(self.tracker.check(event.open_time), event)

    def _on_depth(self, event: Any) -> None:
        self._slow(self.tracker.check(event.first_update_id, event.final_update_id, event.previous_update_id), event)

    def _slow(self, verdict: int, event: Any) -> None:
        if verdict == cont.DUPLICATE and not (self._seed_first is not None and self._below_seed(event)):
            self.duplicates += 1
            return
        if verdict == cont.GAP:
            self._gap(self.tracker.gap_first, self.tracker.gap_last)
        self.callback(event)

    def _below_seed(self, event: Any) -> bool:
        """The first event after a seed is older than the seed: not a duplicate (a live stream never
        replays what came before the subscription) but another id sequence (a Redis stream of another
        exchange or testnet under the same prefix). The tracker restarts at it, with a WARNING, rather
        than dropping every event until the ids pass the seed."""
        kind, tracker, seed_first = self.kind, self.tracker, self._seed_first
        if kind == "kline" or seed_first is None or tracker.last != seed_first - 1:
            return False  # klines: open times; or events were delivered since the seed
        value = int(event.final_update_id) if kind == "depth" else self._key(event)
        if value >= tracker.last:
            return False
        _log.warning("%s: the first %s id after the restart (%d) is below the newest one in Redis (%d): "
                     "another id sequence (exchange or testnet) under this prefix? continuing from %d",
                     self.stream, self.kind, value, tracker.last, value, extra={"stream": self.stream})
        tracker.last = value
        self._seed_first = None
        return True

    # ------------------------------------------------------------------ a gap
    def _cause(self, first: int) -> str:
        sub = self.sub
        dropped = sub.dropped if sub is not None else 0
        epoch = self.monitor.epoch(self.stream)
        before, self._epoch = self._epoch, epoch
        grew, self._dropped_seen = dropped != self._dropped_seen, dropped
        seed_first, self._seed_first = self._seed_first, None
        if first == seed_first:
            return "restart"
        if grew:
            return "overflow"
        if epoch[0] != before[0]:
            return "zombie" if (epoch[2] or "").startswith("zombie") else "reconnect"
        if epoch[1] != before[1]:
            return "rollover"
        return "server_skip"

    def _report(self, gap_id: int, first: int, last: int, cause: str, state: GapState, filled: int = 0,
                reason: Optional[str] = None) -> None:
        self.monitor.publish(GapEvent(self.monitor.exchange, self.stream, self.symbol, self.kind, gap_id, first,
                                      last, cause, state, int(time.time() * 1000), filled, reason))

    def _gap(self, first: int, last: int) -> None:
        monitor = self.monitor
        gap_id = monitor.next_id()
        cause = self._cause(first)
        self.gaps += 1
        self.missing += (last - first + 1) if self.kind != "kline" else self._count_klines(first, last)
        self._report(gap_id, first, last, cause, GapState.OPEN)
        if not self.backfill:
            self.unfilled += 1
            self._report(gap_id, first, last, cause, GapState.UNFILLED, 0, "backfill not requested")
            _log.warning("gap on %s: %s %d..%d missing (%s)", self.stream, self.kind, first, last, cause,
                         extra={"stream": self.stream, "gap_id": gap_id, "cause": cause})
            return
        filled, reason = self._backfill(first, last)
        self.backfilled += filled
        if reason is None:
            self.filled += 1
            self._report(gap_id, first, last, cause, GapState.FILLED, filled)
            _log.info("gap on %s filled: %s %d..%d (%d events, %s)", self.stream, self.kind, first, last, filled,
                      cause, extra={"stream": self.stream, "gap_id": gap_id, "cause": cause})
            return
        self.unfilled += 1
        self._report(gap_id, first, last, cause, GapState.UNFILLED, filled, reason)
        _log.warning("gap on %s unfilled: %s %d..%d (%d of it backfilled, %s): %s", self.stream, self.kind, first,
                     last, filled, cause, reason, extra={"stream": self.stream, "gap_id": gap_id, "cause": cause})

    def _count_klines(self, first: int, last: int) -> int:
        n, t = 1, first
        step: Optional[int] = self.tracker.step
        if step:
            return (last - first) // step + 1
        while t < last:
            t = self.tracker.next_after(t)
            n += 1
        return n

    # ------------------------------------------------------------------ backfill
    def _backfill(self, first: int, last: int) -> Tuple[int, Optional[str]]:
        """Fetch and deliver ``first..last``; (events delivered, None or why it stopped short)."""
        monitor = self.monitor
        deadline = _monotonic() + monitor.timeout
        expected = first
        filled = pages = 0
        while expected <= last:
            if monitor.stopping():
                return filled, "stopped"
            if pages >= monitor.max_pages:
                return filled, f"more than {monitor.max_pages} pages of history"
            pages += 1
            remaining = deadline - _monotonic()
            if remaining <= 0:
                return filled, f"backfill took longer than {monitor.timeout:g} s"
            try:
                events = self._page(expected, last, remaining)
            except BinanceError as exc:
                monitor.report(exc)  # also on on_error: a REST failure is the connector's asynchronous failure
                return filled, f"{type(exc).__name__}: {exc.message}"
            except Exception as exc:  # noqa: BLE001 - never let a backfill kill the worker silently
                _log.error("backfill of %s failed (%s)", self.stream, type(exc).__name__, exc_info=exc,
                           extra={"stream": self.stream})
                err = InternalError(f"backfill of {self.stream}: {type(exc).__name__}",
                                    details={"component": "gap backfill", "stream": self.stream})
                err.__cause__ = exc
                monitor.report(err)
                return filled, f"{type(exc).__name__}: {exc}"
            if not events:
                return filled, f"REST history has no {self.kind} at {expected}"
            for ev in events:
                key = self._key(ev)
                if key != expected:
                    return filled, f"REST history has no {self.kind} at {expected} (next is {key})"
                try:
                    self.callback(ev)
                except Exception as exc:  # noqa: BLE001 - the user's callback: reported, delivery goes on
                    monitor.callback_failed(self.sub, exc)
                filled += 1
                expected = int(self.tracker.next_after(key)) if self.kind == "kline" else key + 1
        return filled, None

    def _key(self, event: Any) -> int:
        kind = self.kind
        if kind == "trade":
            return int(event.trade_id)
        if kind == "agg_trade":
            return int(event.agg_trade_id)
        return int(event.open_time)

    def _page(self, first: int, last: int, timeout: float) -> List[Any]:
        """One REST page from ``first``, trimmed to ``first..last`` and converted."""
        get = self.monitor.get
        ex, sym, limit = self.monitor.exchange, self.symbol, history.PAGE_LIMIT
        t = min(timeout, PAGE_TIMEOUT)
        if self.kind == "trade":
            rows = get("/api/v3/historicalTrades", {"symbol": sym, "fromId": first,
                                                    "limit": min(limit, last - first + 1)}, t)
            kept = history.trim(rows, lambda r: int(r["id"]), first, last)
            return [history.trade_from_rest(ex, sym, r) for r in kept]
        if self.kind == "agg_trade":
            rows = get("/api/v3/aggTrades", {"symbol": sym, "fromId": first, "limit": min(limit, last - first + 1)}, t)
            kept = history.trim(rows, lambda r: int(r["a"]), first, last)
            return [history.agg_trade_from_rest(ex, sym, r) for r in kept]
        params: Dict[str, Any] = {"symbol": sym, "interval": self.interval, "startTime": first, "endTime": last,
                                  "limit": limit}
        if self.timezone is not None:  # the docs' forms: "05:45", "-1:00" (a "+" would need escaping)
            params["timeZone"] = self.timezone.lstrip("+")
        rows = get("/api/v3/klines", params, t)
        kept = history.trim(rows, lambda r: int(r[0]), first, last)
        return [history.kline_from_rest(ex, sym, self.interval, self.timezone, r) for r in kept]


_SEED_FIELDS = {"trade": "trade_id", "agg_trade": "agg_trade_id", "kline": "open_time", "depth": "final_update_id"}


def _seed_value(kind: str, last: Any) -> Optional[int]:
    """The sequence value of ``last`` for a tracker of ``kind``, or None (not such an event)."""
    value = getattr(last, _SEED_FIELDS[kind], None)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if kind == "kline" and not isinstance(getattr(last, "is_closed", None), bool):
        return None
    return value
