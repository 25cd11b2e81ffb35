"""The user-data session: one WebSocket API connection (``/ws-api/v3``) and its threads.

:class:`UserDataLink` owns the socket and drives the sans-I/O brains of
``_core/wsapi.py`` (frames, ids, signing, the subscription plan) and
``_core/userdata.py`` (event parsing, the order tracker, gap reconciliation):

* a reader thread connects (tenacity, the configured backoff, forever; ``stop()``
  cuts a backoff sleep at once), then reads frames: user-data events are parsed
  and published on :data:`ORDER_TOPIC` / :data:`BALANCE_TOPIC` /
  :data:`ORDER_LIST_TOPIC`, responses wake the caller of :meth:`UserDataLink.request`
  or feed the plan (logon, subscribe, resubscribe after ``eventStreamTerminated``);
* a ticker thread sends pings (a link that answers nothing within ``pong_timeout``
  of a ping is cut and replaced), resubscribes after a failed subscribe, replaces the
  connection before ``max_lifetime``, and folds the link state into debounced
  ``ConnectionEvent(session="user_data")`` and the level-triggered :attr:`ready`;
* after every resubscribe that closes a gap, a reconciliation thread asks REST
  (by symbol, never the all-symbols ``openOrders``) about the orders tracked as
  open and publishes a reconciled ``OrderUpdate`` per order that changed.

No make-before-break: on ``serverShutdown``, ``-2042`` or the lifetime limit the
connection is replaced at once and the gap it leaves is closed by the
reconciliation (the missed executions arrive with ``is_reconciled=True``).

Rejected credentials (-2015, -1022, -2014, -1002, 401) stop this session only: no
reconnect, one ``DISCONNECTED`` event with the reason, an ``AuthenticationError`` on
the error topic; the market streams are not touched.

The session opens only when user data is subscribed or a WebSocket API request is
made (:class:`WsApiClient`, ``conn.ws_api``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

import tenacity

from ._core.debounce import Debouncer
from ._core.health import HealthMonitor
from ._core.signing import signer_from_auth
from ._core.state import Input, StateMachine
from ._core.userdata import OrderTracker, parse_user_event
from ._core.wsapi import (
    Malformed,
    Response,
    ServerShutdown,
    Step,
    UnsolicitedError,
    UserDataEvent,
    UserDataSession,
    WsApiProtocol,
    is_auth_failure,
)
from ._dispatch import Dispatcher
from ._rest_helpers import check_client_order_id, decimalize, new_client_order_id
from ._supervisor import CONNECTION_TOPIC, ERROR_TOPIC
from ._transport import OP_PING, OP_PONG, OP_TEXT, TransportClosed, WsTransport
from .enums import ConnectionState
from .errors import (
    AuthenticationError,
    BinanceError,
    ConnectionError,
    NotConnectedError,
    UnknownStatusError,
    ValidationError,
)
from .events import BalanceUpdate, ConnectionEvent, OrderListUpdate, OrderUpdate
from .rest import RestClient

__all__ = [
    "ORDER_TOPIC",
    "BALANCE_TOPIC",
    "ORDER_LIST_TOPIC",
    "USER_TOPICS",
    "UserDataLink",
    "WsApiClient",
    "TrackingRestClient",
]

_log = logging.getLogger("binance_conn.user_data")
_monotonic = time.monotonic
S = ConnectionState

ORDER_TOPIC = "__order__"
BALANCE_TOPIC = "__balance__"
ORDER_LIST_TOPIC = "__order_list__"
USER_TOPICS = (ORDER_TOPIC, BALANCE_TOPIC, ORDER_LIST_TOPIC)
_MAX_SLEEP = 0.25
_ORDER_METHODS = frozenset({"order.place", "order.cancel", "order.cancelReplace", "orderList.place"})


class _Stopped(Exception):
    """The connect loop must end (stop, or credentials rejected)."""


class _Waiter:
    """One caller blocked in :meth:`UserDataLink.request`."""

    __slots__ = ("event", "response", "lost")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: Optional[Response] = None
        self.lost: Optional[str] = None


class TrackingRestClient(RestClient):
    """A :class:`RestClient` that tells an observer about every order it placed
    (``POST /api/v3/order`` answers), so a user-data gap also covers REST placements."""

    order_observer: Optional[Callable[[Any], None]] = None

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                signed: bool = False, timeout: Any = None) -> Any:
        result = super().request(method, path, params, signed, timeout)
        observer = self.order_observer
        if observer is not None and path == "/api/v3/order" and method.upper() == "POST":
            try:
                observer(result)
            except Exception:  # pragma: no cover - tracking must never break a placement
                _log.exception("order tracking failed")
        return result


class UserDataLink:
    """The WebSocket API session of one connector (user data + ``ws_api`` requests).

    Args:
        config: the connector's :class:`~binance_conn.Config`.
        dispatcher: the connector's dispatcher (events, connection events, errors).
        rest: returns the connector's current REST client (clock sync, reconciliation).
        on_ready_change: called (from any of our threads) when :attr:`ready` may have changed.
    """

    name = "user_data"

    def __init__(
        self,
        config: Any,
        dispatcher: Dispatcher,
        rest: Callable[[], RestClient],
        on_ready_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.exchange: str = config.exchange.name
        self.url = config.exchange.ws_api_url.rstrip("/") + "/ws-api/v3"
        self.ws_config = config.websocket
        self.backoff = config.retry.backoff.policy()
        self.dispatcher = dispatcher
        self._rest = rest
        self._on_ready_change = on_ready_change
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
        self.ready = threading.Event()  # link up and, when user data is wanted, subscribed
        self._open = threading.Event()  # link up (WebSocket API requests can go)
        self._topics: Set[str] = set()
        self.want_api = False
        self.fatal: Optional[BinanceError] = None
        self._plan: Optional[UserDataSession] = None
        self._proto: Optional[WsApiProtocol] = None
        self._transport: Optional[WsTransport] = None
        self._health = HealthMonitor(
            self.ws_config.ping_interval, self.ws_config.pong_timeout, self.ws_config.silence_timeout, 1.0
        )
        self._opened_at: Optional[float] = None
        self._kill_reason: Optional[str] = None
        self._waiters: Dict[str, _Waiter] = {}
        self._retry = 0
        self._generation = 0
        self._reader: Optional[threading.Thread] = None
        self._ticker: Optional[threading.Thread] = None
        self._reconciler: Optional[threading.Thread] = None
        self._reconcile_again = False
        self._launched = False
        self.sm = StateMachine()
        self.debouncer = Debouncer(self.ws_config.debounce)
        self.last_loss_reason: Optional[str] = None
        # counters (stats)
        self.connects = 0
        self.reconnects = 0
        self.zombies = 0
        self.subscribes = 0
        self.events = 0
        self.malformed = 0
        self.reconciliations = 0
        self.reconciled = 0
        self.reconcile_errors = 0

    # ------------------------------------------------------------------ wants (any thread)
    @property
    def wants_user_data(self) -> bool:
        return bool(self._topics)

    def topic_changed(self, topic: str, added: bool) -> None:
        """A user-data topic got its first subscriber (or lost its last one)."""
        sends: List[str] = []
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
            if after:
                self._plan = self._new_plan()
                if self._open.is_set() and self._proto is not None and self._plan is not None:
                    sends = self._plan.on_connected(now, self._proto).frames
            elif self._plan is not None:
                if self._open.is_set():
                    sends = self._plan.stop(now).frames
                self._plan = None
            launch = after and self.running and not self.stopping
        self._send(sends)
        if launch:
            self._launch()
        self.wake()
        self._on_ready_change()

    def _new_plan(self) -> Optional[UserDataSession]:
        if self._key_type is None or self._signer is None or self.fatal is not None:
            return None
        proto = self._proto or self._make_protocol()
        return UserDataSession(proto, self._key_type, backoff=self.backoff)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """The connector started: open the link if anything needs it."""
        with self._lock:
            self.running = True
            self.stopping = False
            self.stop_event.clear()
            self.fatal = None
            self._retry = 0
            if self._topics:
                self._plan = self._new_plan()
            need = bool(self._topics) or self.want_api
        if need:
            self._launch()

    def _launch(self) -> None:
        with self._lock:
            if not self.running or self.stopping or self.fatal is not None:
                return
            if not self._launched:
                self._launched = True
                self.sm = StateMachine()
                self.sm.handle(Input.START)
                self.debouncer = Debouncer(self.ws_config.debounce)
                self.debouncer.feed(S.CONNECTING, _monotonic())
            if self._reader is None or not self._reader.is_alive():
                self._reader = threading.Thread(target=self._run, name="binance_conn-user_data-reader", daemon=True)
                self._reader.start()
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
        """Stop intake and cut the socket at once (never blocks)."""
        with self._lock:
            self.stopping = True
            self.running = False
            self.stop_event.set()
            transport = self._transport
            waiters = list(self._waiters.values())
            self._waiters.clear()
            self._open.clear()
        self.wake()
        if transport is not None:
            transport.abort()
        for w in waiters:
            w.lost = "connector stopped"
            w.event.set()
        self.ready.clear()

    def threads(self) -> List[threading.Thread]:
        with self._lock:
            return [t for t in (self._reader, self._ticker, self._reconciler) if t is not None]

    def finish_stop(self, reason: str) -> None:
        """After the threads ended: STOPPED, and DISCONNECTED for a shown connection."""
        with self._lock:
            if not self._launched:
                return
            self._launched = False
            if self.sm.state is not S.STOPPED:
                self.sm.handle(Input.STOP)
            emitted = self.debouncer.feed(S.STOPPED, _monotonic(), reason)
            if self._plan is not None:
                self._plan = self._new_plan()  # a restart subscribes afresh
        self._emit(emitted)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        try:
            while not self.stopping and self.fatal is None:
                try:
                    transport = self._connect_forever()
                except _Stopped:
                    break
                reason = self._serve(transport)
                self._on_lost(reason)
        except Exception:  # pragma: no cover - a bug; never die silently
            _log.exception("user-data reader crashed")
        finally:
            last = self._transport
            if last is not None:
                last.abort()
            self.wake()

    def _connect_forever(self) -> WsTransport:
        def wait(state: tenacity.RetryCallState) -> float:
            delay = float(self.backoff.delay(self._retry, random.random()))
            self._retry += 1
            return delay

        def before_sleep(state: tenacity.RetryCallState) -> None:
            outcome = state.outcome
            err = outcome.exception() if outcome is not None else None
            self.last_loss_reason = str(err)
            self.wake()
            _log.info("user-data connect failed, retrying", extra={"error": str(err)})

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(ConnectionError),
            wait=wait,
            stop=tenacity.stop_never,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        result: WsTransport = retrying(self._connect_once)
        return result

    def _sleep(self, seconds: float) -> None:
        self.stop_event.wait(seconds)

    def _connect_once(self) -> WsTransport:
        if self.stopping or self.fatal is not None:
            raise _Stopped()
        if self._signer is not None:
            try:
                self._rest().sync_clock()
            except Exception:  # noqa: BLE001 - the offset we have is the best we can do
                pass
        transport = WsTransport(self.url, handshake_timeout=self.ws_config.handshake_timeout,
                                proxy=self.ws_config.proxy)
        with self._lock:
            if self.stopping:
                raise _Stopped()
            self._transport = transport
        transport.connect()  # raises errors.ConnectionError: tenacity retries
        now = _monotonic()
        with self._lock:
            if self.stopping:
                transport.abort()
                raise _Stopped()
            self._generation += 1
            proto = self._make_protocol()
            self._proto = proto
            self._health.on_connected(now)
            self._opened_at = now
            self._kill_reason = None
            self.connects += 1
            step = self._plan.on_connected(now, proto) if self._plan is not None else Step()
            self._open.set()
        self._send(step.frames)
        self.wake()
        return transport

    def _make_protocol(self) -> WsApiProtocol:
        return WsApiProtocol(
            api_key=self._api_key,
            sign=self._signer.sign if self._signer is not None else None,
            exchange=self.exchange,
            recv_window=self.config.rest.recv_window,
            timeout=10.0,
            clock_offset_ms=self._clock_offset(),
            id_prefix=f"u{self._generation}-",
        )

    def _clock_offset(self) -> float:
        try:
            server = float(self._rest().clock_offset_ms)
        except Exception:  # noqa: BLE001
            server = 0.0
        return (time.time() - _monotonic()) * 1000.0 + server

    def _serve(self, transport: WsTransport) -> str:
        lock = self._lock
        health = self._health
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                return self._kill_reason or exc.reason
            now = _monotonic()
            payloads: List[Dict[str, Any]] = []
            resolved: List[Tuple[_Waiter, Response]] = []
            step = Step()
            with lock:
                proto = self._proto
                plan = self._plan
                if proto is None:
                    continue
                for opcode, payload in frames:
                    if opcode == OP_TEXT:
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            self.malformed += 1
                            continue
                        msg = proto.receive_text(text, now)
                        if isinstance(msg, UserDataEvent):
                            health.on_data(now)
                            payloads.append(msg.payload)
                            if plan is not None and msg.event_type == "eventStreamTerminated":
                                _merge(step, plan.handle(msg, now))
                        elif isinstance(msg, Response):
                            health.on_frame(now)
                            waiter = self._waiters.pop(msg.id, None)
                            if waiter is not None:
                                resolved.append((waiter, msg))
                            elif plan is not None:
                                _merge(step, plan.handle(msg, now))
                        elif isinstance(msg, Malformed):
                            health.on_frame(now)
                            self.malformed += 1
                        else:
                            health.on_frame(now)
                            if plan is not None:
                                _merge(step, plan.handle(msg, now))
                            elif isinstance(msg, ServerShutdown):
                                step.reconnect = True
                            elif isinstance(msg, UnsolicitedError) and self._topics and is_auth_failure(msg.error):
                                step.fatal = msg.error
                    elif opcode == OP_PONG or opcode == OP_PING:
                        health.on_pong(now)
                    else:
                        health.on_frame(now)
            for waiter, response in resolved:
                waiter.response = response
                waiter.event.set()
            if step.frames:
                self._send(step.frames)
            if payloads:
                self._publish_events(payloads)
            if step.subscribed:
                self.subscribes += 1
                self._retry = 0
                self.wake()
                self._on_ready_change()
            if step.reconcile:
                self._start_reconcile()
            if step.fatal is not None:
                self._on_fatal(step.fatal)
                transport.close()
                return f"credentials rejected: {step.fatal.message}"
            if step.reconnect:
                self._kill_reason = "server asked to reconnect"
                transport.close()

    def _publish_events(self, payloads: List[Dict[str, Any]]) -> None:
        publish = self.dispatcher.publish
        stop = self.stop_event
        exchange = self.exchange
        for payload in payloads:
            try:
                events = parse_user_event(payload, exchange)
            except (KeyError, ValueError, TypeError, ArithmeticError):
                self.malformed += 1
                continue
            for ev in events:
                self.events += 1
                if isinstance(ev, OrderUpdate):
                    with self.tracker_lock:
                        self.tracker.observe(ev)
                    publish(ORDER_TOPIC, ev, stop)
                elif isinstance(ev, BalanceUpdate):
                    publish(BALANCE_TOPIC, ev, stop)
                elif isinstance(ev, OrderListUpdate):
                    publish(ORDER_LIST_TOPIC, ev, stop)

    def _on_lost(self, reason: str) -> None:
        with self._lock:
            self._open.clear()
            proto = self._proto
            self._proto = None
            self._transport = None
            waiters = list(self._waiters.values())
            self._waiters.clear()
            if proto is not None:
                proto.connection_lost()
            if self._plan is not None:
                self._plan.on_disconnected()
            if not self.stopping and self.fatal is None:
                self.reconnects += 1
                self.last_loss_reason = reason
                with self.tracker_lock:
                    self.tracker.begin_gap()
        for w in waiters:
            w.lost = reason
            w.event.set()
        self.ready.clear()
        self._on_ready_change()
        self.wake()
        if not self.stopping and self.fatal is None:
            _log.warning("user-data connection lost", extra={"reason": reason})

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
            emit = self.sm.state is not S.STOPPED
            if emit and self.sm.state is S.CONNECTED:
                self.sm.handle(Input.LOST)
            self.debouncer = Debouncer(0.0)
        self.ready.clear()
        _log.error("user-data session stopped: credentials rejected", extra={"code": error.binance_code})
        if emit:
            event = ConnectionEvent(self.exchange, self.name, S.DISCONNECTED, reason, int(time.time() * 1000))
            self.dispatcher.publish(CONNECTION_TOPIC, event)
        self.dispatcher.publish(ERROR_TOPIC, error)
        self._on_ready_change()

    def _send(self, frames: List[str]) -> None:
        if not frames:
            return
        transport = self._transport
        if transport is None:
            return
        try:
            for text in frames:
                transport.send_text(text)
        except TransportClosed:
            pass  # the reader sees the dead socket

    # ------------------------------------------------------------------ ticker thread
    def _tick_loop(self) -> None:
        try:
            while not self.stopping:
                timeout = self._tick()
                self._wake.wait(timeout)
                self._wake.clear()
        except Exception:  # pragma: no cover
            _log.exception("user-data ticker crashed")

    def _tick(self) -> float:
        now = _monotonic()
        deadline = now + _MAX_SLEEP
        ping = False
        kill: Optional[str] = None
        frames: List[str] = []
        expired_plan = False
        with self._lock:
            proto = self._proto
            transport = self._transport
            plan = self._plan
            if proto is not None and transport is not None and self._open.is_set():
                health = self._health
                due = health.next_ping_due(now)
                if due == 0.0:
                    ping = True
                    health.on_ping_sent(now)
                kill = health.is_zombie(now)
                nd = health.next_deadline(now)
                if nd is not None and nd < deadline:
                    deadline = nd
                gone = [rid for rid in proto.expired(now) if rid not in self._waiters]
                if plan is not None:
                    if gone:
                        frames += plan.on_expired(gone, now).frames
                        expired_plan = True
                    frames += plan.poll(now).frames
                opened = self._opened_at
                if kill is None and opened is not None and now - opened >= self.ws_config.max_lifetime:
                    kill = "maximum connection lifetime reached"
        if frames:
            self._send(frames)
        if ping and transport is not None:
            try:
                transport.ping(b"")
            except TransportClosed:
                pass
        if kill is not None and transport is not None and not transport.aborted:
            if kill.startswith("no pong"):
                self.zombies += 1
                _log.warning("zombie user-data connection replaced", extra={"reason": kill})
            self._kill_reason = kill
            transport.abort()
        if expired_plan:
            self.wake()
        self._update_state(now)
        d = self.debouncer.next_deadline()
        if d is not None and d < deadline:
            deadline = d
        return max(0.0, min(_MAX_SLEEP, deadline - _monotonic()))

    def _is_up(self) -> bool:
        if not self._open.is_set():
            return False
        plan = self._plan
        if self._topics:
            return plan is not None and plan.is_ready
        return True

    def _update_state(self, now: float) -> None:
        emitted: List[Tuple[ConnectionState, str]] = []
        with self._lock:
            if self.fatal is not None or not self._launched:
                return
            up = self._is_up()
            if up:
                reason = "user data subscribed" if self._topics else "WebSocket API connected"
            elif self._open.is_set():
                reason = "subscribing to user data"
            else:
                reason = self.last_loss_reason or "connecting"
            sm = self.sm
            state = sm.state
            if up and state is not S.CONNECTED and sm.can(Input.CONNECTED):
                sm.handle(Input.CONNECTED)
            elif not up and state is S.CONNECTED:
                sm.handle(Input.LOST)
            if not up and sm.state is S.DISCONNECTED:
                emitted += self.debouncer.feed(S.DISCONNECTED, now, reason)
                sm.handle(Input.RETRY)
            if sm.state is not state or sm.state is S.RECONNECTING:
                emitted += self.debouncer.feed(sm.state, now, reason)
            emitted += self.debouncer.poll(now)
            was = self.ready.is_set()
            if up:
                self.ready.set()
            else:
                self.ready.clear()
        if was != up:
            self._on_ready_change()
        self._emit(emitted)

    def _emit(self, emitted: List[Tuple[ConnectionState, str]]) -> None:
        for state, reason in emitted:
            if state not in (S.CONNECTED, S.DISCONNECTED, S.RECONNECTING):
                continue
            event = ConnectionEvent(self.exchange, self.name, state, reason, int(time.time() * 1000))
            _log.info("connection state", extra={"session": self.name, "state": state.value, "reason": reason})
            self.dispatcher.publish(CONNECTION_TOPIC, event)

    # ------------------------------------------------------------------ reconciliation
    def _start_reconcile(self) -> None:
        with self._lock:
            if self.stopping:
                return
            if self._reconciler is not None and self._reconciler.is_alive():
                self._reconcile_again = True
                return
            self._reconcile_again = False
            self._reconciler = threading.Thread(target=self._reconcile_loop, name="binance_conn-user_data-reconcile",
                                                daemon=True)
            self._reconciler.start()

    def _reconcile_loop(self) -> None:
        try:
            while not self.stopping:
                self._reconcile_once()
                with self._lock:
                    if not self._reconcile_again:
                        return
                    self._reconcile_again = False
        except Exception:  # pragma: no cover
            _log.exception("user-data reconciliation crashed")

    def _reconcile_once(self) -> None:
        with self.tracker_lock:
            rec = self.tracker.begin_reconcile()
        rest = self._rest()
        while not self.stopping:
            with self.tracker_lock:
                queries = rec.next_queries()
            if not queries:
                break
            for q in queries:
                try:
                    answer = rest.request(q.method, q.path, q.params, signed=True)
                except BinanceError as exc:
                    self.reconcile_errors += 1
                    with self.tracker_lock:
                        rec.fail(q, exc)
                else:
                    rec.feed(q, answer)
        if self.stopping:
            return
        with self.tracker_lock:
            updates = rec.finish()
        self.reconciliations += 1
        self.reconciled += len(updates)
        if updates or rec.failed:
            _log.info("user-data gap reconciled",
                      extra={"updates": len(updates), "weight": rec.weight_spent, "failed": len(rec.failed)})
        for update in updates:
            self.dispatcher.publish(ORDER_TOPIC, update, self.stop_event)

    def track_placed(self, response: Any) -> None:
        """An order placement answer (REST or WebSocket API): remember the order."""
        if isinstance(response, Mapping):
            with self.tracker_lock:
                self.tracker.track_placed(response)

    # ------------------------------------------------------------------ requests (any thread)
    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, signed: bool = False,
                timeout: float = 10.0, client_order_id: Optional[str] = None, symbol: Optional[str] = None) -> Any:
        """Send one WebSocket API request and wait for its answer (see :meth:`WsApiClient.request`)."""
        if not isinstance(method, str) or not method:
            raise ValidationError("method", method, "must be a non-empty string")
        if timeout is None or timeout <= 0:
            raise ValidationError("timeout", timeout, "must be > 0")
        deadline = _monotonic() + float(timeout)
        if not self.running or self.stopping:
            raise NotConnectedError("the connector is not running: call start() before WebSocket API requests",
                                    exchange=self.exchange)
        fatal = self.fatal
        if fatal is not None:
            raise NotConnectedError(f"WebSocket API session stopped: {fatal.message}", exchange=self.exchange)
        self.ensure_api()
        if not self._open.wait(max(0.0, deadline - _monotonic())):
            raise NotConnectedError(f"WebSocket API not connected within {timeout:g} s", exchange=self.exchange)
        waiter = _Waiter()
        with self._lock:
            proto = self._proto
            transport = self._transport
            if proto is None or transport is None or not self._open.is_set():
                raise NotConnectedError("WebSocket API connection lost before sending", exchange=self.exchange)
            proto.set_clock_offset(self._clock_offset())
            rid, frame = proto.request(method, params, signed=signed, now=_monotonic(),
                                       timeout=max(0.0, deadline - _monotonic()))
            self._waiters[rid] = waiter
        try:
            transport.send_text(frame)
        except TransportClosed as exc:
            with self._lock:
                self._waiters.pop(rid, None)
            if method in _ORDER_METHODS:
                raise self._unknown(method, f"connection lost while sending {method}", client_order_id,
                                    symbol, rid) from exc
            raise NotConnectedError("WebSocket API connection lost while sending", exchange=self.exchange) from exc
        if not waiter.event.wait(max(0.0, deadline - _monotonic())):
            with self._lock:
                self._waiters.pop(rid, None)
            raise self._unknown(method, f"no answer to {method} within {timeout:g} s", client_order_id, symbol, rid)
        response = waiter.response
        if response is None:
            lost = waiter.lost or "connection lost"
            if method in _ORDER_METHODS:
                raise self._unknown(method, f"{lost} with {method} in flight", client_order_id, symbol, rid)
            raise ConnectionError(f"WebSocket API: {lost} with {method} in flight", exchange=self.exchange,
                                  request_id=rid)
        error = response.error
        if error is not None:
            if isinstance(error, UnknownStatusError) and client_order_id is not None:
                error.client_order_id = client_order_id
                error.symbol = symbol
                error.details["client_order_id"] = client_order_id
            raise error
        return response.result

    def _unknown(self, method: str, message: str, client_order_id: Optional[str], symbol: Optional[str],
                 rid: str) -> UnknownStatusError:
        err = UnknownStatusError(message, client_order_id=client_order_id, symbol=symbol, method=method,
                                 exchange=self.exchange, request_id=rid,
                                 details={"client_order_id": client_order_id} if client_order_id else None)
        return err

    # ------------------------------------------------------------------ stats
    def stats(self) -> Dict[str, Any]:
        now = _monotonic()
        with self._lock:
            plan = self._plan
            opened = self._opened_at if self._open.is_set() else None
            pending = len(self._waiters)
        with self.tracker_lock:
            tracked = len(self.tracker)
        return {
            "state": self.sm.state.value,
            "wanted": bool(self._topics),
            "connected": self._open.is_set(),
            "subscribed": bool(plan is not None and plan.is_ready),
            "ready": self.ready.is_set(),
            "connected_for": (now - opened) if opened is not None else None,
            "credentials_rejected": self.fatal is not None,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "zombies_replaced": self.zombies,
            "subscribes": self.subscribes,
            "events": self.events,
            "malformed": self.malformed,
            "reconciliations": self.reconciliations,
            "reconciled_updates": self.reconciled,
            "reconcile_errors": self.reconcile_errors,
            "tracked_orders": tracked,
            "pending_requests": pending,
            "last_loss_reason": self.last_loss_reason,
        }


def _merge(into: Step, step: Step) -> None:
    into.frames.extend(step.frames)
    into.subscribed = into.subscribed or step.subscribed
    into.reconcile = into.reconcile or step.reconcile
    into.reconnect = into.reconnect or step.reconnect
    if into.fatal is None:
        into.fatal = step.fatal


class WsApiClient:
    """``conn.ws_api``: WebSocket API requests over the connector's user-data session.

    Every method blocks the calling thread only (any thread, concurrently) and
    opens the session on first use while the connector runs.
    """

    def __init__(self, link: Callable[[], UserDataLink]) -> None:
        self._link = link

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, signed: bool = False,
                timeout: float = 10.0) -> Any:
        """Send ``method`` (e.g. ``"time"``, ``"account.status"``) and return its ``result``.

        ``signed`` adds ``apiKey``, ``timestamp``, ``recvWindow`` and the section 3.2
        signature (omitted once an Ed25519 session is logged on).

        Raises:
            NotConnectedError: the connector is not running or the link is not up within ``timeout``.
            UnknownStatusError: no answer within ``timeout`` (the request may have run).
            ConnectionError: the connection was lost with the request in flight.
            BinanceError: the error Binance answered, mapped (``retry_after`` in seconds).
        """
        return self._link().request(method, params, signed=signed, timeout=timeout)

    def place_order(self, symbol: str, side: str, type: str, *, quantity: Any = None,  # noqa: A002
                    price: Any = None, time_in_force: Optional[str] = None, client_order_id: Optional[str] = None,
                    timeout: float = 10.0, **extra: Any) -> Dict[str, Any]:
        """``order.place``; never re-sent.  A ``newClientOrderId`` is always sent; a timeout or a
        connection lost with the request in flight raises :class:`UnknownStatusError` carrying it
        (``conn.rest.reconcile_order(err)`` finds out what happened)."""
        cid = new_client_order_id() if client_order_id is None else check_client_order_id(client_order_id)
        sym = symbol.upper()
        params: Dict[str, Any] = {"symbol": sym, "side": side, "type": type, "timeInForce": time_in_force,
                                  "quantity": quantity, "price": price, "newClientOrderId": cid}
        params.update(extra)
        link = self._link()
        result = link.request("order.place", params, signed=True, timeout=timeout, client_order_id=cid, symbol=sym)
        result = decimalize(result)
        link.track_placed(result)
        return result  # type: ignore[no-any-return]

    def cancel_order(self, symbol: str, order_id: Optional[int] = None, client_order_id: Optional[str] = None, *,
                     timeout: float = 10.0, **extra: Any) -> Dict[str, Any]:
        """``order.cancel`` by ``order_id`` or ``client_order_id``; not re-sent on an unknown outcome."""
        if order_id is None and client_order_id is None:
            raise ValidationError("order_id", None, "give order_id or client_order_id")
        sym = symbol.upper()
        params: Dict[str, Any] = {"symbol": sym, "orderId": order_id, "origClientOrderId": client_order_id}
        params.update(extra)
        result = self._link().request("order.cancel", params, signed=True, timeout=timeout,
                                      client_order_id=client_order_id, symbol=sym)
        return decimalize(result)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return "WsApiClient()"
