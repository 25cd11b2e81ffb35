"""One WebSocket API connection of the user-data session (``session.py``) and its reader thread.

The reader connects (``_io/reconnect.connect_forever``: the configured backoff, forever; ``stop()``
cuts a backoff sleep at once; every attempt first takes a slot of the connector's
connection-attempt budget; every failure goes through the link's
``_io/connect_report.ConnectFailureReporter``: WARNING with the reason, ``on_error`` when the
reason kind changes, the reason in ``stats()`` and in the session's connection events),
then only moves data: the frames of one socket read go through
the connection's :class:`~binance_conn._core.wsapi.WsApiProtocol` and subscription plan under
the session lock (taken once per read, never per message, never while user code runs);
answers wake the callers waiting in :meth:`UserDataLink.request`, user-data events go to the
session outside the lock (published, or held back when the lifecycle's ``LinkSet.hold`` says
the link is a make-before-break replacement before its switch), and what the
plan decided (subscribed, reconcile, rollover, credentials rejected) is handed to the session.

Safety net (``_io/guard.py``): the reader loop runs under ``run_guarded``.  An unexpected
exception (socket read, frame parse, event parse, a bug in a session callback) is logged with
its traceback and reported as ``InternalError``; :meth:`WsApiConn._recover` then tears the
connection down exactly as a lost socket (``LinkHost.on_lost``: not ready, waiters failed,
``on_connection`` told) and the loop runs again, i.e. the normal reconnect path.

Lifecycle: each connection carries its ``_core/lifecycle.LinkLife``; the reader feeds START /
RETRY, FAILED, CONNECTED and (through the session) LOST; :meth:`WsApiConn.supervise` (the
ticker) feeds SUBSCRIBED / PENDING and CONDEMN; ``rollover.py`` feeds DRAIN and CLOSE.

The session is reached through the :class:`LinkHost` protocol (no import of ``session.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple

from .._core import catalog
from .._core.backoff import Backoff
from .._core.endpoints import TRADE
from .._core.health import HealthMonitor
from .._core.lifecycle import LinkInput, LinkLife, LinkState
from .._core.wsapi import (
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
from .._io.connect_report import ConnectFailureReporter
from .._io.guard import ThreadGuard, run_guarded
from .._io.reconnect import Stopped, connect_forever
from .._io.recorder import CONN_IDS, tap_of
from .._io.transport import OP_PING, OP_PONG, OP_TEXT, Transport, TransportClosed, TransportFactory
from ..errors import BinanceError, ConnectionError, NotConnectedError, TimestampError, UnknownStatusError
from . import RestApi

__all__ = ["LinkHost", "WsApiConn", "Waiter"]

_log = logging.getLogger("binance_conn.user_data")
_monotonic = time.monotonic
# Requests whose outcome is unknown when the connection drops with them in flight: every TRADE
# method of the endpoint table (placements, cancels, amends) but the test orders.
_ORDER_METHODS = frozenset({"order.place", "order.cancel", "order.cancelReplace", "orderList.place"}) | frozenset(
    ep.ws_method for ep in catalog.ALL if ep.ws_method and ep.security == TRADE and not ep.name.startswith("test_"))



class LinkHost(Protocol):
    """What a :class:`WsApiConn` needs of its session (``session.UserDataLink``); breaks the import cycle."""

    exchange: str
    url: str
    ws_config: Any
    backoff: Backoff
    stop_event: threading.Event
    stopping: bool
    fatal: Optional[BinanceError]
    connects: int
    malformed: int
    bad_frame_sample: Optional[str]
    bad_frame_log_at: float
    last_loss_reason: Optional[str]
    last_connect_error: Optional[str]
    guard: ThreadGuard
    transport_factory: TransportFactory
    _lock: threading.RLock
    _signer: Any
    _generation: int
    _resync: bool
    _topics: Set[str]
    _open: threading.Event
    _rest: Callable[[], RestApi]

    @property
    def delivery(self) -> Any: ...

    @property
    def links(self) -> Any: ...

    @property
    def reconciler(self) -> Any: ...

    def is_primary(self, link: "WsApiConn") -> bool: ...

    def acquire_slot(self) -> None: ...

    def report_error(self, error: BinanceError) -> None: ...

    def connect_failed(self, link: "WsApiConn", reason: str, is_new_kind: bool) -> None: ...

    def wake(self) -> None: ...

    def _make_protocol(self) -> WsApiProtocol: ...

    def _on_lost(self, link: "WsApiConn", reason: str) -> None: ...

    def drain_answered(self, link: "WsApiConn", now: float) -> None: ...

    def _on_subscribed(self, link: "WsApiConn", now: float) -> None: ...

    def _on_fatal(self, error: BinanceError) -> None: ...

    def _want_rollover(self, link: "WsApiConn", reason: str) -> None: ...


class Waiter:
    """One caller blocked in :meth:`UserDataLink.request`: its request and, once read, the answer."""

    __slots__ = ("event", "response", "lost", "method", "rid", "client_order_id", "symbol")

    def __init__(self, method: str, client_order_id: Optional[str], symbol: Optional[str]) -> None:
        self.event = threading.Event()
        self.response: Optional[Response] = None
        self.lost: Optional[str] = None
        self.method = method
        self.rid = ""
        self.client_order_id = client_order_id
        self.symbol = symbol

    def unknown(self, message: str, exchange: str) -> UnknownStatusError:
        """The request may have run: nobody can say (an order is never re-sent)."""
        cid = self.client_order_id
        return UnknownStatusError(message, client_order_id=cid, symbol=self.symbol, method=self.method,
                                  exchange=exchange, request_id=self.rid,
                                  details={"client_order_id": cid} if cid else None)


class WsApiConn:
    """One WebSocket API connection: socket, protocol, subscription plan, liveness, callers waiting.

    ``role`` is ``"primary"`` (carries user data and requests; reconnects forever) or
    ``"replacement"`` (a make-before-break successor; promoted once subscribed).
    """

    def __init__(self, session: LinkHost, role: str, plan: Optional[UserDataSession]) -> None:
        ws = session.ws_config
        self.session = session
        self.role = role
        self.plan = plan
        self.transport: Optional[Transport] = None
        self.proto: Optional[WsApiProtocol] = None
        self.health = HealthMonitor(ws.ping_interval, ws.pong_timeout, ws.silence_timeout, 1.0)
        self.opened_at: Optional[float] = None
        self.kill_reason: Optional[str] = None
        self.waiters: Dict[str, Waiter] = {}
        self.retired = False
        self.retired_at: Optional[float] = None
        self.rollover_reason: Optional[str] = None  # set on the primary: replace it
        self.drain_rid: Optional[str] = None  # retired: close once this unsubscribe is answered
        self.drained = False  # ... and once no caller waits for an answer on it
        self.drain_reported = False
        self.close_when_idle = False  # closed by the table while requests waited: close after the last answer
        # Between the switch decision and its release (delivery.release): park what is read.
        self.holding = False
        self.held: List[Dict[str, Any]] = []
        self.retry = 0
        self.life = LinkLife()  # the lifecycle's link table; fed under the session lock
        self.reporter = ConnectFailureReporter(_log, f"user-data WebSocket API ({role})", session.report_error)
        self.thread = threading.Thread(target=self._run, name=f"binance_conn-user_data-{role}", daemon=True)

    @property
    def is_open(self) -> bool:
        return self.proto is not None and self.transport is not None and not self.retired

    def send(self, frames: List[str]) -> None:
        transport = self.transport
        if not frames or transport is None:
            return
        try:
            for text in frames:
                transport.send_text(text)
        except TransportClosed:
            pass  # the reader sees the dead socket

    def fail_waiters(self, reason: str) -> None:
        """Wake every caller waiting on this connection: ``reason`` is why no answer will come."""
        with self.session._lock:
            waiters = list(self.waiters.values())
            self.waiters.clear()
        for w in waiters:
            w.lost = reason
            w.event.set()

    def call(self, transport: Transport, frame: str, waiter: Waiter, deadline: float, timeout: float) -> Any:
        """Send a request registered in :attr:`waiters` and wait for its answer (the caller's thread, blocks).

        Raises the errors documented on :meth:`WsApiClient.request`.
        """
        session = self.session
        exchange = session.exchange
        method, rid = waiter.method, waiter.rid
        try:
            transport.send_text(frame)
        except TransportClosed as exc:
            with session._lock:
                self.waiters.pop(rid, None)
            if method in _ORDER_METHODS:
                raise waiter.unknown(f"connection lost while sending {method}", exchange) from exc
            raise NotConnectedError("WebSocket API connection lost while sending", exchange=exchange) from exc
        if not waiter.event.wait(max(0.0, deadline - _monotonic())):
            with session._lock:
                self.waiters.pop(rid, None)
            raise waiter.unknown(f"no answer to {method} within {timeout:g} s", exchange)
        response = waiter.response
        if response is None:
            lost = waiter.lost or "connection lost"
            if method in _ORDER_METHODS:
                raise waiter.unknown(f"{lost} with {method} in flight", exchange)
            raise ConnectionError(f"WebSocket API: {lost} with {method} in flight", exchange=exchange, request_id=rid)
        error = response.error
        if error is not None:
            client_order_id = waiter.client_order_id
            if isinstance(error, UnknownStatusError) and client_order_id is not None:
                error.client_order_id = client_order_id
                error.symbol = waiter.symbol
                error.details["client_order_id"] = client_order_id
            raise error
        return response.result

    # ------------------------------------------------------------------ ticker (under the session lock)
    def supervise(self, now: float, *, is_primary: bool, may_roll: bool, max_lifetime: float,
                  clock_offset: Optional[Callable[[], float]]) -> Tuple[List[str], bool, Optional[str], Optional[str],
                                                                         Optional[float]]:
        """One tick for this link: ``(frames, ping now, kill reason, rollover reason, next deadline)``.

        Feeds the link table (SUBSCRIBED / PENDING, CONDEMN on a zombie verdict, reason
        ``"zombie: ..."``); the caller carries the result out after releasing the lock.
        """
        proto, life, health, plan = self.proto, self.life, self.health, self.plan
        if proto is None or self.transport is None:
            return [], False, None, None, None
        ping = health.next_ping_due(now) == 0.0
        if ping:
            health.on_ping_sent(now)
        verdict = health.is_zombie(now) if life.may_judge or life.state is LinkState.DRAINING else None
        kill = f"zombie: {verdict}" if verdict is not None else None
        if kill is not None:
            life.handle(LinkInput.CONDEMN, now, kill)
        elif life.carries_traffic:
            wanted = plan is not None or bool(self.session._topics)
            ok = plan.is_ready if plan is not None else not wanted
            life.handle(LinkInput.SUBSCRIBED if ok else LinkInput.PENDING, now)
        frames: List[str] = []
        rollover: Optional[str] = None
        if plan is not None and clock_offset is not None:
            proto.set_clock_offset(clock_offset())
        gone = [rid for rid in proto.expired(now) if rid not in self.waiters]
        opened = self.opened_at
        aged = opened is not None and now - opened >= max_lifetime
        if self.retired:
            pass  # the old link of a rollover: the table closes it once drained (or at drain_timeout)
        elif plan is not None:
            if gone:
                frames += plan.on_expired(gone, now).frames
            frames += plan.poll(now).frames
            if is_primary and may_roll:
                if self.rollover_reason is not None:
                    rollover = self.rollover_reason
                elif aged:
                    rollover = "maximum connection lifetime reached"
        elif is_primary and kill is None and aged:
            kill = "maximum connection lifetime reached"  # nothing to keep live: reconnect
        return frames, ping, kill, rollover, health.next_deadline(now)

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        session = self.session
        try:
            run_guarded(self._loop, guard=session.guard, component=f"user-data reader ({self.role})",
                        stop_event=session.stop_event, recover=self._recover, is_done=self._is_done)
        finally:
            last = self.transport
            if last is not None:
                last.release()
            session.wake()

    def _is_done(self) -> bool:
        session = self.session
        return session.stopping or session.fatal is not None or self.retired

    def _loop(self) -> None:
        session = self.session
        while not self._is_done():
            with session._lock:
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
            session._on_lost(self, reason)
            if self.role != "primary":
                return  # a failed replacement gives up; the primary carries on

    def _recover(self, exc: BaseException) -> None:
        """After a crash of this reader: tear the connection down as a loss (the guard then reruns the loop)."""
        transport = self.transport
        if transport is not None:
            transport.abort()
        if self.proto is not None:
            self.session._on_lost(self, f"internal error: {type(exc).__name__}: {exc}")
        else:
            # Crashed before or while connecting: drop the half-made socket; the loop connects again.
            with self.session._lock:
                self.transport = None
        if transport is not None:
            transport.release()  # this (reader) thread owns the socket

    def _connect_forever(self) -> None:
        session = self.session
        reporter = self.reporter

        def on_retry(err: Optional[BaseException], delay: Optional[float]) -> None:
            kind = reporter.last_kind
            reason = reporter.failed(err, delay)
            with session._lock:
                self.life.handle(LinkInput.FAILED, _monotonic(), reason)
            session.connect_failed(self, reason, reporter.last_kind != kind)

        connect_forever(self._connect_once, backoff=session.backoff, counter=self, stop_event=session.stop_event,
                        on_retry=on_retry)
        reporter.succeeded()

    def _connect_once(self) -> None:
        session = self.session
        if session.stopping or session.fatal is not None or self.retired:
            raise Stopped()
        session.acquire_slot()  # the connector's connection-attempt budget (blocks, interruptibly)
        if session.stopping or session.fatal is not None or self.retired:
            raise Stopped()
        if session._signer is not None:
            try:
                session._rest().sync_clock()
            except Exception:  # noqa: BLE001 - the offset we have is the best we can do
                pass
        transport = session.transport_factory(session.url, handshake_timeout=session.ws_config.handshake_timeout,
                                              proxy=session.ws_config.proxy)
        with session._lock:
            if session.stopping or self.retired:
                raise Stopped()
            self.transport = transport
        transport.connect()  # raises errors.ConnectionError: tenacity retries
        now = _monotonic()
        with session._lock:
            if session.stopping or self.retired:
                transport.release()  # this (reader) thread owns the socket: close it, not just shut it down
                raise Stopped()
            session._generation += 1
            proto = session._make_protocol()
            self.proto = proto
            self.health.on_connected(now)
            self.life.handle(LinkInput.CONNECTED, now)
            if self.plan is None and not session._topics:
                self.life.handle(LinkInput.SUBSCRIBED, now)  # WebSocket API only: nothing to subscribe
            self.opened_at = now
            self.kill_reason = None
            self.rollover_reason = None
            session.connects += 1
            step = self.plan.on_connected(now, proto) if self.plan is not None else Step()
            if session.is_primary(self):
                session._open.set()
        self.send(step.frames)
        session.wake()

    def _serve(self) -> str:
        session = self.session
        transport = self.transport
        proto = self.proto
        if transport is None or proto is None:
            return "not connected"
        lock = session._lock
        health = self.health
        waiters = self.waiters
        publish_events = session.delivery.publish
        links = session.links
        tap = tap_of(session._rest)  # recording (_io/recorder.py): one attribute check per read
        rec_id = next(CONN_IDS)
        if tap.rec is not None:
            tap.rec.ws_open(rec_id, 0, str(getattr(transport, "url", "")), "wsapi")
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                if tap.rec is not None:
                    tap.rec.ws_close(rec_id, self.kill_reason or exc.reason, "wsapi", self.retired)
                return self.kill_reason or exc.reason
            if tap.rec is not None:
                tap.rec.link_frames("wsapi", rec_id, frames)
            now = _monotonic()
            payloads: List[Dict[str, Any]] = []
            resolved: List[Tuple[Waiter, Response]] = []
            step = Step()
            with lock:
                plan = None if self.retired else self.plan
                for opcode, payload in frames:
                    if opcode == OP_TEXT:
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            _bad_frame(session, "invalid UTF-8", payload[:80].hex(), now)
                            continue
                        msg = proto.receive_text(text, now)
                        if isinstance(msg, UserDataEvent):
                            health.on_data(now)
                            payloads.append(msg.payload)
                            if plan is not None and msg.event_type == "eventStreamTerminated":
                                _merge(step, plan.handle(msg, now))
                        elif isinstance(msg, Response):
                            health.on_frame(now)
                            waiter = waiters.pop(msg.id, None)
                            if msg.id == self.drain_rid:
                                self.drained = True
                            elif waiter is not None:
                                resolved.append((waiter, msg))
                            elif plan is not None:
                                if isinstance(msg.error, TimestampError):
                                    session._resync = True
                                _merge(step, plan.handle(msg, now))
                        elif isinstance(msg, Malformed):
                            health.on_frame(now)
                            _bad_frame(session, msg.reason, msg.text[:80], now)
                        else:
                            health.on_frame(now)
                            if plan is not None:
                                _merge(step, plan.handle(msg, now))
                            elif isinstance(msg, ServerShutdown):
                                step.reconnect = True
                            elif isinstance(msg, UnsolicitedError) and session._topics and is_auth_failure(msg.error):
                                step.fatal = msg.error
                    elif opcode == OP_PONG or opcode == OP_PING:
                        health.on_pong(now)
                    else:
                        health.on_frame(now)
                        _bad_frame(session, "binary frame", payload[:40].hex(), now)
                # The lifecycle decides whether a replacement's events wait for the switch.
                if payloads and links.hold(self, payloads):
                    payloads = []
                park = self.holding  # switched, release not yet carried out: park behind it
            for waiter, response in resolved:
                waiter.response = response
                waiter.event.set()
            if step.frames:
                self.send(step.frames)
            if payloads:
                if park:
                    session.delivery.hold(self, payloads)
                else:
                    publish_events(payloads)
            if step.subscribed:
                session._on_subscribed(self, now)
            if step.reconcile:
                session.reconciler.start()
            if step.fatal is not None:
                session._on_fatal(step.fatal)
                transport.close()
                return f"credentials rejected: {step.fatal.message}"
            if step.reconnect and not self.retired:
                session._want_rollover(self, "server asked to reconnect")
            if self.close_when_idle and not waiters:
                transport.close()
            elif self.drained and not waiters and not self.drain_reported:
                # Every event sent before the unsubscribe was read (the successor has the rest),
                # and no request is in flight here: the lifecycle may close this link now.
                self.drain_reported = True
                session.drain_answered(self, now)


def _merge(into: Step, step: Step) -> None:
    into.frames.extend(step.frames)
    into.subscribed = into.subscribed or step.subscribed
    into.reconcile = into.reconcile or step.reconcile
    into.reconnect = into.reconnect or step.reconnect
    if into.fatal is None:
        into.fatal = step.fatal


_BAD_FRAME_LOG_INTERVAL = 5.0


def _bad_frame(session: LinkHost, kind: str, sample: str, now: float) -> None:
    """Count a bad frame (session total, survives reconnects), keep a sample, and log a WARNING
    at most every few seconds with the sample in the text.  Only on the bad-frame path."""
    session.malformed += 1
    session.bad_frame_sample = f"{kind}: {sample!r}"
    if now >= session.bad_frame_log_at:
        session.bad_frame_log_at = now + _BAD_FRAME_LOG_INTERVAL
        _log.warning("user-data link received a bad frame (%d in all; logged at most every %.0f s): %s",
                     session.malformed, _BAD_FRAME_LOG_INTERVAL, session.bad_frame_sample,
                     extra={"malformed": session.malformed})
