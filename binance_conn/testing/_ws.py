"""The WebSocket half of the fake (``websockets.sync.server``): market streams at ``/ws/...`` and
``/stream?streams=...`` (reference section 9) and the WebSocket API at ``/ws-api/v3`` (section 10),
with Binance's connection limits and fault injection.

Threads per connection: the websockets handler thread runs :meth:`Session.run` (the only writer:
queued data, server pings, lifetime), a reader thread (control messages / API requests), and the
websockets frame thread (which counts every incoming frame, pings and pongs included)."""

from __future__ import annotations

import inspect
import json
import logging
import queue
import socket
import ssl
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Set, Tuple, Type, Union
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from ._futures_streams import split_route, stream_error
from ._futures_wsapi import api_path
from ._timeunit import wants_micros
from ._util import JSON, dumps

_SHUTDOWN_TAKES_CLOSE_CONNECTIONS = "close_connections" in inspect.signature(Server.shutdown).parameters

if TYPE_CHECKING:
    from ._fake import FakeBinance

__all__ = ["Session", "WsServer"]

log = logging.getLogger(__name__)

_ID_TYPES = (int, str, type(None))
_MAX_BACKLOG = 100_000  # queued outgoing messages per connection
Op = Union[str, Tuple[Any, ...]]


class _FakeConnection(ServerConnection):
    """Counts every incoming frame and goes silent (no auto-pongs either) while its session is frozen."""

    fake_session: Optional[Session] = None

    def process_event(self, event: Any) -> None:
        if self.request is not None and isinstance(event, Frame):
            s = self.fake_session
            if s is not None:
                s.on_frame()
        super().process_event(event)

    def send_data(self) -> None:
        s = self.fake_session
        if s is not None and s.frozen.is_set():
            for _ in self.protocol.data_to_send():
                pass  # half-open link: nothing leaves, not even pongs
            return
        super().send_data()


class Session:
    """One WebSocket connection: stream subscriptions or WebSocket API state, plus its log record."""

    def __init__(self, fake: FakeBinance, conn_id: int, path: str, kind: str, streams: List[str],
                 combined: bool) -> None:
        self.fake = fake
        self.id = conn_id
        self.path = path
        self.kind = kind  # "stream" | "api"
        self.lock = threading.Lock()
        self.streams: Set[str] = set(streams)
        self.ever_streams: List[str] = list(streams)
        self.combined = combined
        self.frozen = threading.Event()
        self.outq: "queue.Queue[Op]" = queue.Queue()
        self.conn: Optional[ServerConnection] = None
        self.opened_at = time.time()
        self.opened_mono = time.monotonic()
        self.closed_at: Optional[float] = None
        self.close_reason: Optional[str] = None
        self.received = 0
        self.sent = 0
        self._frame_times: Deque[float] = deque()
        self.violated = False
        self.closed = threading.Event()
        self.started = False  # run() began: the handshake completed
        # WebSocket API state
        self.logon_key: Optional[str] = None
        self.authorized_since: Optional[int] = None
        self.user_subs: Dict[int, str] = {}
        self.logon_subs: Set[int] = set()
        self.next_sub_id = 0
        self.micros = False  # timeUnit=MICROSECOND in the connection URL
        self.route: Optional[str] = None  # USD-M: "public" / "market" (None: unrouted path)
        self.listen_key: Optional[str] = None  # futures user data (kind "private")
        self.user_events: Optional[List[str]] = None

    # -- called from other threads ------------------------------------------------------------
    def on_frame(self) -> None:
        """Every incoming frame (data, ping, pong, close): enforce N messages per second."""
        now = time.monotonic()
        with self.lock:
            self.received += 1
            if self.kind != "stream" or self.violated:
                return
            times = self._frame_times
            if self.fake.rate_window == "fixed":  # count per whole wall-clock second
                second = float(int(time.time()))
                if times and times[0] != second:
                    times.clear()
                times.append(second)
            else:  # strict: at most N frames in any sliding 1-second window
                times.append(now)
                while times and times[0] <= now - 1.0:
                    times.popleft()
            if len(times) <= self.fake.max_incoming_per_second:
                return
            self.violated = True
        self.fake._rate_violation(self)
        self.request_close(1008, "Too many messages", reason="rate limit: too many incoming messages")

    def enqueue(self, text: str) -> None:
        if not self.closed.is_set():
            if self.outq.qsize() >= _MAX_BACKLOG:  # a client that stopped reading: Binance drops it too
                self.abort("slow consumer")
                return
            self.outq.put(text)

    def request_close(self, code: int, text: str, reason: str) -> None:
        with self.lock:
            if self.close_reason is None:
                self.close_reason = reason
        self.outq.put(("close", code, text))

    def abort(self, reason: str) -> None:
        """Cut the TCP connection with no close frame."""
        with self.lock:
            if self.close_reason is None:
                self.close_reason = reason
        conn = self.conn
        if conn is not None:
            try:
                conn.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wrap(self, stream: str, payload: str) -> str:
        return f'{{"stream":{json.dumps(stream)},"data":{payload}}}' if self.combined else payload

    # -- connection threads ---------------------------------------------------------------------
    def run(self, conn: ServerConnection) -> None:
        self.conn = conn
        self.started = True
        reader = threading.Thread(target=self._read_loop, args=(conn,), daemon=True,
                                  name=f"fake-binance-ws-reader-{self.id}")
        reader.start()
        try:
            self._write_loop(conn)
        except Exception:  # noqa: BLE001 - never let a handler error escape into websockets' logs
            log.debug("session %s writer failed", self.id, exc_info=True)
            self.abort("internal error")
        finally:
            self.closed.set()
            if reader is not threading.current_thread():
                try:
                    conn.close(1001)
                except Exception:  # noqa: BLE001
                    pass
                reader.join(5.0)
            if self.close_reason is None:
                code = conn.close_code
                self.close_reason = f"closed by client ({code})" if code is not None else "connection lost"
            self.closed_at = time.time()
            self.fake._session_closed(self)
            self.conn = None  # the connection log keeps this session: drop the socket's buffers

    def _read_loop(self, conn: ServerConnection) -> None:
        try:
            while True:
                msg = conn.recv()
                text = msg if isinstance(msg, str) else msg.decode("utf-8", "replace")
                if self.violated or self.kind == "private":
                    continue
                if self.kind == "stream":
                    reply = self.fake._ws_control(self, text)
                    if reply is not None:
                        self.enqueue(reply)
                else:
                    for out in self.fake._ws_api(self, text):
                        self.enqueue(out)
        except ConnectionClosed:
            pass
        except Exception:  # noqa: BLE001
            log.debug("session %s reader failed", self.id, exc_info=True)
        finally:
            self.outq.put(("closed",))

    def _write_loop(self, conn: ServerConnection) -> None:
        f = self.fake
        next_ping = time.monotonic() + f.ping_interval
        pending: List[Tuple[float, threading.Event]] = []
        notice_sent = False
        ping_seq = 0
        while True:
            now = time.monotonic()
            age = now - self.opened_mono
            lifetime = f.max_lifetime
            lead = min(f.shutdown_notice, lifetime / 2)
            timers = [next_ping, self.opened_mono + lifetime, now + 0.25]
            if not notice_sent:
                timers.append(self.opened_mono + lifetime - lead)
            timers.extend(d for d, _ in pending)
            try:
                op = self.outq.get(timeout=max(0.0, min(timers) - now))
            except queue.Empty:
                op = None
            if isinstance(op, str):
                if not self.frozen.is_set():
                    conn.send(op)
                    self.sent += 1
            elif op is not None:
                if op[0] == "closed":
                    return
                if op[0] == "close":
                    self.frozen.clear()
                    conn.close(op[1], op[2])
                    return
                if op[0] == "raw" and not self.frozen.is_set():
                    conn.send(op[1])
                if op[0] == "sync":  # FakeBinance.replay: everything queued before this is sent
                    op[1].set()
            now = time.monotonic()
            age = now - self.opened_mono
            if self.frozen.is_set():
                pending.clear()
                next_ping = now + f.ping_interval
                continue
            if not notice_sent and age >= lifetime - lead:
                notice_sent = True
                f._send_server_shutdown(self)
            if age >= lifetime:
                self.request_close(1001, "Max connection lifetime reached", reason="max lifetime")
                continue
            if now >= next_ping:
                ping_seq += 1
                pending.append((now + f.pong_timeout, conn.ping(str(ping_seq).encode())))
                next_ping = now + f.ping_interval
            pending = [(d, ev) for d, ev in pending if not ev.is_set()]
            if any(d <= now for d, _ in pending):
                self.abort("pong timeout")
                pending.clear()


class WsServer:
    """websockets.sync server on 127.0.0.1:0 routing by path; every thread it starts is joined."""

    def __init__(self, fake: FakeBinance, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.fake = fake
        self._conn_cls: Type[ServerConnection] = _FakeConnection
        self.server: Server = serve(self._handler, "127.0.0.1", 0, process_request=self._process_request,
                                    ssl=ssl_context,
                                    create_connection=self._conn_cls, ping_interval=None, ping_timeout=None,
                                    close_timeout=1.0, compression=None, max_size=2 ** 20,
                                    logger=logging.getLogger(__name__ + ".server"))
        self.port: int = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-binance-ws")
        self._lock = threading.Lock()
        self._conns: List[ServerConnection] = []

    def start(self) -> None:
        self.thread.start()

    def _process_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        f = self.fake
        with self._lock:
            self._conns.append(connection)
        refused = f._handshake_refusal(request.path)
        if refused is not None:
            resp = connection.respond(refused[0], refused[1])
            if refused[0] == 429:
                resp.headers["Retry-After"] = str(f._refuse_retry_after)
            return resp
        parts = urlsplit(request.path)
        route, path = split_route(f.product, unquote(parts.path))
        streams: List[str] = []
        combined = False
        private = f._private_target(path, parts.query) if f.product != "spot" else None
        if private is not None:
            kind, combined = "private", path.endswith("/stream")  # futures user data (_futures_user.py)
        elif path == api_path(f.product):  # spot /ws-api/v3; futures /ws-fapi/v1, /ws-dapi/v1
            kind = "api"
        elif path == "/ws" or path.startswith("/ws/"):
            kind = "stream"
            streams = [s for s in path[len("/ws/"):].split("/") if s] if path.startswith("/ws/") else []
        elif path == "/stream":
            kind, combined = "stream", True
            raw = parse_qs(parts.query).get("streams", [""])[0]
            streams = [s for s in raw.split("/") if s]
        else:
            return connection.respond(404, "Not Found\n")
        for s in streams:
            err = stream_error(f.product, s, list(f.market.state))
            if err is not None:
                return connection.respond(400, err + "\n")
        if len(set(streams)) > f.max_streams:
            return connection.respond(400, f"Too many streams: at most {f.max_streams} per connection\n")
        session = Session(f, f._next_conn_id(), request.path, kind, streams, combined)
        session.micros = wants_micros(parse_qs(parts.query).get("timeUnit", [None])[0])
        session.route = route
        if private is not None:
            session.listen_key, session.user_events = private
        assert isinstance(connection, _FakeConnection)
        connection.fake_session = session
        # Registered before the 101 response goes out (as Binance has the URL's streams live by
        # then): an event published the moment the client sees the connection open is queued for
        # it, not lost. A handshake that then fails is unregistered by prune().
        session.conn = connection
        f._session_opened(session)
        return None

    def _handler(self, connection: ServerConnection) -> None:
        assert isinstance(connection, _FakeConnection)
        session = connection.fake_session
        if session is not None:
            session.run(connection)

    def close(self, deadline: float) -> None:
        srv = self.server
        # websockets >= 17 closes live connections on shutdown() unless told not to; older
        # releases (13-16, the ones Python 3.9/3.10 get) have no such argument and never do.
        if _SHUTDOWN_TAKES_CLOSE_CONNECTIONS:
            srv.shutdown(close_connections=False)  # type: ignore[call-arg,unused-ignore]
        else:
            srv.shutdown()
        self.thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.recv_events_thread.join(max(0.0, deadline - time.monotonic()))
            if c.keepalive_thread is not None:
                c.keepalive_thread.join(max(0.0, deadline - time.monotonic()))

    def prune(self) -> None:
        with self._lock:
            dead = [c for c in self._conns if not c.recv_events_thread.is_alive()]
            self._conns = [c for c in self._conns if c.recv_events_thread.is_alive()]
        for c in dead:  # a handshake that failed after the session was registered
            session = c.fake_session if isinstance(c, _FakeConnection) else None
            if session is not None and not session.started and not session.closed.is_set():
                session.closed.set()
                session.close_reason = session.close_reason or "handshake failed"
                session.closed_at = time.time()
                self.fake._session_closed(session)


def control_error(style: str, code: int, msg: str, req_id: Any) -> str:
    if style == "nested":
        return dumps({"error": {"code": code, "msg": msg}, "id": req_id})
    return dumps({"code": code, "msg": msg, "id": req_id})


def handle_control(session: Session, text: str, symbols: List[str], max_streams: int, style: str) -> Tuple[
        Optional[str], List[str], List[str]]:
    """Live control messages of section 9. Returns (reply, added streams, removed streams)."""
    try:
        req = json.loads(text)
    except ValueError as exc:
        line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        return control_error(style, 3, f"Invalid JSON: expected value at line {line} column {col}", None), [], []
    if not isinstance(req, dict):
        return control_error(style, 2, "Invalid request: expected an object", None), [], []
    req_id = req.get("id")
    if not isinstance(req_id, _ID_TYPES) or isinstance(req_id, bool) or \
            (isinstance(req_id, str) and not (0 < len(req_id) <= 36 and req_id.isalnum())) or \
            (isinstance(req_id, int) and not -(2 ** 63) <= req_id < 2 ** 63):
        return control_error(style, 2, "Invalid request: request ID must be an unsigned integer", None), [], []
    method = req.get("method")
    if method is None:
        return control_error(style, 2, "Invalid request: missing field `method`", req_id), [], []
    params = req.get("params", [])
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return control_error(style, 2, "Invalid request: params must be a list of stream names", req_id), [], []
        for p in params:
            err = stream_error(session.fake.product, p, symbols)
            if err is not None:
                return control_error(style, 2, f"Invalid request: {err}", req_id), [], []
        with session.lock:
            if method == "SUBSCRIBE":
                added = [p for p in dict.fromkeys(params) if p not in session.streams]
                if len(session.streams) + len(added) > max_streams:
                    return control_error(style, 2, f"Invalid request: too many streams (max {max_streams})",
                                         req_id), [], []
                session.streams.update(added)
                session.ever_streams.extend(added)
                return dumps({"result": None, "id": req_id}), added, []
            removed = [p for p in params if p in session.streams]
            session.streams.difference_update(removed)
            return dumps({"result": None, "id": req_id}), [], removed
    if method == "LIST_SUBSCRIPTIONS":
        with session.lock:
            return dumps({"result": sorted(session.streams), "id": req_id}), [], []
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        want = 2 if method == "SET_PROPERTY" else 1
        if not isinstance(params, list) or len(params) < 1:
            return control_error(style, 2, "Invalid request: missing property name", req_id), [], []
        if len(params) > want:
            return control_error(style, 2, "Invalid request: too many parameters", req_id), [], []
        if not isinstance(params[0], str):
            return control_error(style, 2, "Invalid request: property name must be a string", req_id), [], []
        if params[0] != "combined":
            return control_error(style, 0, "Unknown property", req_id), [], []
        if method == "GET_PROPERTY":
            return dumps({"result": session.combined, "id": req_id}), [], []
        if len(params) < 2 or not isinstance(params[1], bool):
            return control_error(style, 1, "Invalid value type: expected Boolean", req_id), [], []
        session.combined = params[1]
        return dumps({"result": None, "id": req_id}), [], []
    return control_error(style, 2, f"Invalid request: unknown variant `{method}`", req_id), [], []


__all__ += ["handle_control", "control_error"]


def user_event(sub_id: int, event: JSON) -> str:
    return dumps({"subscriptionId": sub_id, "event": event})


__all__ += ["user_event"]
