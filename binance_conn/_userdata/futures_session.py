"""The futures user-data session: a listenKey, one ``/private`` stream connection, three threads.

Theory of operation (binance-futures-reference.md section 7; decisions in
``_core/futures_account.py`` and ``_core/lifecycle.LinkLife``):

* **Key.**  The reader creates the key (``POST /fapi/v1/listenKey``, ``/dapi`` on COIN-M;
  USER_STREAM: API key header, no signature) right before it connects, when it has none.
  The worker thread extends it (``PUT``) every ``keepalive_interval`` seconds (default 30
  min, half the 60 min validity).  ``-1125`` on the PUT, or a ``listenKeyExpired`` event,
  drops the key and cuts the connection: the reader reconnects with a fresh ``POST`` and
  the gap is reconciled over REST.  The key is **never deleted** (``DELETE`` invalidates the
  one key every client of the account shares, and would silence the others); it simply
  expires 60 minutes after the last keepalive.
* **Link.**  ``<ws_base>/private/ws?listenKey=...&events=...`` (USD-M, the query form) or
  ``<ws_base>/ws/<listenKey>`` (COIN-M).  No subscribe step: the link is READY once
  connected.  Reconnect forever with the configured backoff (``_io/reconnect``); zombie
  detection by the same ``HealthMonitor`` as spot (idle pings, pong deadline); the 24 h
  limit is met by reconnecting at ``max_lifetime`` (a plain reconnect, then a
  reconciliation: there is no subscription to overlap on a listenKey stream).
* **Reconciliation** (the worker): after the first connect it seeds positions and balances
  (``positionRisk``, ``balance``); after every later (re)connect it reconciles them and the
  open orders (``openOrders`` per symbol of a tracked order or a position, ``order`` for
  tracked orders no longer open) and publishes what changed as ``is_reconciled=True``
  events, each pass reported as a user-data ``GapEvent``.
* Connection events ``session="user_data"`` and ``ready`` as the spot session.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set

from .._core.endpoints import USER_STREAM, Endpoint
from .._core.futures_account import (
    DEFAULT_KEEPALIVE,
    AccountBook,
    account_paths,
    listen_key_paths,
    mask_key,
    private_url,
)
from .._core.health import HealthMonitor
from .._core.lifecycle import LinkInput, LinkLife, LinkState
from .._core.status import SessionStatus
from .._core.userdata import OrderTracker
from .._core.wsapi import is_auth_failure
from .._io.connect_report import ConnectFailureReporter
from .._io.dispatch import Dispatcher
from .._io.guard import ThreadGuard, run_guarded
from .._io.reconnect import Stopped, connect_forever
from .._io.recorder import CONN_IDS, tap_of
from .._io.topics import ERROR_TOPIC, publish_connection_events
from .._io.transport import OP_PING, OP_PONG, OP_TEXT, Transport, TransportClosed, TransportFactory, WsTransport
from ..enums import ConnectionState
from ..errors import AuthenticationError, BinanceError, ConnectionError
from .futures_delivery import FUTURES_TOPICS, FuturesDelivery
from .futures_reconcile import FuturesReconciler

__all__ = ["FuturesUserSession", "FUTURES_TOPICS"]

_log = logging.getLogger("binance_conn.user_data")
_monotonic = time.monotonic
_MAX_SLEEP = 0.25
_RETRY_KEEPALIVE = 60.0  # s until a failed keepalive (not -1125) is tried again
S = ConnectionState


class FuturesUserSession(FuturesReconciler):
    """The listenKey user-data session of a futures connector (see the module docstring).

    Args:
        config: the connector's Config (``exchange.product`` is ``usdm`` or ``coinm``).
        dispatcher: where events, connection events, gaps and errors go.
        rest: returns the connector's REST client (``request`` and ``_call``).
        on_ready_change: called when :attr:`ready` may have changed.
        transport_factory: makes one WebSocket connection (tests: ``MemoryNetwork``).
        acquire_slot: the connector's connection-attempt budget (blocks), before each attempt.
        keepalive_interval: seconds between keepalives (default 1800).
    """

    name = "user_data"

    def __init__(self, config: Any, dispatcher: Dispatcher, rest: Callable[[], Any],
                 on_ready_change: Callable[[], None] = lambda: None, *,
                 transport_factory: TransportFactory = WsTransport, acquire_slot: Optional[Callable[[], None]] = None,
                 keepalive_interval: float = DEFAULT_KEEPALIVE) -> None:
        self.config = config
        self.exchange: str = config.exchange.name
        self.product: str = config.exchange.product
        self.ws_config = config.websocket
        self.backoff = config.retry.backoff.policy()
        self.dispatcher = dispatcher
        self._rest = rest
        self._on_ready_change = on_ready_change
        self.transport_factory = transport_factory
        self._acquire_slot = acquire_slot
        self.keepalive_interval = float(keepalive_interval)
        path = listen_key_paths(self.product)
        self._ep_create = Endpoint("futures_listen_key_create", "POST", path, USER_STREAM, 1)
        self._ep_keepalive = Endpoint("futures_listen_key_keepalive", "PUT", path, USER_STREAM, 1)
        self._paths = account_paths(self.product)
        self._lock = threading.RLock()
        self.stop_event = threading.Event()
        self.stopping = False
        self.running = False
        self.ready = threading.Event()
        self._wake = threading.Event()
        self._topics: Set[str] = set()
        self.fatal: Optional[BinanceError] = None
        self.tracker = OrderTracker(self.exchange)
        self.book = AccountBook(self.exchange)
        self.guard = ThreadGuard(_log, self.exchange, self.report_error)
        self.delivery = FuturesDelivery(self.exchange, dispatcher, self.stop_event, self.tracker, self.book,
                                        self._lock)
        self.delivery.on_key_expired = self._key_expired
        self.status = SessionStatus(self.ws_config.debounce)
        self.life = LinkLife()
        self.health = HealthMonitor(self.ws_config.ping_interval, self.ws_config.pong_timeout,
                                    self.ws_config.silence_timeout, 1.0)
        self.reporter = ConnectFailureReporter(_log, "futures user-data stream", self.report_error)
        self.retry = 0
        self._key: Optional[str] = None
        self._key_lock = threading.Lock()
        self._next_keepalive: Optional[float] = None
        self.transport: Optional[Transport] = None
        self.opened_at: Optional[float] = None
        self.kill_reason: Optional[str] = None
        self._handover: Optional[Transport] = None  # the 24 h replacement, connected, waiting for the reader
        self._rolling: Optional[Transport] = None  # the replacement being connected
        self._overlap_until: Optional[float] = None
        self._jobs: "queue.Queue[str]" = queue.Queue()
        self._threads: List[threading.Thread] = []
        self._launched = False
        self._connected_once = False
        self.last_loss_reason: Optional[str] = None
        self.last_connect_error: Optional[str] = None
        # counters (stats)
        self.connects = self.reconnects = self.zombies = self.rollovers = 0
        self.keys_created = self.keepalives = self.keepalive_errors = self.keys_expired = 0
        self.reconciliations = self.reconciled = self.reconcile_errors = 0

    # ------------------------------------------------------------------ wants (any thread)
    @property
    def wants_user_data(self) -> bool:
        return bool(self._topics)

    def topic_changed(self, topic: str, added: bool) -> None:
        with self._lock:
            before = bool(self._topics)
            (self._topics.add if added else self._topics.discard)(topic)
            launch = not before and bool(self._topics) and self.running and not self.stopping
        if launch:
            self._launch()
        self._on_ready_change()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._lock:
            self.running, self.stopping, self.fatal = True, False, None
            self.stop_event.clear()
            need = bool(self._topics)
        if need:
            self._launch()

    def _launch(self) -> None:
        with self._lock:
            if not self.running or self.stopping or self.fatal is not None or self._launched:
                return
            self._launched = True
            self._jobs = queue.Queue()  # a stop sentinel of the last run must not end this one
            self.status.start(_monotonic())
            self.life = LinkLife()
            for target, name in ((self._reader, "reader"), (self._ticker, "ticker"), (self._worker, "worker")):
                t = threading.Thread(target=target, name=f"binance_conn-futures_user-{name}", daemon=True)
                self._threads.append(t)
                t.start()

    def begin_stop(self) -> None:
        """Stop intake, cut the socket (never blocks).  The listenKey is left to expire, never deleted."""
        with self._lock:
            self.stopping, self.running = True, False
            self.stop_event.set()
            pending = [t for t in (self.transport, self._rolling, self._handover) if t is not None]
        self._wake.set()
        self._jobs.put("stop")
        for transport in pending:
            transport.abort()
        self.ready.clear()

    def threads(self) -> List[threading.Thread]:
        with self._lock:
            return [t for t in self._threads if t.ident is not None]

    def finish_stop(self, reason: str) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if not self._launched:
                return
            self._launched = False
            emitted = self.status.stop(reason, _monotonic())
        publish_connection_events(self.dispatcher, self.exchange, self.name, emitted, _log, self.stop_event)

    def wake(self) -> None:
        self._wake.set()

    def report_error(self, error: BinanceError) -> None:
        self.dispatcher.publish(ERROR_TOPIC, error, self.stop_event)

    def track_placed(self, response: Any) -> None:
        """An order placement answer: remember the order for reconciliation."""
        if isinstance(response, Mapping):
            with self._lock:
                self.tracker.track_placed(response)

    def positions(self) -> List[Any]:
        """The open positions as last known (REST seed + ACCOUNT_UPDATE); any thread."""
        with self._lock:
            return self.book.open_positions()

    # ------------------------------------------------------------------ the key
    def _create_key(self) -> str:
        """``POST`` before every connect: the account's active key comes back extended (or a new one),
        so a key that lapsed while the link was down (or the connector stopped) is never reused."""
        with self._key_lock:
            rest = self._rest()
            typed = getattr(rest, "new_listen_key", None)  # the futures REST client's typed method
            answer = typed() if callable(typed) else rest._call(self._ep_create, {})
            key = answer.get("listenKey") if isinstance(answer, Mapping) else answer
            if not isinstance(key, str) or not key:
                raise ConnectionError("listenKey creation returned no key", exchange=self.exchange)
            if key != self._key:
                self.keys_created += 1
                _log.info("futures listenKey obtained (%s)", mask_key(key))
            self._key = key
            self._next_keepalive = _monotonic() + self.keepalive_interval
            return key

    def _drop_key(self, reason: str) -> None:
        """The key is gone (-1125, listenKeyExpired): cut the link; the reader makes a new key."""
        with self._key_lock:
            self._key = None
        self.keys_expired += 1
        with self._lock:
            transport = self.transport
            self.kill_reason = reason
        _log.warning("futures listenKey replaced: %s", reason, extra={"reason": reason})
        if transport is not None:
            transport.abort()

    def _key_expired(self, event_time: int, key: Any) -> None:
        if isinstance(key, str) and key and self._key is not None and key != self._key:
            return  # about a key this session no longer uses (already replaced)
        self._drop_key("listenKeyExpired")

    def _keepalive(self) -> None:
        with self._key_lock:
            key = self._key
        if key is None:
            return
        try:
            rest = self._rest()
            typed = getattr(rest, "keepalive_listen_key", None)
            if callable(typed):
                typed()
            else:
                rest._call(self._ep_keepalive, {})
            self.keepalives += 1
            self._next_keepalive = _monotonic() + self.keepalive_interval
        except BinanceError as exc:
            self.keepalive_errors += 1
            if exc.binance_code == -1125:
                self._drop_key("listenKey does not exist (-1125)")
            else:
                self._next_keepalive = _monotonic() + min(self.keepalive_interval, _RETRY_KEEPALIVE)
                _log.warning("futures listenKey keepalive failed: %s", exc)

    # ------------------------------------------------------------------ reader thread
    def _reader(self) -> None:
        run_guarded(self._read_loop, guard=self.guard, component="futures user-data reader",
                    stop_event=self.stop_event, recover=self._recover, is_done=self._is_done)

    def _is_done(self) -> bool:
        return self.stopping or self.fatal is not None

    def _recover(self, exc: BaseException) -> None:
        transport = self.transport
        if transport is not None:
            transport.abort()
            self._on_lost(f"internal error: {type(exc).__name__}: {exc}")

    def _read_loop(self) -> None:
        while not self._is_done():
            with self._lock:
                state = self.life.state
                if state is LinkState.IDLE:
                    self.life.handle(LinkInput.START, _monotonic())
                elif state is LinkState.LOST:
                    self.life.handle(LinkInput.RETRY, _monotonic())
            try:
                self._connect_forever()
            except Stopped:
                return
            reason = self._serve()
            while self._adopt_handover():
                reason = self._serve()
            self._on_lost(reason)

    def _adopt_handover(self) -> bool:
        """After the old link ended: continue on the 24 h replacement if one is connected (no gap, no
        reconciliation; the duplicate filter drops what both links delivered)."""
        now = _monotonic()
        with self._lock:
            new, self._handover = self._handover, None
            old = self.transport
            if new is None or self._is_done():
                if new is not None:
                    new.abort()
                return False
            self.transport = new
            self.health.on_connected(now)
            self.opened_at, self.kill_reason = now, None
            self.rollovers += 1
            self._overlap_until = now + 3.0
        if old is not None:
            old.release()
        _log.info("futures user-data rollover: switched to the new connection")
        return True

    def _rollover(self) -> None:
        """Make-before-break at ``max_lifetime`` (its own short-lived thread): connect a second link with
        the (re-POSTed) key, then close the old one; its reader continues on the new link."""
        try:
            key = self._create_key()
            url = private_url(self.config.exchange.ws_url, self.product, key)
            transport = self.transport_factory(url, handshake_timeout=self.ws_config.handshake_timeout,
                                               proxy=self.ws_config.proxy)
            with self._lock:
                if self._is_done():
                    return
                self._rolling = transport
            self.delivery.begin_overlap()  # what the old link delivers from now on is remembered
            transport.connect()
            # The old link keeps reading for a moment: whatever was sent to it before the new link
            # existed is read there (the new link has all that follows; duplicates are dropped).
            self.stop_event.wait(min(1.0, self.ws_config.max_lifetime / 10.0))
        except Exception as exc:  # noqa: BLE001 - fall back to a plain reconnect (and reconciliation)
            _log.warning("futures user-data rollover failed (%s): reconnecting", exc)
            self.delivery.end_overlap()
            with self._lock:
                self._rolling = None
                old = self.transport
                self.kill_reason = "maximum connection lifetime reached"
            if old is not None:
                old.abort()
            return
        with self._lock:
            self._rolling = None
            if self._is_done():
                transport.release()
                return
            self._handover = transport
            old = self.transport
            self.kill_reason = "replaced (make-before-break)"
        if old is not None:
            old.close()

    def _connect_forever(self) -> None:
        reporter = self.reporter

        def on_retry(err: Optional[BaseException], delay: Optional[float]) -> None:
            reason = reporter.failed(err, delay)
            with self._lock:
                self.life.handle(LinkInput.FAILED, _monotonic(), reason)
                self.last_connect_error = self.last_loss_reason = reason
            self._wake.set()

        connect_forever(self._connect_once, backoff=self.backoff, counter=self, stop_event=self.stop_event,
                        on_retry=on_retry)
        reporter.succeeded()

    def _connect_once(self) -> None:
        if self._is_done():
            raise Stopped()
        if self._acquire_slot is not None:
            self._acquire_slot()
        if self._is_done():
            raise Stopped()
        try:
            key = self._create_key()
        except BinanceError as exc:
            if is_auth_failure(exc):
                self._on_fatal(exc)
                raise Stopped() from exc
            if isinstance(exc, ConnectionError):
                raise
            raise ConnectionError(f"listenKey creation failed: {exc.message}", exchange=self.exchange) from exc
        url = private_url(self.config.exchange.ws_url, self.product, key)
        transport = self.transport_factory(url, handshake_timeout=self.ws_config.handshake_timeout,
                                           proxy=self.ws_config.proxy)
        with self._lock:
            if self._is_done():
                raise Stopped()
            self.transport = transport
        transport.connect()
        now = _monotonic()
        with self._lock:
            if self._is_done():
                transport.release()
                raise Stopped()
            self.health.on_connected(now)
            self.life.handle(LinkInput.CONNECTED, now)
            self.life.handle(LinkInput.SUBSCRIBED, now)  # no subscribe step on a listenKey stream
            self.opened_at, self.kill_reason, self.retry = now, None, 0
            self.connects += 1
            gap = self._connected_once
            self._connected_once = True
        self._jobs.put("reconcile" if gap else "seed")
        self._wake.set()
        self._on_ready_change()

    def _serve(self) -> str:
        transport = self.transport
        if transport is None:
            return "not connected"
        health = self.health
        tap = tap_of(self._rest)  # recording (_io/recorder.py): one attribute check per read
        rec_id = next(CONN_IDS)
        if tap.rec is not None:  # the URL holds the listenKey: the recorder masks it
            tap.rec.ws_open(rec_id, 0, str(getattr(transport, "url", "")), "user")
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                if tap.rec is not None:
                    tap.rec.ws_close(rec_id, self.kill_reason or exc.reason, "user", self._handover is not None)
                return self.kill_reason or exc.reason
            if tap.rec is not None:
                tap.rec.link_frames("user", rec_id, frames)
            now = _monotonic()
            payloads: List[Dict[str, Any]] = []
            for opcode, payload in frames:
                if opcode == OP_TEXT:
                    health.on_data(now)
                    try:
                        msg = json.loads(payload.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError):
                        self.delivery.bad_frame(payload[:80])
                        continue
                    if isinstance(msg, dict) and isinstance(msg.get("data"), dict) and "stream" in msg:
                        msg = msg["data"]  # a combined (/stream) wrapper
                    if isinstance(msg, dict) and "e" in msg:
                        payloads.append(msg)
                    elif not (isinstance(msg, dict) and "id" in msg):
                        self.delivery.bad_frame(payload[:80])
                elif opcode in (OP_PONG, OP_PING):
                    health.on_pong(now)
                else:
                    health.on_frame(now)
            if payloads:
                self.delivery.publish(payloads)

    def _on_lost(self, reason: str) -> None:
        with self._lock:
            self.transport = None
            self.life.handle(LinkInput.LOST, _monotonic(), reason)
            if not self.stopping and self.fatal is None:
                self.reconnects += 1
                self.last_loss_reason = reason
        self.ready.clear()
        self._on_ready_change()
        if not self.stopping and self.fatal is None:
            _log.warning("futures user-data connection lost: %s", reason, extra={"reason": reason})
            if not self._update_state(_monotonic()) and reason.startswith("internal error"):
                # already shown as down: a crash is never silent
                publish_connection_events(self.dispatcher, self.exchange, self.name,
                                          [(S.RECONNECTING, reason)], None, self.stop_event)

    def _on_fatal(self, error: BinanceError) -> None:
        if not isinstance(error, AuthenticationError):
            error = AuthenticationError(f"credentials rejected: {error.message}", binance_code=error.binance_code,
                                        exchange=self.exchange)
        reason = f"credentials rejected: {error.message}"
        with self._lock:
            if self.fatal is not None:
                return
            self.fatal = error
            self.last_loss_reason = reason
            tell = self.status.fail()
        self.ready.clear()
        _log.error("futures user-data session stopped: credentials rejected")
        if tell:
            publish_connection_events(self.dispatcher, self.exchange, self.name, [(S.DISCONNECTED, reason)], None,
                                      self.stop_event)
        self.dispatcher.publish(ERROR_TOPIC, error, self.stop_event)
        self._on_ready_change()

    # ------------------------------------------------------------------ ticker thread
    def _ticker(self) -> None:
        run_guarded(self._ticks, guard=self.guard, component="futures user-data ticker", stop_event=self.stop_event,
                    is_done=lambda: self.stopping)

    def _ticks(self) -> None:
        while not self.stopping:
            timeout = self._tick(_monotonic())
            self._wake.wait(timeout)
            self._wake.clear()

    def _tick(self, now: float) -> float:
        deadline = now + _MAX_SLEEP
        kill: Optional[str] = None
        ping = False
        roll = False
        with self._lock:
            transport = self.transport
            if transport is not None and self.life.is_open:
                ping = self.health.next_ping_due(now) == 0.0
                if ping:
                    self.health.on_ping_sent(now)
                verdict = self.health.is_zombie(now) if self.life.may_judge else None
                if verdict is not None:
                    kill = f"zombie: {verdict}"
                    self.life.handle(LinkInput.CONDEMN, now, kill)
                    self.zombies += 1
                elif (self.opened_at is not None and now - self.opened_at >= self.ws_config.max_lifetime
                      and self._rolling is None and self._handover is None):
                    roll = True
                    self.opened_at = now  # one rollover per lifetime
                nd = self.health.next_deadline(now)
                if nd is not None and nd < deadline:
                    deadline = nd
                if kill is not None:
                    self.kill_reason = kill
            due = self._next_keepalive
            if self._overlap_until is not None and now >= self._overlap_until:
                self._overlap_until = None
                self.delivery.end_overlap()
            if roll:
                t = threading.Thread(target=self._rollover, name="binance_conn-futures_user-rollover", daemon=True)
                self._threads.append(t)
                t.start()
        if due is not None and now >= due:
            self._next_keepalive = None  # the worker sets the next one
            self._jobs.put("keepalive")
        if transport is not None:
            if ping:
                try:
                    transport.ping(b"")
                except TransportClosed:
                    pass
            if kill is not None:
                _log.warning("futures user-data connection replaced: %s", kill, extra={"reason": kill})
                transport.abort()
        self._update_state(now)
        d = self.status.next_deadline()
        if d is not None and d < deadline:
            deadline = d
        return max(0.0, min(_MAX_SLEEP, deadline - _monotonic()))

    def _update_state(self, now: float) -> bool:
        """Fold the link's state into ``ready`` and the connection events; True: events went out."""
        with self._lock:
            if self.fatal is not None or not self._launched:
                return False
            up = self.transport is not None and self.life.is_ready
            reason = "user data stream connected" if up else (self.last_loss_reason or "connecting")
            emitted, _ = self.status.update(up, not up, reason, now)
            was = self.ready.is_set()
            (self.ready.set if up else self.ready.clear)()
        if was != up:
            self._on_ready_change()
        publish_connection_events(self.dispatcher, self.exchange, self.name, emitted, _log, self.stop_event)
        return bool(emitted)

    # ------------------------------------------------------------------ worker thread (REST)
    def _worker(self) -> None:
        run_guarded(self._jobs_loop, guard=self.guard, component="futures user-data worker",
                    stop_event=self.stop_event, is_done=lambda: self.stopping)

    def _jobs_loop(self) -> None:
        while not self.stopping:
            job = self._jobs.get()
            if self.stopping or job == "stop":
                return
            if job == "keepalive":
                self._keepalive()
            elif job in ("seed", "reconcile"):
                self._reconcile(job == "reconcile")

    # ------------------------------------------------------------------ stats
    def stats(self) -> Dict[str, Any]:
        with self._lock:
            tracked = len(self.tracker)
            positions = len(self.book.open_positions())
        return {
            "state": self.status.state.value, "wanted": bool(self._topics), "connected": self.transport is not None,
            "ready": self.ready.is_set(), "credentials_rejected": self.fatal is not None,
            "listen_key": mask_key(self._key), "keys_created": self.keys_created, "keepalives": self.keepalives,
            "keepalive_errors": self.keepalive_errors, "keys_expired": self.keys_expired,
            "keepalive_interval": self.keepalive_interval,
            "connects": self.connects, "reconnects": self.reconnects, "rollovers": self.rollovers,
            "zombies_replaced": self.zombies,
            "reconciliations": self.reconciliations, "reconciled_updates": self.reconciled,
            "reconcile_errors": self.reconcile_errors, "tracked_orders": tracked, "open_positions": positions,
            "last_loss_reason": self.last_loss_reason, "last_connect_error": self.last_connect_error,
            "internal_errors": self.guard.crashes, "last_internal_error": self.guard.last_crash,
            **self.delivery.counts(),
        }
