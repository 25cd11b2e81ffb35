"""Local order books: one per symbol, kept by a book worker and fed by paced REST snapshots.

Theory of operation.  ``conn.on_book(symbol, cb, depth=N)`` subscribes ``cb`` to the
dispatcher topic ``__book__<SYMBOL>@<N>``; the first such topic of a symbol makes this
manager subscribe its own *queue* subscriber to ``<symbol>@depth@100ms`` (so the stream is
carried like any other and shared with ``on_depth`` users).  Threads (all under
:func:`~binance_conn._io.guard.run_guarded`, joined by ``stop()``):

* the stream readers only ``put`` diffs into one shared inbox (never a REST call, never a
  lock held long): a full inbox drops its oldest diff (counted), which the continuity check
  then turns into a resync -- the reader is never blocked by books;
* one **book worker** owns every :class:`~binance_conn._core.book.BookSync`: it applies
  diffs and snapshots, publishes a view (:class:`~binance_conn.OrderBook`) per subscribed
  depth after each applied update and each state change, publishes depth
  :class:`~binance_conn.GapEvent`s, and queues snapshot requests;
* ``fetchers`` **snapshot threads** take requests (books still syncing first, refreshes and
  audits after), wait until the snapshot's weight fits in ``weight_share`` of the REST
  limiter's 1-minute budget (the limiter's own estimate: every caller's spending counts),
  call ``depth(symbol, limit)`` and hand the answer to the worker.  A client-side
  ``RateLimitError`` (or a 429) puts the request back and waits its ``retry_after``: 500
  symbols, or a resync storm after a reconnect, start as fast as the budget allows and
  never past it.

A crash of the worker is logged, reported as ``InternalError``, every book goes
OUT_OF_SYNC and resyncs.  :meth:`BookManager.streams_lost` (a reader thread, when a link
carrying depth streams went down: reconnect, zombie) marks those books OUT_OF_SYNC at once,
so :meth:`BookManager.book` never serves a stale book as SYNCED.
"""

from __future__ import annotations

import collections
import logging
import queue as queue_mod
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Protocol, Tuple

from .._core import streams as stream_names
from .._core.book import (
    APPLIED,
    CHANGED,
    BookSync,
    depth_rule,
    futures_snapshot_limit,
    snapshot_limit_for,
    snapshot_weight,
)
from .._core.params import decimalize_depth
from .._io.dispatch import Dispatcher, Subscription
from .._io.guard import ThreadGuard, run_guarded
from .._io.topics import ERROR_TOPIC, GAP_TOPIC, next_gap_id
from ..config import PRODUCTS
from ..enums import BookState, GapState
from ..errors import BinanceError, RateLimitError
from ..events import DepthUpdate, GapEvent, OrderBook

__all__ = ["BOOK_PREFIX", "BookManager", "SnapshotSource", "RestSnapshots", "book_topic", "parse_book_topic",
           "snapshot_delay"]

_log = logging.getLogger("binance_conn.books")
_monotonic = time.monotonic
BOOK_PREFIX = "__book__"
_INBOX_SIZE = 100_000
_IDLE = 0.1  # seconds the worker sleeps when nothing arrives (timers: audits)
_RETRY = 1.0  # seconds before a failed snapshot is asked again


def book_topic(symbol: str, depth: Optional[int]) -> str:
    """The dispatcher topic of ``symbol``'s book views cut to ``depth`` (None: every level)."""
    return f"{BOOK_PREFIX}{symbol.upper()}@{'all' if depth is None else depth}"


def parse_book_topic(topic: str) -> Tuple[str, Optional[int]]:
    symbol, _, depth = topic[len(BOOK_PREFIX):].rpartition("@")
    return symbol, None if depth == "all" else int(depth)


def snapshot_delay(used: int, limit: int, weight: int, share: float, reset_in: float) -> float:
    """Seconds to wait before a snapshot of ``weight`` may start (0: now): the current weight
    window (``reset_in`` seconds left) must keep ``used + weight <= share * limit``."""
    cap = share * limit if weight <= share * limit else limit  # a snapshot bigger than the share may use it all
    return 0.0 if used + weight <= cap else max(0.0, reset_in) + 0.05


class SnapshotSource(Protocol):
    """What the manager needs from REST (the connector passes :class:`RestSnapshots`)."""

    def depth(self, symbol: str, limit: int) -> Mapping[str, Any]: ...

    def weight_room(self) -> Tuple[int, int, float]:
        """``(used, limit, seconds until it resets)`` of the 1-minute request-weight window."""
        ...


class RestSnapshots:
    """:class:`SnapshotSource` over a REST client (``get_rest()``: the connector's current one)."""

    def __init__(self, get_rest: Callable[[], Any], product: Optional[Callable[[], str]] = None) -> None:
        self._get_rest = get_rest
        self._product = product

    def depth(self, symbol: str, limit: int) -> Mapping[str, Any]:
        product = self._product() if self._product is not None else "spot"
        if product == "spot":
            return self._get_rest().depth(symbol, limit=limit)  # type: ignore[no-any-return]
        # futures (binance-futures-reference.md section 6): GET /fapi/v1/depth, COIN-M /dapi/v1/depth
        path = "/fapi/v1/depth" if product == "usdm" else "/dapi/v1/depth"
        answer = self._get_rest().request("GET", path, {"symbol": symbol.upper(), "limit": limit})
        return decimalize_depth(answer)  # type: ignore[no-any-return]

    def weight_room(self) -> Tuple[int, int, float]:
        rest = self._get_rest()
        used = int(rest.used_weight.get("1M", 0))
        limits = rest.weight_limits  # the REST limiter's own budget: no second counter
        # windows are aligned on whole minutes of the server's clock (rest-api.md, "LIMITS")
        return used, int(limits.get("1M", 6000)), 60.0 - (time.time() + rest.clock_offset_ms / 1000.0) % 60.0


class _Book:
    """One symbol's book: its sync machine, subscribed depths and counters (worker-owned)."""

    def __init__(self, symbol: str, stream: str, sync: BookSync) -> None:
        self.symbol = symbol
        self.stream = stream
        self.sync = sync
        self.lock = threading.Lock()  # worker mutations vs book() readers
        self.depths: Dict[Optional[int], str] = {}  # depth -> topic
        self.feed: Optional[Subscription] = None
        self.announced = False
        self.lost = False  # a link carrying the stream went down: OUT_OF_SYNC until the worker resets
        self.in_flight = False
        self.gap_id: Optional[int] = None
        self.next_audit = 0.0
        self.retry_at = 0.0
        self.resyncs = 0
        self.snapshots = 0
        self.snapshot_errors = 0
        self.weight = 0
        self.limit = 100

    def view(self, exchange: str, depth: Optional[int]) -> OrderBook:
        sync = self.sync
        state = BookState.OUT_OF_SYNC if self.lost else sync.state
        bids, asks = sync.view(depth) if state is BookState.SYNCED else ((), ())
        return OrderBook(exchange, self.symbol, state, sync.last_update_id, sync.event_time, bids, asks)


class BookManager:
    """Every local book of one connector.  Any method, any thread, unless noted."""

    def __init__(self, exchange: Callable[[], str], dispatcher: Dispatcher, source: SnapshotSource,
                 config: Callable[[], Any], product: Optional[Callable[[], str]] = None) -> None:
        self._exchange = exchange
        # spot / usdm / coinm: the sync rule (futures: pu), snapshot limits and weights
        self._product = product if product is not None else (lambda: PRODUCTS.get(self._exchange(), "spot"))
        self._dispatcher = dispatcher
        self._source = source
        self._config = config  # -> OrderBookConfig (the connector's current one)
        self._lock = threading.Lock()
        self._books: Dict[str, _Book] = {}
        self._inbox: "queue_mod.Queue[Any]" = queue_mod.Queue()
        self._control: Deque[Tuple[str, str, Any]] = collections.deque()
        self._fetch_cond = threading.Condition()
        self._fetch_urgent: Deque[str] = collections.deque()
        self._fetch_later: Deque[str] = collections.deque()
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._guard = ThreadGuard(_log, exchange(), self._report)
        self.weight_used = 0
        self.rate_limited = 0
        self.audits = 0

    # ------------------------------------------------------------------ subscriptions
    def topic_changed(self, topic: str, added: bool) -> None:
        """A book topic got its first subscriber or lost its last (the subscribing thread)."""
        symbol, depth = parse_book_topic(topic)
        drop: Optional[Subscription] = None
        with self._lock:
            book = self._books.get(symbol)
            if added:
                if book is None:
                    cfg = self._config()
                    book = self._books[symbol] = _Book(symbol, stream_names.depth(symbol),
                                                      BookSync(depth_rule(self._product()), max_buffer=cfg.max_buffer,
                                                               audit_depth=cfg.audit_depth))
                    book.feed = self._dispatcher.subscribe(book.stream, queue=self._inbox, buffer=_INBOX_SIZE)
                book.depths[depth] = topic
                self._resize(book)
            elif book is not None:
                book.depths.pop(depth, None)
                if not book.depths:
                    del self._books[symbol]
                    drop = book.feed
                else:
                    self._resize(book)
        if drop is not None:
            drop()

    def _resize(self, book: _Book) -> None:
        cfg = self._config()
        finite = [d for d in book.depths if d is not None]
        deepest = max(finite, default=0)
        wanted = 500 if None in book.depths else deepest
        futures = self._product() != "spot"
        book.limit = cfg.snapshot_limit or snapshot_limit_for(max(wanted, 1), futures)
        if futures:
            book.limit = futures_snapshot_limit(book.limit)
        # refresh while a truncated side still holds the deepest view plus a quarter of the spare levels
        spare = max(0, book.limit - deepest)
        book.sync.refresh_below = deepest + spare // 4 if deepest and None not in book.depths else 0

    def book(self, symbol: str, depth: Optional[int] = None) -> Optional[OrderBook]:
        """The latest view of ``symbol``'s book cut to ``depth`` (None: every level), or None
        when no book of that symbol is subscribed.  Never a stale SYNCED book."""
        book = self._books.get(symbol.upper())
        if book is None:
            return None
        with book.lock:
            return book.view(self._exchange(), depth)

    def streams_lost(self, streams: List[str], reason: str) -> None:
        """A link carrying ``streams`` went down (reader thread): those books are OUT_OF_SYNC now."""
        wake = False
        for stream in streams:
            if "@depth" not in stream:
                continue
            book = self._books.get(stream.split("@", 1)[0].upper())
            if book is not None and book.stream == stream:
                with book.lock:
                    book.lost = True
                self._control.append(("lost", book.symbol, reason))
                wake = True
        if wake:
            self._inbox.put(None)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if any(t.is_alive() for t in self._threads):
            return
        self._stop.clear()
        with self._lock:
            books = list(self._books.values())
        for book in books:  # after a stop: every book resyncs
            book.in_flight = False
            if book.lost:
                self._control.append(("lost", book.symbol, "restarted"))
        with self._fetch_cond:
            self._fetch_urgent.clear()
            self._fetch_later.clear()
        n = int(self._config().fetchers)
        self._threads = [threading.Thread(target=self._run_worker, name="binance_conn-books", daemon=True)]
        self._threads += [threading.Thread(target=self._run_fetcher, name=f"binance_conn-book-snapshots-{i}",
                                           daemon=True) for i in range(n)]
        for t in self._threads:
            t.start()

    def begin_stop(self) -> None:
        """Stop the threads; every book is OUT_OF_SYNC from now on (resynced after a new start)."""
        with self._lock:
            books = list(self._books.values())
        for book in books:
            with book.lock:
                book.lost = True
            self._control.append(("lost", book.symbol, "stopped"))
        self._stop.set()
        self._inbox.put(None)
        with self._fetch_cond:
            self._fetch_cond.notify_all()

    def threads(self) -> List[threading.Thread]:
        return list(self._threads)

    def after_fork_in_child(self) -> "BookManager":
        """A fresh manager for a forked child, with the same book topics (old feeds unsubscribed)."""
        fresh = BookManager(self._exchange, self._dispatcher, self._source, self._config, self._product)
        for book in list(self._books.values()):
            if book.feed is not None:
                book.feed()
        for topic in self._dispatcher.topics():
            if topic.startswith(BOOK_PREFIX):
                fresh.topic_changed(topic, True)
        return fresh

    # ------------------------------------------------------------------ stats
    def stats(self) -> Dict[str, Any]:
        with self._lock:
            books = list(self._books.values())
        per = {}
        for b in books:
            s = b.sync
            per[b.symbol] = {
                "state": (BookState.OUT_OF_SYNC if b.lost else s.state).value, "last_update_id": s.last_update_id,
                "levels": len(s.book) if s.book is not None else 0, "depths": sorted(
                    (d for d in b.depths if d is not None)), "snapshot_limit": b.limit, "resyncs": b.resyncs,
                "snapshots": b.snapshots, "snapshot_errors": b.snapshot_errors, "stale_snapshots": s.stale_snapshots,
                "refreshes": s.refreshes, "audits": s.audits, "audit_mismatches": s.audit_mismatches,
                "updates_applied": s.applied, "weight_used": b.weight,
                "dropped": b.feed.dropped if b.feed is not None else 0}
        return {"books": per, "weight_used": self.weight_used, "rate_limited": self.rate_limited,
                "snapshots": sum(b["snapshots"] for b in per.values()),
                "resyncs": sum(b["resyncs"] for b in per.values()),
                "audit_mismatches": sum(b["audit_mismatches"] for b in per.values()),
                "synced": sum(1 for b in per.values() if b["state"] == "SYNCED"),
                "internal_errors": self._guard.crashes, "pending_snapshots": len(self._fetch_urgent) + len(
                    self._fetch_later)}

    # ------------------------------------------------------------------ book worker
    def _report(self, err: BinanceError) -> None:
        self._dispatcher.publish(ERROR_TOPIC, err, self._stop)

    def _run_worker(self) -> None:
        run_guarded(self._work, guard=self._guard, component="order book worker", stop_event=self._stop,
                    recover=self._worker_crashed)

    def _worker_crashed(self, exc: BaseException) -> None:
        """Every book may be half-updated: OUT_OF_SYNC, resync."""
        with self._lock:
            books = list(self._books.values())
        for book in books:
            with book.lock:
                code = book.sync.reset(f"internal error: {type(exc).__name__}")
                book.in_flight = False
            if code is CHANGED:
                self._changed(book)

    def _work(self) -> None:
        inbox = self._inbox
        control = self._control
        books = self._books
        stop = self._stop
        next_timer = 0.0
        while not stop.is_set():
            try:
                item = inbox.get(timeout=_IDLE)
            except queue_mod.Empty:
                item = None
            while control:
                self._on_control(*control.popleft())
            if isinstance(item, DepthUpdate):
                book = books.get(item.symbol)
                if book is not None:
                    self._on_diff(book, item)
            now = _monotonic()
            if now >= next_timer:
                next_timer = now + _IDLE
                self._timers(now)
        while control:  # the stop's own marks (begin_stop), and links closed by the stop
            self._on_control(*control.popleft())

    def _on_diff(self, book: _Book, ev: DepthUpdate) -> None:
        if not book.announced:  # the first state (SYNCING) is news too
            book.announced = True
            self._publish(book)
        with book.lock:
            code = book.sync.on_diff(ev.first_update_id, ev.final_update_id, ev.bids, ev.asks, ev.event_time,
                                     getattr(ev, "previous_update_id", None))
        if code is APPLIED:
            self._publish(book)
        elif code is CHANGED:
            self._changed(book)
        self._maybe_request(book)

    def _on_control(self, kind: str, symbol: str, value: Any) -> None:
        book = self._books.get(symbol)
        if book is None:
            return
        if kind == "lost":
            if self._stop.is_set():
                self._stopped(book)
                return
            with book.lock:
                was = book.lost
                book.lost = False  # running: the worker resets it now (a stop took the branch above)
                code = book.sync.reset("zombie" if str(value).startswith("zombie") else "reconnect")
            if code is CHANGED:
                self._changed(book)
            elif was:
                self._publish(book)  # the OUT_OF_SYNC mark is lifted: show the real state
        elif kind == "snapshot":
            book.in_flight = False
            book.snapshots += 1
            with book.lock:
                code = book.sync.on_snapshot(int(value["lastUpdateId"]), value["bids"], value["asks"], book.limit)
            if code is APPLIED:
                self._publish(book)
            elif code is CHANGED:
                self._changed(book)
        elif kind == "failed":
            book.in_flight = False
            book.snapshot_errors += 1
            book.retry_at = _monotonic() + _RETRY
            with book.lock:
                code = book.sync.snapshot_failed()
            if code is CHANGED:
                self._changed(book)
            return
        self._maybe_request(book)

    def _stopped(self, book: _Book) -> None:
        """The connector is stopping: the book shows OUT_OF_SYNC until a new start, which resyncs it
        (and reports the hole).  A stop is no outage: no gap opens, no resync starts; a gap the book
        already had open ends UNFILLED, so every OPEN gets its end."""
        with book.lock:
            book.lost = True
        if book.gap_id is not None:
            self._gap(book, None, None, "stopped", GapState.UNFILLED,
                      "order book: the connector stopped before it resynchronised", gap_id=book.gap_id)
            book.gap_id = None
        self._publish(book)

    def _timers(self, now: float) -> None:
        interval = self._config().audit_interval
        with self._lock:
            books = list(self._books.values())
        for book in books:
            sync = book.sync
            if interval is not None and sync.state is BookState.SYNCED:
                if book.next_audit == 0.0:
                    book.next_audit = now + interval
                elif now >= book.next_audit:
                    book.next_audit = now + interval
                    with book.lock:
                        sync.request_audit()
            self._maybe_request(book, now)

    def _changed(self, book: _Book) -> None:
        """The state changed: publish it (and a gap); a broken book restarts syncing."""
        sync = book.sync
        if sync.state is BookState.OUT_OF_SYNC:
            book.resyncs += 1
            cause = sync.break_cause or "gap"
            self._publish(book)
            if book.gap_id is None:
                book.gap_id = next_gap_id()  # one id space with the stream gaps (_io/topics)
                first, last = sync.gap if sync.gap is not None else (None, None)
                kind = {"gap": "server_skip"}.get(cause, cause)
                if cause == "gap" and book.feed is not None and book.feed.dropped:
                    kind = "overflow"
                self._gap(book, first, last, kind, GapState.OPEN, f"order book {cause}")
            _log.warning("order book %s out of sync (%s); resyncing", book.symbol, cause,
                         extra={"symbol": book.symbol, "cause": cause})
            with book.lock:
                sync.restart()
            book.next_audit = 0.0
            self._maybe_request(book)
        elif sync.state is BookState.SYNCED and book.gap_id is not None:
            self._gap(book, None, None, "resync", GapState.UNFILLED,
                      f"book resynchronised from a snapshot (lastUpdateId {sync.last_update_id}): missed diffs "
                      "are not delivered", gap_id=book.gap_id)
            book.gap_id = None
        self._publish(book)

    def _gap(self, book: _Book, first: Optional[int], last: Optional[int], cause: str, state: GapState,
             reason: str, gap_id: Optional[int] = None) -> None:
        gid = gap_id if gap_id is not None else book.gap_id
        assert gid is not None
        ev = GapEvent(self._exchange(), book.stream, book.symbol, "depth", gid, first, last, cause, state,
                      int(time.time() * 1000), 0, reason)
        self._dispatcher.publish(GAP_TOPIC, ev, self._stop)

    def _publish(self, book: _Book) -> None:
        exchange = self._exchange()
        publish = self._dispatcher.publish
        for depth, topic in list(book.depths.items()):
            with book.lock:
                view = book.view(exchange, depth)
            publish(topic, view, self._stop)

    # ------------------------------------------------------------------ snapshots
    def _maybe_request(self, book: _Book, now: Optional[float] = None) -> None:
        if book.sync.wants_snapshot and not book.in_flight and (now or _monotonic()) >= book.retry_at:
            self._request(book)

    def _request(self, book: _Book) -> None:
        """Queue a snapshot fetch (worker thread)."""
        urgent = book.sync.state is BookState.SYNCING
        with book.lock:
            book.sync.snapshot_requested()
        book.in_flight = True
        with self._fetch_cond:
            (self._fetch_urgent if urgent else self._fetch_later).append(book.symbol)
            self._fetch_cond.notify()

    def _run_fetcher(self) -> None:
        run_guarded(self._fetch_loop, guard=self._guard, component="order book snapshots", stop_event=self._stop)

    def _fetch_loop(self) -> None:
        stop = self._stop
        while not stop.is_set():
            with self._fetch_cond:
                while not (self._fetch_urgent or self._fetch_later) and not stop.is_set():
                    self._fetch_cond.wait(1.0)
                if stop.is_set():
                    return
                symbol = (self._fetch_urgent or self._fetch_later).popleft()
            book = self._books.get(symbol)
            if book is None:
                continue
            try:
                self._fetch(book)
            except Exception:
                self._control.append(("failed", symbol, None))
                self._inbox.put(None)
                raise

    def _fetch(self, book: _Book) -> None:
        cfg = self._config()
        limit = book.limit
        weight = snapshot_weight(limit, self._product() != "spot")
        while True:
            try:
                used, cap, reset_in = self._source.weight_room()
                delay = snapshot_delay(used, cap, weight, float(cfg.weight_share), reset_in)
            except Exception as exc:  # noqa: BLE001 - no budget figures: go ahead, the limiter still guards
                _log.debug("weight figures unavailable: %s", exc)
                delay = 0.0
            if delay > 0:
                self.rate_limited += 1
                if self._stop.wait(delay):
                    return
                continue
            try:
                answer = self._source.depth(book.symbol, limit)
            except RateLimitError as exc:
                self.rate_limited += 1
                if self._stop.wait(max(0.2, float(exc.retry_after or 1.0))):
                    return
                continue
            except BinanceError as exc:
                _log.warning("order book %s: snapshot failed: %s", book.symbol, exc,
                             extra={"symbol": book.symbol, "code": exc.code})
                self._control.append(("failed", book.symbol, exc))
                self._inbox.put(None)
                return
            break
        self.weight_used += weight
        book.weight += weight
        self._control.append(("snapshot", book.symbol, answer))
        self._inbox.put(None)
