"""The events a :class:`~binance_conn.Hub` publishes, in any process (README "One hub, many consumers").

::

    feed = bc.RedisFeed("redis://127.0.0.1:6379/0", name="strategy-1")
    feed.on_trade("BTCUSDT", on_trade)       # the Connector's subscription API, the same events
    feed.on_gap(on_gap); feed.on_connection(on_state)
    feed.start()
    ...
    feed.stop()                               # a named feed remembers where it stopped

Theory of operation.  One reader thread (``_redis/reader.py``) follows the hub's Redis stream of
each subscribed topic and publishes every decoded event into the same
:class:`~binance_conn._io.dispatch.Dispatcher` the Connector uses: one bounded queue and worker
thread per subscriber, callbacks never run on the reader.  The feed's default overflow policy is
``BLOCK``: a slow subscriber makes the reader wait while Redis keeps the backlog (up to the hub's
``maxlen``), rather than dropping events.

Resume.  Each subscriber's wrapper records the stream id of the last event its callback returned
from.  A feed with a ``name`` writes, per topic, the oldest of its subscribers' marks into
``<prefix>:__feed__:<name>`` every ``checkpoint_interval`` seconds and at ``stop()``; a new
``RedisFeed`` with that name starts each topic right after it.  So after ``stop()`` a restarted
consumer gets every event exactly once; after a crash, the events of the last checkpoint interval
come again (at least once).  An unnamed feed starts at the newest event (and a stopped one resumes
where it stopped when started again in the same process).  The hub's control stream (its
ConnectionEvents, GapEvents and errors) resumes the same way: every control entry goes to every
:meth:`on_connection` / :meth:`on_gap` / :meth:`on_error` subscriber's queue (each callback gets its
kind), so their marks are one position, saved as the topic ``__control__``.

A topic the hub does not hold is added to ``<prefix>:__wanted__``; the hub subscribes it within its
``interval``.  A name the hub refuses comes back as a :class:`~binance_conn.ValidationError` on
:meth:`RedisFeed.on_error`.  The hub's ConnectionEvents, GapEvents and its connector's errors arrive
on :meth:`on_connection`, :meth:`on_gap` and :meth:`on_error`, with the feed's own: a ConnectionEvent
of session ``"redis"`` when Redis is lost or back, and a GapEvent (cause ``"redis"``, UNFILLED) when
entries were lost between hub and feed.
:attr:`RedisFeed.state` is the hub's state as last reported (DISCONNECTED when its heartbeat stops,
RECONNECTING while Redis is unreachable).

Fork.  After ``os.fork()`` a feed's copy in the child is STOPPED with no thread (subscriptions and
callbacks kept); ``start()`` there continues each topic after the last event delivered before the fork.
"""

from __future__ import annotations

import logging
import os
import queue as queue_mod
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

from ._core import streams as stream_names
from ._io.dispatch import Dispatcher, Subscription
from ._io.groups import SubscriptionGroup
from ._io.topics import CONNECTION_TOPIC, ERROR_TOPIC, GAP_TOPIC, next_gap_id
from ._market.books import book_topic, parse_book_topic
from ._market.gaps import tracked_kind
from ._redis.client import import_redis, make_client, safe_url
from ._redis.keys import HubKeys, parse_id
from ._redis.reader import Entry, StreamReader
from .enums import ConnectionState, GapState, OverflowPolicy
from .errors import BinanceError, InternalError, ValidationError
from .events import ConnectionEvent, GapEvent

__all__ = ["RedisFeed"]

_log = logging.getLogger("binance_conn.feed")
_monotonic = time.monotonic

Symbols = Union[str, Sequence[str]]
Callback = Callable[[Any], Any]
CONTROL = "__control__"
_INTERNAL = (CONNECTION_TOPIC, GAP_TOPIC, ERROR_TOPIC)
_CONTROL_KINDS: Dict[str, Any] = {CONNECTION_TOPIC: ConnectionEvent, GAP_TOPIC: GapEvent, ERROR_TOPIC: BinanceError}
_ALL: "weakref.WeakSet[RedisFeed]" = weakref.WeakSet()  # for the fork hook


class _Mark:
    """The last entry a subscriber's callback returned from (its worker thread writes it)."""

    __slots__ = ("sid", "n")

    def __init__(self, sid: Optional[str], n: str) -> None:
        self.sid = sid
        self.n = n


class RedisFeed:
    """A hub's events through Redis, with the Connector's subscription API (module doc).

    Args:
        redis_url: the hub's Redis (a password in it never appears in logs).
        name: remember positions under this name (resume after a restart); None: start at the newest.
        prefix: the hub's key prefix.
        buffer, overflow: per-subscriber defaults (``overflow="BLOCK"``: a slow subscriber holds the
            reader back, nothing is dropped while Redis keeps the events).
        exchange: the ``exchange`` of the feed's own ConnectionEvents and GapEvents.
        checkpoint_interval: seconds between position writes of a named feed.
        stale_after: seconds without a hub heartbeat before :attr:`state` says DISCONNECTED.

    Every method may be called from any thread.
    """

    def __init__(self, redis_url: str, *, name: Optional[str] = None, prefix: str = "binance_conn",
                 buffer: int = 10_000, overflow: Union[OverflowPolicy, str] = OverflowPolicy.BLOCK,
                 exchange: str = "binance", checkpoint_interval: float = 0.2, stale_after: float = 5.0) -> None:
        if not isinstance(redis_url, str) or not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValidationError("redis_url", safe_url(str(redis_url)), "must be a redis://, rediss:// or unix:// URL")
        if name is not None and (not isinstance(name, str) or not name or any(c.isspace() for c in name)):
            raise ValidationError("name", name, "must be None or a non-empty string without spaces")
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ValidationError("prefix", prefix, "must be a non-empty string without spaces")
        for field, value in (("checkpoint_interval", checkpoint_interval), ("stale_after", stale_after)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.01 <= value <= 3600:
                raise ValidationError(field, value, "must be seconds in 0.01..3600")
        import_redis()  # ImportError naming the extra now, not a failing thread later
        self._url = redis_url
        self.name = name
        self.keys = HubKeys(prefix)
        self.exchange = exchange
        self._stale_after = float(stale_after)
        self._lock = threading.Lock()
        self._marks: Dict[str, Dict[int, Tuple[Subscription, _Mark]]] = {}  # topic -> subscriber id -> mark
        self._unmarked: Set[str] = set()  # topics with a subscriber that has no start mark yet
        self._saved: Dict[str, Tuple[str, str]] = {}  # topic -> (sid, n) last checkpoint (or loaded)
        self._loaded = False
        self._refused_reported: Dict[str, str] = {}
        self._running = False
        self._stop = threading.Event()
        self._hub: Dict[str, str] = {}
        self._hub_seen = 0.0  # monotonic time the hub's heartbeat last changed
        self._hub_silent = False  # a hub-session DISCONNECTED was published for a silent heartbeat
        self._no_hub_since: Optional[float] = None  # no hub key under the prefix since (monotonic)
        self._dispatcher = Dispatcher(on_error=self._on_callback_error, on_topics_changed=self._on_topics_changed,
                                      buffer=buffer, overflow=overflow, error_topic=ERROR_TOPIC,
                                      name="binance_conn-feed", exchange=exchange)
        self._reader = StreamReader(redis_url, self.keys, name=f"binance_conn-feed{'-' + name if name else ''}",
                                    deliver=self._deliver, start_of=self._start_of, positioned=self._positioned,
                                    on_link=self._on_link,
                                    on_lost=self._on_lost, on_bad=self._on_bad, on_crash=self._on_crash,
                                    tick=self._tick, interval=float(checkpoint_interval), stop=self._stop)
        self._reader.want(CONTROL)
        _ALL.add(self)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> ConnectionState:
        """The hub's connection state as last reported; STOPPED only when this feed is stopped;
        RECONNECTING while Redis is unreachable, DISCONNECTED when the hub was stopped or its heartbeat
        stopped (``stale_after``). Never blocks."""
        if not self._running:
            return ConnectionState.STOPPED
        if not self._reader.link_up:
            return ConnectionState.RECONNECTING if self._reader.outages else ConnectionState.CONNECTING
        try:
            hub_state = ConnectionState(self._hub.get("state", "DISCONNECTED"))
        except ValueError:
            hub_state = ConnectionState.DISCONNECTED
        if hub_state is ConnectionState.STOPPED:
            return ConnectionState.DISCONNECTED  # the hub was stopped; this feed still runs and waits for one
        if _monotonic() - self._hub_seen > self._stale_after:
            return ConnectionState.DISCONNECTED  # the hub's heartbeat stopped (it died, or never ran)
        return hub_state

    def is_connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    def stats(self) -> Dict[str, Any]:
        """Subscribers' counters, positions, the hub's last report, Redis outages."""
        with self._lock:
            marks = {t: [m.sid for _, m in ms.values()] for t, ms in self._marks.items()}
        return {"state": self.state.value, "hub": dict(self._hub), "positions": marks,
                "redis_outages": self._reader.outages, "subscribers": self._dispatcher.stats()}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "RedisFeed":
        """Start reading in the background; returns at once (never raises for Redis trouble). Idempotent."""
        with self._lock:
            if self._running:
                return self
            self._running = True
            self._stop.clear()
        self._dispatcher.start()
        self._reader.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop reading, deliver what is queued until the deadline, save the positions (named feed).
        True when every thread ended in time. Never raises; idempotent; any thread."""
        deadline = _monotonic() + max(0.0, timeout)
        try:
            with self._lock:
                if not self._running:
                    return True
                self._running = False
                self._stop.set()
            ok = self._reader.join(deadline)
            ok = self._dispatcher.stop(deadline) and ok
            if self.name is not None:
                self._checkpoint(None, timeout=min(1.0, max(0.05, deadline - _monotonic())))
            return ok
        except Exception:  # pragma: no cover - stop() never raises
            _log.exception("error during feed stop")
            return False

    def __enter__(self) -> "RedisFeed":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RedisFeed(redis={safe_url(self._url)!r}, name={self.name!r}, state={self.state.value})"

    # ------------------------------------------------------------------ subscriptions (the Connector's shape)
    def on_connection(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """The hub's :class:`~binance_conn.ConnectionEvent`s, and the feed's own (session ``"redis"``)."""
        return self._subscribe(CONNECTION_TOPIC, callback, options)

    on_connection_event = on_connection

    def on_gap(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """The hub's :class:`~binance_conn.GapEvent`s, and the feed's own (cause ``"redis"``)."""
        return self._subscribe(GAP_TOPIC, callback, options)

    def on_error(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """The feed's asynchronous failures (callback errors, undecodable entries, refused topics) and the hub
        connector's (a :class:`~binance_conn.BinanceError` of the same class, ``details["origin"] == "hub"``)."""
        return self._subscribe(ERROR_TOPIC, callback, options)

    def on_trade(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        return self._streams(symbol, stream_names.trade, callback, options)

    def on_agg_trade(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        return self._streams(symbol, stream_names.agg_trade, callback, options)

    def on_book_ticker(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        return self._streams(symbol, stream_names.book_ticker, callback, options)

    def on_ticker(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        return self._streams(symbol, stream_names.ticker, callback, options)

    def on_mini_ticker(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        return self._streams(symbol, stream_names.mini_ticker, callback, options)

    def on_depth(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        return self._streams(symbol, stream_names.depth, callback, options)

    def on_kline(self, symbol: Symbols, interval: str, callback: Optional[Callback] = None,
                 timezone: Optional[str] = None, **options: Any) -> Any:
        stream_names.validate_interval(interval)
        stream_names.validate_timezone(timezone)
        return self._streams(symbol, lambda s: stream_names.kline(s, interval, timezone), callback, options)

    def on_book(self, symbol: Symbols, callback: Optional[Callback] = None, depth: Optional[int] = 20,
                **options: Any) -> Any:
        """The hub's order book of ``symbol`` (:class:`~binance_conn.OrderBook`) cut to ``depth``."""
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5000):
            raise ValidationError("depth", depth, "must be an int in 1..5000 or None (every level)")

        def topic(s: str) -> str:
            stream_names.depth(s)  # validates the symbol
            return book_topic(s, depth)

        return self._streams(symbol, topic, callback, options)

    def on_stream(self, stream: str, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Any stream by its Binance name, spot or futures (``"btcusdt@markPrice"``): the hub subscribes it if
        it does not hold it yet; a name its connector refuses comes back on :meth:`on_error`."""
        if not isinstance(stream, str) or not stream or stream.startswith("__") or any(c.isspace() for c in stream):
            raise ValidationError("stream", stream, "must be a Binance stream name such as 'btcusdt@trade'")
        return self._subscribe(stream, callback, options)

    def subscribe(self, stream: str, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Same as :meth:`on_stream`."""
        return self.on_stream(stream, callback, **options)

    def unsubscribe(self, sub: Subscription) -> bool:
        """Remove a subscription (same as calling it: ``sub()``); idempotent."""
        return self._dispatcher.unsubscribe(sub)

    def _streams(self, symbol: Symbols, name: Callable[[str], str], callback: Optional[Callback],
                 options: Dict[str, Any]) -> Any:
        if isinstance(symbol, str):
            return self._subscribe(name(symbol), callback, options)
        if not isinstance(symbol, (list, tuple)) or not symbol:
            raise ValidationError("symbol", symbol, "must be a symbol string or a non-empty list of them")
        topics = [name(s) for s in symbol]
        return SubscriptionGroup([self._subscribe(t, callback, options) for t in topics])

    def _subscribe(self, topic: str, callback: Optional[Callback], options: Dict[str, Any]) -> Subscription:
        unknown = set(options) - {"buffer", "overflow", "queue", "backfill"}
        if unknown:
            raise ValidationError("options", sorted(unknown), "unknown keyword(s); use buffer=, overflow=, queue=")
        # backfill= is accepted for the Connector's signature and has nothing to do here: the hub
        # holds trade, aggTrade and kline streams with backfill on, so the feed's copy has no holes.
        q = options.get("queue")
        if q is not None:
            if callback is not None:
                raise ValidationError("queue", q, "give either a callback or queue=, not both")
            if not isinstance(q, queue_mod.Queue):
                raise ValidationError("queue", q, "must be a queue.Queue")
            callback = q.put
        if callback is None:
            return Subscription(topic)
        if not callable(callback):
            raise ValidationError("callback", callback, "must be callable")
        user = callback
        mark = _Mark(None, "")
        if topic in _INTERNAL:  # every hub control entry comes here; this subscriber's kind reaches `user`
            kind = _CONTROL_KINDS[topic]

            def plain(entry: Entry) -> None:
                event = entry.event
                if isinstance(event, kind):
                    user(event)
                if entry.sid:  # a hub control entry (the feed's own events have none)
                    mark.sid = entry.sid
                    mark.n = entry.n

            sub = self._dispatcher.subscribe(topic, plain, buffer=options.get("buffer"),
                                             overflow=options.get("overflow"))
            with self._lock:
                self._marks.setdefault(CONTROL, {})[sub.id] = (sub, mark)
                self._unmarked.add(CONTROL)
            return sub

        def run(entry: Entry) -> None:  # the subscriber's worker (hot path)
            user(entry.event)
            mark.sid = entry.sid
            mark.n = entry.n

        sub = self._dispatcher.subscribe(topic, run, buffer=options.get("buffer"), overflow=options.get("overflow"))
        with self._lock:
            self._marks.setdefault(topic, {})[sub.id] = (sub, mark)
            self._unmarked.add(topic)
        return sub

    # ------------------------------------------------------------------ reader hooks (reader thread)
    def _on_topics_changed(self, topic: str, added: bool) -> None:
        if topic in _INTERNAL:
            return  # the control stream is always read
        if added:
            self._reader.want(topic)
        else:
            self._reader.unwant(topic)
            with self._lock:
                self._marks.pop(topic, None)

    def _start_of(self, topic: str) -> Optional[Tuple[str, str]]:
        """Where ``topic`` starts: the oldest mark of its subscribers, else the saved position."""
        with self._lock:
            oldest = self._oldest(topic)
            return oldest if oldest is not None else self._saved.get(topic)

    def _oldest(self, topic: str) -> Optional[Tuple[str, str]]:
        """Lock held: the oldest mark of ``topic``'s active subscribers, or None (none has one)."""
        marks = [m for sub, m in self._marks.get(topic, {}).values() if sub.active and m.sid is not None]
        if not marks:
            return None
        oldest = min(marks, key=lambda m: parse_id(m.sid))
        return oldest.sid or "0-0", oldest.n

    def _positioned(self, topic: str, sid: str, n: str) -> None:
        """The reader starts ``topic`` after ``sid``: subscribers without a mark start there too."""
        with self._lock:
            for _, m in self._marks.get(topic, {}).values():
                if m.sid is None:
                    m.sid, m.n = sid, n
            self._unmarked.discard(topic)

    def _deliver(self, topic: str, entry: Entry) -> None:
        if topic in self._unmarked:  # rare: a subscriber joined; the lock only then (subscribe() runs beside us)
            with self._lock:
                for _, m in self._marks.get(topic, {}).values():
                    if m.sid is None:  # subscribed after the topic was positioned: starts right before this event
                        m.sid = _before(entry.sid)
                self._unmarked.discard(topic)
        if topic == CONTROL:  # to every control subscriber: each one's mark passes entries not of its kind
            publish, stop = self._dispatcher.publish, self._stop
            for internal in _INTERNAL:
                publish(internal, entry, stop)
            return
        self._dispatcher.publish(topic, entry, self._stop)

    def _tick(self, client: Any) -> None:
        if not self._loaded:
            self._load(client)
        hub = {_text(k): _text(v) for k, v in client.hgetall(self.keys.hub).items()}
        now = _monotonic()
        if hub.get("heartbeat") != self._hub.get("heartbeat"):
            self._hub_seen = now
        self._hub = hub
        self._watch_heartbeat(hub, now)
        self._check_hub_exists(bool(hub))
        with self._lock:
            topics = [t for t in self._marks if t != CONTROL]
        if topics:
            client.sadd(self.keys.wanted, *topics)
            refused = {_text(k): _text(v) for k, v in client.hgetall(self.keys.refused).items()}
            for topic in topics:
                reason = refused.get(topic)
                if reason is not None and self._refused_reported.get(topic) != reason:
                    self._refused_reported[topic] = reason
                    self._report(ValidationError("stream", topic, f"the hub cannot hold it: {reason}"))
        if self.name is not None:
            self._checkpoint(client)

    def _watch_heartbeat(self, hub: Dict[str, str], now: float) -> None:
        """A hub that dies publishes nothing: its silence is a ConnectionEvent (session ``hub``) of its own,
        DISCONNECTED after ``stale_after`` s without a heartbeat, CONNECTED when the heartbeat comes back."""
        if not hub or hub.get("state") == ConnectionState.STOPPED.value:
            return  # no hub yet (a WARNING says so), or stopped cleanly (its own events said so)
        stale = now - self._hub_seen > self._stale_after
        if stale == self._hub_silent:
            return
        self._hub_silent = stale
        if stale:
            reason = f"no hub heartbeat for {now - self._hub_seen:.1f} s (hub process gone or stuck?)"
            _log.warning("feed: %s", reason, extra={"prefix": self.keys.prefix})
            state = ConnectionState.DISCONNECTED
        else:
            reason = "hub heartbeat back"
            _log.info("feed: %s", reason, extra={"prefix": self.keys.prefix})
            state = ConnectionState.CONNECTED
        event = ConnectionEvent(self.exchange, "hub", state, reason, int(time.time() * 1000))
        self._dispatcher.publish(CONNECTION_TOPIC, Entry("", "", event), self._stop)

    def _check_hub_exists(self, exists: bool) -> None:
        """A WARNING (once per absence) when no hub ever wrote under this prefix: a wrong ``prefix``
        or Redis database would otherwise leave the feed quietly DISCONNECTED."""
        if exists:
            if self._no_hub_since is not None and self._no_hub_since < 0:
                _log.info("a hub appeared under prefix %r", self.keys.prefix)
            self._no_hub_since = None
            return
        now = _monotonic()
        if self._no_hub_since is None:
            self._no_hub_since = now
        elif 0 <= self._no_hub_since and now - self._no_hub_since > self._stale_after:
            self._no_hub_since = -1.0  # warned
            _log.warning("no hub has ever published under prefix %r in this Redis: is a hub running "
                         "(python -m binance_conn.hub --prefix %s) against the same Redis URL and database?",
                         self.keys.prefix, self.keys.prefix, extra={"prefix": self.keys.prefix})

    def _load(self, client: Any) -> None:
        if self.name is not None:
            saved = client.hgetall(self.keys.feed(self.name))
            with self._lock:
                for k, v in saved.items():
                    sid, _, n = _text(v).partition(" ")
                    self._saved.setdefault(_text(k), (sid, n))
        self._loaded = True

    def _checkpoint(self, client: Any, timeout: float = 1.0) -> None:
        """Write each topic's oldest subscriber mark (named feeds); ``client`` None: a fresh one (stop)."""
        if self.name is None:
            return
        with self._lock:
            current = {}
            for topic in self._marks:
                oldest = self._oldest(topic)
                if oldest is not None:
                    current[topic] = oldest
            changed = {t: f"{sid} {n}" for t, (sid, n) in current.items() if self._saved.get(t) != (sid, n)}
        if not changed:
            return
        if client is None:
            try:
                fresh = make_client(self._url, timeout=timeout, name="binance_conn-feed")
                try:
                    fresh.hset(self.keys.feed(self.name), mapping=changed)
                finally:
                    fresh.close()
            except Exception as exc:  # noqa: BLE001 - Redis down at stop: the positions stay in memory
                _log.warning("feed %s could not save its positions (%s)", self.name, type(exc).__name__)
                return
        else:
            client.hset(self.keys.feed(self.name), mapping=changed)
        with self._lock:
            for topic in changed:
                self._saved[topic] = current[topic]

    def _on_link(self, up: bool, reason: str) -> None:
        if up:  # no heartbeat could be seen while Redis was away: the hub gets stale_after to write again
            self._hub_seen = _monotonic()
        state = ConnectionState.CONNECTED if up else ConnectionState.RECONNECTING
        event = ConnectionEvent(self.exchange, "redis", state, reason, int(time.time() * 1000))
        self._dispatcher.publish(CONNECTION_TOPIC, Entry("", "", event), self._stop)

    def _on_lost(self, topic: str, count: int) -> None:
        _log.warning("feed: %d events of %s lost between hub and feed (Redis trimmed or lost them)", count, topic,
                     extra={"topic": topic, "lost": count})
        symbol, kind = _symbol_kind(topic)
        event = GapEvent(self.exchange, topic, symbol, kind, next_gap_id(), None, None, "redis", GapState.UNFILLED,
                         int(time.time() * 1000), 0, f"{count} events lost between hub and feed")
        self._dispatcher.publish(GAP_TOPIC, Entry("", "", event), self._stop)

    def _on_bad(self, topic: str, sid: str, exc: Exception) -> None:
        _log.warning("feed: undecodable entry %s in %s: %s", sid, topic, exc, extra={"topic": topic, "id": sid})
        self._report(BinanceError(f"undecodable entry {sid} in {topic}: {exc}", code="feed_decode"))

    def _on_crash(self, exc: BaseException) -> None:
        err = InternalError(f"feed reader: {type(exc).__name__}", details={"component": "feed reader"})
        err.__cause__ = exc
        self._report(err)

    def _report(self, err: BinanceError) -> None:
        self._dispatcher.publish(ERROR_TOPIC, Entry("", "", err))

    def _on_callback_error(self, err: BinanceError) -> None:
        self._report(err)

    def threads(self) -> List[threading.Thread]:
        return self._reader.threads()

    def _after_fork_in_child(self) -> None:
        """In a forked child (``os.register_at_fork``): STOPPED and restartable, as after ``stop()``.

        The parent's reader and subscriber workers do not exist here and may have held our locks:
        fresh locks and stop event, the dispatcher re-armed (every subscription and callback kept,
        the parent's queued events dropped). ``start()`` continues each topic after the last event
        this process's callbacks finished (e.g. a gunicorn ``--preload`` master's feed, started in
        each worker's ``post_fork``)."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = False
        self._dispatcher.after_fork_in_child()
        self._reader.after_fork_in_child(self._stop)


def _before(sid: str) -> str:
    ms, seq = parse_id(sid)
    return f"{ms}-{seq - 1}" if seq else f"{ms - 1}-{2**63 - 1}" if ms else "0-0"


def _symbol_kind(topic: str) -> Tuple[str, str]:
    if topic.startswith("__book__"):
        return parse_book_topic(topic)[0], "book"
    info = stream_names.try_parse(topic)
    return (info.symbol if info else ""), tracked_kind(topic) or "feed"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _after_fork_in_child() -> None:
    for feed in list(_ALL):
        try:
            feed._after_fork_in_child()
        except Exception:  # pragma: no cover - a fork hook must not raise
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
