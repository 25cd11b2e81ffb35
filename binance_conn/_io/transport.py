"""One WebSocket client socket: a cuttable connect, a read-ahead frame reader, locked sends.

websocket-client does the opening handshake and frames what we send (masking,
its send lock).  Reading is ours: websocket-client reads each frame with three
``recv()`` calls (header, extended length, payload), and every one of them
releases and re-takes the GIL, which on a busy stream costs more than the
parsing.  Here one ``recv()`` takes up to 64 KiB and the frames in it are cut
out of the buffer in a tight loop (RFC 6455 section 5.2), so a burst of
hundreds of frames costs one syscall.  The socket is blocking with no timeout:
a timeout adds a ``poll()`` before every read.  Liveness is the supervisor's
job (pings, pong deadlines, data silence), and it cuts a stuck socket with
:meth:`WsTransport.abort`, which also interrupts a connect or handshake in
progress because we create (and keep) the raw socket ourselves.

The only websocket-client surface used: ``WebSocket(skip_utf8_validation=,
enable_multithread=)``, ``.connect(url, socket=, timeout=, header=,
suppress_origin=)``, ``.send``, ``.ping``, ``.pong``, ``.send_close``; all public
and stable across the version range pinned in setup.cfg (tests/io/test_transport.py
fails loudly if that changes).  UTF-8 is validated by ``bytes.decode`` in C.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import threading
import time
import weakref
from typing import Callable, List, Optional, Protocol, Sequence, Tuple
from urllib.parse import urlsplit

import websocket

from ..errors import ConnectionError

__all__ = ["Transport", "TransportFactory", "WsTransport", "TransportClosed",
           "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG"]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_READ_SIZE = 65536
MAX_FRAME = 16 * 1024 * 1024
"""Largest frame accepted; Binance frames are a few KiB (a full depth snapshot ~1 MiB)."""


class TransportClosed(Exception):
    """The connection ended. ``clean`` is True when a close frame was received."""

    def __init__(self, reason: str, *, clean: bool = False, code: Optional[int] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.clean = clean
        self.code = code


class Transport(Protocol):
    """What a session needs of one WebSocket connection (STYLE.md example 8: injectable).

    :class:`WsTransport` is the real one; ``_io/memory.py`` has a scripted in-memory one
    for lifecycle tests.  Threads: ``connect`` and ``read_frames`` belong to the owning
    reader thread; the rest may be called from any thread.
    """

    url: str

    def connect(self) -> None: ...

    def read_frames(self) -> List[Tuple[int, bytes]]: ...

    def send_text(self, text: str) -> None: ...

    def ping(self, payload: bytes = b"") -> None: ...

    def pong(self, payload: bytes = b"") -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def release(self) -> None: ...

    @property
    def aborted(self) -> bool: ...


TransportFactory = Callable[..., Transport]
"""``factory(url, *, handshake_timeout=, proxy=, headers=None) -> Transport``; ``WsTransport`` itself is one."""


def _proxy_options(proxy: Optional[str]) -> dict:  # type: ignore[type-arg]
    if not proxy:
        return {}
    parts = urlsplit(proxy)
    opts: dict = {  # type: ignore[type-arg]
        "http_proxy_host": parts.hostname,
        "http_proxy_port": parts.port or (443 if parts.scheme == "https" else 80),
        "proxy_type": parts.scheme if parts.scheme.startswith("socks") else "http",
    }
    if parts.username:
        opts["http_proxy_auth"] = (parts.username, parts.password or "")
    return opts


class WsTransport:
    """A single WebSocket connection.

    Threads: :meth:`connect` and :meth:`read_frames` belong to the connection's
    reader thread; :meth:`send_text`, :meth:`ping`, :meth:`pong`, :meth:`close`
    and :meth:`abort` may be called from any thread (sends are serialised by
    websocket-client's lock).
    """

    def __init__(
        self,
        url: str,
        *,
        handshake_timeout: float = 10.0,
        proxy: Optional[str] = None,
        headers: Optional[Sequence[str]] = None,
    ) -> None:
        self.url = url
        self.handshake_timeout = handshake_timeout
        self.proxy = proxy
        self.headers = list(headers or ())
        self._ws: Optional[websocket.WebSocket] = None
        self._sock: Optional[socket.socket] = None
        self._aborted = threading.Event()
        self._buf = b""
        self._fragments: List[bytes] = []
        self._frag_opcode = 0
        self._closed: Optional[TransportClosed] = None
        _ALIVE.add(self)  # for the fork hook below

    # ------------------------------------------------------------------ connect
    def connect(self) -> None:
        """Open TCP (+TLS) and do the handshake. Blocks up to ``handshake_timeout`` per step.

        Raises:
            errors.ConnectionError: refused, timed out, handshake rejected, or aborted.
        """
        parts = urlsplit(self.url)
        secure = parts.scheme == "wss"
        host = parts.hostname or "localhost"
        port = parts.port or (443 if secure else 80)
        ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
        options: dict = {  # type: ignore[type-arg]
            "timeout": self.handshake_timeout,
            "suppress_origin": True,
            "header": self.headers,
        }
        try:
            if self.proxy:
                options.update(_proxy_options(self.proxy))
            else:
                options["socket"] = self._open_socket(host, port, secure)
            if self._aborted.is_set():
                raise ConnectionError("connect aborted")
            ws.connect(self.url, **options)  # type: ignore[no-untyped-call]
        except ConnectionError:
            self._cut()
            raise
        except websocket.WebSocketBadStatusException as exc:
            self._cut()
            status = getattr(exc, "status_code", None)
            raise ConnectionError(
                f"WebSocket handshake rejected with HTTP {status}", http_status=status
            ) from exc
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            self._cut()
            if self._aborted.is_set():
                raise ConnectionError("connect aborted") from exc
            raise ConnectionError(f"WebSocket connect to {host}:{port} failed") from exc
        sock = ws.sock
        if sock is None:  # pragma: no cover - defensive
            raise ConnectionError("WebSocket connect returned no socket")
        self._ws = ws
        self._sock = sock
        sock.settimeout(None)  # blocking reads: no poll() per recv; abort() interrupts
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - e.g. non-TCP sockets in tests
            pass
        if self._aborted.is_set():
            self._cut()
            raise ConnectionError("connect aborted")

    def _open_socket(self, host: str, port: int, secure: bool) -> socket.socket:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        last: Optional[BaseException] = None
        for family, socktype, proto, _name, addr in infos:
            sock = socket.socket(family, socktype, proto)
            self._sock = sock  # visible to abort() while connecting
            try:
                self._tcp_connect(sock, addr)
            except OSError as exc:
                last = exc
                sock.close()
                continue
            if secure:
                context = ssl.create_default_context()
                tls = context.wrap_socket(sock, server_hostname=host)
                self._sock = tls
                return tls
            return sock
        raise ConnectionError(f"cannot connect to {host}:{port}") from last

    def _tcp_connect(self, sock: socket.socket, addr: object) -> None:
        """TCP connect that notices :meth:`abort` within 0.1 s (a blocking connect() cannot be
        interrupted from another thread), bounded by ``handshake_timeout``."""
        deadline = time.monotonic() + self.handshake_timeout
        sock.setblocking(False)
        err = sock.connect_ex(addr)  # type: ignore[arg-type]
        while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EINTR):
            if self._aborted.is_set():
                raise ConnectionError("connect aborted")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("TCP connect timed out")
            _, writable, failed = select.select([], [sock], [sock], min(left, 0.1))
            if writable or failed:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        sock.settimeout(self.handshake_timeout)
        if self._aborted.is_set():
            raise ConnectionError("connect aborted")

    # ------------------------------------------------------------------ read
    def read_frames(self) -> List[Tuple[int, bytes]]:
        """Block until at least one complete data frame (or a control frame) is available.

        Returns ``(opcode, payload)`` pairs in wire order; fragmented messages are
        reassembled; pings are answered here (pong echoes the payload, reference
        section 9) and also returned so the caller can count traffic.

        Raises:
            TransportClosed: end of stream, a close frame, or an abort.
        """
        sock = self._sock
        if sock is None:
            raise TransportClosed("not connected")
        if self._closed is not None:
            raise self._closed
        out: List[Tuple[int, bytes]] = []
        while not out:
            try:
                data = sock.recv(_READ_SIZE)
            except OSError as exc:
                self._cut()  # the reader owns the socket: close it here
                raise TransportClosed(f"socket error: {exc}") from exc
            if not data:
                self._cut()
                if self._aborted.is_set():
                    raise TransportClosed("connection cut locally")
                raise TransportClosed("connection closed by peer without a close frame")
            buf = self._buf + data if self._buf else data
            pos = self._parse(buf, out)
            self._buf = buf[pos:]
        return out

    def _parse(self, buf: bytes, out: List[Tuple[int, bytes]]) -> int:
        """Cut complete frames from ``buf`` into ``out``; return the offset parsed up to."""
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                header = 10
            if length > MAX_FRAME:
                self._cut()
                raise TransportClosed(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
            mask = b1 & 0x80
            if mask:
                header += 4
            stop = pos + header + length
            if stop > end:
                break
            payload = buf[pos + header : stop]
            if mask:  # servers must not mask (RFC 6455 5.1) but be lenient
                key = buf[pos + header - 4 : pos + header]
                payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
            pos = stop
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if fin:
                    out.append((opcode, payload))
                else:
                    self._frag_opcode = opcode
                    self._fragments = [payload]
            elif opcode == OP_CONT:
                self._fragments.append(payload)
                if sum(len(f) for f in self._fragments) > MAX_FRAME:
                    self._cut()
                    raise TransportClosed(f"fragmented message exceeds the {MAX_FRAME}-byte limit")
                if fin:
                    out.append((self._frag_opcode, b"".join(self._fragments)))
                    self._fragments = []
            elif opcode == OP_PING:
                self.pong(payload)
                out.append((opcode, payload))
            elif opcode == OP_PONG:
                out.append((opcode, payload))
            elif opcode == OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                try:
                    self._send_close()
                finally:
                    self._cut()
                closed = TransportClosed(f"closed by server ({code} {reason})".strip(), clean=True, code=code)
                if not out:
                    raise closed
                self._closed = closed  # deliver the frames before it first; raise on the next read
                return end
        return pos

    # ------------------------------------------------------------------ write
    def _call(self, what: str, *args: object, strict: bool) -> None:
        """Run one websocket-client send method; ``strict`` turns a dead socket into TransportClosed,
        otherwise it is ignored (the reader will see the socket die)."""
        ws = self._ws
        if ws is None:
            if strict:
                raise TransportClosed("not connected")
            return
        try:
            getattr(ws, what)(*args)
        except (OSError, websocket.WebSocketException) as exc:
            if strict:
                raise TransportClosed(f"{what} failed: {exc}") from exc

    def send_text(self, text: str) -> None:
        """Send one text frame. Raises TransportClosed when the socket is gone."""
        self._call("send", text, strict=True)

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping frame. Raises TransportClosed when the socket is gone."""
        self._call("ping", payload, strict=True)

    def pong(self, payload: bytes = b"") -> None:
        self._call("pong", payload, strict=False)

    def _send_close(self) -> None:
        self._call("send_close", strict=False)

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Graceful: send a close frame, then cut the socket (no waiting for the echo)."""
        self._send_close()
        self.abort()

    def abort(self) -> None:
        """Cut the connection at once from any thread; wakes a blocked read, handshake or connect.

        Only ``shutdown()`` here: closing a socket another thread is blocked on does not wake
        that thread, and its descriptor may be reused at once by a new socket, leaving the
        reader blocked on someone else's connection.  The reader thread closes the socket
        when it sees the end (:meth:`read_frames`, :meth:`connect`) or via :meth:`release`.
        """
        self._aborted.set()
        sock = self._sock
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def release(self) -> None:
        """Owner (reader) thread only: abort and close the socket."""
        self._aborted.set()
        self._cut()

    def _cut(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            sock.close()
        except OSError:  # pragma: no cover
            pass

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def forget_after_fork(self) -> None:
        """In a forked child: close this process's descriptor, send nothing, shut nothing down.

        The socket is shared with the parent: a close frame or ``shutdown()`` would end the
        parent's connection; closing the child's descriptor only drops its reference."""
        self._aborted.set()
        sock, self._sock, self._ws = self._sock, None, None
        if sock is not None:
            try:
                sock.close()
            except OSError:  # pragma: no cover
                pass


_ALIVE: "weakref.WeakSet[WsTransport]" = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for transport in list(_ALIVE):
        transport.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_after_fork)

