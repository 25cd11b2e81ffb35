"""The Connector: one exchange's REST client, market streams and event delivery.

::

    conn = Connector(cfg)            # no thread yet
    sub = conn.on_trade("BTCUSDT", print)
    conn.start()                     # returns at once; connects in the background
    conn.wait_ready(10)
    ...
    conn.stop()                      # never raises, never hangs past its timeout

Threads it starts (all daemon, all joined by :meth:`Connector.stop`): the market
session's supervisor, REST prober and one reader per stream connection
(``_market/``), the user-data session's reader and ticker (``_userdata/``), and
one worker per callback subscriber (``_io/subscribers.py``).  User callbacks only
ever run on their subscriber's worker.

Lifecycle (theory of operation).  One phase -- STOPPED, RUNNING or STOPPING --
and a generation counter, guarded by one lock that is never held while joining,
sleeping or running user code.  ``start()`` and ``stop()`` change the phase
under the lock; the slow part of a stop (joins, draining) runs outside it while
the phase says STOPPING, and ends with STOPPED and a notify.  So every
interleaving of ``start``/``stop``/``start(config=)`` from any number of
threads is equivalent to some sequential order of them:

* a ``start()`` during STOPPING waits for that stop to finish, then starts (the
  stop came first); from a callback worker -- which that stop is joining -- it
  cannot wait, so it counts as having come first (a no-op on a running
  connector, as ``start()`` always is);
* a ``stop()`` during STOPPING waits (up to its own deadline) for that stop, then
  joins whatever is left; from a callback it does not wait for the stop that is
  joining it, and joins the rest itself;
* every join of one ``stop()`` shares one deadline, and it returns True only
  when every thread the connector started (but the caller's own) is gone.

After ``os.fork()`` (``os.register_at_fork``) the child's connectors are STOPPED:
fresh locks, events and sessions; the dispatcher keeps every handle (same
callbacks, counters, ``active``) with no worker; the inherited WebSocket
descriptors are closed by ``_io/transport.py``'s fork hook without a byte sent
(a close frame or ``shutdown()`` would end the parent's connection).  ``start()``
in the child restores every market stream and user-data topic, as after
``stop()``.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue as queue_mod
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Union, cast

from ._core import streams as stream_names
from ._futures import FUTURES_TOPICS, FuturesConnectorMixin, make_futures_user
from ._futures_market import FuturesMarketMixin
from ._health import HealthMixin
from ._io.dispatch import Dispatcher, Subscription
from ._io.groups import SubscriptionGroup
from ._io.netenv import WsTransportFactory
from ._io.topics import CONNECTION_TOPIC, ERROR_TOPIC, GAP_TOPIC
from ._market.books import BOOK_PREFIX, BookManager, RestSnapshots, book_topic
from ._market.gaps import GapMonitor
from ._market.session import MarketSession
from ._recording import RecordingMixin
from ._redis.limits import connection_budget
from ._rest.tracking import TrackingRestClient
from ._userdata.futures_client import make_ws_api_client
from ._userdata.session import (
    BALANCE_TOPIC,
    EXTERNAL_LOCK_TOPIC,
    ORDER_LIST_TOPIC,
    ORDER_TOPIC,
    USER_TOPICS,
    UserDataLink,
)
from .config import Config
from .enums import ConnectionState, OverflowPolicy
from .errors import BinanceError, ValidationError
from .rest import RestClient

__all__ = ["Connector", "SubscriptionGroup"]

_log = logging.getLogger("binance_conn.connector")
_monotonic = time.monotonic

Symbols = Union[str, Sequence[str]]
Callback = Callable[[Any], Any]

_LIVE: "weakref.WeakSet[Connector]" = weakref.WeakSet()
_ALL: "weakref.WeakSet[Connector]" = weakref.WeakSet()

_STOPPED, _RUNNING, _STOPPING = "stopped", "running", "stopping"


class Connector(FuturesMarketMixin, FuturesConnectorMixin, RecordingMixin, HealthMixin):
    """A thread-safe connection to one exchange (README "Streams and events").

    Args:
        config: a built :class:`~binance_conn.Config`; kept as is (it is immutable).
        session: optional ``requests.Session`` for the REST client (tests).

    Every public method may be called from any thread, concurrently.
    """

    def __init__(self, config: Config, *, session: Any = None) -> None:
        if not isinstance(config, Config):
            raise ValidationError("config", type(config).__name__, "must be a binance_conn.Config (use .build())")
        self._config = config
        self._http_session = session
        # Guards the lifecycle fields; never held while joining, sleeping or running user code.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # notified when a stop() finishes
        self._phase = _STOPPED
        self._generation = 0  # +1 per start(): tells a stop which run it ended
        # Serialises topic changes (first subscriber / last unsubscribe) with a re-configuring
        # start()'s carry-over of the wanted streams to the new sessions.
        self._topics_lock = threading.Lock()
        self._stop_dropped = 0
        self._rest_stop = threading.Event()
        self._ready: Optional[threading.Event] = None
        self._orphans: List[threading.Thread] = []  # threads a timed-out stop() left behind
        self.rest = self._make_rest(config, session)
        self._budget = connection_budget(config)  # shared through Redis under with_shared_limits
        self._dispatcher = self._make_dispatcher(config)
        self._books = BookManager(lambda: self.exchange, self._dispatcher,
                                  RestSnapshots(lambda: self.rest, lambda: self._config.exchange.product),
                                  lambda: self._config.order_book, lambda: self._config.exchange.product)
        self._market = self._make_market(config)
        self._user = self._make_user(config)
        self.ws_api = make_ws_api_client(config, lambda: self._user)
        self._gaps = GapMonitor(self._dispatcher, config.exchange.name, self._history_get,
                                lambda: self._rest_stop.is_set(), lambda s: self._market.stream_epoch(s))
        _ALL.add(self)

    def _make_dispatcher(self, config: Config) -> Dispatcher:
        return Dispatcher(
            on_error=self._on_callback_error,
            on_topics_changed=self._on_topics_changed,
            buffer=config.events.buffer_size,
            overflow=config.events.overflow,
            error_topic=ERROR_TOPIC,
            name=f"binance_conn-{config.exchange.name}",
            exchange=config.exchange.name,
        )

    def _make_market(self, config: Config) -> MarketSession:
        factory = self._transport_factory(config)
        market = MarketSession(config, self._dispatcher, self._rest_ping, self._budget, transport_factory=factory)
        market.tap = self.rest.tap = self._tap  # recording (_recording.py): one switch for the readers and REST
        ready = self._ready  # one ready Event for the connector's lifetime (a reference taken before stays live)
        if ready is None:
            ready = self._ready = threading.Event()
        ready.clear()
        market.ready = ready
        market.extra_ready = self._user_ready
        market.rest_get = lambda path, params, timeout: self.rest.probe(timeout, self._rest_path(path), params)
        market.on_streams_lost = self._books.streams_lost
        return market

    @staticmethod
    def _transport_factory(config: Config) -> WsTransportFactory:
        """WebSockets trusting what REST trusts and going through the same proxy (config, else the
        environment: ``HTTPS_PROXY``... with ``NO_PROXY``), resolved once here, not per connect."""
        ex = config.exchange  # binance-data has no WebSocket API (its ws_api_url is empty or unused)
        return WsTransportFactory(config, (ex.ws_url,) if ex.market_data_only else (ex.ws_url, ex.ws_api_url))

    def _make_rest(self, config: Config, session: Any) -> RestClient:
        rest = TrackingRestClient(config, session, stop_event=self._rest_stop)
        rest.order_observer = self._track_placed
        return rest

    def _make_user(self, config: Config) -> UserDataLink:
        """The user-data / WebSocket API session; wanted topics carried over from the dispatcher."""
        factory = self._market.transport_factory  # the market's: TLS trust resolved (and logged) once per config
        user = UserDataLink(config, self._dispatcher, lambda: self.rest, self._market.wake,
                            acquire_slot=self._market.acquire_connection_slot, transport_factory=factory)
        if config.exchange.is_futures:  # the listenKey stream serves user data (_futures.py)
            user = cast(UserDataLink, make_futures_user(user, config, self._dispatcher, lambda: self.rest,
                                                        self._market.wake, self._market.acquire_connection_slot,
                                                        factory))
        for topic in USER_TOPICS + FUTURES_TOPICS:
            if self._dispatcher.subscribers(topic):
                user.topic_changed(topic, True)
        return user

    def _user_ready(self) -> bool:
        user = getattr(self, "_user", None)
        return user is None or not user.wants_user_data or user.ready.is_set()

    def _track_placed(self, response: Any) -> None:
        user = getattr(self, "_user", None)
        if user is not None:
            user.track_placed(response)

    def _rest_ping(self, timeout: float) -> None:
        # probe(): at most `timeout` in total, and cut at once by stop(); then the clock offset (_health.py).
        self._probe_rest(timeout)

    # ------------------------------------------------------------------ properties
    @property
    def config(self) -> Config:
        """The immutable configuration in use."""
        return self._config

    @property
    def exchange(self) -> str:
        return self._config.exchange.name

    @property
    def ready(self) -> threading.Event:
        """Set while REST is reachable, every stream is up and subscribed and, when user data is
        subscribed, the user-data session too (level-triggered)."""
        return self._market.ready

    @property
    def state(self) -> ConnectionState:
        """``CONNECTING``, ``CONNECTED``, ``RECONNECTING``, ``DISCONNECTED`` or ``STOPPED``."""
        return self._market.status.state

    def is_connected(self) -> bool:
        """True while the state is CONNECTED. Never blocks."""
        return self._market.status.state is ConnectionState.CONNECTED

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Block up to ``timeout`` seconds until ready; returns whether it is."""
        return self._market.ready.wait(timeout)

    # ------------------------------------------------------------------ lifecycle
    def start(self, config: Optional[Config] = None) -> "Connector":
        """Start connecting in the background; never raises for network trouble.

        A stopped connector may be started again, optionally with a new ``config``;
        subscriptions survive. Starting a running connector does nothing. Any thread;
        returns at once, except that a ``start()`` racing a ``stop()`` in progress waits
        for that stop to finish first (from a callback it does not wait: the stop is
        joining that callback's worker, so the start counts as the earlier of the two).

        Raises:
            ValidationError: ``config`` is no Config, or differs while the connector runs.
        """
        if config is not None and not isinstance(config, Config):
            raise ValidationError("config", type(config).__name__, "must be a binance_conn.Config")
        in_worker = self._dispatcher.in_worker()
        with self._changed:
            while self._phase is _STOPPING and not in_worker:
                self._changed.wait()
            if self._phase is not _STOPPED:
                if config is not None and config is not self._config:
                    raise ValidationError("config", "Config", "stop() the connector before re-configuring it")
                if self._phase is _STOPPING:
                    _log.info("start() from a callback while stop() is running: ordered before that stop (no-op)",
                              extra={"exchange": self.exchange})
                return self
            me = threading.current_thread()
            # A previous stop() that timed out (e.g. a REST probe stuck past its deadline) left
            # threads of sessions that stay stopping: start on fresh sessions, and let the next
            # stop() join the leftovers too.
            leftovers = [t for t in self._market.threads() + self._user.threads() if t.is_alive() and t is not me]
            self._orphans.extend(leftovers)
            if config is not None and config is not self._config:
                self._reconfigure(config)
            elif leftovers:
                self._reconfigure(self._config)
            self._phase = _RUNNING
            self._generation += 1
            self._rest_stop.clear()
            self._record_on_start()  # before the links start: their first frames are recorded
            self._dispatcher.start()
            self._market.start()
            self._user.start()
            self._books.start()
            _LIVE.add(self)
            generation = self._generation
        _log.info("connector started (run %d)", generation, extra={"exchange": self.exchange})
        return self

    def _reconfigure(self, config: Config) -> None:
        """New sessions (and REST client) for ``config``, carrying every wanted stream over.

        Lifecycle lock held; the topics lock makes the carry-over atomic with a concurrent
        (un)subscribe's topic change."""
        with self._topics_lock:
            streams = list(self._market.registry.streams())
            refs = {s: self._market.registry.refcount(s) for s in streams}
            self._config = config
            self.rest.close()
            self.rest = self._make_rest(config, self._http_session)
            self._budget = connection_budget(config, self._budget)  # kept when it still fits: Binance counts per IP
            self._market = self._make_market(config)
            self._user = self._make_user(config)
            for s in streams:
                for _ in range(refs[s]):
                    self._market.add_stream(s)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop everything within ``timeout`` seconds; True when every thread the connector
        started (but the caller's own) has ended in time.

        Never raises; idempotent; callable from any thread, including a callback
        (that worker is not joined). Queued events are delivered until the deadline,
        the rest dropped (counted); in-flight REST calls get the same deadline. Every
        join shares that one deadline. A stop() racing another stop() waits for it
        (up to its own deadline), then joins whatever is left.
        """
        try:
            return self._stop(timeout)
        except Exception:  # pragma: no cover - stop() must never raise
            _log.exception("error during stop")
            return False

    def _stop(self, timeout: float) -> bool:
        deadline = _monotonic() + max(0.0, timeout)
        me = threading.current_thread()
        in_worker = self._dispatcher.in_worker()
        with self._changed:
            while self._phase is _STOPPING and not in_worker:
                left = deadline - _monotonic()
                if left <= 0:
                    return False  # the other stop() is still tearing down
                self._changed.wait(left)
            if self._phase is not _RUNNING:
                # Stopped already, or a callback calling stop() while another stop() joins
                # its worker: wait (up to our deadline) for what is left, except ourselves.
                leftovers = self._leftover_threads(me, in_worker)
                lead = False
            else:
                self._phase = _STOPPING
                run = self._generation
                market, user, dispatcher, rest = self._market, self._user, self._dispatcher, self.rest
                lead = True
        if not lead:
            for t in leftovers:
                t.join(max(0.0, deadline - _monotonic()))
            return not any(t.is_alive() for t in leftovers)
        ok = False
        try:
            ok = self._teardown(market, user, dispatcher, rest, deadline, me)
        finally:
            with self._changed:
                self._orphans = [t for t in self._orphans if t.is_alive()]
                self._rest_stop.clear()  # REST keeps working (and retrying) after stop()
                self._phase = _STOPPED
                self._changed.notify_all()
                _LIVE.discard(self)
        _log.info("connector stopped (run %d, %s)", run, "in time" if ok else "threads left past the deadline",
                  extra={"exchange": self.exchange, "in_time": ok})
        return ok

    def _leftover_threads(self, me: threading.Thread, in_worker: bool) -> List[threading.Thread]:
        """Lifecycle lock held: threads a stop may still have to wait for (not running ones).

        A callback worker never waits for other workers: one of them may be in a stop() that
        is joining it (two callbacks stopping at once); the stop that leads joins them all."""
        out = self._market.threads() + self._user.threads() + self._books.threads() + self._orphans
        if not in_worker:
            out += self._dispatcher.leftover_threads()
        return [t for t in out if t is not me and t.is_alive()]

    def _teardown(self, market: MarketSession, user: UserDataLink, dispatcher: Dispatcher, rest: RestClient,
                  deadline: float, me: threading.Thread) -> bool:
        """The slow half of a stop (phase STOPPING, no lock held): every join shares ``deadline``."""
        self._books.begin_stop()  # first: the links the stop closes are no outage for the books
        market.begin_stop()
        user.begin_stop()
        self._rest_stop.set()
        threads = market.threads() + user.threads() + self._books.threads() + list(self._orphans)
        for t in threads:
            if t is not me:
                t.join(max(0.0, deadline - _monotonic()))
        ok = not any(t.is_alive() for t in threads if t is not me)
        market.finish_stop("stopped")
        user.finish_stop("stopped")
        ok = dispatcher.stop(deadline) and ok
        self._stop_dropped += dispatcher.last_stop_dropped
        ok = rest.wait_idle(max(0.0, deadline - _monotonic())) and ok
        rest.close()
        return self._record_on_stop(deadline) and ok

    def __enter__(self) -> "Connector":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Connector(exchange={self.exchange!r}, state={self.state.value})"

    # ------------------------------------------------------------------ subscriptions
    def on_connection(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Subscribe to :class:`~binance_conn.ConnectionEvent`s (CONNECTED, DISCONNECTED, RECONNECTING)."""
        return self._subscribe_topic(CONNECTION_TOPIC, callback, options)

    def on_error(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Subscribe to asynchronous failures (rejected subscription, auth, callback errors)."""
        return self._subscribe_topic(ERROR_TOPIC, callback, options)

    def on_gap(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Subscribe to :class:`~binance_conn.GapEvent`s: every hole in a stream, as each subscriber saw it."""
        return self._subscribe_topic(GAP_TOPIC, callback, options)

    def on_ticker(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@ticker`` -> :class:`~binance_conn.Ticker`."""
        return self._subscribe_streams(symbol, stream_names.ticker, callback, options)

    def on_mini_ticker(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@miniTicker`` -> :class:`~binance_conn.MiniTicker`."""
        return self._subscribe_streams(symbol, stream_names.mini_ticker, callback, options)

    def on_book_ticker(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@bookTicker`` -> :class:`~binance_conn.BookTicker`."""
        return self._subscribe_streams(symbol, stream_names.book_ticker, callback, options)

    def on_trade(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@trade`` -> :class:`~binance_conn.Trade`; ``backfill=True``: missed trades fetched over REST."""
        return self._subscribe_streams(symbol, stream_names.trade, callback, options)

    def on_agg_trade(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@aggTrade`` -> :class:`~binance_conn.AggTrade`; ``backfill=True`` as for :meth:`on_trade`."""
        return self._subscribe_streams(symbol, stream_names.agg_trade, callback, options)

    def on_kline(self, symbol: Symbols, interval: str, callback: Optional[Callback] = None,
                 timezone: Optional[str] = None, **options: Any) -> Any:
        """``<symbol>@kline_<interval>[@+08:00]`` -> :class:`~binance_conn.Kline` (intervals are case-sensitive;
        ``timezone="+08:00"``: klines open and close on UTC+8 boundaries; ``backfill=True``: missed closed klines)."""
        stream_names.validate_interval(interval)
        stream_names.validate_timezone(timezone)
        return self._subscribe_streams(symbol, lambda s: stream_names.kline(s, interval, timezone), callback, options)

    def on_depth(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@depth@100ms`` -> :class:`~binance_conn.DepthUpdate`."""
        return self._subscribe_streams(symbol, stream_names.depth, callback, options)

    def on_book(self, symbol: Symbols, callback: Optional[Callback] = None, depth: Optional[int] = 20,
                **options: Any) -> Any:
        """A local order book of ``symbol`` (or each of a list; one book per symbol, however many
        subscribers): ``callback(bc.OrderBook)`` cut to ``depth`` levels (None: every level) after
        each applied update and each state change (``SYNCING``/``SYNCED``/``OUT_OF_SYNC``)."""
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5000):
            raise ValidationError("depth", depth, "must be an int in 1..5000 or None (every level)")

        def topic(s: str) -> str:
            stream_names.depth(s)  # validates the symbol
            return book_topic(s, depth)

        return self._subscribe_streams(symbol, topic, callback, options)

    def book(self, symbol: str, depth: Optional[int] = None) -> Any:
        """The latest :class:`~binance_conn.OrderBook` of ``symbol`` cut to ``depth`` (None: every
        level), or None when no book of it is subscribed; never a stale book marked SYNCED. Any thread."""
        return self._books.book(symbol, depth)

    def on_avg_price(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@avgPrice`` -> :class:`~binance_conn.AvgPrice`."""
        return self._subscribe_streams(symbol, stream_names.avg_price, callback, options)

    def on_rolling_ticker(self, symbol: Symbols, window: str, callback: Optional[Callback] = None,
                          **options: Any) -> Any:
        """``<symbol>@ticker_<1h|4h|1d>`` -> :class:`~binance_conn.RollingWindowTicker`."""
        stream_names.validate_window(window)
        return self._subscribe_streams(symbol, lambda s: stream_names.rolling_ticker(s, window), callback, options)

    def on_all_mini_tickers(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """``!miniTicker@arr`` -> one :class:`~binance_conn.MiniTicker` per changed symbol, every second."""
        return self._subscribe_topic(stream_names.all_mini_tickers(), callback, options)

    def on_all_rolling_tickers(self, window: str, callback: Optional[Callback] = None, **options: Any
                               ) -> Subscription:
        """``!ticker_<1h|4h|1d>@arr`` -> one :class:`~binance_conn.RollingWindowTicker` per changed symbol."""
        return self._subscribe_topic(stream_names.all_rolling_tickers(window), callback, options)

    def on_reference_price(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@referencePrice`` -> :class:`~binance_conn.ReferencePrice`."""
        return self._subscribe_streams(symbol, stream_names.reference_price, callback, options)

    def on_block_trade(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@blockTrade`` -> :class:`~binance_conn.BlockTrade`."""
        return self._subscribe_streams(symbol, stream_names.block_trade, callback, options)

    def on_order(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """User data: :class:`~binance_conn.OrderUpdate` per ``executionReport`` (WebSocket API session),
        plus reconciled updates (``is_reconciled=True``) for orders that changed during a gap.

        Raises:
            ValidationError: the config has no API credentials (field ``auth.api_key``), or the
                exchange serves market data only (``binance-data``; field ``exchange``).
        """
        return self._subscribe_user(ORDER_TOPIC, "on_order", callback, options)

    def on_balance(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """User data: :class:`~binance_conn.BalanceUpdate` (account positions and balance deltas)."""
        return self._subscribe_user(BALANCE_TOPIC, "on_balance", callback, options)

    def on_order_list(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """User data: :class:`~binance_conn.OrderListUpdate` per ``listStatus`` (OCO, OTO ...)."""
        return self._subscribe_user(ORDER_LIST_TOPIC, "on_order_list", callback, options)

    def on_external_lock(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """User data: :class:`~binance_conn.ExternalLockUpdate` per ``externalLockUpdate`` (part of a
        spot balance locked or unlocked by an external system, e.g. as margin collateral)."""
        return self._subscribe_user(EXTERNAL_LOCK_TOPIC, "on_external_lock", callback, options)

    def _subscribe_user(self, topic: str, name: str, callback: Optional[Callback], options: Dict[str, Any]
                        ) -> Subscription:
        self._config.exchange.require_account_access(f"{name}() (user data)")  # binance-data: market data only
        if not self._config.auth.has_credentials:
            raise ValidationError(
                "auth.api_key", None, f"{name}() needs API credentials (an API key with a secret or private key)"
            )
        return self._subscribe_topic(topic, callback, options)

    def on_stream(self, stream: str, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Any stream of the docs by its Binance name (e.g. ``"btcusdt@depth5@100ms"``, ``"!ticker_1h@arr"``)."""
        self._parse_stream_name(stream)
        return self._subscribe_topic(stream, callback, options)

    def _subscribe_streams(
        self, symbol: Symbols, name: Callable[[str], str], callback: Optional[Callback], options: Dict[str, Any]
    ) -> Any:
        name = self._product_namer(name)  # futures symbols such as BTCUSD_PERP
        if isinstance(symbol, str):
            return self._subscribe_topic(name(symbol), callback, options)
        if not isinstance(symbol, (list, tuple)) or not symbol:
            raise ValidationError("symbol", symbol, "must be a symbol string or a non-empty list of them")
        topics = [name(s) for s in symbol]  # validate all before subscribing any
        return SubscriptionGroup([self._subscribe_topic(t, callback, options) for t in topics])

    def _subscribe_topic(self, topic: str, callback: Optional[Callback], options: Dict[str, Any]) -> Subscription:
        unknown = set(options) - {"buffer", "overflow", "queue", "backfill"}
        if unknown:
            raise ValidationError("options", sorted(unknown),
                                  "unknown keyword(s); use buffer=, overflow=, queue=, backfill=")
        self._check_market_topic(topic)  # spot-only streams on futures, futures-only on spot
        q = options.get("queue")
        if q is not None and not isinstance(q, queue_mod.Queue):
            raise ValidationError("queue", q, "must be a queue.Queue")
        overflow = options.get("overflow")
        if overflow is not None:
            try:
                overflow = OverflowPolicy(overflow)
            except ValueError:
                raise ValidationError("overflow", overflow, "must be DROP_OLDEST or BLOCK") from None
        guarded = self._gaps.subscribe(topic, callback, q, bool(options.get("backfill")), options.get("buffer"),
                                       overflow)  # a tracked stream (trades, klines, depth): its GapGuard
        if guarded is not None:
            return guarded
        return self._dispatcher.subscribe(topic, callback, queue=q, buffer=options.get("buffer"), overflow=overflow)

    def _on_topics_changed(self, topic: str, added: bool) -> None:
        """Dispatcher hook (the (un)subscribing thread): a topic got its first subscriber or lost its last."""
        with self._topics_lock:
            if topic in USER_TOPICS or topic in FUTURES_TOPICS:
                self._user.topic_changed(topic, added)
            elif topic.startswith(BOOK_PREFIX):
                self._books.topic_changed(topic, added)
            elif not _is_market_topic(topic):
                return
            elif added:
                self._market.add_stream(topic)
            else:
                self._market.remove_stream(topic)

    def _on_callback_error(self, err: BinanceError) -> None:
        self._dispatcher.publish(ERROR_TOPIC, err)

    # ------------------------------------------------------------------ introspection
    def stats(self) -> Dict[str, Any]:
        """A snapshot for logs and health endpoints: state, per-stream and per-subscriber counters."""
        market = self._market.stats()
        subscribers = self._dispatcher.stats()
        user = self._user.stats()
        return {
            "exchange": self.exchange,
            "state": self.state.value,
            "ready": self.ready.is_set(),
            "market": market,
            "streams": market["streams"],
            "subscribers": {k: v for k, v in subscribers.items()},
            "dropped_at_stop": self._stop_dropped,
            "rest": {"used_weight": self.rest.used_weight, "inflight": self.rest.inflight,
                     "limiter": self.rest.limiter_mode},  # local, shared (Redis) or fallback
            "user_data": user,
            "gaps": self._gaps.stats(),  # gaps, missing, backfilled, unfilled, duplicates; per stream/subscriber
            "books": self._books.stats(),
            "lag": self._lag_stats(),  # event time -> callback, ms: overall and per stream (_health.py)
            # why the last failed connect attempt failed (market first), e.g. "certificate: ..."
            "last_connect_error": market.get("last_connect_error") or user.get("last_connect_error"),
        }

    # ------------------------------------------------------------------ fork safety
    def _after_fork_in_child(self) -> None:
        """In a forked child (one thread, ``os.register_at_fork``): become STOPPED and restartable.

        No thread of ours exists here and any lock may have been held by one: fresh locks,
        events and sessions. The dispatcher keeps every handle (same callbacks, counters,
        ``active``) and the wanted market streams and user-data topics are rebuilt from it,
        so ``start()`` restores every subscription as after ``stop()``. The inherited
        WebSocket descriptors are closed without a byte sent by ``_io/transport.py``'s own
        fork hook. REST gets a fresh client (a pooled keep-alive connection is the parent's
        too); a ``session=`` given to the constructor is therefore not used in the child.
        """
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._topics_lock = threading.Lock()
        self._phase = _STOPPED
        self._ready = None  # a fresh Event: one held mid-operation by a parent thread is unusable
        self._orphans = []
        self._rest_stop = threading.Event()
        self._http_session = None
        self.rest = self._make_rest(self._config, None)
        self._dispatcher.after_fork_in_child()
        self._budget = connection_budget(self._config)
        self._books = self._books.after_fork_in_child()
        self._gaps.after_fork_in_child()
        self._market = self._make_market(self._config)
        self._user = self._make_user(self._config)  # user-data topics from the dispatcher
        for topic in self._dispatcher.topics():
            if _is_market_topic(topic):
                self._market.add_stream(topic)


def _is_market_topic(topic: str) -> bool:
    """A market stream name (not a connector topic such as ``__error__`` or ``__order__``)."""
    return not topic.startswith("__")


def _stop_all_at_exit() -> None:
    for conn in list(_LIVE):
        conn.stop(timeout=2.0)


def _after_fork_in_child() -> None:
    _LIVE.clear()
    for conn in list(_ALL):
        try:
            conn._after_fork_in_child()
        except Exception:  # pragma: no cover
            pass


atexit.register(_stop_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

