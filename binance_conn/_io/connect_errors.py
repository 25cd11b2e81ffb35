"""How a WebSocket connect fails: typed errors with a reason kind, and the HTTP CONNECT exchange.

The one boundary where socket, ``ssl`` and websocket-client exceptions of a connect
become :class:`~binance_conn.errors.ConnectionError` (STYLE.md example 6).  Every error
carries ``details["reason"]``:

=================  ================  ==========================================================
kind               class             when
=================  ================  ==========================================================
certificate        TLSError          the server's certificate is not trusted (or expired ...)
hostname           TLSError          the certificate names another host (or IP address)
tls                TLSError          any other TLS handshake failure
proxy_auth         ProxyError        the proxy answered CONNECT with 407
proxy_status       ProxyError        the proxy answered CONNECT with another non-200 status
proxy_down         ProxyError        the proxy refused the TCP connection, is unreachable, or dropped it
proxy_unsupported  ProxyError        socks without python-socks; https:// proxy for wss
http_status        ConnectionError   the handshake was answered with an HTTP status (``http_status``;
                                     ``retry_after`` seconds for 429/418 with ``Retry-After``)
refused            ConnectionError   TCP connection refused
timeout            ConnectionError   the whole connect took longer than ``handshake_timeout``
dns                ConnectionError   the host name did not resolve
reset              ConnectionError   the peer reset or closed the connection during the connect
unreachable        ConnectionError   no route to the host or network
network            ConnectionError   any other socket error
handshake          ConnectionError   the server's answer was not a valid WebSocket handshake
aborted            ConnectionError   ``abort()`` cut the connect
=================  ================  ==========================================================

Messages are clean text: host and port, the OS's or OpenSSL's short reason; never a
header dict, never proxy credentials.  The foreign exception is kept as the error's
``__context__`` (tracebacks show it) rather than its ``__cause__`` (whose text
``BinanceError.__str__`` would append).
"""

from __future__ import annotations

import base64
import errno
import socket
import ssl
from typing import Any, Callable, Dict, Optional, Tuple, Type
from urllib.parse import SplitResult, unquote, urlsplit

import websocket

from ..errors import ConnectionError, ProxyError, TLSError, parse_retry_after

__all__ = ["ConnectFailure", "classify", "redact_url", "os_kind", "describe", "socks_options",
           "proxy_request", "read_proxy_status", "proxy_answer_failure"]

_MAX_PROXY_HEADER = 16384
_HOSTNAME_CODES = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


class ConnectFailure(Exception):
    """A classified connect failure, turned into the public error by :meth:`to_error`."""

    def __init__(self, kind: str, message: str, cls: Type[ConnectionError] = ConnectionError, *,
                 temporary: bool = True, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.cls = cls
        self.temporary = temporary
        self.details = details

    def to_error(self, host: str, port: int) -> ConnectionError:
        details: Dict[str, Any] = {"reason": self.kind, "host": host, "port": port}
        details.update(self.details)
        http_status = details.pop("http_status", None)
        err = self.cls(self.message, temporary=self.temporary, http_status=http_status, details=details)
        err.__context__ = self.__cause__
        return err


def redact_url(url: Optional[str]) -> str:
    """``url`` without its password (for reprs and messages)."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
    return parts._replace(netloc=netloc).geturl()


def os_kind(exc: BaseException) -> str:
    """The reason kind of a socket-level failure."""
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, (socket.timeout, TimeoutError, websocket.WebSocketTimeoutException)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, ssl.SSLEOFError,
                        ssl.SSLZeroReturnError, websocket.WebSocketConnectionClosedException, EOFError)):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    if isinstance(exc, OSError):
        return "network"
    return "handshake"


def describe(exc: BaseException) -> str:
    """Short clean text for a socket-level failure (no reprs, no dicts)."""
    if isinstance(exc, ssl.SSLError):
        if exc.reason:
            return str(exc.reason).replace("_", " ").lower()
    elif isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def classify(exc: BaseException, host: str, port: int, handshake_status: Optional[int] = None) -> ConnectFailure:
    """The failure for a foreign exception raised while connecting to ``host:port``."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        fail = _bad_status(exc, host, port)
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = exc.verify_message or describe(exc)
        if exc.verify_code in _HOSTNAME_CODES:
            fail = ConnectFailure("hostname", f"TLS certificate does not match {host}: {text}", TLSError,
                                  temporary=False)
        else:
            fail = ConnectFailure("certificate", f"TLS certificate of {host} is not trusted: {text}", TLSError,
                                  temporary=False)
    elif isinstance(exc, ssl.SSLError) and os_kind(exc) != "reset":
        fail = ConnectFailure("tls", f"TLS handshake with {host}:{port} failed: {describe(exc)}", TLSError,
                              temporary=False)
    elif isinstance(exc, websocket.WebSocketException) and "Redirect" in str(exc):
        fail = ConnectFailure("http_status", f"WebSocket handshake with {host}:{port} was redirected",
                              http_status=handshake_status)
    else:
        fail = ConnectFailure(os_kind(exc), f"WebSocket connect to {host}:{port} failed: {describe(exc)}")
    fail.__cause__ = exc
    return fail


def _bad_status(exc: websocket.WebSocketBadStatusException, host: str, port: int) -> ConnectFailure:
    status = exc.status_code
    phrase = getattr(exc, "status_message", None) or ""
    if isinstance(phrase, bytes):  # pragma: no cover - older websocket-client
        phrase = phrase.decode("latin-1")
    headers = getattr(exc, "resp_headers", None) or {}
    text = f"WebSocket handshake with {host}:{port} answered HTTP {status} {phrase}".rstrip()
    details: Dict[str, Any] = {"http_status": status}
    if status in (418, 429):
        retry_after = parse_retry_after(headers)
        if retry_after is not None:
            details["retry_after"] = retry_after
            text += f" (Retry-After {retry_after:g} s)"
    return ConnectFailure("http_status", text, **details)


# ---------------------------------------------------------------------------------------------- proxy
def socks_options(proxy: SplitResult) -> Dict[str, Any]:
    """websocket-client's options for a ``socks4://``/``socks5://`` proxy (credentials decoded)."""
    options: Dict[str, Any] = {
        "http_proxy_host": proxy.hostname,
        "http_proxy_port": proxy.port or 1080,
        "proxy_type": proxy.scheme.lower(),
    }
    if proxy.username is not None:
        options["http_proxy_auth"] = (unquote(proxy.username), unquote(proxy.password or ""))
    return options


def proxy_request(proxy: SplitResult, host: str, port: int) -> Tuple[bytes, str, bool]:
    """``(request bytes, authority, has_credentials)`` of ``CONNECT host:port``.

    urlsplit leaves the userinfo percent-encoded: it is decoded once here (``P%40ss`` is
    sent as ``P@ss``), as requests does for REST.
    """
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    has_auth = proxy.username is not None
    if has_auth:
        userinfo = f"{unquote(proxy.username or '')}:{unquote(proxy.password or '')}"
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(userinfo.encode("utf-8")).decode("ascii"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"), authority, has_auth


def read_proxy_status(sock: socket.socket, remaining: Callable[[], float]) -> Tuple[int, str]:
    """Read the proxy's answer up to its blank line; ``(status, phrase)``.

    Byte by byte: what follows the blank line belongs to the tunnel.  ``remaining()``
    gives each read's timeout (and raises ``socket.timeout`` past the deadline).
    """
    data = bytearray()
    while not data.endswith(b"\r\n\r\n"):
        sock.settimeout(remaining())
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("connection closed by the proxy")
        data += chunk
        if len(data) > _MAX_PROXY_HEADER:
            raise ConnectFailure("proxy_status", "proxy answered an over-long header", ProxyError)
    status_line = bytes(data).split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConnectFailure("proxy_status", f"proxy answered a malformed status line {status_line[:80]!r}",
                             ProxyError)
    return int(parts[1]), parts[2].strip() if len(parts) > 2 else ""


def proxy_answer_failure(status: int, phrase: str, where: str, authority: str,
                         has_auth: bool) -> Optional[ConnectFailure]:
    """None for 200 (the tunnel is open); otherwise the failure (407: proxy_auth)."""
    if status == 200:
        return None
    if status == 407:
        sent = "credentials rejected" if has_auth else "credentials required"
        return ConnectFailure("proxy_auth", f"{where} refused CONNECT to {authority}: HTTP 407 ({sent})",
                              ProxyError, temporary=False, proxy_status=status)
    return ConnectFailure("proxy_status", f"{where} refused CONNECT to {authority}: HTTP {status} {phrase}".rstrip(),
                          ProxyError, proxy_status=status)
