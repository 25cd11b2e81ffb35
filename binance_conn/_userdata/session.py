"""The user-data session: a WebSocket API connection (``/ws-api/v3``, two during a rollover), its threads.

:class:`UserDataLink` drives the sans-I/O brains of ``_core/wsapi.py`` (frames, ids, signing,
the subscription plan), ``_core/userdata.py`` (event parsing, the order tracker) and
``_core/lifecycle.py`` (the link table ``LinkLife`` per connection, the rollover table
``LinkSet`` for the session's set of links).  Who executes which lifecycle decision:

* ``conn.WsApiConn`` -- one reader thread per connection (guarded by ``_io/guard``; connects
  through ``_io/reconnect`` after a slot of the connector's attempt budget; failures go to
  ``_io/connect_report``): feeds START/RETRY, FAILED, CONNECTED, LOST into its ``LinkLife``;
  hands user-data events to ``delivery.py`` (published on :data:`ORDER_TOPIC` /
  :data:`BALANCE_TOPIC` / :data:`ORDER_LIST_TOPIC`) unless ``LinkSet.hold`` keeps them back,
  answers to the caller of :meth:`UserDataLink.request`, the rest to the plan; reports the
  drain answer (``LinkSet.drain_answered_by``);
* the ticker thread (here, guarded): ``WsApiConn.supervise`` per link (pings; SUBSCRIBED /
  PENDING; CONDEMN on a zombie verdict -- an outage, reason ``"zombie: ..."`` -- then the
  socket is cut and the reader reconnects); ``LinkSet.tick`` (switch, drain, close, end of
  the duplicate filter) carried out by ``rollover.py``; a rollover begun on
  ``serverShutdown``, ``-2042`` or ``max_lifetime``; the primary's ``LinkLife`` folded into
  debounced ``ConnectionEvent(session="user_data")`` and the level-triggered :attr:`ready`
  (only ``READY`` is up);
* ``reconcile.py`` (its own guarded thread): after every resubscribe that closes a gap, asks
  REST about the orders tracked as open and publishes a reconciled ``OrderUpdate`` per
  order that changed.

Make-before-break is described in ``rollover.py``.  A link with no user-data subscription
(``ws_api`` only) just reconnects.  An unexpected exception in any of these threads is
logged with its traceback, reported as ``InternalError`` and the connection is torn down
and reconnected through the normal path.

Rejected credentials (-2015, -1022, -2014, -1002, 401) stop this session only: no
reconnect, one ``DISCONNECTED`` event with the reason, an ``AuthenticationError`` on
the error topic; the market streams are not touched.

The session opens only when user data is subscribed or a WebSocket API request is made
(``conn.ws_api``, ``client.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from .._core.debounce import Emitted
from .._core.lifecycle import DEFAULT_OVERLAP, LinkInput
from .._core.signing import signer_from_auth
from .._core.status import SessionStatus
from .._core.timing import MILLISECOND, with_time_unit
from .._core.userdata import OrderTracker
from .._core.wsapi import UserDataSession, WsApiProtocol, encode_params
from .._core.wsapi_paths import ws_api_path
from .._io.dispatch import Dispatcher
from .._io.guard import ThreadGuard, run_guarded
from .._io.topics import ERROR_TOPIC, GAP_TOPIC, publish_connection_events
from .._io.transport import TransportClosed, TransportFactory, WsTransport
from ..enums import ConnectionState
from ..errors import AuthenticationError, BinanceError, NotConnectedError, ValidationError
from . import RestApi
from .conn import Waiter, WsApiConn
from .delivery import BALANCE_TOPIC, EXTERNAL_LOCK_TOPIC, ORDER_LIST_TOPIC, ORDER_TOPIC, USER_TOPICS, UserEventDelivery
from .reconcile import GapReconciler
from .rollover import RolloverExecutor, new_link_set

__all__ = [
    "ORDER_TOPIC",
    "BALANCE_TOPIC",
    "ORDER_LIST_TOPIC",
    "EXTERNAL_LOCK_TOPIC",
    "USER_TOPICS",
    "UserDataLink",
]

_log = logging.getLogger("binance_conn.user_data")
_monotonic = time.monotonic
S = ConnectionState

_MAX_SLEEP = 0.25


class UserDataLink(RolloverExecutor):
    """The WebSocket API session of one connector (user data + ``ws_api`` requests).

    Args:
        config: the connector's :class:`~binance_conn.Config`.
        dispatcher: the connector's dispatcher (events, connection events, errors).
        rest: returns the connector's current REST client (clock sync, reconciliation).
        on_ready_change: called (from any of our threads) when :attr:`ready` may have changed.
        transport_factory: makes one WebSocket connection (``_io/transport.WsTransport``; tests
            pass ``_io/memory.MemoryNetwork``).
        acquire_slot: blocks (interruptibly, returning at stop) until the connector's
            connection-attempt budget allows one more connect attempt; called before every attempt.
        rollover_overlap: seconds a subscribed replacement overlaps the old link before the switch
            (default: the lifecycle's, at most a tenth of ``max_lifetime`` so that a short lifetime
            never keeps two links open all the time).
    """

    name = "user_data"

    def __init__(
        self,
        config: Any,
        dispatcher: Dispatcher,
        rest: Callable[[], RestApi],
        on_ready_change: Callable[[], None] = lambda: None,
        *,
        transport_factory: TransportFactory = WsTransport,
        acquire_slot: Optional[Callable[[], None]] = None,
        rollover_overlap: Optional[float] = None,
    ) -> None:
        self.config = config
        self.exchange: str = config.exchange.name
        # /ws-api/v3 (futures: /ws-fapi/v1, /ws-dapi/v1), plus ?timeUnit=MICROSECOND when opted in
        # (web-socket-api.md "General API Information")
        self.is_futures: bool = bool(getattr(config.exchange, "is_futures", False))
        self.url = with_time_unit(config.exchange.ws_api_url.rstrip("/")
                                  + ws_api_path(getattr(config.exchange, "product", "spot")),
                                  getattr(config.exchange, "time_unit", MILLISECOND))
        self.ws_config = config.websocket
        self.backoff = config.retry.backoff.policy()
        self.dispatcher = dispatcher
        self._rest = rest
        self._on_ready_change = on_ready_change
        self.transport_factory = transport_factory
        self._acquire_slot = acquire_slot
        auth = config.auth
        self._api_key: Optional[str] = auth.api_key
        self._key_type: Optional[str] = auth.key_type
        self.has_credentials: bool = bool(auth.has_credentials)
        self._signer = signer_from_auth(auth) if self.has_credentials else None
        self.tracker = OrderTracker(self.exchange)
        self.tracker_lock = threading.Lock()
        self._lock = threading.RLock()
        self.stop_event = threading.Event()
        self.stopping = False
        self.running = False
        self._wake = threading.Event()
        self._status_lock = threading.Lock()
        self.ready = threading.Event()  # primary up and, when user data is wanted, subscribed
        self._open = threading.Event()  # primary up (WebSocket API requests can go)
        self._topics: Set[str] = set()
        self.want_api = False
        self.fatal: Optional[BinanceError] = None
        if rollover_overlap is None:
            rollover_overlap = min(DEFAULT_OVERLAP, self.ws_config.max_lifetime / 10.0)
        self.links = new_link_set(rollover_overlap)  # primary, replacement, draining: the lifecycle's
        self._links: List[WsApiConn] = []  # every link whose thread may be alive
        self._force_reconcile = False
        self._resync = False
        self._generation = 0
        self.guard = ThreadGuard(_log, self.exchange, self.report_error)
        self.delivery = UserEventDelivery(self.exchange, dispatcher, self.stop_event, self.tracker, self.tracker_lock)
        self._ticker: Optional[threading.Thread] = None
        self.reconciler = GapReconciler(
            self.tracker, self.tracker_lock, self._lock, rest,
            lambda update: self.dispatcher.publish(ORDER_TOPIC, update, self.stop_event), lambda: self.stopping,
            self.guard, self._reconcile_crashed)
        self.reconciler.exchange = self.exchange
        self.reconciler.publish_gap = lambda gap: self.dispatcher.publish(GAP_TOPIC, gap, self.stop_event)
        self._launched = False
        self.status = SessionStatus(self.ws_config.debounce)
        self.last_loss_reason: Optional[str] = None
        self.last_connect_error: Optional[str] = None  # the last failed connect attempt's reason (kept)
        # counters (stats)
        self.connects = 0
        self.reconnects = 0
        self.zombies = 0
        self.rollovers = 0
        self.subscribes = 0
        self.malformed = 0  # bad frames (not UTF-8, not JSON, binary): session total (the reader's)
        self.bad_frame_sample: Optional[str] = None
        self.bad_frame_log_at = float("-inf")

    # ------------------------------------------------------------------ wants (any thread)
    @property
    def wants_user_data(self) -> bool:
        return bool(self._topics)

    def topic_changed(self, topic: str, added: bool) -> None:
        """A user-data topic got its first subscriber (or lost its last one).  Futures: nothing
        (their user data is a listenKey stream; this link is requests-only)."""
        if self.is_futures:
            return
        sends: List[Tuple[WsApiConn, List[str]]] = []
        with self._lock:
            before = bool(self._topics)
            if added:
                self._topics.add(topic)
            else:
                self._topics.discard(topic)
            after = bool(self._topics)
            if before == after:
                return
            now = _monotonic()
            for link in (self._primary, self._replacement):
                if link is None:
                    continue
                if after:
                    link.plan = self._new_plan()
                    if link.is_open and link.plan is not None:
                        sends.append((link, link.plan.on_connected(now, link.proto).frames))
                elif link.plan is not None:
                    if link.is_open:
                        sends.append((link, link.plan.stop(now).frames))
                    link.plan = None
            launch = after and self.running and not self.stopping
        for link, frames in sends:
            link.send(frames)
        if launch:
            self._launch()
        self.wake()
        self._on_ready_change()

    def _new_plan(self) -> Optional[UserDataSession]:
        if self.is_futures or not self._topics or self._key_type is None or self._signer is None \
                or self.fatal is not None:
            return None
        return UserDataSession(self._make_protocol(), self._key_type, backoff=self.backoff)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """The connector started: open the link if anything needs it."""
        with self._lock:
            self.running = True
            self.stopping = False
            self.stop_event.clear()
            self.fatal = None
            need = bool(self._topics) or self.want_api
        if need:
            self._launch()

    def _launch(self) -> None:
        with self._lock:
            if not self.running or self.stopping or self.fatal is not None or self.config.exchange.market_data_only:
                return  # (no WebSocket API at all on a market-data-only exchange: never a thread)
            if not self._launched:
                self._launched = True
                self.status.start(_monotonic())
            primary = self.links.primary
            if primary is None or not primary.thread.is_alive():
                self.links.reset()
                link = self._new_link("primary")
                self.links.set_primary(link)
                self._links.append(link)
                link.thread.start()
            if self._ticker is None or not self._ticker.is_alive():
                self._ticker = threading.Thread(target=self._tick_loop, name="binance_conn-user_data-ticker",
                                                daemon=True)
                self._ticker.start()

    def ensure_api(self) -> None:
        """A WebSocket API request wants the link."""
        if not self.want_api:
            with self._lock:
                self.want_api = True
        self._launch()

    def begin_stop(self) -> None:
        """Stop intake and cut every socket at once (never blocks)."""
        with self._lock:
            self.stopping = True
            self.running = False
            self.stop_event.set()
            links = list(self._links)
            self._open.clear()
        self.wake()
        for link in links:
            transport = link.transport
            if transport is not None:
                transport.abort()
            link.fail_waiters("connector stopped")
        self.ready.clear()

    def threads(self) -> List[threading.Thread]:
        with self._lock:
            out = [link.thread for link in self._links if link.thread.ident is not None]
            return out + [t for t in (self._ticker, self.reconciler.thread) if t is not None]

    def finish_stop(self, reason: str) -> None:
        """After the threads ended: STOPPED, and DISCONNECTED for a shown connection."""
        with self._lock:
            self._links = [link for link in self._links if link.thread.is_alive()]
            self.links.reset()
            self.delivery.end_overlap()
            if not self._launched:
                return
            self._launched = False
            emitted = self.status.stop(reason, _monotonic())
        self._emit(emitted)

    def wake(self) -> None:
        self._wake.set()

    def _new_link(self, role: str) -> WsApiConn:
        return WsApiConn(self, role, self._new_plan())

    def is_primary(self, link: WsApiConn) -> bool:
        return link is self._primary

    def acquire_slot(self) -> None:
        """Before every connect attempt (a reader thread): the connector's budget, if any."""
        if self._acquire_slot is not None:
            self._acquire_slot()

    def report_error(self, error: BinanceError) -> None:
        """``on_error`` (any thread; never blocks past stop())."""
        self.dispatcher.publish(ERROR_TOPIC, error, self.stop_event)

    def connect_failed(self, link: WsApiConn, reason: str, is_new_kind: bool) -> None:
        """A connect attempt of ``link`` failed (its reader; the reporter already logged and reported it).

        The reason goes to ``stats()`` and, for the primary, into the session's connection
        events: the next DISCONNECTED/RECONNECTING carries it, and a new kind of failure is
        published at once as ``RECONNECTING`` so a link that never connects is not silent.
        """
        with self._lock:
            self.last_connect_error = reason
            primary = link is self._primary
            if primary:
                self.last_loss_reason = reason
            # Not inside a settle window (users still see CONNECTED): the debounced events carry it then.
            tell = (primary and is_new_kind and self._launched and not self.stopping and self.fatal is None
                    and self.status.debouncer.shown is not S.CONNECTED)
        if tell:
            publish_connection_events(self.dispatcher, self.exchange, self.name, [(S.RECONNECTING, reason)], None,
                                      self.stop_event)
        self.wake()

    def _tear_down(self, reason: str) -> None:
        """A crash outside a reader (ticker, reconciliation): cut the live links; their readers
        report the loss and reconnect through the normal path (state, ready, on_connection)."""
        with self._lock:
            links = [x for x in (self._primary, self._replacement) if x is not None]
        for link in links:
            transport = link.transport
            if transport is not None and not transport.aborted:
                link.kill_reason = reason
                transport.abort()

    def _reconcile_crashed(self, exc: BaseException) -> None:
        self._tear_down(f"internal error in reconciliation: {type(exc).__name__}: {exc}")

    def _make_protocol(self) -> WsApiProtocol:
        return WsApiProtocol(
            api_key=self._api_key,
            sign=self._signer.sign if self._signer is not None else None,
            exchange=self.exchange,
            recv_window=self.config.rest.recv_window,
            timeout=10.0,
            clock_offset_ms=self._clock_offset(),
            id_prefix=f"u{self._generation}-",
            allow_float=bool(self.config.rest.allow_float),
        )

    def _clock_offset(self) -> float:
        try:
            server = float(self._rest().clock_offset_ms)
        except Exception:  # noqa: BLE001
            server = 0.0
        return (time.time() - _monotonic()) * 1000.0 + server

    def _on_lost(self, link: WsApiConn, reason: str) -> None:
        """``link``'s socket is gone (its reader): the plan and the rollover table hear it."""
        now = _monotonic()
        with self._lock:
            proto = link.proto
            link.proto = None
            link.transport = None
            if proto is not None:
                proto.connection_lost()
            was_primary = link is self.links.primary
            step = self._rollover_lost(link, now)
            if link.plan is not None:
                link.plan.on_disconnected()
            if was_primary:
                self._open.clear()
                if not self.stopping and self.fatal is None:
                    self.reconnects += 1
                    self.last_loss_reason = reason
            old, frame, reconcile = self._apply_locked(step, now)
        self._carry_out(step, old, frame, reconcile)
        link.fail_waiters(reason)
        self.wake()
        if was_primary:
            self.ready.clear()
            self._on_ready_change()
            if not self.stopping and self.fatal is None:
                _log.warning("user-data connection lost: %s", reason, extra={"reason": reason})
                # Published now, not at the next tick: a reconnect faster than a tick is still an outage.
                if not self._update_state(_monotonic()) and reason.startswith("internal error"):
                    # Already shown as down (a crash before the reconnect was reported up): a crash
                    # is never silent, so the new reason goes out as RECONNECTING.
                    publish_connection_events(self.dispatcher, self.exchange, self.name,
                                              [(S.RECONNECTING, reason)], None, self.stop_event)

    def _on_fatal(self, error: BinanceError) -> None:
        if not isinstance(error, AuthenticationError):
            error = AuthenticationError(
                f"credentials rejected: {error.message}",
                binance_code=error.binance_code,
                http_status=error.details.get("http_status"),
                exchange=self.exchange,
            )
        reason = f"credentials rejected: {error.message}"
        with self._lock:
            if self.fatal is not None:
                return
            self.fatal = error
            self._open.clear()
            self.last_loss_reason = reason
            links = list(self._links)
            emit = self.status.fail()
            for link in links:
                link.retired = True
                link.life.handle(LinkInput.CLOSE, _monotonic(), reason)
        for link in links:
            if link.transport is not None:
                link.transport.close()
        self.ready.clear()
        _log.error("user-data session stopped: credentials rejected", extra={"code": error.binance_code})
        if emit:
            publish_connection_events(self.dispatcher, self.exchange, self.name, [(S.DISCONNECTED, reason)], None,
                                      self.stop_event)
        self.dispatcher.publish(ERROR_TOPIC, error, self.stop_event)
        self._on_ready_change()

    # ------------------------------------------------------------------ ticker thread
    def _tick_loop(self) -> None:
        run_guarded(self._ticks, guard=self.guard, component="user-data ticker", stop_event=self.stop_event,
                    recover=self._ticker_crashed, is_done=lambda: self.stopping)

    def _ticks(self) -> None:
        while not self.stopping:
            timeout = self._tick()
            self._wake.wait(timeout)
            self._wake.clear()

    def _ticker_crashed(self, exc: BaseException) -> None:
        self._tear_down(f"internal error in the ticker: {type(exc).__name__}: {exc}")

    def _tick(self) -> float:
        now = _monotonic()
        deadline = now + _MAX_SLEEP
        if self._resync:
            self._resync = False
            try:
                self._rest().sync_clock(force=True)
            except Exception:  # noqa: BLE001 - retried at the next -1021
                pass
        actions: List[Tuple[WsApiConn, List[str], bool, Optional[str]]] = []
        rollover: Optional[str] = None
        with self._lock:
            self._links = [x for x in self._links if x.thread.ident is None or x.thread.is_alive()]
            step, old, frame, reconcile = self._rollover_tick(now)
            if step.wake_at is not None and step.wake_at < deadline:
                deadline = step.wake_at
            may_roll = not self.links.in_rollover and self.links.draining is None
            offset = self._clock_offset
            for link in self._links:
                frames, ping, kill, roll, nd = link.supervise(
                    now, is_primary=link is self._primary, may_roll=may_roll,
                    max_lifetime=self.ws_config.max_lifetime, clock_offset=offset)
                if nd is not None and nd < deadline:
                    deadline = nd
                if roll is not None:
                    rollover = roll
                if ping or frames or kill:
                    actions.append((link, frames, ping, kill))
        for link, frames, ping, kill in actions:
            link.send(frames)
            transport = link.transport
            if transport is None:
                continue
            if ping:
                try:
                    transport.ping(b"")
                except TransportClosed:
                    pass
            if kill is not None and not transport.aborted:
                if kill.startswith("zombie"):
                    self.zombies += 1
                    _log.warning("user-data connection replaced: %s", kill, extra={"reason": kill})
                link.kill_reason = kill
                if link.retired:
                    transport.close()
                else:
                    transport.abort()
        self._carry_out(step, old, frame, reconcile)
        if rollover is not None:
            self._begin_rollover(rollover, now)
        self._update_state(now)
        d = self.status.next_deadline()
        if d is not None and d < deadline:
            deadline = d
        return max(0.0, min(_MAX_SLEEP, deadline - _monotonic()))

    def _is_up(self) -> bool:
        link = self._primary
        return link is not None and self._open.is_set() and link.life.is_ready

    def _update_state(self, now: float) -> bool:
        """Fold the primary's state into ``ready`` and the connection events (ticker, or a reader
        reporting a loss); ``_status_lock`` keeps the events of both in order. True: events went out."""
        with self._status_lock:
            return self._update_state_locked(now)

    def _update_state_locked(self, now: float) -> bool:
        with self._lock:
            if self.fatal is not None or not self._launched:
                return False
            up = self._is_up()
            if up:
                reason = "user data subscribed" if self._topics else "WebSocket API connected"
            elif self._primary is not None and self._primary.life.is_condemned:
                reason = self._primary.life.reason
            elif self._open.is_set():
                reason = "subscribing to user data"
            else:
                reason = self.last_loss_reason or "connecting"
            emitted, _ = self.status.update(up, not up, reason, now)
            was = self.ready.is_set()
            if up:
                self.ready.set()
            else:
                self.ready.clear()
        if was != up:
            self._on_ready_change()
        self._emit(emitted)
        return bool(emitted)

    def _emit(self, emitted: List[Emitted]) -> None:
        publish_connection_events(self.dispatcher, self.exchange, self.name, emitted, _log, self.stop_event)

    # ------------------------------------------------------------------ reconciliation
    def track_placed(self, response: Any) -> None:
        """An order placement answer (REST or WebSocket API): remember the order."""
        if isinstance(response, Mapping):
            with self.tracker_lock:
                self.tracker.track_placed(response)

    # ------------------------------------------------------------------ requests (any thread)
    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, signed: bool = False,
                timeout: float = 10.0, client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        """Send one WebSocket API request and wait for its answer (see :meth:`WsApiClient.request`)."""
        self.config.exchange.require_account_access("the WebSocket API (conn.ws_api)")  # binance-data: at once
        if not isinstance(method, str) or not method:
            raise ValidationError("method", method, "must be a non-empty string")
        if timeout is None or timeout <= 0:
            raise ValidationError("timeout", timeout, "must be > 0")
        deadline = _monotonic() + float(timeout)
        # The REST float rule, checked before waiting for a link: a float is refused (naming the
        # field) unless the config allows it; the protocol signs and sends exactly this text.
        params = encode_params(params, allow_float=bool(self.config.rest.allow_float))
        if not self.running or self.stopping:
            raise NotConnectedError("the connector is not running: call start() before WebSocket API requests",
                                    exchange=self.exchange)
        fatal = self.fatal
        if fatal is not None:
            raise NotConnectedError(f"WebSocket API session stopped: {fatal.message}", exchange=self.exchange)
        self.ensure_api()
        while not self._open.wait(min(0.1, max(0.0, deadline - _monotonic()))):
            if self.stopping or _monotonic() >= deadline:
                raise NotConnectedError(f"WebSocket API not connected within {timeout:g} s", exchange=self.exchange)
        waiter = Waiter(method, client_order_id, symbol)
        with self._lock:
            link = self._primary
            proto = link.proto if link is not None else None
            transport = link.transport if link is not None else None
            if link is None or proto is None or transport is None or not self._open.is_set():
                raise NotConnectedError("WebSocket API connection lost before sending", exchange=self.exchange)
            proto.set_clock_offset(self._clock_offset())
            rid, frame = proto.request(method, params, signed=signed, now=_monotonic(),
                                       timeout=max(0.0, deadline - _monotonic()))
            waiter.rid = rid
            link.waiters[rid] = waiter
        return link.call(transport, frame, waiter, deadline, timeout)

    # ------------------------------------------------------------------ stats
    def stats(self) -> Dict[str, Any]:
        now = _monotonic()
        with self._lock:
            link = self._primary
            plan = link.plan if link is not None else None
            opened = link.opened_at if link is not None and self._open.is_set() else None
            pending = sum(len(x.waiters) for x in self._links)
            rolling = self.links.state.value
            held = self.links.held
            links = list(self._links)
        with self.tracker_lock:
            tracked = len(self.tracker)
        return {
            "state": self.status.state.value,
            "wanted": bool(self._topics),
            "connected": self._open.is_set(),
            "subscribed": bool(plan is not None and plan.is_ready),
            "subscription_id": plan.subscription_id if plan is not None else None,
            "ready": self.ready.is_set(),
            "connected_for": (now - opened) if opened is not None else None,
            "credentials_rejected": self.fatal is not None,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "zombies_replaced": self.zombies,
            "rollovers": self.rollovers,
            "rollover_in_progress": self.links.in_rollover,
            "rollover_state": rolling,
            "held_events": held,
            "duplicates_dropped": self.delivery.duplicates,
            "subscribes": self.subscribes,
            "events": self.delivery.events,
            "malformed": self.malformed + self.delivery.malformed,
            **self.delivery.counts(),
            "last_bad_frame": self.bad_frame_sample,
            "reconciliations": self.reconciler.reconciliations,
            "reconciled_updates": self.reconciler.reconciled,
            "reconcile_errors": self.reconciler.errors,
            "gaps": self.reconciler.gaps, "unfilled_gaps": self.reconciler.unfilled,
            "tracked_orders": tracked,
            "pending_requests": pending,
            "last_loss_reason": self.last_loss_reason,
            "last_connect_error": self.last_connect_error,
            "connect_failures": sum(x.reporter.total_failures for x in links),
            "internal_errors": self.guard.crashes,
            "last_internal_error": self.guard.last_crash,
        }
