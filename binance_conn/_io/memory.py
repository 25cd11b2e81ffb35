"""A scripted, in-memory WebSocket transport: lifecycle tests without sockets.

Like httpx's ``MockTransport``: a :class:`MemoryNetwork` is a
:data:`~binance_conn._io.transport.TransportFactory`.  Every ``factory(url, ...)`` call
creates a :class:`MemoryTransport` that the test drives from its own thread::

    net = MemoryNetwork()
    net.refuse_next(ConnectionError("refused"))   # the next connect() raises it
    session = MarketSession(..., transport_factory=net)
    link = net.wait_for_connection(timeout=2)     # the next transport that connected
    link.feed_text('{"result":null,"id":1}')      # what the reader will read
    link.wait_sent(lambda texts: any("SUBSCRIBE" in t for t in texts), timeout=2)
    link.freeze()                                 # stop answering pings (zombie)
    link.close_from_server(1000, "bye")           # a close frame
    link.fail_read(RuntimeError("injected"))      # the next read raises this (a bug)

Nothing here opens a socket, sleeps, or reads a clock of its own; all blocking is on a
``threading.Condition`` with the caller's timeout, and ``abort()`` wakes a blocked read
exactly as the real transport does.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from .transport import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, TransportClosed

__all__ = ["MemoryNetwork", "MemoryTransport"]

Frame = Tuple[int, bytes]


class MemoryTransport:
    """One scripted connection; see the module docstring."""

    def __init__(self, network: "MemoryNetwork", url: str, handshake_timeout: float, proxy: Optional[str],
                 headers: Optional[Sequence[str]]) -> None:
        self.network = network
        self.url = url
        self.handshake_timeout = handshake_timeout
        self.proxy = proxy
        self.headers = list(headers or ())
        self._cond = threading.Condition()
        self._inbox: Deque[Any] = deque()  # Frame, or an exception to raise from read_frames
        self._aborted = False
        self._closed: Optional[TransportClosed] = None
        self.connected = False
        self.frozen = False  # True: pings are not answered (a zombie link)
        self.sent: List[str] = []
        self.pings = 0
        self.pongs_sent: List[bytes] = []
        self.close_sent = False
        self.released = False
        self.reads = 0
        self.options: Dict[str, Any] = {}

    # ------------------------------------------------------------------ Transport (library side)
    def connect(self) -> None:
        self.network._connect(self)
        with self._cond:
            if self._aborted:
                raise self.network.connection_error("connect aborted")
            self.connected = True
            self._cond.notify_all()

    def read_frames(self) -> List[Frame]:
        with self._cond:
            while True:
                if self._closed is not None and not self._inbox:
                    raise self._closed
                if self._aborted:
                    raise TransportClosed("connection cut locally")
                if self._inbox:
                    break
                self._cond.wait(0.5)
            out: List[Frame] = []
            while self._inbox:
                item = self._inbox[0]
                if isinstance(item, BaseException):
                    if out:
                        break
                    self._inbox.popleft()
                    self.reads += 1
                    raise item
                self._inbox.popleft()
                out.append(item)
                if item[0] == OP_CLOSE:
                    code = int.from_bytes(item[1][:2], "big") if len(item[1]) >= 2 else None
                    self._closed = TransportClosed(f"closed by server ({code})", clean=True, code=code)
                    out.pop()
                    if not out:
                        raise self._closed
                    break
            self.reads += 1
            return out

    def send_text(self, text: str) -> None:
        with self._cond:
            if self._aborted or self._closed is not None or not self.connected:
                raise TransportClosed("send on a closed connection")
            self.sent.append(text)
            self._cond.notify_all()
        handler = self.network.on_send
        if handler is not None:
            handler(self, text)

    def ping(self, payload: bytes = b"") -> None:
        with self._cond:
            if self._aborted or self._closed is not None or not self.connected:
                raise TransportClosed("ping on a closed connection")
            self.pings += 1
            if not self.frozen:
                self._inbox.append((OP_PONG, payload))
            self._cond.notify_all()

    def pong(self, payload: bytes = b"") -> None:
        with self._cond:
            self.pongs_sent.append(payload)

    def close(self) -> None:
        with self._cond:
            if self.connected and not self._aborted:
                self.close_sent = True
        self.abort()

    def abort(self) -> None:
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def release(self) -> None:
        self.abort()
        with self._cond:
            self.released = True

    @property
    def aborted(self) -> bool:
        return self._aborted

    # ------------------------------------------------------------------ script (test side)
    def feed_text(self, *texts: str) -> None:
        """Queue text frames for the reader (one read returns everything queued)."""
        with self._cond:
            for text in texts:
                self._inbox.append((OP_TEXT, text.encode("utf-8")))
            self._cond.notify_all()

    def feed_frame(self, opcode: int, payload: bytes) -> None:
        with self._cond:
            self._inbox.append((opcode, payload))
            self._cond.notify_all()

    def server_ping(self, payload: bytes = b"") -> None:
        self.feed_frame(OP_PING, payload)

    def fail_read(self, exc: BaseException) -> None:
        """The next ``read_frames`` raises ``exc`` (e.g. an injected ``RuntimeError``)."""
        with self._cond:
            self._inbox.append(exc)
            self._cond.notify_all()

    def freeze(self) -> None:
        """From now on pings get no pong (TCP open, nothing answered)."""
        with self._cond:
            self.frozen = True

    def close_from_server(self, code: int = 1000, reason: str = "") -> None:
        self.feed_frame(OP_CLOSE, code.to_bytes(2, "big") + reason.encode("utf-8"))

    def drop(self) -> None:
        """The connection dies without a close frame (TCP reset)."""
        with self._cond:
            self._closed = TransportClosed("connection closed by peer without a close frame")
            self._cond.notify_all()

    def wait_sent(self, predicate: Callable[[List[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(self.sent)`` holds; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.sent), timeout)

    def __repr__(self) -> str:
        return f"MemoryTransport({self.url!r}, connected={self.connected}, aborted={self._aborted})"


class MemoryNetwork:
    """A :data:`TransportFactory` whose connections are :class:`MemoryTransport` objects.

    ``on_send(transport, text)``: optional auto-responder (e.g. answer every SUBSCRIBE
    with ``{"result": null, "id": n}``), called on the sender's thread.
    """

    def __init__(self, on_send: Optional[Callable[[MemoryTransport, str], None]] = None) -> None:
        self.on_send = on_send
        self._cond = threading.Condition()
        self._refusals: Deque[BaseException] = deque()
        self.refuse_all: Optional[BaseException] = None
        self.transports: List[MemoryTransport] = []
        self.attempts = 0
        self._taken = 0

    def __call__(self, url: str, *, handshake_timeout: float = 10.0, proxy: Optional[str] = None,
                 headers: Optional[Sequence[str]] = None, **options: Any) -> MemoryTransport:
        """Make a transport; ``options`` (``ssl_context=``, ``ca_file=`` as WsTransport takes) are kept
        on it as ``.options`` for tests to inspect."""
        transport = MemoryTransport(self, url, handshake_timeout, proxy, headers)
        transport.options = dict(options)
        return transport

    @staticmethod
    def connection_error(message: str, **kw: Any) -> BaseException:
        from ..errors import ConnectionError

        return ConnectionError(message, **kw)

    def refuse_next(self, exc: BaseException) -> None:
        """The next connect attempt raises ``exc`` (usually an ``errors.ConnectionError``)."""
        with self._cond:
            self._refusals.append(exc)

    def _connect(self, transport: MemoryTransport) -> None:
        with self._cond:
            self.attempts += 1
            exc = self._refusals.popleft() if self._refusals else self.refuse_all
            if exc is None:
                self.transports.append(transport)
                self._cond.notify_all()
        if exc is not None:
            raise exc

    def wait_for_connection(self, timeout: float) -> MemoryTransport:
        """The next connected transport not yet returned by this method (in connect order)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.transports) > self._taken, timeout)
            if not ok:
                raise TimeoutError(f"no new connection within {timeout} s ({self.attempts} attempts)")
            transport = self.transports[self._taken]
            self._taken += 1
        with transport._cond:
            transport._cond.wait_for(lambda: transport.connected or transport.aborted, timeout)
        return transport
