"""One process holds the Binance streams; many consume them through Redis (README "One hub, many consumers").

::

    hub = bc.Hub(cfg, "redis://127.0.0.1:6379/0", streams=["btcusdt@trade"], books=["BTCUSDT"])
    hub.start()          # or: python -m binance_conn.hub --stream btcusdt@trade --book BTCUSDT
    ...
    hub.stop()

Theory of operation.  The hub is a :class:`~binance_conn.Connector` whose callbacks encode each
event (``_core/codec.py``) and hand it to a :class:`~binance_conn._redis.publisher.StreamPublisher`:
one Redis stream per topic (``<prefix>:btcusdt@trade``, ``<prefix>:__book__BTCUSDT@20``), trimmed
to about ``maxlen`` entries, plus ``<prefix>:__control__`` with the connector's ConnectionEvents
and GapEvents.  Trade, aggregate-trade and kline streams are held with ``backfill=True``: a link
drop is filled over REST before the next live event, so each stream carries every id once, in
order.  A control thread writes the hub's state and a heartbeat into ``<prefix>:__hub__`` every
``interval`` seconds and subscribes whatever topic a :class:`~binance_conn.RedisFeed` asked for
in ``<prefix>:__wanted__`` (a name the connector refuses is recorded in ``<prefix>:__refused__``
with the reason, and the feed raises it).  Topics are added, never dropped, while the hub runs.

Restart.  :meth:`Hub.start` reads the newest entry of each stream an earlier run left and seeds the
connector's continuity tracking with it (``GapMonitor.seed``): the first live trade, aggTrade, closed
kline or depth diff after the restart reveals what happened while no hub ran, as a GapEvent with
``cause="restart"``, backfilled over REST (trades, aggTrades, klines) before that live event, or
UNFILLED (beyond the backfill limits, and for depth).  Redis unreachable at ``start()``: the control
thread reads those positions once it answers and only then connects to Binance.  The connector's
errors (its ``on_error``) go onto the control stream too (``codec.dumps_error``), for each feed's
``on_error``.

Redis down: callbacks never wait for it; the publisher buffers (bounded), logs one WARNING per
outage, reconnects with backoff and republishes in order, exactly once (its stream ids are its own).

One hub per ``prefix`` (``_redis/owner.py``).  ``start()`` claims ``<prefix>:__owner__`` (with a TTL of
five intervals, at least 2 s) before anything else, and raises ValidationError (field ``prefix``) while
another live hub holds it: nothing is published, nothing written.  The control thread renews the claim
with each heartbeat, takes it back when it lapsed (Redis restarted or flushed, a long outage), and if
another hub holds it by then this hub stops publishing (its buffer dropped, ERROR logged, ``on_error``,
``conflict`` set, its connector stopped); a batch already on the wire at that moment may still land.
A clean ``stop()`` writes STOPPED and deletes the claim in one script, only while the claim is its own.

Fork.  After ``os.fork()`` a hub's copy in the child is STOPPED with no thread (fresh locks, the
parent's Redis connection left alone); ``start()`` there continues as a restarted hub does.

Threads: the connector's, the publisher and the control thread; all joined by :meth:`Hub.stop`
under one deadline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import weakref
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

from ._core import codec
from ._core import streams as stream_names
from ._io.topics import ERROR_TOPIC, gap_ids_above
from ._market.books import BOOK_PREFIX, book_topic, parse_book_topic
from ._market.gaps import BACKFILL_KINDS, tracked_kind
from ._redis.client import close_quietly, import_redis, make_client, safe_url
from ._redis.keys import HubKeys, parse_id
from ._redis.owner import CLAIMED, HubOwner
from ._redis.publisher import FIELD, StreamPublisher, is_connection_error
from .config import Config
from .connector import Connector
from .enums import ConnectionState, GapState
from .errors import BinanceError, InternalError, ValidationError
from .events import GapEvent

__all__ = ["Hub", "main"]

_log = logging.getLogger("binance_conn.hub")
_ORPHAN_SCAN = 2000  # control entries a restarted hub reads back for gaps its earlier run left open
_monotonic = time.monotonic
_ALL: "weakref.WeakSet[Hub]" = weakref.WeakSet()  # for the fork hook

BookSpec = Union[str, Tuple[str, Optional[int]]]


class Hub:
    """Holds a set of streams and order books once and publishes their events into Redis Streams.

    Args:
        config: a built :class:`~binance_conn.Config` (the connector's).
        redis_url: e.g. ``"redis://127.0.0.1:6379/0"`` (a password in it never appears in logs).
        streams: a list of Binance stream names (``["btcusdt@trade", "btcusdt@kline_1m"]``); a single
            str is refused (field ``streams``), not read as a list of characters.
        books: a list of symbols (depth 20) or ``(symbol, depth)`` pairs (depth None: every level); a
            single str is refused (field ``books``).
        prefix: the Redis key prefix (one hub per prefix).
        maxlen: each stream is trimmed to about this many events.
        buffer: events kept in memory while Redis is unreachable (the oldest go beyond it).
        interval: seconds between heartbeats and looks at the topics feeds asked for.

    Raises:
        ValidationError: a bad argument, naming it (an unknown stream name, a bad depth...); from
            :meth:`start`, field ``prefix``: another hub is publishing under the prefix.

    Every method may be called from any thread.
    """

    def __init__(self, config: Config, redis_url: str, *, streams: Sequence[str] = (), books: Sequence[BookSpec] = (),
                 prefix: str = "binance_conn", maxlen: int = 100_000, buffer: int = 100_000,
                 interval: float = 0.5) -> None:
        if not isinstance(redis_url, str) or not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValidationError("redis_url", safe_url(str(redis_url)), "must be a redis://, rediss:// or unix:// URL")
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ValidationError("prefix", prefix, "must be a non-empty string without spaces")
        for field, value in (("maxlen", maxlen), ("buffer", buffer)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(field, value, "must be an int >= 1")
        if not isinstance(interval, (int, float)) or not 0.01 <= interval <= 60:
            raise ValidationError("interval", interval, "must be seconds in 0.01..60")
        streams = _as_list("streams", streams, "stream names, e.g. ['btcusdt@trade']")
        books = _as_list("books", books, "symbols or (symbol, depth) pairs, e.g. ['BTCUSDT']")
        for spec in books:
            if not isinstance(spec, str) and not (isinstance(spec, (tuple, list)) and len(spec) == 2):
                raise ValidationError("books", spec, "each must be a symbol or a (symbol, depth) pair")
        import_redis()  # ImportError naming the extra now, not a failing thread later
        self._url = redis_url
        self.keys = HubKeys(prefix)
        self._interval = float(interval)
        self._conn = Connector(config)
        self._pub = StreamPublisher(redis_url, maxlen=maxlen, buffer=buffer, name="binance_conn-hub",
                                    on_error=self._report)
        self._lock = threading.Lock()
        self._topics: Dict[str, Any] = {}  # topic -> Subscription
        self._refused: Dict[str, str] = {}
        self._stop = threading.Event()
        self._conn_lock = threading.Lock()
        self._control: Optional[threading.Thread] = None
        self._client: Any = None
        self._owner = HubOwner(self.keys.owner, ttl=max(2.0, 5 * self._interval))
        self.conflict: Optional[str] = None
        """Why this hub stopped publishing (another hub took its prefix), else None."""
        self.crashes = 0
        _ALL.add(self)
        control = self.keys.control
        publish, dumps = self._pub.publish, codec.dumps
        self._conn.on_connection(lambda e: publish(control, dumps(e)))
        self._conn.on_gap(lambda e: publish(control, dumps(e)))
        self._conn.on_error(lambda e: publish(control, codec.dumps_error(e)))  # to each feed's on_error
        for name in streams:
            self.add_stream(name)
        for spec in books:
            symbol, depth = (spec, 20) if isinstance(spec, str) else spec
            self.add_book(symbol, depth)

    # ------------------------------------------------------------------ topics
    def add_stream(self, name: str) -> str:
        """Hold the stream ``name`` (idempotent); returns its topic. Any thread.

        Raises:
            ValidationError: not a stream name the connector serves (field ``stream``).
        """
        if not isinstance(name, str) or not name or name.startswith("__"):
            raise ValidationError("stream", name, "must be a Binance stream name such as 'btcusdt@trade'")
        return self._add(name)  # the connector checks the name against the config's product

    def add_book(self, symbol: str, depth: Optional[int] = 20) -> str:
        """Hold the local order book of ``symbol`` cut to ``depth`` (idempotent); returns its topic."""
        stream_names.depth(symbol)  # validates the symbol (ValidationError naming it)
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5000):
            raise ValidationError("depth", depth, "must be an int in 1..5000 or None (every level)")
        return self._add(book_topic(symbol, depth))

    def _add(self, topic: str) -> str:
        with self._lock:
            if topic in self._topics:
                return topic
            key = self.keys.stream(topic)
            publish, dumps = self._pub.publish, codec.dumps

            def forward(event: Any) -> None:  # the connector's worker of this topic (hot path)
                publish(key, dumps(event))

            if topic.startswith(BOOK_PREFIX):
                symbol, depth = parse_book_topic(topic)
                sub = self._conn.on_book(symbol, forward, depth=depth)
            else:
                sub = self._conn.on_stream(topic, forward, backfill=tracked_kind(topic) in BACKFILL_KINDS)
            self._topics[topic] = sub
        return topic

    @property
    def topics(self) -> List[str]:
        """The topics held (a snapshot)."""
        with self._lock:
            return sorted(self._topics)

    # ------------------------------------------------------------------ lifecycle
    @property
    def connector(self) -> Connector:
        """The connector holding the streams (e.g. for ``stats()`` or REST calls)."""
        return self._conn

    @property
    def state(self) -> ConnectionState:
        return self._conn.state

    def start(self) -> "Hub":
        """Connect to Binance and Redis in the background (never raises for network trouble). It first
        claims the prefix and reads where each stream left off in Redis: a few commands of at most 1 s
        each while Redis does not answer, then the connector waits for both in the background.

        Raises:
            ValidationError: field ``prefix``: another live hub is publishing under it (nothing started).
        """
        with self._lock:
            if self._control is not None and self._control.is_alive():
                return self
            self._owner.new_run()
            self.conflict = None
            seeded = self._claim_at_start() and self._seed_ids()
            self._stop.clear()
            self._pub.start()
            if seeded:
                self._conn.start()
            else:
                _log.warning("Redis unreachable at hub start: connecting to Binance once the hub has read where "
                             "its streams stopped", extra={"redis": safe_url(self._url)})
            self._control = threading.Thread(target=self._run_control, args=(not seeded,),
                                             name="binance_conn-hub-control", daemon=True)
            self._control.start()
        _log.info("hub started (%d topics, Redis %s, prefix %s)", len(self._topics), safe_url(self._url),
                  self.keys.prefix, extra={"redis": safe_url(self._url), "prefix": self.keys.prefix})
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop within ``timeout`` seconds: the connector first (its queued events still published),
        then the publisher flushes what it holds while Redis answers. True when every thread ended
        in time. Never raises; idempotent."""
        deadline = _monotonic() + max(0.0, timeout)
        try:
            with self._conn_lock:  # the control thread starts the connector only while not stopping
                self._stop.set()
            control = self._control
            ok = self._conn.stop(max(0.0, deadline - _monotonic()))
            if control is not None:
                control.join(max(0.0, deadline - _monotonic()))
                ok = ok and not control.is_alive()
            ok = self._pub.stop(deadline) and ok
            if self._owner.held:  # never over another hub's state, nor after a refused start()
                self._write_state(final=True, timeout=min(0.5, max(0.05, deadline - _monotonic())))
            self._close_client()
            _log.info("hub stopped (%s)", "in time" if ok else "threads left past the deadline")
            return ok
        except Exception:  # pragma: no cover - stop() never raises
            _log.exception("error during hub stop")
            return False

    def __enter__(self) -> "Hub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Hub(redis={safe_url(self._url)!r}, prefix={self.keys.prefix!r}, topics={len(self._topics)})"

    def stats(self) -> Dict[str, Any]:
        """Counters: published, duplicates skipped, dropped, pending, Redis outages, topics, the connector's."""
        pub = self._pub
        return {"published": pub.published, "duplicates": pub.duplicates, "dropped": pub.dropped,
                "pending": pub.pending, "redis_outages": pub.outages, "redis_connected": pub.connected,
                "topics": self.topics, "refused": dict(self._refused), "owner": self._owner.held,
                "conflict": self.conflict, "connector": self._conn.stats()}

    # ------------------------------------------------------------------ the control thread
    def _client_or_new(self) -> Any:
        if self._client is None:
            self._client = make_client(self._url, timeout=1.0, name="binance_conn-hub-control")
        return self._client

    def _close_client(self) -> None:
        client, self._client = self._client, None
        close_quietly(client)

    def _claim_at_start(self) -> bool:
        """Claim the prefix in ``start()``: True when held, False when Redis does not answer (the control
        thread claims once it does). Raises ValidationError when another hub holds it."""
        try:
            holder = self._claim()
        except Exception as exc:  # noqa: BLE001 - Redis down at start: the control thread tries again
            self._close_client()
            if not _is_redis_error(exc):
                raise
            _log.debug("hub could not claim prefix %s: %s", self.keys.prefix, type(exc).__name__)
            return False
        if holder is not None:  # no log: the caller has the error (the CLI prints it as one line)
            raise ValidationError("prefix", self.keys.prefix, "another hub is publishing under it", holder)
        return True

    def _claim(self) -> Optional[str]:
        """Claim or keep the prefix: None when this hub holds it, else the refusal text naming the holder."""
        was_held = self._owner.held
        result = self._owner.claim(self._client_or_new())
        if isinstance(result, str):
            return self._owner.describe(self.keys.prefix, result)
        if result == CLAIMED and was_held:
            _log.warning("hub took back prefix %s: its claim had lapsed (Redis restarted or flushed, or no "
                         "heartbeat for %g s)", self.keys.prefix, self._owner.ttl, extra={"prefix": self.keys.prefix})
        return None

    def _lose(self, reason: str) -> None:
        """Another hub holds the prefix: stop publishing at once (the buffer is dropped), report it and
        stop the connector. The hub stays so (``conflict``) until ``stop()`` / ``start()``."""
        self.conflict = reason
        self._pub.fence()
        _log.error("hub stops publishing: %s", reason, extra={"prefix": self.keys.prefix})
        self._report(ValidationError("prefix", self.keys.prefix, "another hub is publishing under it", reason))
        with self._conn_lock:
            self._conn.stop(5.0)

    def _seed_ids(self) -> bool:
        """Where the streams of an earlier run stopped: stream ids above theirs (a clock that went back
        must not collide), and each tracked stream's continuity after its newest event (so what happened
        while no hub ran is a gap, backfilled). False when Redis is unreachable."""
        try:
            client = self._client_or_new()
            for topic in list(self._topics) + ["__control__"]:
                self._seed_topic(client, topic)
            self._end_orphan_gaps(client)
            return True
        except Exception as exc:  # noqa: BLE001 - Redis down at start: the control thread tries again
            self._close_client()
            if is_connection_error(exc):
                _log.debug("hub could not read the streams' last entries: %s", type(exc).__name__)
                return False
            _log.error("hub could not read the streams' last entries (%s): continuity across the restart "
                       "is not checked", type(exc).__name__, exc_info=exc)
            return True

    def _end_orphan_gaps(self, client: Any) -> None:
        """Gaps an earlier run reported OPEN and never ended (it was killed) end UNFILLED now, before this
        run publishes anything, so every OPEN a feed saw gets its end; this run's gap ids continue above
        the earlier ones (a feed never sees one id for two gaps)."""
        ended: Set[int] = set()
        orphans: Dict[int, GapEvent] = {}
        top = 0
        for _, fields in client.xrevrange(self.keys.control, "+", "-", count=_ORPHAN_SCAN):  # newest first
            try:
                ev = codec.loads(fields.get(FIELD.encode(), b""))
            except Exception:  # noqa: BLE001 - errors and unreadable entries are no gaps
                continue
            if not isinstance(ev, GapEvent):
                continue
            top = max(top, ev.gap_id)
            if ev.state == GapState.OPEN:
                if ev.gap_id not in ended:
                    orphans.setdefault(ev.gap_id, ev)
            else:
                ended.add(ev.gap_id)
        gap_ids_above(top)
        now = int(time.time() * 1000)
        for gap_id in sorted(orphans):
            ev = orphans[gap_id]
            _log.warning("gap %d on %s left open by the previous hub: UNFILLED", gap_id, ev.stream,
                         extra={"gap_id": gap_id, "stream": ev.stream})
            self._pub.publish(self.keys.control, codec.dumps(GapEvent(
                ev.exchange, ev.stream, ev.symbol, ev.kind, gap_id, ev.first_missing, ev.last_missing, ev.cause,
                GapState.UNFILLED, now, 0, "the hub that opened this gap stopped before it ended")))

    def _seed_topic(self, client: Any, topic: str) -> None:
        key = self.keys.stream(topic)
        top = client.xrevrange(key, "+", "-", count=1)
        if not top:
            return
        sid, fields = top[0]
        self._pub.seed(key, parse_id(sid))
        if tracked_kind(topic) is None:
            return
        try:
            last = codec.loads(fields.get(FIELD.encode(), b""))
        except codec.CodecError as exc:
            _log.warning("hub cannot read the newest entry of %s (%s): continuity across the restart is not "
                         "checked for it", topic, exc, extra={"topic": topic})
            return
        if self._conn._gaps.seed(topic, last):
            _log.info("hub continues %s after its newest entry in Redis", topic, extra={"topic": topic})

    def _run_control(self, pending: bool = False) -> None:
        while not self._stop.is_set():
            if pending:  # Redis was unreachable at start(): the connector waits for the claim and seeds
                try:
                    holder = self._claim()
                except Exception as exc:  # noqa: BLE001 - still down (or failing): tried again next interval
                    self._close_client()
                    if not _is_redis_error(exc):
                        self.crashes += 1
                        _log.error("hub could not claim its prefix (%s): trying again", type(exc).__name__,
                                   exc_info=exc)
                    self._stop.wait(self._interval)
                    continue
                if holder is not None:
                    self._lose(holder)
                    return
                if self._seed_ids():
                    with self._conn_lock:
                        if self._stop.is_set():
                            return
                        self._conn.start()
                    pending = False
                else:
                    self._stop.wait(self._interval)
                    continue
            try:
                holder = self._claim()
                if holder is not None:
                    self._lose(holder)
                    return
                self._write_state()
                self._take_wanted()
            except Exception as exc:  # noqa: BLE001 - the loop survives anything
                self._close_client()
                if not _is_redis_error(exc):
                    self.crashes += 1
                    _log.error("hub control loop failed (%s): going on", type(exc).__name__, exc_info=exc)
                    err = InternalError(f"hub control: {type(exc).__name__}", details={"component": "hub control"})
                    err.__cause__ = exc
                    self._report(err)
            self._stop.wait(self._interval)

    def _write_state(self, final: bool = False, timeout: float = 0.5) -> None:
        state = ConnectionState.STOPPED if final else self._conn.state
        mapping = {"state": state.value, "heartbeat": int(time.time() * 1000), "topics": json.dumps(self.topics),
                   "interval": self._interval}
        if final:
            try:
                client = make_client(self._url, timeout=timeout, name="binance_conn-hub-control")
                try:  # only while the claim is ours: then a new hub may start at once
                    self._owner.release(client, self.keys.hub, mapping)
                finally:
                    client.close()
            except Exception:  # noqa: BLE001 - Redis down at stop: feeds see the heartbeat stop, the claim lapses
                self._owner.held = False
            return
        self._client_or_new().hset(self.keys.hub, mapping=mapping)

    def _take_wanted(self) -> None:
        client = self._client_or_new()
        wanted = {w.decode() if isinstance(w, bytes) else str(w) for w in client.smembers(self.keys.wanted)}
        with self._lock:
            new = sorted(wanted - set(self._topics) - set(self._refused))
        for topic in new:
            self._seed_topic(client, topic)  # before subscribing: its guard takes the seed when made
            try:
                if topic.startswith(BOOK_PREFIX):
                    symbol, depth = parse_book_topic(topic)
                    self.add_book(symbol, depth)
                else:
                    self.add_stream(topic)
                _log.info("hub holds %s (a feed asked for it)", topic, extra={"topic": topic})
            except (BinanceError, ValueError) as exc:  # the feed reports it as ValidationError(stream, topic, ...)
                reason = exc.constraint if isinstance(exc, ValidationError) else str(exc)
                self._refused[topic] = reason
                client.hset(self.keys.refused, topic, reason)
                _log.warning("hub refused topic %r a feed asked for: %s", topic, reason, extra={"topic": topic})

    def _report(self, err: BinanceError) -> None:
        """A failure of the hub's own threads, through the connector's ``on_error`` subscribers."""
        self._conn._dispatcher.publish(ERROR_TOPIC, err)

    def on_error(self, callback: Any) -> Any:
        """Subscribe to the hub's asynchronous failures (the connector's and the hub's own threads')."""
        return self._conn.on_error(callback)

    def _after_fork_in_child(self) -> None:
        """In a forked child (``os.register_at_fork``): STOPPED and restartable, as after ``stop()``.

        The parent's threads do not exist here and may have held our locks: fresh locks and events, no
        control thread, the parent's Redis connection dropped unused; the connector is STOPPED by its own
        fork hook. ``start()`` here reads where the streams stopped, as a restarted hub does."""
        self._lock = threading.Lock()
        self._conn_lock = threading.Lock()
        self._stop = threading.Event()
        self._control = None
        self._client = None
        self._owner.forget()  # the parent's claim: never refreshed nor deleted from here
        self._pub.after_fork_in_child()
        self._conn._gaps.after_fork_in_child()


def _after_fork_in_child() -> None:
    for hub in list(_ALL):
        try:
            hub._after_fork_in_child()
        except Exception:  # pragma: no cover - a fork hook must not raise
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _as_list(field: str, value: Any, what: str) -> List[Any]:
    """``streams`` / ``books`` as a list; a single str (iterable, but as characters) is refused."""
    if isinstance(value, (str, bytes)):
        raise ValidationError(field, value, f"must be a list of {what}, not a single str")
    try:
        return list(value)
    except TypeError:
        raise ValidationError(field, value, f"must be a list of {what}") from None


def _is_redis_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or type(exc).__module__.startswith("redis")


# ---------------------------------------------------------------------------- python -m binance_conn.hub
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _book_arg(text: str) -> BookSpec:
    symbol, _, depth = text.partition("@")
    if not depth:
        return symbol
    if depth != "all" and not (depth.isdigit() and 1 <= int(depth) <= 5000):
        raise ValidationError("--book", text, "must be SYMBOL, SYMBOL@DEPTH (1..5000) or SYMBOL@all")
    return symbol, None if depth == "all" else int(depth)


def _stream_arg(text: str) -> str:
    """``BTCUSDT@trade`` -> ``btcusdt@trade``: symbols are lower case in stream names (the rest,
    e.g. ``kline_1M``, is kept as given)."""
    symbol, at, rest = text.partition("@")
    return symbol.lower() + at + rest


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m binance_conn.hub``: run a hub until SIGTERM / SIGINT (exit code 0 after a clean stop;
    3 when another hub publishes under the prefix, at start or later)."""
    p = argparse.ArgumentParser(prog="python -m binance_conn.hub", description=__doc__.split("\n")[0])
    env = os.environ
    p.add_argument("--redis", default=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                   help="Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379/0)")
    p.add_argument("--stream", action="append", default=[], help="a stream name, e.g. btcusdt@trade (repeat)")
    p.add_argument("--book", action="append", default=[], help="SYMBOL or SYMBOL@DEPTH (repeat)")
    p.add_argument("--prefix", default="binance_conn")
    p.add_argument("--maxlen", type=int, default=100_000)
    p.add_argument("--exchange", default="binance", help="exchange preset (default %(default)s)")
    p.add_argument("--rest-url", default=env.get("BINANCE_REST_URL"),
                   help="override the REST URL, e.g. a local fake (default: $BINANCE_REST_URL)")
    p.add_argument("--ws-url", default=env.get("BINANCE_WS_URL"),
                   help="override the WebSocket URL (default: $BINANCE_WS_URL)")
    p.add_argument("--shared-limits", action="store_true",
                   help="share the REST weight, ban gate and connection budget through --redis (with_shared_limits)")
    p.add_argument("--shared-key", help="the shared-limits key (one per egress IP; default: the REST host)")
    p.add_argument("--metrics-port", type=int, help="serve the hub connector's /metrics and /health on this port "
                   "(0: any free port; needs binance_conn[metrics])")
    p.add_argument("--metrics-addr", default="127.0.0.1", help="address of --metrics-port (default %(default)s)")
    p.add_argument("--log-level", default="INFO", type=str.upper, choices=_LOG_LEVELS,
                   help="DEBUG, INFO, WARNING, ERROR or CRITICAL, any case (default %(default)s)")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    builder = Config.builder().with_exchange(args.exchange)
    if args.rest_url:
        builder = builder.with_rest_url(args.rest_url)
    if args.ws_url:
        builder = builder.with_ws_url(args.ws_url)
    if args.shared_limits or args.shared_key:
        builder = builder.with_shared_limits(args.redis, key=args.shared_key)
    typed = {("stream", _stream_arg(s)): ("--stream", s) for s in args.stream}  # what the user typed
    typed.update({("symbol", b.partition("@")[0]): ("--book", b) for b in args.book})
    try:
        try:
            hub = Hub(builder.build(), args.redis, streams=[_stream_arg(s) for s in args.stream],
                      books=[_book_arg(b) for b in args.book], prefix=args.prefix, maxlen=args.maxlen)
        except ValidationError as exc:  # quote the argument as typed, not the name normalised from it
            option, text = typed.get((exc.field, exc.value), (None, None))
            if option is None:
                raise
            raise ValidationError(option, text, exc.constraint) from None
    except (BinanceError, ValueError) as exc:
        print(f"binance_conn.hub: {exc}", file=sys.stderr)
        return 2
    server: Any = None
    if args.metrics_port is not None:
        try:
            from . import metrics

            server = metrics.serve(hub.connector, port=args.metrics_port, addr=args.metrics_addr)
        except (ImportError, OSError, BinanceError) as exc:
            print(f"binance_conn.hub: --metrics-port: {exc}", file=sys.stderr)
            return 2
        _log.info("hub metrics on %s/metrics, health on %s/health", server.url, server.url)
    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        hub.start()
    except ValidationError as exc:  # another hub holds the prefix: one line, no traceback
        print(f"binance_conn.hub: {exc}", file=sys.stderr)
        hub.stop(1.0)
        if server is not None:
            server.stop()
        return 3
    while not done.wait(0.5):
        if hub.conflict is not None:  # another hub took the prefix: this one stopped publishing
            break
    ok = hub.stop(10.0)
    if server is not None:
        server.stop()
    return 3 if hub.conflict is not None else 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
