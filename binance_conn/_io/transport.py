"""One WebSocket client socket: a bounded, cuttable connect; a read-ahead frame reader; locked sends.

Connect.  We create and keep every socket ourselves, so :meth:`WsTransport.abort`
(``shutdown()`` from any thread) cuts the connect at any step, and one deadline timer
bounds the whole of it (TCP + proxy + TLS + WebSocket handshake) by
``handshake_timeout``, however slowly a peer trickles its bytes.  The steps:

1. TCP: non-blocking ``connect`` polled every 0.1 s (abort and the deadline are noticed);
2. HTTP proxy (``http://`` proxy URL; ``https://``, TLS to the proxy, for ``ws://`` only):
   our own ``CONNECT host:port`` with ``Proxy-Authorization: Basic`` from the
   percent-*decoded* userinfo; the status line decides (200 goes on, 407 is
   ``proxy_auth``, anything else ``proxy_status``).  ``socks4://``/``socks5://``
   proxies are left to websocket-client (it needs python-socks; without it the error is
   ``proxy_unsupported``); that path is bounded per step only and not cuttable mid-way;
3. TLS (``wss``): the default context, or the ``ssl_context``/``ca_file`` given;
4. the opening handshake by websocket-client on our socket (``ws.connect(url, socket=)``).

Every failure becomes an :class:`~binance_conn.errors.ConnectionError` (``ProxyError``,
``TLSError``) with ``details["reason"]`` and a clean message (the table is in
``_io/connect_errors.py``, the one place foreign exceptions of a connect are translated).
Not bounded: ``getaddrinfo`` (a libc call; it cannot be cut from another thread).

Reading.  websocket-client reads each frame with three ``recv()`` calls, each
releasing and re-taking the GIL; here one ``recv()`` takes up to 64 KiB and
:class:`~binance_conn._core.frames.FrameParser` (sans-I/O) cuts all the frames in it
out, so a burst of hundreds of frames costs one syscall.  The socket is blocking with
no timeout (a timeout adds a ``poll()`` per read); liveness is the supervisor's job
and it cuts a stuck socket with ``abort()``.  Pings are answered here with the same
payload.  A protocol violation by the server (a control frame over 125 bytes, a
fragmented one, ...) is answered with close 1002 (1009: too big) and ends the
connection; it is never echoed.

Writing.  websocket-client frames and masks what we send, under our own send lock;
:meth:`WsTransport.close` sends close 1000 with a short lock wait and a short send
timeout, so it never blocks more than about 0.2 s on a peer that does not read, and
then cuts the socket.

websocket-client surface used: ``WebSocket(skip_utf8_validation=, enable_multithread=)``,
``.connect(url, socket=, timeout=, header=, suppress_origin=, redirect_limit=)``,
``.send``, ``.ping``, ``.pong``, ``.send_close(status, reason)``, and its exceptions;
tests/io/test_transport.py fails loudly if that changes.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import select
import socket
import ssl
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple
from urllib.parse import SplitResult, urlsplit

import websocket

from .._core.frames import (
    CLOSE_NORMAL,
    MAX_FRAME,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameParser,
    is_valid_close_code,
)
from ..errors import ConnectionError, ProxyError
from .connect_errors import (
    ConnectFailure,
    classify,
    describe,
    os_kind,
    proxy_answer_failure,
    proxy_request,
    read_proxy_status,
    redact_url,
    socks_options,
)

__all__ = ["Transport", "TransportFactory", "WsTransport", "TransportClosed", "MAX_FRAME",
           "OP_CONT", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG"]

_READ_SIZE = 65536
_CLOSE_LOCK_WAIT = 0.05
"""Seconds close() waits for a send in progress to finish before giving up the close frame."""
_CLOSE_SEND_TIMEOUT = 0.15
"""Seconds close() lets the close frame sit in a full send buffer before cutting the socket."""


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
"""``factory(url, *, handshake_timeout=, proxy=, headers=None) -> Transport``; ``WsTransport`` itself is one.
Optional keyword arguments ``ssl_context=`` / ``ca_file=`` (TLS trust for wss) are accepted by WsTransport
and by ``_io.memory.MemoryNetwork``."""


class WsTransport:
    """A single WebSocket connection.

    Threads: :meth:`connect` and :meth:`read_frames` belong to the connection's reader
    thread; :meth:`send_text`, :meth:`ping`, :meth:`pong`, :meth:`close` and
    :meth:`abort` may be called from any thread (sends are serialised by one lock).

    Args:
        url: ``ws://`` or ``wss://`` URL.
        handshake_timeout: bound on the whole :meth:`connect` (seconds).
        proxy: ``http://[user:pass@]host:port`` (``https://``, ``socks5://``, ``socks4://``);
            percent-encoded credentials are decoded once.
        headers: extra handshake header lines (``"Name: value"``).
        ssl_context: the TLS context for ``wss`` (full control); default
            ``ssl.create_default_context(cafile=ca_file)``.
        ca_file: a PEM bundle of CAs to trust instead of the system's (ignored with ``ssl_context``).
    """

    def __init__(
        self,
        url: str,
        *,
        handshake_timeout: float = 10.0,
        proxy: Optional[str] = None,
        headers: Optional[Sequence[str]] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_file: Optional[str] = None,
    ) -> None:
        self.url = url
        self.handshake_timeout = handshake_timeout
        self.proxy = proxy
        self.headers = list(headers or ())
        self.ssl_context = ssl_context
        self.ca_file = ca_file
        self._ws: Optional[websocket.WebSocket] = None
        self._sock: Optional[socket.socket] = None
        self._aborted = threading.Event()
        self._timed_out = False
        self._deadline = 0.0
        self._parser = FrameParser()
        self._send_lock = threading.Lock()
        self._close_sent = False
        self._closed: Optional[TransportClosed] = None
        _ALIVE.add(self)  # for the fork hook below

    def __repr__(self) -> str:
        proxy = f", proxy={redact_url(self.proxy)!r}" if self.proxy else ""
        return f"WsTransport({self.url!r}{proxy}, aborted={self.aborted})"

    # ------------------------------------------------------------------ connect
    def connect(self) -> None:
        """Open TCP (+proxy, +TLS) and do the handshake; reader thread; blocks up to ``handshake_timeout``.

        Raises:
            errors.ConnectionError: with ``details["reason"]`` (see the module docstring);
                ``errors.ProxyError`` and ``errors.TLSError`` for proxy and TLS failures.
        """
        parts = urlsplit(self.url)
        secure = parts.scheme == "wss"
        host = parts.hostname or "localhost"
        port = parts.port or (443 if secure else 80)
        self._deadline = time.monotonic() + self.handshake_timeout
        self._timed_out = False
        timer = threading.Timer(self.handshake_timeout, self._expire)
        timer.name = "binance_conn-connect-deadline"
        timer.daemon = True
        timer.start()
        try:
            self._connect(host, port, secure)
            failure: Optional[ConnectFailure] = None
        except ConnectFailure as exc:
            failure = exc
        except (OSError, websocket.WebSocketException, ValueError, EOFError) as exc:
            failure = classify(exc, host, port, self._handshake_status())
        finally:
            timer.cancel()
            timer.join()
        if failure is None and not self._aborted.is_set() and not self._timed_out:
            self._connected()
            return
        self._cut()
        if self._aborted.is_set():
            failure = ConnectFailure("aborted", f"connect to {host}:{port} aborted")
        elif self._timed_out and (failure is None or not failure.kind.startswith("proxy")):
            failure = ConnectFailure("timeout",
                                     f"connect to {host}:{port} timed out after {self.handshake_timeout:g} s")
        assert failure is not None
        raise failure.to_error(host, port)

    def _connect(self, host: str, port: int, secure: bool) -> None:
        proxy = urlsplit(self.proxy) if self.proxy else None
        options: Dict[str, Any] = {"suppress_origin": True, "header": self.headers, "redirect_limit": 0}
        if proxy is not None and proxy.scheme.lower().startswith("socks"):
            if importlib.util.find_spec("python_socks") is None:
                raise ConnectFailure("proxy_unsupported", f"{proxy.scheme} proxies need the python-socks package",
                            ProxyError, temporary=False)
            sslopt = {"context": self._tls_context()} if secure else None
            ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=False, sslopt=sslopt)
            options.update(socks_options(proxy))
            options["timeout"] = self._remaining()
            self._check()
            try:
                ws.connect(self.url, **options)  # type: ignore[no-untyped-call]
            except Exception as exc:
                if type(exc).__module__.split(".")[0] != "python_socks":
                    raise
                kind = "proxy_auth" if "auth" in str(exc).lower() else "proxy_down"
                raise ConnectFailure(kind, f"{proxy.scheme} proxy {proxy.hostname}:{proxy.port or 1080} failed: "
                                     f"{describe(exc)}", ProxyError) from exc
        else:
            ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=False)
            if proxy is not None:
                sock = self._tunnel(proxy, host, port, secure)
            else:
                sock = self._open_tcp(host, port, f"{host}:{port}")
            if secure:
                sock = self._start_tls(sock, host)
            timeout = self._remaining()
            sock.settimeout(timeout)
            options["timeout"] = timeout
            ws.connect(self.url, socket=sock, **options)  # type: ignore[no-untyped-call]
        self._ws = ws
        if ws.sock is not None:
            self._sock = ws.sock

    def _connected(self) -> None:
        sock = self._sock
        if sock is None:  # pragma: no cover - defensive
            raise ConnectionError("WebSocket connect returned no socket", details={"reason": "handshake"})
        sock.settimeout(None)  # blocking reads: no poll() per recv; abort() interrupts
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - e.g. non-TCP sockets in tests
            pass

    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        return left

    def _check(self) -> None:
        """Raise when aborted or past the deadline (also after publishing a new socket in ``self._sock``:
        an abort() that read the previous one is noticed here)."""
        if self._aborted.is_set() or self._timed_out:
            raise ConnectFailure("aborted", "connect aborted")

    def _expire(self) -> None:
        """Deadline timer thread: cut the connect in progress."""
        self._timed_out = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _open_tcp(self, host: str, port: int, what: str) -> socket.socket:
        self._check()
        try:
            infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise ConnectFailure("dns", f"cannot resolve {host}: {describe(exc)}") from exc
        last: Optional[BaseException] = None
        for family, socktype, proto, _name, addr in infos:
            sock = socket.socket(family, socktype, proto)
            self._sock = sock  # visible to abort() while connecting
            try:
                self._tcp_connect(sock, addr)
            except OSError as exc:
                last = exc
                sock.close()
                self._check()
                continue
            return sock
        assert last is not None
        raise ConnectFailure(os_kind(last), f"cannot connect to {what}: {describe(last)}") from last

    def _tcp_connect(self, sock: socket.socket, addr: object) -> None:
        """TCP connect that notices :meth:`abort` within 0.1 s (a blocking connect() cannot be
        interrupted from another thread), bounded by the connect deadline."""
        sock.setblocking(False)
        err = sock.connect_ex(addr)  # type: ignore[arg-type]
        while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EINTR):
            self._check()
            left = self._remaining()
            _, writable, failed = select.select([], [sock], [sock], min(left, 0.1))
            if writable or failed:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        self._check()
        sock.settimeout(self._remaining())

    def _tls_context(self) -> ssl.SSLContext:
        if self.ssl_context is not None:
            return self.ssl_context
        return ssl.create_default_context(cafile=self.ca_file)

    def _start_tls(self, sock: socket.socket, host: str) -> ssl.SSLSocket:
        tls = self._tls_context().wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        self._sock = tls
        self._check()
        tls.settimeout(self._remaining())
        tls.do_handshake()
        return tls

    def _handshake_status(self) -> Optional[int]:
        ws = self._ws
        response = getattr(ws, "handshake_response", None) if ws is not None else None
        status = getattr(response, "status", None)
        return int(status) if isinstance(status, int) else None

    # ------------------------------------------------------------------ proxy
    def _tunnel(self, proxy: SplitResult, host: str, port: int, secure: bool) -> socket.socket:
        """TCP to the proxy, then ``CONNECT host:port``; returns the socket once the proxy answered 200."""
        phost = proxy.hostname or "localhost"
        secure_proxy = proxy.scheme.lower() == "https"
        pport = proxy.port or (443 if secure_proxy else 80)
        where = f"proxy {phost}:{pport}"
        try:
            sock = self._open_tcp(phost, pport, where)
        except ConnectFailure as exc:
            if self._aborted.is_set():
                raise
            text = "timed out" if exc.kind in ("aborted", "timeout") else exc.message.rpartition(": ")[2]
            raise ConnectFailure("proxy_down", f"{where} unreachable: {text}", ProxyError) from exc.__cause__
        if secure_proxy:
            if secure:
                raise ConnectFailure("proxy_unsupported", f"TLS inside TLS to {where} (an https:// proxy URL) is not "
                                     "supported for wss: use an http:// proxy URL", ProxyError, temporary=False)
            sock = self._start_tls(sock, phost)
        request, authority, has_auth = proxy_request(proxy, host, port)
        try:
            sock.sendall(request)
            status, phrase = read_proxy_status(sock, self._remaining)
        except (OSError, EOFError) as exc:
            self._check()
            if os_kind(exc) == "timeout":
                raise
            raise ConnectFailure("proxy_down", f"{where} dropped the CONNECT to {authority}: {describe(exc)}",
                                 ProxyError) from exc
        failure = proxy_answer_failure(status, phrase, where, authority, has_auth)
        if failure is not None:
            raise failure
        return sock

    # ------------------------------------------------------------------ read
    def read_frames(self) -> List[Tuple[int, bytes]]:
        """Block until at least one complete data frame (or a control frame) is available; reader thread.

        Returns ``(opcode, payload)`` pairs in wire order; fragmented messages are
        reassembled; pings are answered here (pong echoes the payload, reference
        section 9) and also returned so the caller can count traffic.

        Raises:
            TransportClosed: end of stream, a close frame, a protocol violation (after our
                close 1002/1009), or an abort.
        """
        sock = self._sock
        if sock is None:
            raise TransportClosed("not connected")
        if self._closed is not None:
            raise self._closed
        parser = self._parser
        feed = parser.feed
        while True:
            try:
                data = sock.recv(_READ_SIZE)
            except OSError as exc:
                self._cut()  # the reader owns the socket: close it here
                if self._aborted.is_set():
                    raise TransportClosed("connection cut locally") from exc
                raise TransportClosed(f"socket error: {describe(exc)}") from exc
            if not data:
                self._cut()
                if self._aborted.is_set():
                    raise TransportClosed("connection cut locally")
                raise TransportClosed("connection closed by peer without a close frame")
            try:
                out = feed(data)
            except FrameError:
                out = []
            if parser.has_pings:
                for payload in parser.take_pings():
                    self.pong(payload)
            if parser.ended:
                return self._on_end(out)
            if out:
                return out

    def _on_end(self, out: List[Tuple[int, bytes]]) -> List[Tuple[int, bytes]]:
        """A close frame or a protocol violation: answer with our close frame, cut, report.

        Frames that came before it are returned first; the next read raises."""
        parser = self._parser
        error = parser.error
        if error is not None:
            self._send_close(error.code, error.reason)
            closed = TransportClosed(f"protocol error by the server: {error.reason} (closed with {error.code})",
                                     code=error.code)
            closed.__cause__ = error
        else:
            code = parser.close_code
            self._send_close(code if code is not None and is_valid_close_code(code) else CLOSE_NORMAL, "")
            text = f"{code} {parser.close_reason}".strip() if code is not None else "no status"
            closed = TransportClosed(f"closed by server ({text})", clean=True, code=code)
        self._cut()
        if not out:
            raise closed
        self._closed = closed  # deliver the frames before it first; raise on the next read
        return out

    # ------------------------------------------------------------------ write
    def _call(self, what: str, *args: object, strict: bool) -> None:
        """Run one websocket-client send method under the send lock; ``strict`` turns a dead socket
        into TransportClosed, otherwise it is ignored (the reader will see the socket die)."""
        ws = self._ws
        if ws is None or self._close_sent:
            if strict:
                raise TransportClosed("not connected" if ws is None else "connection closing")
            return
        try:
            with self._send_lock:
                getattr(ws, what)(*args)
        except (OSError, websocket.WebSocketException) as exc:
            if strict:
                raise TransportClosed(f"{what} failed: {describe(exc)}") from exc

    def send_text(self, text: str) -> None:
        """Send one text frame; any thread; blocks while the send buffer is full. Raises TransportClosed."""
        self._call("send", text, strict=True)

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping frame; any thread. Raises TransportClosed when the socket is gone."""
        self._call("ping", payload, strict=True)

    def pong(self, payload: bytes = b"") -> None:
        """Send a pong frame; any thread; a dead socket is ignored."""
        self._call("pong", payload, strict=False)

    def _send_close(self, code: int, reason: str) -> bool:
        """Send one close frame, bounded (~0.2 s) even when the peer reads nothing; True if sent."""
        ws = self._ws
        sock = self._sock
        if ws is None or sock is None or self._close_sent:
            return False
        if not self._send_lock.acquire(timeout=_CLOSE_LOCK_WAIT):
            return False  # another thread is stuck mid-frame: a close frame now would corrupt it
        try:
            if self._close_sent:
                return False
            self._close_sent = True
            sock.settimeout(_CLOSE_SEND_TIMEOUT)
            ws.send_close(code, reason.encode("utf-8")[:123])
            return True
        except (OSError, websocket.WebSocketException, ValueError):
            return False
        finally:
            self._send_lock.release()

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Graceful, from any thread: send close 1000 (at most ~0.2 s), then cut the socket."""
        self._send_close(CLOSE_NORMAL, "")
        self.abort()

    def abort(self) -> None:
        """Cut the connection at once from any thread; wakes a blocked read, handshake or connect.

        Only ``shutdown()`` here: closing a socket another thread is blocked on does not wake
        that thread, and its descriptor may be reused at once by a new socket, leaving the
        reader blocked on someone else's connection.  The reader thread closes the socket
        when it sees the end (:meth:`read_frames`, :meth:`connect`) or via :meth:`release`.
        """
        self._aborted.set()
        self._shutdown()

    def release(self) -> None:
        """Owner (reader) thread only: abort and close the socket."""
        self._aborted.set()
        self._cut()

    def _shutdown(self) -> None:
        """Shut the socket down both ways (wakes any thread blocked on it); keeps the descriptor."""
        sock = self._sock
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _cut(self) -> None:
        self._shutdown()
        sock = self._sock
        if sock is None:
            return
        try:
            sock.close()
        except OSError:  # pragma: no cover
            pass

    @property
    def aborted(self) -> bool:
        """True once :meth:`abort`, :meth:`close` or :meth:`release` was called."""
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
