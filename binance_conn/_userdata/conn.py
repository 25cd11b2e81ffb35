"""One WebSocket API connection of the user-data session (``_userdata.py``) and its reader thread.

The reader connects (``_reconnect.connect_forever``: the configured backoff, forever; ``stop()``
cuts a backoff sleep at once), then only moves data: the frames of one socket read go through
the connection's :class:`~binance_conn._core.wsapi.WsApiProtocol` and subscription plan under
the session lock (taken once per read, never per message, never while user code runs);
answers wake the callers waiting in :meth:`UserDataLink.request`, user-data events go to the
session outside the lock (published, or held by a make-before-break successor), and what the
plan decided (subscribed, reconcile, rollover, credentials rejected) is handed to the session.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .._core.health import HealthMonitor
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
from .._io.reconnect import Stopped, connect_forever
from .._io.transport import OP_PING, OP_PONG, OP_TEXT, TransportClosed, WsTransport
from ..errors import ConnectionError, NotConnectedError, TimestampError, UnknownStatusError

if TYPE_CHECKING:  # pragma: no cover
    from .session import UserDataLink

__all__ = ["WsApiConn", "Waiter"]

_log = logging.getLogger("binance_conn.user_data")
_monotonic = time.monotonic
_ORDER_METHODS = frozenset({"order.place", "order.cancel", "order.cancelReplace", "orderList.place"})



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

    def __init__(self, session: "UserDataLink", role: str, plan: Optional[UserDataSession]) -> None:
        ws = session.ws_config
        self.session = session
        self.role = role
        self.plan = plan
        self.transport: Optional[WsTransport] = None
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
        # A successor's events wait until the old link is gone, so that events keep wire order.
        self.holding = role == "replacement"
        self.held: List[Dict[str, Any]] = []
        self.retry = 0
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

    def call(self, transport: WsTransport, frame: str, waiter: Waiter, deadline: float, timeout: float) -> Any:
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

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        session = self.session
        try:
            while not session.stopping and session.fatal is None and not self.retired:
                try:
                    self._connect_forever()
                except Stopped:
                    break
                reason = self._serve()
                session._on_lost(self, reason)
                if self.role != "primary":
                    break  # a failed replacement gives up; the primary carries on
        except Exception:  # pragma: no cover - a bug; never die silently
            _log.exception("user-data reader crashed")
        finally:
            last = self.transport
            if last is not None:
                last.release()
            session.wake()

    def _connect_forever(self) -> None:
        session = self.session

        def on_retry(err: Optional[BaseException], delay: Optional[float]) -> None:
            if self.role == "primary":
                session.last_loss_reason = str(err)
            session.wake()
            _log.info("user-data connect failed, retrying", extra={"error": str(err), "role": self.role})

        connect_forever(self._connect_once, backoff=session.backoff, counter=self, stop_event=session.stop_event,
                        on_retry=on_retry)

    def _connect_once(self) -> None:
        session = self.session
        if session.stopping or session.fatal is not None or self.retired:
            raise Stopped()
        if session._signer is not None:
            try:
                session._rest().sync_clock()
            except Exception:  # noqa: BLE001 - the offset we have is the best we can do
                pass
        transport = WsTransport(session.url, handshake_timeout=session.ws_config.handshake_timeout,
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
            self.opened_at = now
            self.kill_reason = None
            self.rollover_reason = None
            session.connects += 1
            step = self.plan.on_connected(now, proto) if self.plan is not None else Step()
            if self is session._primary:
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
        while True:
            try:
                frames = transport.read_frames()
            except TransportClosed as exc:
                return self.kill_reason or exc.reason
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
                            session.malformed += 1
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
                            session.malformed += 1
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
            for waiter, response in resolved:
                waiter.response = response
                waiter.event.set()
            if step.frames:
                self.send(step.frames)
            if payloads:
                if self.holding:
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
            if self.drained and not waiters:
                # Every event sent before the unsubscribe was read (the successor has the rest),
                # and no request is in flight here.
                self.kill_reason = "replaced (make-before-break)"
                transport.close()


def _merge(into: Step, step: Step) -> None:
    into.frames.extend(step.frames)
    into.subscribed = into.subscribed or step.subscribed
    into.reconcile = into.reconcile or step.reconcile
    into.reconnect = into.reconnect or step.reconnect
    if into.fatal is None:
        into.fatal = step.fatal
