"""Loopback servers for the transport tests (import as ``from _loopback import ...``).

All listen on 127.0.0.1 port 0, are context managers, and join their threads on exit
(STYLE.md example 11).  Raw sockets on purpose: the tests need to misbehave (illegal
pings, stalled readers, HTTP statuses instead of a handshake) in ways a real server
library would not.

- :class:`WsServer`: a tiny WebSocket server (optionally TLS) that runs a per-connection
  script; it records every client frame and every handshake attempt (with its time).
- :class:`ConnectProxy`: an HTTP CONNECT proxy that checks Basic credentials (407), can
  answer any status, and tunnels bytes both ways once it said 200.
- :func:`make_ca`, :func:`make_server_cert`: a throwaway CA and server certificates
  built with ``cryptography``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import pathlib
import select
import socket
import ssl
import struct
import threading
import time
from typing import Callable, List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---------------------------------------------------------------------------------------- certificates
class Cert:
    """A key pair and certificate, also written as PEM files in ``folder``."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, folder: pathlib.Path,
                 name: str) -> None:
        self.key = key
        self.cert = cert
        self.cert_file = folder / f"{name}.crt"
        self.key_file = folder / f"{name}.key"
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(folder: pathlib.Path, name: str = "ca") -> Cert:
    """A self-signed CA certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(f"binance_conn test {name}"))
            .issuer_name(_name(f"binance_conn test {name}")).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Cert(key, cert, folder, name)


def make_server_cert(folder: pathlib.Path, ca: Cert, hostnames: Sequence[str], name: str = "server") -> Cert:
    """A server certificate for ``hostnames`` (DNS names or IP addresses) signed by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    alt: List[x509.GeneralName] = []
    for host in hostnames:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder().subject_name(_name(hostnames[0])).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return Cert(key, cert, folder, name)


# ---------------------------------------------------------------------------------------- framing helpers
def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """An unmasked server frame (any length, even an illegal one for a control frame)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return data


def read_client_frame(sock: socket.socket) -> Tuple[int, bytes]:
    """One (masked) client frame: ``(opcode, payload)``."""
    b0, b1 = _recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _recv_exact(sock, 8))[0]
    key = _recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(_recv_exact(sock, n)))
    return b0 & 0x0F, payload


def read_request_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("peer closed before the end of the request head")
        data += chunk
    return data


def header_value(head: bytes, name: str) -> Optional[str]:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def accept_handshake(sock: socket.socket, head: bytes) -> None:
    key = header_value(head, "Sec-WebSocket-Key") or ""
    accept = base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode("ascii"))


# ---------------------------------------------------------------------------------------- servers
class _Listener:
    """Accept loop on 127.0.0.1:0, a thread per connection, all joined on exit."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._socks: List[socket.socket] = []
        self._lock = threading.Lock()
        self.errors: List[BaseException] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"{type(self).__name__}-accept",
                                          daemon=True)

    def __enter__(self) -> "_Listener":
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(5)
        self.listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(5)
        for s in socks:
            s.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self.listener], [], [], 0.05)
            if not readable:
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._socks.append(conn)
            t = threading.Thread(target=self._guarded, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _guarded(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, EOFError, ssl.SSLError):
            pass  # the client went away: expected in these tests
        except BaseException as exc:  # pragma: no cover - a bug in the test server
            self.errors.append(exc)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class WsConn:
    """The server side of one accepted WebSocket connection (given to the script)."""

    def __init__(self, sock: socket.socket, head: bytes) -> None:
        self.sock = sock
        self.head = head
        self.frames: List[Tuple[int, bytes]] = []
        self.cond = threading.Condition()
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until_eof(self) -> None:
        """Record client frames until the client closes or cuts the connection."""
        try:
            while True:
                frame = read_client_frame(self.sock)
                with self.cond:
                    self.frames.append(frame)
                    self.cond.notify_all()
        except (OSError, EOFError, ssl.SSLError):
            pass
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def wait_frame(self, opcode: int, timeout: float) -> Optional[bytes]:
        with self.cond:
            self.cond.wait_for(lambda: self.eof or any(op == opcode for op, _ in self.frames), timeout)
            return next((p for op, p in self.frames if op == opcode), None)


Script = Callable[[WsConn], None]


class WsServer(_Listener):
    """A WebSocket server; ``status_first`` answers the first handshakes with HTTP statuses instead.

    Args:
        script: run per accepted connection after the 101 (default: record frames until EOF).
        tls: server-side context for wss.
        status_first: e.g. ``[(429, {"Retry-After": "1"})]``: the first handshake gets that answer.
    """

    def __init__(self, script: Optional[Script] = None, *, tls: Optional[ssl.SSLContext] = None,
                 status_first: Sequence[Tuple[int, dict]] = ()) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.script = script or (lambda conn: conn.read_until_eof())
        self.tls = tls
        self.statuses = list(status_first)
        self.attempts: List[float] = []  # monotonic time of every handshake request
        self.conns: List[WsConn] = []
        self.cond = threading.Condition()

    def __enter__(self) -> "WsServer":
        super().__enter__()
        return self

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/stream"

    def handle(self, conn: socket.socket) -> None:
        sock = conn
        if self.tls is not None:
            sock = self.tls.wrap_socket(conn, server_side=True)
            self.track(sock)
        head = read_request_head(sock)
        with self.cond:
            self.attempts.append(time.monotonic())
            status = self.statuses.pop(0) if self.statuses else None
            self.cond.notify_all()
        if status is not None:
            code, headers = status
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            sock.sendall(f"HTTP/1.1 {code} Refused\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                         .encode("latin-1"))
            return
        accept_handshake(sock, head)
        ws = WsConn(sock, head)
        with self.cond:
            self.conns.append(ws)
            self.cond.notify_all()
        self.script(ws)

    def wait_conn(self, timeout: float) -> WsConn:
        with self.cond:
            if not self.cond.wait_for(lambda: bool(self.conns), timeout):
                raise TimeoutError("no WebSocket connection")
            return self.conns[0]


class ConnectProxy(_Listener):
    """An HTTP CONNECT proxy on 127.0.0.1:0.

    Args:
        credentials: ``(user, password)`` required (decoded); a request without them or with
            others gets 407.  None: no authentication.
        status: answer every CONNECT with this status instead of tunnelling (e.g. 403, 502).
    """

    def __init__(self, credentials: Optional[Tuple[str, str]] = None, status: Optional[int] = None) -> None:
        super().__init__()
        self.credentials = credentials
        self.status = status
        self.seen_auth: List[Optional[Tuple[str, str]]] = []  # decoded Basic credentials per request
        self.targets: List[str] = []
        self.heads: List[bytes] = []

    def __enter__(self) -> "ConnectProxy":
        super().__enter__()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, conn: socket.socket) -> None:
        head = read_request_head(conn)
        self.heads.append(head)
        method, target = head.decode("latin-1").split(" ", 2)[:2]
        self.targets.append(target)
        auth = header_value(head, "Proxy-Authorization")
        decoded: Optional[Tuple[str, str]] = None
        if auth and auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            decoded = (user, password)
        self.seen_auth.append(decoded)
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if self.credentials is not None and decoded != self.credentials:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
            return
        if self.status is not None:
            conn.sendall(f"HTTP/1.1 {self.status} Nope\r\nContent-Length: 0\r\n\r\n".encode("ascii"))
            return
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        self.track(upstream)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._pipe(conn, upstream)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 0.1)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def refused_port() -> int:
    """A port on 127.0.0.1 with nobody listening (bound and closed at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


class Blackhole:
    """A port on 127.0.0.1 whose TCP connects hang (the accept queue is full, SYNs are dropped)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port: int = self.listener.getsockname()[1]
        self.fillers: List[socket.socket] = []

    def __enter__(self) -> "Blackhole":
        for _ in range(16):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(s)
            _, writable, _ = select.select([], [s], [], 0.3)
            if not writable:
                return self  # this one hangs: so will the next
        raise RuntimeError("could not fill the accept queue")

    def __exit__(self, *exc: object) -> None:
        for s in self.fillers:
            s.close()
        self.listener.close()
